/**
 * watch's streaming core: trace lines and audit signal lines in, one
 * `death` line out per watched process that ends. Pure apart from what the
 * caller injects (a clock, /proc lookups), so tests feed it lines.
 *
 * How it tells how a process ended, from the tracepoints (trace-events.ts):
 *  - sched_process_exit with group_dead: the last thread is gone, it died;
 *  - sys_enter_exit_group before it: it exited by itself, with that code;
 *  - oom:mark_victim for it: the OOM killer chose it;
 *  - else a signal ended it: the last signal_generate to it that was
 *    delivered and whose default action ends a process; signal_deliver with
 *    SIG_DFL names a core-dumping signal the kernel did not turn into SIGKILL.
 * The sender is the generating task when the catalogue says a process sent
 * it (cause.ts); an audit record of the same kill names its exe, uid and argv.
 */
import { classifySignal } from "../signals/cause.ts";
import { setBounded } from "../signals/tally.ts";
import type { SignalCause, SignalLine } from "../schema.ts";
import type { LivePlacement } from "../signals/workload.ts";
import type { SignalGenerate } from "../sources/tracefs-line.ts";
import { FROM_SYSCALL } from "../tables/kernel-signals.ts";
import { killerProgram } from "../tables/killers.ts";
import { SIG, endsProcessByDefault, signalLabel } from "../tables/signals.ts";
import type { DeathLine, DeathSender, SenderFrom } from "./death.ts";
import { parseTraceEvent, type TraceEvent, type TraceTask } from "./trace-events.ts";
import { TaskTable } from "../sources/trace-tasks.ts";

/** A process being watched, as /proc showed it while it lived. */
export interface WatchedProcess {
  pid: number;
  comm: string;
  /** Wall-clock ms of its start, or null. */
  startedAtMs: number | null;
  exe: string | null;
  uid: number | null;
  placement: LivePlacement | null;
  /** Its memory controller's cgroup (v1 `memory` line, or v2's path), for an OOM kill's line. */
  memoryCgroup: string | null;
  /** That cgroup's memory limit, when it has one. */
  memoryLimitBytes: number | null;
  matchedBy: string;
  /** Known only from a fork line, gone before /proc could say it was a process and not a thread. */
  unverified?: true;
  /** Read at its fork: its comm and exe were still its parent's. */
  atFork?: true;
}

/** What the core may ask of the live system; tests give fakes. */
export interface WatchCoreEnv {
  now(): number;
  /** A process that ended untracked: is it one of ours (by comm, or by its zombie's /proc)? */
  matchUntracked?(pid: number, comm: string): WatchedProcess | null;
  /**
   * A tracked process forked: the new process (not a thread), if it belongs to
   * the watch too (a unit's or cgroup's children do); null to leave it.
   */
  childOf?(parent: WatchedProcess, childPid: number, childComm: string, atMs: number): WatchedProcess | null;
  /**
   * An untracked process about to end (it called exit_group, or a signal
   * that ends it was sent): is it one of ours? It is still alive, so /proc
   * still says where it is. Asked at most once per process a second.
   */
  consider?(pid: number): WatchedProcess | null;
  /** A task was moved into cgroup `path` (cgroup_attach_task): the process, if that makes it one of ours. */
  attached?(pid: number, path: string, comm: string, atMs: number): WatchedProcess | null;
  /** A live sender's exe and uid from /proc, if it still runs with that comm. */
  senderFromProc?(pid: number, comm: string | null): { exe: string | null; uid: number | null } | null;
}

export interface WatchCoreOptions {
  /** Audit's part: on (records come through pushAudit), or off with the reason said in each line. */
  audit: { on: true } | { on: false; why: string };
}

const MAX_SIGNALS_PER_TASK = 8;
const MAX_TASKS = 20_000;
const MAX_AUDIT_LINES = 512;
const AUDIT_MATCH_MS = 3000;
/** How long a death waits for the audit record of the kill that caused it. */
const AUDIT_GRACE_MS = 250;
const CONSIDER_AGAIN_MS = 1000;
/** How long before an exit a signal counts as its reason: a graceful stop may take systemd's 90 s. */
const BEFORE_EXIT_MS = 120_000;
/** How long after a signal a process's own raise of it counts as passing it on. */
const RERAISE_MS = 10_000;

interface SeenSignal {
  generate: SignalGenerate;
  /** The sending task, as the task table knew it at the signal (else as the line's head showed it). */
  sender: TraceTask;
  /** Its program as its exec line named it (or its parent's, when it did not exec), for a sender gone before /proc is read. */
  senderExe: string | null;
  atMs: number;
  raw: string;
  /** The process's own raise of the same signal after it caught this one. */
  reraised?: SeenSignal;
  /** A handler of the process ran for it (signal_deliver with a handler): it did not end the process. */
  handled?: boolean;
}

interface PendingDeath {
  process: WatchedProcess;
  atMs: number;
  readyAtMs: number;
  exitRaw: string;
  /** The comm the exit line shows, when the main thread was the last (null otherwise). */
  exitComm: string | null;
  /** The process-sent signal whose audit record the death waits for. */
  awaits?: SeenSignal;
}

function signalRef(nr: number): { nr: number; name: string } {
  return { nr, name: signalLabel(nr) };
}

/** A sender known by its pid and comm alone, until audit or /proc tell more. */
function bareSender(pid: number | null, comm: string | null, from: SenderFrom): DeathSender {
  return { pid, comm, exe: null, uid: null, user: null, auid: null, argv: [], from };
}

export class WatchCore {
  private readonly tracked = new Map<number, WatchedProcess>();
  /** Thread id → thread group id, from every line's head. */
  private readonly tgidOf = new Map<number, number>();
  /** Target thread id → the last signals generated to it. */
  private readonly signalsTo = new Map<number, SeenSignal[]>();
  private readonly fatalDelivery = new Map<number, { sig: number; code: number; raw: string }>();
  private readonly exitCodes = new Map<number, { code: number; group: boolean; raw: string }>();
  private readonly oomVictims = new Map<number, { event: Extract<TraceEvent, { event: "oom_victim" }>; raw: string }>();
  private readonly auditLines: { line: SignalLine; atMs: number }[] = [];
  /** Tasks from their creation, rename and exec lines: what the kernel wrote, where a head only caches. */
  private readonly tasks: TaskTable = new TaskTable(MAX_TASKS, (head): number => this.tasks.get(head.tid)?.tgid ?? head.tgid ?? head.tid);
  private pending: PendingDeath[] = [];
  /** Trace lines that were not any event watch reads (counted, not lost). */
  unparsed = 0;

  constructor(
    private readonly options: WatchCoreOptions,
    private readonly env: WatchCoreEnv,
  ) {}

  track(process: WatchedProcess): void {
    this.tracked.set(process.pid, process);
  }

  trackedProcesses(): WatchedProcess[] {
    return [...this.tracked.values()];
  }

  isTracked(pid: number): boolean {
    return this.tracked.has(pid);
  }

  /** One trace_pipe line, with its wall-clock time (ms). */
  pushTrace(raw: string, atMs: number): void {
    const event = parseTraceEvent(raw);
    if (!event) {
      this.unparsed++;
      return;
    }
    const task = this.tasks.known(event.task);
    const tgid = task.tgid ?? task.tid;
    if (task.tgid !== null && task.tid !== 0) setBounded(this.tgidOf, task.tid, task.tgid, MAX_TASKS * 2);
    switch (event.event) {
      case "signal_generate": {
        const target = event.generate.target.pid;
        if (event.generate.result === 0 && endsProcessByDefault(event.generate.sig)) this.consider(this.tgidOf.get(target) ?? target, atMs);
        const list = this.signalsTo.get(target) ?? [];
        const senderExe = this.tasks.get(tgid)?.exe ?? null;
        list.push({ generate: event.generate, sender: task, senderExe, atMs, raw });
        if (list.length > MAX_SIGNALS_PER_TASK) list.shift();
        setBounded(this.signalsTo, target, list, MAX_TASKS);
        break;
      }
      case "signal_deliver":
        if (event.handler === "0") {
          if (endsProcessByDefault(event.sig)) setBounded(this.fatalDelivery, tgid, { sig: event.sig, code: event.code, raw }, MAX_TASKS);
        } else if (event.handler !== "1") {
          // Caught (1 is SIG_IGN): the last such signal to the thread or its process did not end it.
          const caught = [...(this.signalsTo.get(task.tid) ?? []), ...(task.tid !== tgid ? (this.signalsTo.get(tgid) ?? []) : [])]
            .filter((s) => s.generate.sig === event.sig && !s.handled)
            .sort((a, b) => a.atMs - b.atMs)
            .at(-1);
          if (caught) caught.handled = true;
        }
        break;
      case "exit_group":
        this.consider(tgid, atMs);
        setBounded(this.exitCodes, tgid, { code: event.exitCode, group: true, raw }, MAX_TASKS);
        break;
      case "exit":
        if (this.exitCodes.get(tgid)?.group !== true) setBounded(this.exitCodes, tgid, { code: event.exitCode, group: false, raw }, MAX_TASKS);
        break;
      case "task":
        this.tasks.take(event.line, raw);
        break;
      case "fork": {
        this.tasks.take(event.line, raw);
        // Every process's birth, for how long one the scans never saw ran.
        setBounded(this.bornAt, event.childPid, atMs, MAX_TASKS);
        const parent = this.tracked.get(tgid);
        if (parent && !this.tracked.has(event.childPid)) {
          const child = this.env.childOf?.(parent, event.childPid, event.childComm, atMs);
          if (child) this.track(child);
        }
        break;
      }
      case "cgroup_attach":
        if (!this.tracked.has(event.pid) && !this.tracked.has(this.tgidOf.get(event.pid) ?? -1)) {
          const joined = this.env.attached?.(event.pid, event.path, event.comm, atMs);
          if (joined) this.track(joined);
        }
        break;
      case "oom_victim":
        setBounded(this.oomVictims, event.pid, { event, raw }, MAX_TASKS);
        break;
      case "process_exit":
        // The exit line's comm is the process's own only when its main thread is the last to go.
        if (event.groupDead) this.processEnded(tgid, event.pid === tgid ? event.comm : null, atMs, raw);
        break;
    }
  }

  private readonly considered = new Map<number, number>();
  /** Process (or thread) id → when its fork was seen. */
  private readonly bornAt = new Map<number, number>();

  /** Ask the env about an untracked process that may be about to end (WatchCoreEnv.consider). */
  private consider(pid: number, atMs: number): void {
    if (!this.env.consider || pid <= 0 || this.tracked.has(pid)) return;
    const last = this.considered.get(pid);
    if (last !== undefined && atMs - last < CONSIDER_AGAIN_MS) return;
    setBounded(this.considered, pid, atMs, MAX_TASKS);
    const process = this.env.consider(pid);
    if (process) this.track(process);
  }

  /** An audit `signal` line (from the kill-family rules): it may name a sender the trace knows only by comm. */
  pushAudit(line: SignalLine, atMs: number): void {
    // Only kill-family calls count; tracefs lines come through pushTrace.
    if (line.source !== "audit") return;
    this.auditLines.push({ line, atMs });
    if (this.auditLines.length > MAX_AUDIT_LINES) this.auditLines.shift();
  }

  private processEnded(tgid: number, comm: string | null, atMs: number, raw: string): void {
    let process = this.tracked.get(tgid) ?? null;
    if (process) this.tracked.delete(tgid);
    else process = this.env.matchUntracked?.(tgid, comm ?? "") ?? null;
    if (!process) {
      this.forget(tgid);
      return;
    }
    const death: PendingDeath = { process, atMs, readyAtMs: this.env.now(), exitRaw: raw, exitComm: comm };
    // A kill by a process: wait a moment for audit's record of the call, which may come after the victim's exit.
    if (this.options.audit.on && !this.exitCodes.get(tgid)?.group && !this.oomVictims.has(tgid)) {
      const chosen = this.fatalSignal(tgid);
      if (chosen !== null && FROM_SYSCALL.includes(chosen.generate.code)) {
        death.readyAtMs += AUDIT_GRACE_MS;
        death.awaits = chosen;
      }
    }
    this.pending.push(death);
  }

  /**
   * A tracked process that is gone from /proc, yet whose exit line never
   * came (the kernel dropped trace lines): told with what was seen of it.
   */
  vanished(pid: number): void {
    const process = this.tracked.get(pid);
    if (!process) return;
    this.tracked.delete(pid);
    // A thread that came and went (sched_process_fork names threads too): nothing ended.
    if (process.unverified) return;
    const now = this.env.now();
    this.pending.push({ process, atMs: now, readyAtMs: now, exitRaw: "(no sched_process_exit line: it was gone from /proc, and its exit line was lost)", exitComm: null });
  }

  /** Deaths ready to tell (their audit grace is over, or audit found the call). */
  poll(): DeathLine[] {
    const now = this.env.now();
    const ready: DeathLine[] = [];
    const waiting: PendingDeath[] = [];
    for (const death of this.pending) {
      if (death.readyAtMs <= now || (death.awaits && this.auditMatch(death.process.pid, death.awaits) !== null)) ready.push(this.build(death));
      else waiting.push(death);
    }
    this.pending = waiting;
    return ready;
  }

  /** Every death seen, now (end of input). */
  flush(): DeathLine[] {
    const ready = this.pending.map((death) => this.build(death));
    this.pending = [];
    return ready;
  }

  /** The thread ids of a process that the trace has shown. */
  private tidsOf(tgid: number): number[] {
    const tids = [tgid];
    for (const [tid, group] of this.tgidOf) if (group === tgid && tid !== tgid) tids.push(tid);
    return tids;
  }

  private signalsToProcess(tgid: number): SeenSignal[] {
    return this.tidsOf(tgid)
      .flatMap((tid) => this.signalsTo.get(tid) ?? [])
      .sort((a, b) => a.atMs - b.atMs || a.generate.timestamp - b.generate.timestamp);
  }

  /** The signal that ended it: see the module comment. */
  private fatalSignal(tgid: number): SeenSignal | null {
    const delivered = this.fatalDelivery.get(tgid);
    const all = this.signalsToProcess(tgid).filter((s) => s.generate.result === 0 && endsProcessByDefault(s.generate.sig));
    const candidates = all.filter((s) => !s.handled);
    let chosen = candidates.at(-1) ?? null;
    if (delivered && delivered.sig !== SIG.KILL) chosen = candidates.filter((s) => s.generate.sig === delivered.sig).at(-1) ?? chosen;
    if (chosen && this.isSelfSent(tgid, chosen)) {
      // A process that catches a signal, cleans up and raises it again at itself (bash, many daemons) dies by its own
      // hand: the one who sent it the first time is the answer.
      const original = all.filter((s) => s.generate.sig === chosen!.generate.sig && !this.isSelfSent(tgid, s) && chosen!.atMs - s.atMs <= RERAISE_MS).at(-1);
      if (original) return { ...original, reraised: chosen };
    }
    return chosen;
  }

  private isSelfSent(tgid: number, seen: SeenSignal): boolean {
    return (seen.sender.tgid ?? seen.sender.tid) === tgid && FROM_SYSCALL.includes(seen.generate.code);
  }

  private auditMatch(tgid: number, seen: SeenSignal): SignalLine | null {
    const senderTgid = seen.sender.tgid ?? seen.sender.tid;
    for (let i = this.auditLines.length - 1; i >= 0; i--) {
      const { line, atMs } = this.auditLines[i]!;
      if (Math.abs(atMs - seen.atMs) > AUDIT_MATCH_MS) continue;
      if (line.signal.nr !== seen.generate.sig) continue;
      if (line.killer.pid !== senderTgid) continue;
      const hits = line.target.pid === tgid || line.target.pid === seen.generate.target.pid || line.victims.some((v) => v.pid === tgid);
      if (hits) return line;
    }
    return null;
  }

  private sender(tgid: number, victimComm: string, seen: SeenSignal): { sender: DeathSender; cause: SignalCause; audit: DeathLine["audit"]; auditId: string | null } {
    const contextTgid = seen.sender.tgid ?? seen.sender.tid;
    const { cause, killerIs, viaSyscall } = classifySignal(seen.generate.code, seen.generate.sig, { pid: contextTgid, comm: seen.sender.comm }, { pid: tgid, comm: victimComm });
    if (killerIs === "kernel") return { sender: bareSender(null, "[kernel]", "kernel"), cause, audit: "not-needed", auditId: null };
    const base = killerIs === "victim" ? bareSender(tgid, victimComm, "tracefs") : bareSender(contextTgid, seen.sender.comm, "tracefs");
    let audit: DeathLine["audit"] = viaSyscall ? (this.options.audit.on ? "blind-spot" : "off") : "not-needed";
    let auditId: string | null = null;
    const recorded = viaSyscall ? this.auditMatch(tgid, seen) : null;
    if (recorded) {
      const k = recorded.killer;
      Object.assign(base, { comm: k.comm ?? base.comm, exe: k.exe, uid: k.uid, user: k.user, auid: k.auid, argv: [...k.argv], from: "audit" });
      audit = "seen";
      auditId = recorded.id;
    } else if (base.pid !== null && base.pid > 0) {
      const live = this.env.senderFromProc?.(base.pid, base.comm);
      if (live) Object.assign(base, { exe: live.exe, uid: live.uid, from: "proc" });
      // Gone, or going (an exiting process has no exe link): the program its exec line named, as capture --tracepoints does.
      if (base.exe === null && killerIs !== "victim") base.exe = seen.senderExe;
    }
    return { sender: base, cause, audit, auditId };
  }

  private build(death: PendingDeath): DeathLine {
    const { process } = death;
    const tgid = process.pid;
    const notes: string[] = [];
    const evidence: string[] = [];
    const exit = this.exitCodes.get(tgid);
    const oom = this.oomVictims.get(tgid);
    const fatal = this.fatalSignal(tgid);
    const delivered = this.fatalDelivery.get(tgid);
    const startedAtMs = process.startedAtMs ?? this.bornAt.get(tgid) ?? null;
    // The comm at its end: it may have exec'd another program since /proc was read.
    const comm = death.exitComm || process.comm;
    if (death.exitComm && death.exitComm !== process.comm && !process.atFork) notes.push(`it ran as ${process.comm} when watch read /proc (exe ${process.exe ?? "?"}), then exec'd ${death.exitComm}`);
    const line: DeathLine = {
      kind: "death",
      time: new Date(death.atMs).toISOString(),
      pid: tgid,
      nsPid: process.placement?.nsPid ?? null,
      comm,
      exe: death.exitComm && death.exitComm !== process.comm ? null : process.exe,
      uid: process.uid,
      workload: process.placement?.workload ?? null,
      startedAt: startedAtMs !== null ? new Date(startedAtMs).toISOString() : null,
      ranMs: startedAtMs !== null ? Math.max(0, Math.round(death.atMs - startedAtMs)) : null,
      how: "unknown",
      exitCode: null,
      signal: null,
      sender: null,
      cause: null,
      killer: null,
      explanation: "",
      before: null,
      audit: this.options.audit.on ? "not-needed" : "off",
      matchedBy: process.matchedBy,
      notes,
      evidence,
    };
    if (!this.options.audit.on) notes.push(`audit not used: ${this.options.audit.why}`);

    if (oom) {
      line.how = "oom";
      line.signal = signalRef(SIG.KILL);
      line.sender = bareSender(null, "[kernel]", "kernel");
      // The root cgroup is no limit of its own: the system ran out.
      const memcg = process.memoryCgroup !== "/" ? process.memoryCgroup : null;
      const limit = process.memoryLimitBytes !== null ? `, limit ${mib(process.memoryLimitBytes)}` : "";
      const rss = oom.event.anonRssKb !== null ? `; its anon-rss ${mib(oom.event.anonRssKb * 1024)}` : "";
      line.cause = {
        kind: "oom",
        rule: "oom-kill",
        label: `${memcg ? `its memory cgroup ${memcg} was out of memory${limit}` : "the system was out of memory"}${rss}`,
        evidence: ["the oom:mark_victim tracepoint named it"],
        settle: `the kernel log names the constraint and the limit: dmesg | grep 'Killed process ${tgid} '`,
      };
      line.killer = { kind: "oom-killer", what: "the kernel's OOM killer", graceSetting: null };
      line.explanation = line.cause.label;
      evidence.push(oom.raw);
    } else if (exit?.group || (exit && !fatal && !delivered)) {
      line.how = "exit";
      line.exitCode = exit.code;
      line.explanation = `it exited by itself (${exit.group ? "exit_group" : "exit"}(${exit.code}))`;
      evidence.push(exit.raw);
      // A signal it caught, or had not yet acted on, shortly before it exited: the usual reason for a clean exit.
      const before = this.signalsToProcess(tgid)
        .filter((s) => s.generate.result === 0 && endsProcessByDefault(s.generate.sig) && death.atMs - s.atMs <= BEFORE_EXIT_MS)
        .at(-1);
      if (before) {
        const { sender, cause } = this.sender(tgid, comm, before);
        line.before = { signal: signalRef(before.generate.sig), sender, cause };
        line.explanation += ` after ${line.before.signal.name}: ${cause.label}`;
        evidence.unshift(before.raw);
      }
    } else if (fatal || delivered) {
      line.how = "signal";
      if (fatal) {
        line.signal = signalRef(fatal.generate.sig);
        const { sender, cause, audit, auditId } = this.sender(tgid, comm, fatal);
        line.sender = sender;
        line.cause = cause;
        line.audit = audit;
        const program = sender.from !== "kernel" ? killerProgram(sender) : null;
        if (program) line.killer = { kind: program.kind, what: program.what, graceSetting: program.graceSetting };
        // The catalogue's words for a known killer (and where its grace before SIGKILL is set), else the cause's.
        line.explanation = program ? `${program.what}${program.graceSetting ? `; its grace before SIGKILL: ${program.graceSetting}` : ""}` : cause.label;
        if (cause.settle) notes.push(`to settle it: ${cause.settle}`);
        if (audit === "blind-spot") {
          notes.push(
            `audit logged no call for this signal: the sender ${sender.comm ?? "?"}[${sender.pid ?? "?"}] may predate audit's enabling (no audit context), a never-rule may have hidden the call, or the record was lost; the sender is from tracefs`,
          );
        }
        evidence.push(fatal.raw);
        if (auditId) evidence.push(`audit ${auditId}`);
        if (fatal.reraised) {
          notes.push(`it caught ${line.signal.name} and raised it again at itself (to die of it after cleaning up)`);
          evidence.push(fatal.reraised.raw);
        }
      } else {
        line.signal = signalRef(delivered!.sig);
        line.explanation = `a ${line.signal.name} whose sending was not seen (sent before the watch began, or its trace line was lost)`;
        evidence.push(delivered!.raw);
      }
    } else {
      line.explanation = "no exit_group and no fatal signal were seen for it (it ended before the watch could see how, or a trace line was lost)";
    }
    evidence.push(death.exitRaw);
    this.forget(tgid);
    return line;
  }

  /** Drop what is kept about a process that is gone. */
  private forget(tgid: number): void {
    for (const tid of this.tidsOf(tgid)) {
      this.signalsTo.delete(tid);
      this.tgidOf.delete(tid);
    }
    this.fatalDelivery.delete(tgid);
    this.exitCodes.delete(tgid);
    this.oomVictims.delete(tgid);
    this.bornAt.delete(tgid);
  }
}

function mib(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MiB`;
}
