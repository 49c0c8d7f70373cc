/**
 * Pair tracefs signals with the audit calls that caused them, when a user
 * runs both captures into one stream; and the calls the syscall tracepoints
 * saw (capture --tracepoints) with audit's record of the same call, when a
 * user watches both ways: audit's line is kept (it has auid and session, and
 * 32-bit callers), the tracepoints' merged away; one audit missed while it
 * was running is an audit blind spot (`unmatched`), as for tracefs.
 *
 * A kill(2) that audit recorded is usually also seen by tracefs
 * (signal_generate): counting both would double every kill, so the tracefs
 * twin is merged away. A tracefs signal with no audit twin is marked
 * `unmatched` (audit was running then, so this is a blind spot) or
 * `no-audit` (no audit signals cover that time: nothing to compare with).
 *
 * The kernel log's OOM report (source "kernel-log") and tracefs's SI_KERNEL
 * SIGKILL to the same process are one kill too: the OOM line is kept (it has
 * the kernel's own account) and the tracefs line merged away, so the kill is
 * counted once and no "possibly the OOM killer" guess is left. They are
 * paired by host and victim pid, and by time when both lines have one
 * (dmesg's time is relative to boot). Such tracefs lines wait for their OOM
 * report until the end of input (at most MAX_PENDING of them).
 *
 * Inputs may be files read one after another rather than interleaved by
 * time, so matching does not assume order: recent audit calls are indexed by
 * count, not age, and tracefs signals wait (up to MAX_PENDING) for an audit
 * twin that may come later. Memory is bounded by those two caps.
 */
import type { SignalLine } from "../schema.ts";
import type { CorrelatedSignal } from "./findings/types.ts";
import { causeViaSyscall } from "./cause.ts";
import { widen, type Span } from "./keys.ts";
import { EvictionOrder } from "./tally.ts";
import { SIG } from "../tables/signals.ts";

/** tracefs signals waiting for an audit twin; the oldest is released unmatched past this. */
const MAX_PENDING = 50_000;

interface Pending {
  seq: number;
  signal: SignalLine;
  ms: number | null;
  keys: string[];
}

/** Lines waiting for a twin, in arrival order, found by any of their keys. */
class WaitingLines {
  private readonly bySeq = new Map<number, Pending>();
  private readonly byKey = new Map<string, Set<number>>();
  private seq = 0;

  get size(): number {
    return this.bySeq.size;
  }

  add(signal: SignalLine, ms: number | null, keys: string[]): void {
    const entry: Pending = { seq: this.seq++, signal, ms, keys };
    this.bySeq.set(entry.seq, entry);
    for (const key of keys) {
      let set = this.byKey.get(key);
      if (!set) this.byKey.set(key, (set = new Set()));
      set.add(entry.seq);
    }
  }

  /** The first line waiting under `key` that `fits`, taken out; null when none does. */
  take(key: string, fits: (p: Pending) => boolean): Pending | null {
    for (const seq of this.byKey.get(key) ?? []) {
      const p = this.bySeq.get(seq)!;
      if (!fits(p)) continue;
      this.drop(p);
      return p;
    }
    return null;
  }

  /** The oldest line, taken out. */
  takeOldest(): Pending {
    const oldest = this.bySeq.values().next().value as Pending;
    this.drop(oldest);
    return oldest;
  }

  /** Every line, in arrival order, taken out. */
  takeAll(): Pending[] {
    const all = [...this.bySeq.values()];
    this.bySeq.clear();
    this.byKey.clear();
    return all;
  }

  private drop(p: Pending): void {
    this.bySeq.delete(p.seq);
    for (const key of p.keys) {
      const set = this.byKey.get(key);
      if (!set) continue;
      set.delete(p.seq);
      if (set.size === 0) this.byKey.delete(key);
    }
  }
}

export interface CorrelateStats {
  /** tracefs and tracepoints signals merged into the audit call (or the kernel log's OOM report) they duplicate. */
  merged: number;
  /** tracefs and tracepoints signals with no audit twin while audit was running. */
  unmatched: number;
  /** tracefs and tracepoints signals outside any audit coverage. */
  noAudit: number;
}

/** Sender pid + every pid the signal could be recorded under + signal number. */
function matchKeys(signal: SignalLine): string[] {
  const sender = signal.killer.pid;
  if (sender === null) return [];
  const pids = new Set<number>();
  if (signal.target.pid !== null && signal.target.pid > 0) pids.add(signal.target.pid);
  if (typeof signal.target.tid === "number" && signal.target.tid > 0) pids.add(signal.target.tid);
  for (const v of signal.victims) if (v.pid !== null && v.pid > 0) pids.add(v.pid);
  return [...pids].map((pid) => `${sender}:${pid}:${signal.signal.nr}`);
}

/** Audit calls remembered for matching later tracefs lines. */
const MAX_AUDIT_INDEX = 100_000;

/** Host, sender, call, target and signal: one kill-family call as audit and the syscall tracepoints both see it (failed calls too). */
function callKeyOf(signal: SignalLine): string | null {
  const sender = signal.killer.pid;
  if (sender === null || signal.syscall === null) return null;
  const target = signal.target.scope === "pidfd" ? `fd ${signal.target.fd ?? "?"}` : `${signal.target.pid} ${signal.target.tid ?? ""}`;
  return `${signal.node ?? ""}\n${sender}\n${signal.syscall}\n${target}\n${signal.signal.nr}`;
}

/** The tracefs rules of a kernel-sent SIGKILL that the kernel log's OOM report may confirm (lib/tables/kernel-signals.ts). */
const OOM_CANDIDATE_RULES = new Set(["kernel-sigkill", "kernel-sigkill-self"]);

/** Host and victim pid: what pairs a kernel-sent SIGKILL with its OOM report. */
function victimKeyOf(signal: SignalLine): string | null {
  const pid = signal.victims[0]?.pid ?? signal.target.pid;
  return pid === null || pid <= 0 ? null : `${signal.node ?? ""}\n${pid}`;
}

/** Does this tracefs signal come from a process (something audit could have recorded)? */
function fromProcess(signal: SignalLine): boolean {
  if (signal.cause) return causeViaSyscall(signal.cause) && signal.signal.nr !== 0;
  const kind = signal.origin?.kind;
  // kernel, fault, timer and other si_codes never come from a kill-family call.
  return (kind === undefined || kind === "user" || kind === "queue" || kind === "tkill") && signal.signal.nr !== 0;
}

/** Signals whose default action dumps core, the only ones audit writes ANOM_ABEND for (signal(7)). */
const CORE_SIGNALS = new Set([3, 4, 5, 6, 7, 8, 11, 24, 25, 31]);

/** Audit's ANOM_ABEND line: an audit signal with no syscall (lib/signals/core-dump.ts). */
function isCoreDumpRecord(signal: SignalLine): boolean {
  return signal.source === "audit" && signal.syscall === null;
}

/** Host, victim pid and signal: what pairs an ANOM_ABEND with the signal line it repeats. */
function coreKeyOf(signal: SignalLine): string | null {
  const victim = victimKeyOf(signal);
  return victim === null ? null : `${victim}\n${signal.signal.nr}`;
}

/** Add a time under a key, forgetting the oldest key past `max`. */
function remember(map: Map<string, number[]>, key: string, ms: number | null, max: number): void {
  let times = map.get(key);
  if (!times) {
    if (map.size >= max) map.delete(map.keys().next().value!);
    map.set(key, (times = []));
  }
  times.push(ms ?? Number.NaN);
}

export class SourceCorrelator {
  readonly stats: CorrelateStats = { merged: 0, unmatched: 0, noAudit: 0 };
  private readonly tolerance: number;
  /** match key → times (ms, or NaN when unknown) of audit calls not yet matched. */
  private readonly audit = new Map<string, number[]>();
  /** Insertion order of audit keys, for evicting the oldest past MAX_AUDIT_INDEX. */
  private auditOrder = new EvictionOrder<string>();
  /** When audit's calls ran (a tracepoints line audit has no twin for, inside it, is a blind spot of audit's). */
  private readonly auditSpan: Span = { first: null, last: null };
  /** When audit's or the syscall tracepoints' calls ran (a tracefs line with no call inside it is a blind spot). */
  private readonly callSpan: Span = { first: null, last: null };
  /** tracefs signals from a process, waiting for the call (audit's or the tracepoints') that sent them. */
  private readonly pending = new WaitingLines();
  /** Kernel-sent SIGKILLs (tracefs) waiting for their OOM report, by victimKeyOf. */
  private readonly kernelKills = new Map<string, { signal: SignalLine; ms: number | null }[]>();
  private kernelKillCount = 0;
  /** Delivered core-dumping signals (coreKeyOf → times), for an ANOM_ABEND after them; and ANOM_ABENDs kept, for a tracefs twin after them. */
  private readonly coreSignals = new Map<string, number[]>();
  private readonly coreDumps = new Map<string, number[]>();
  /** OOM reports seen, by victimKeyOf, for tracefs lines that come after them: times (ms, NaN unknown). */
  private readonly oomReports = new Map<string, number[]>();
  /** Audit's calls (callKeyOf → times), for the tracepoints' line of the same call after them; bounded by MAX_AUDIT_INDEX keys. */
  private readonly auditCalls = new Map<string, number[]>();
  /** The tracepoints' calls waiting for audit's line of the same call (released past MAX_PENDING or at the end). */
  private readonly tracedCalls = new WaitingLines();

  /** `toleranceSec`: seconds between an audit call and its tracefs twin (clock skew, batching). */
  constructor(toleranceSec: number) {
    this.tolerance = toleranceSec * 1000;
  }

  private near(a: number | null, b: number): boolean {
    // A missing time on either side cannot rule a match out.
    return a === null || Number.isNaN(b) || Math.abs(a - b) <= this.tolerance;
  }

  /** A time near `ms` remembered under `key`: taken (the two lines are one signal, counted as merged). */
  private takeNear(map: Map<string, number[]>, key: string, ms: number | null): boolean {
    const times = map.get(key);
    const i = times ? times.findIndex((t) => this.near(ms, t)) : -1;
    if (i < 0) return false;
    times!.splice(i, 1);
    if (times!.length === 0) map.delete(key);
    this.stats.merged++;
    return true;
  }

  /** Feed one signal; returns the signals ready for counting (possibly none, possibly older ones). */
  push(signal: SignalLine, ms: number | null): CorrelatedSignal[] {
    if (signal.signal.nr !== null && CORE_SIGNALS.has(signal.signal.nr)) {
      const key = coreKeyOf(signal);
      if (isCoreDumpRecord(signal)) return this.pushCoreDump(signal, ms, key);
      // A kernel-sent tracefs signal whose ANOM_ABEND came first: merged into it.
      if (key !== null && signal.source === "tracefs" && !fromProcess(signal) && this.takeNear(this.coreDumps, key, ms)) return [];
      // A delivered core-dumping signal, for the ANOM_ABEND that may follow it.
      if (key !== null && signal.result.success !== false) remember(this.coreSignals, key, ms, MAX_PENDING);
    }
    if (signal.source === "kernel-log") return this.pushOom(signal, ms);
    if (signal.source === "tracepoints") return this.pushTracedCall(signal, ms);
    if (signal.source !== "tracefs") return this.pushAudit(signal, ms);
    if (signal.signal.nr === SIG.KILL && OOM_CANDIDATE_RULES.has(signal.cause?.rule ?? "")) return this.pushKernelKill(signal, ms);
    if (!fromProcess(signal)) return [{ signal, ms, crossCheck: null }];
    const keys = matchKeys(signal);
    for (const key of keys) if (this.takeNear(this.audit, key, ms)) return [];
    this.pending.add(signal, ms, keys);
    const out: CorrelatedSignal[] = [];
    while (this.pending.size > MAX_PENDING) out.push(this.uncovered(this.pending.takeOldest(), this.callSpan));
    return out;
  }

  /**
   * Audit's ANOM_ABEND (lib/signals/core-dump.ts) says again what a signal
   * line before it said: the kill-family call audit caught, or tracefs's
   * fault. Merged into that line (which names the sender, or the si_code);
   * alone, it is kept, and a kernel-sent tracefs twin after it is merged into it.
   */
  private pushCoreDump(signal: SignalLine, ms: number | null, key: string | null): CorrelatedSignal[] {
    if (key === null) return [{ signal, ms, crossCheck: null }];
    if (this.takeNear(this.coreSignals, key, ms)) return [];
    remember(this.coreDumps, key, ms, MAX_PENDING);
    return [{ signal, ms, crossCheck: null }];
  }

  /** A kernel log OOM report: it takes the place of a waiting tracefs SIGKILL to the same victim, or waits for one. */
  private pushOom(signal: SignalLine, ms: number | null): CorrelatedSignal[] {
    const key = victimKeyOf(signal);
    if (key !== null) {
      const waiting = this.kernelKills.get(key);
      const i = waiting ? waiting.findIndex((k) => this.near(ms, k.ms ?? Number.NaN)) : -1;
      if (waiting && i >= 0) {
        const [twin] = waiting.splice(i, 1);
        if (waiting.length === 0) this.kernelKills.delete(key);
        this.kernelKillCount--;
        this.stats.merged++;
        noteTracefsTwin(signal, twin!.signal);
      } else remember(this.oomReports, key, ms, MAX_PENDING);
    }
    return [{ signal, ms, crossCheck: null }];
  }

  /** A tracefs SI_KERNEL SIGKILL: merged into an OOM report already seen, else held for one until the end of input. */
  private pushKernelKill(signal: SignalLine, ms: number | null): CorrelatedSignal[] {
    const key = victimKeyOf(signal);
    if (key === null) return [{ signal, ms, crossCheck: null }];
    if (this.takeNear(this.oomReports, key, ms)) return [];
    let waiting = this.kernelKills.get(key);
    if (!waiting) this.kernelKills.set(key, (waiting = []));
    waiting.push({ signal, ms });
    this.kernelKillCount++;
    const out: CorrelatedSignal[] = [];
    while (this.kernelKillCount > MAX_PENDING) {
      const [oldestKey, list] = this.kernelKills.entries().next().value!;
      const oldest = list.shift()!;
      if (list.length === 0) this.kernelKills.delete(oldestKey);
      this.kernelKillCount--;
      out.push({ signal: oldest.signal, ms: oldest.ms, crossCheck: null });
    }
    return out;
  }

  /** A call the syscall tracepoints saw: merged into audit's line of the same call, seen or still to come. */
  private pushTracedCall(signal: SignalLine, ms: number | null): CorrelatedSignal[] {
    // A call as audit's are, for tracefs's lines: their twin, or their blind spot.
    this.noteCall(signal, ms);
    const key = callKeyOf(signal);
    if (key === null) return [{ signal, ms, crossCheck: null }];
    if (this.takeNear(this.auditCalls, key, ms)) return [];
    this.tracedCalls.add(signal, ms, [key]);
    const out: CorrelatedSignal[] = [];
    while (this.tracedCalls.size > MAX_PENDING) out.push(this.uncovered(this.tracedCalls.takeOldest(), this.auditSpan));
    return out;
  }

  /** Audit's line of a call: it takes the place of the tracepoints' line waiting for it, or is remembered for one to come. */
  private takeTracedTwin(signal: SignalLine, ms: number | null): void {
    const key = callKeyOf(signal);
    if (key === null) return;
    if (this.tracedCalls.take(key, (twin) => this.near(ms, twin.ms ?? Number.NaN))) this.stats.merged++;
    else remember(this.auditCalls, key, ms, MAX_AUDIT_INDEX);
  }

  private pushAudit(signal: SignalLine, ms: number | null): CorrelatedSignal[] {
    widen(this.auditSpan, ms);
    if (signal.syscall !== null) this.takeTracedTwin(signal, ms);
    this.noteCall(signal, ms);
    return [{ signal, ms, crossCheck: null }];
  }

  /** A call (audit's or the tracepoints'): the twin of a tracefs line waiting for one, or remembered for one to come. */
  private noteCall(signal: SignalLine, ms: number | null): void {
    widen(this.callSpan, ms);
    // A failed call delivered nothing, so tracefs has no twin for it.
    if (signal.result.success !== false && signal.signal.nr !== 0) {
      const keys = matchKeys(signal);
      // One call, one twin, except group kills: one twin per member, some still to come.
      const group = signal.target.scope === "group" || signal.target.scope === "all";
      let matched = false;
      for (const key of keys) {
        if (!this.pending.take(key, (p) => this.near(ms, p.ms ?? Number.NaN))) continue;
        this.stats.merged++;
        matched = true;
        if (!group) break;
      }
      if (!matched || group) {
        for (const key of keys) {
          // Bounded by evictAudit, one time at a time.
          remember(this.audit, key, ms, Number.POSITIVE_INFINITY);
          this.auditOrder.push(key);
        }
        this.evictAudit();
      }
    }
  }

  private evictAudit(): void {
    while (this.auditOrder.size > MAX_AUDIT_INDEX) {
      const key = this.auditOrder.takeOldest(() => true)!;
      const times = this.audit.get(key);
      if (times) {
        times.shift();
        if (times.length === 0) this.audit.delete(key);
      }
    }
  }

  /** A line with no twin: a blind spot when the other source's calls cover its time, else nothing to compare with. */
  private uncovered(p: Pending, span: Span): CorrelatedSignal {
    const covered = span.first !== null && span.last !== null && p.ms !== null && p.ms >= span.first - this.tolerance && p.ms <= span.last + this.tolerance;
    if (covered) this.stats.unmatched++;
    else this.stats.noAudit++;
    return { signal: p.signal, ms: p.ms, crossCheck: covered ? "unmatched" : "no-audit" };
  }

  /** End of input: every waiting signal is released, and the indexes let go (a big log's are MBs the report's end can use). */
  flush(): CorrelatedSignal[] {
    const out: CorrelatedSignal[] = [];
    for (const list of this.kernelKills.values()) for (const k of list) out.push({ signal: k.signal, ms: k.ms, crossCheck: null });
    this.kernelKills.clear();
    this.kernelKillCount = 0;
    for (const p of this.pending.takeAll()) out.push(this.uncovered(p, this.callSpan));
    for (const p of this.tracedCalls.takeAll()) out.push(this.uncovered(p, this.auditSpan));
    for (const index of [this.audit, this.auditCalls, this.coreSignals, this.coreDumps, this.oomReports]) index.clear();
    this.auditOrder = new EvictionOrder();
    return out;
  }
}

/** The OOM report's cause notes the tracefs line it absorbed (its time and the running task). */
function noteTracefsTwin(oom: SignalLine, tracefs: SignalLine): void {
  if (!oom.cause) return;
  const context = tracefs.context;
  oom.cause.evidence.push(
    `tracefs saw the SIGKILL (SI_KERNEL)${tracefs.time ? ` at ${tracefs.time}` : ""}${context ? `, generated while ${context.pid === 0 ? "<idle>" : (context.comm ?? "<...>")}[${context.pid}] ran` : ""}`,
  );
}
