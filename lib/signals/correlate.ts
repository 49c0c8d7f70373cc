/**
 * Pair tracefs signals with the audit calls that caused them, when a user
 * runs both captures into one stream.
 *
 * A kill(2) that audit recorded is usually also seen by tracefs
 * (signal_generate): counting both would double every kill, so the tracefs
 * twin is merged away. A tracefs signal with no audit twin is marked
 * `unmatched` (audit was running then, so this is a blind spot) or
 * `no-audit` (no audit signals cover that time: nothing to compare with).
 *
 * Inputs may be files read one after another rather than interleaved by
 * time, so matching does not assume order: recent audit calls are indexed by
 * count, not age, and tracefs signals wait (up to `maxPending`) for an audit
 * twin that may come later. Memory is bounded by those two caps.
 */
import type { SignalLine } from "../schema.ts";
import type { CorrelatedSignal } from "./findings/types.ts";

export interface CorrelateOptions {
  /** Seconds between an audit call and its tracefs twin (clock skew, batching); default 2. */
  toleranceSec?: number;
  /** tracefs signals waiting for an audit twin; the oldest is released unmatched past this (default 50 000). */
  maxPending?: number;
  /** Audit calls remembered for matching later tracefs lines (default 100 000). */
  maxAuditIndex?: number;
}

interface Pending {
  seq: number;
  signal: SignalLine;
  ms: number | null;
  keys: string[];
}

export interface CorrelateStats {
  /** tracefs signals merged into the audit call they duplicate. */
  merged: number;
  /** tracefs signals with no audit twin while audit was running. */
  unmatched: number;
  /** tracefs signals outside any audit coverage. */
  noAudit: number;
}

/** Sender pid + every pid the signal could be recorded under + signal number. */
function matchKeys(signal: SignalLine): string[] {
  const sender = signal.killer.pid;
  if (sender === null) return [];
  const pids = new Set<number>();
  if (signal.target.pid !== null && signal.target.pid > 0) pids.add(signal.target.pid);
  if (signal.target.tid !== undefined && signal.target.tid > 0) pids.add(signal.target.tid);
  for (const v of signal.victims) if (v.pid !== null && v.pid > 0) pids.add(v.pid);
  return [...pids].map((pid) => `${sender}:${pid}:${signal.signal.nr}`);
}

/** Does this tracefs signal come from a process (something audit could have recorded)? */
function fromProcess(signal: SignalLine): boolean {
  const kind = signal.origin?.kind;
  // kernel, fault, timer and other si_codes never come from a kill-family call.
  return (kind === undefined || kind === "user" || kind === "queue" || kind === "tkill") && signal.signal.nr !== 0;
}

export class SourceCorrelator {
  readonly stats: CorrelateStats = { merged: 0, unmatched: 0, noAudit: 0 };
  private readonly tolerance: number;
  private readonly maxPending: number;
  private readonly maxAuditIndex: number;
  /** match key → times (ms, or NaN when unknown) of audit calls not yet matched. */
  private readonly audit = new Map<string, number[]>();
  /** Insertion order of audit keys, for evicting the oldest past maxAuditIndex. */
  private readonly auditOrder: string[] = [];
  private auditOrderHead = 0;
  private auditCount = 0;
  private auditFirst: number | null = null;
  private auditLast: number | null = null;
  private readonly pending = new Map<number, Pending>();
  private readonly pendingByKey = new Map<string, Set<number>>();
  private seq = 0;

  constructor(options: CorrelateOptions = {}) {
    this.tolerance = (options.toleranceSec ?? 2) * 1000;
    this.maxPending = options.maxPending ?? 50_000;
    this.maxAuditIndex = options.maxAuditIndex ?? 100_000;
  }

  private near(a: number | null, b: number): boolean {
    // A missing time on either side cannot rule a match out.
    return a === null || Number.isNaN(b) || Math.abs(a - b) <= this.tolerance;
  }

  /** Feed one signal; returns the signals ready for counting (possibly none, possibly older ones). */
  push(signal: SignalLine, ms: number | null): CorrelatedSignal[] {
    if (signal.source !== "tracefs") return this.pushAudit(signal, ms);
    if (!fromProcess(signal)) return [{ signal, ms, crossCheck: null }];
    const keys = matchKeys(signal);
    for (const key of keys) {
      const times = this.audit.get(key);
      if (!times) continue;
      const i = times.findIndex((t) => this.near(ms, t));
      if (i >= 0) {
        times.splice(i, 1);
        if (times.length === 0) this.audit.delete(key);
        this.stats.merged++;
        return [];
      }
    }
    const entry: Pending = { seq: this.seq++, signal, ms, keys };
    this.pending.set(entry.seq, entry);
    for (const key of keys) {
      let set = this.pendingByKey.get(key);
      if (!set) this.pendingByKey.set(key, (set = new Set()));
      set.add(entry.seq);
    }
    const out: CorrelatedSignal[] = [];
    while (this.pending.size > this.maxPending) {
      const oldest = this.pending.values().next().value as Pending;
      out.push(this.release(oldest));
    }
    return out;
  }

  private pushAudit(signal: SignalLine, ms: number | null): CorrelatedSignal[] {
    this.auditCount++;
    if (ms !== null) {
      this.auditFirst = this.auditFirst === null ? ms : Math.min(this.auditFirst, ms);
      this.auditLast = this.auditLast === null ? ms : Math.max(this.auditLast, ms);
    }
    // A failed call delivered nothing, so tracefs has no twin for it.
    if (signal.result.success !== false && signal.signal.nr !== 0) {
      const keys = matchKeys(signal);
      let matched = false;
      for (const key of keys) {
        const seqs = this.pendingByKey.get(key);
        if (!seqs) continue;
        for (const seq of seqs) {
          const p = this.pending.get(seq);
          if (p && this.near(ms, p.ms ?? Number.NaN)) {
            this.drop(p);
            this.stats.merged++;
            matched = true;
            break;
          }
        }
        if (matched && signal.target.scope !== "group" && signal.target.scope !== "all") break;
      }
      // One call, one twin, except group kills: one twin per member, still to come.
      if (!matched || signal.target.scope === "group" || signal.target.scope === "all") {
        for (const key of keys) {
          let times = this.audit.get(key);
          if (!times) this.audit.set(key, (times = []));
          times.push(ms ?? Number.NaN);
          this.auditOrder.push(key);
        }
        this.evictAudit();
      }
    }
    return [{ signal, ms, crossCheck: null }];
  }

  private evictAudit(): void {
    while (this.auditOrder.length - this.auditOrderHead > this.maxAuditIndex) {
      const key = this.auditOrder[this.auditOrderHead++]!;
      const times = this.audit.get(key);
      if (times) {
        times.shift();
        if (times.length === 0) this.audit.delete(key);
      }
    }
    // Compact now and then so the order array does not grow without bound.
    if (this.auditOrderHead > 4096 && this.auditOrderHead * 2 > this.auditOrder.length) {
      this.auditOrder.splice(0, this.auditOrderHead);
      this.auditOrderHead = 0;
    }
  }

  private drop(p: Pending): void {
    this.pending.delete(p.seq);
    for (const key of p.keys) {
      const set = this.pendingByKey.get(key);
      if (!set) continue;
      set.delete(p.seq);
      if (set.size === 0) this.pendingByKey.delete(key);
    }
  }

  private release(p: Pending): CorrelatedSignal {
    this.drop(p);
    const covered =
      this.auditFirst !== null &&
      this.auditLast !== null &&
      p.ms !== null &&
      p.ms >= this.auditFirst - this.tolerance &&
      p.ms <= this.auditLast + this.tolerance;
    if (covered) this.stats.unmatched++;
    else this.stats.noAudit++;
    return { signal: p.signal, ms: p.ms, crossCheck: covered ? "unmatched" : "no-audit" };
  }

  /** End of input: every waiting tracefs signal is released. */
  flush(): CorrelatedSignal[] {
    const out: CorrelatedSignal[] = [];
    for (const p of [...this.pending.values()]) out.push(this.release(p));
    return out;
  }
}
