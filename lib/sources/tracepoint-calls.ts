/**
 * capture --tracepoints, the part with no I/O: trace lines in, one record
 * per kill-family call out (TRACEPOINT_KILL), and one per signal no traced
 * call made (SIGNAL_GENERATE, as --tracefs writes it).
 *
 * A call is its sys_enter line, the signal_generate lines its thread
 * produced before its sys_exit line (the victims, as OBJ_PID records are in
 * audit), and that exit (the result). The sender's program and parents come
 * from the task_newtask, task_rename and sched_process_exec lines seen before, and
 * from /proc (SenderLookup) only when the process there is provably the one
 * that made the call (see senderFacts): a recycled PID's /proc is never
 * another process's evidence.
 */
import { KILL_SYSCALLS } from "../tables/kill-family.ts";
import { intArg, inInterrupt, parseTracepointLine, type TracepointLine } from "./tracepoint-line.ts";
import type { RecordLine } from "../schema.ts";
import { SIGNAL_GENERATE, TRACEPOINTS_FILE, type TraceHead } from "./tracefs-line.ts";
import { ownRecordLine } from "./own-record.ts";
import { setBounded } from "../signals/tally.ts";
import { blankTask, TaskTable, TICK_SLACK, type ProcView, type TaskSeen } from "./trace-tasks.ts";

export const TRACEPOINT_KILL = "TRACEPOINT_KILL";
/** Starts the last line of a TRACEPOINT_KILL record's raw text: what capture knew of the sender, as JSON. */
export const SENDER_PREFIX = "whokilled-sender ";

/** The syscalls whose enter and exit capture matches: the kill family, and pidfd_open (which process a pidfd names). */
export const TRACED_CALLS: readonly string[] = [...KILL_SYSCALLS, "pidfd_open"];
const KILL_CALLS = new Set<string>(KILL_SYSCALLS);

/** Reads a process (and, with `tid`, that thread's comm) from /proc; null when gone. */
export type SenderLookup = (pid: number, tid: number | null) => ProcView | null;

/** A signal's victim as /proc shows it, a zombie too (it holds its PID until reaped): start (trace seconds), comm, uid, its process. */
export interface VictimView {
  start: number;
  comm: string;
  uid: number | null;
  /** The thread group the (thread) id belongs to. */
  tgid: number | null;
}

/** Reads a victim (a thread id or a process) from /proc; null when reaped. */
export type VictimLookup = (pid: number) => VictimView | null;

export interface AncestorFacts {
  pid: number;
  comm: string | null;
  exe: string | null;
  argv?: string[];
}

/** What capture knew of a call's sender: the JSON on the record's last line. null: not known (each said in `warnings`). */
export interface SenderFacts {
  pid: number;
  tid: number;
  comm: string | null;
  exe: string | null;
  /** `proc`: /proc/PID/exe; `exec`: the path given to execve (sched_process_exec: may be relative, or a script). */
  exeFrom: "proc" | "exec" | null;
  ppid: number | null;
  /** `proc`: /proc/PID/stat when read; `fork`: the process that created it (its task_newtask line). */
  ppidFrom: "proc" | "fork" | null;
  uid: number | null;
  euid: number | null;
  argv: string[] | null;
  /** Its start, trace-clock seconds, when /proc was read and matched. */
  start: number | null;
  ancestry: AncestorFacts[];
  /** The kernel's native arch: syscall tracepoints fire for native calls only. */
  arch: string | null;
  /** pidfd_send_signal: the pid this descriptor was opened on (the sender's pidfd_open, seen earlier). */
  pidfdPid?: number;
  /** Each signal_generate line's victim, in order, as /proc showed it (uid, and the process of a thread): nulls where it could not show it was the one signalled. */
  victims?: Array<{ uid: number | null; tgid: number | null }>;
  warnings: string[];
}

/** A record made: its type, raw text and the trace time it stands at (for its id and wall time). */
export interface MadeRecord {
  type: typeof TRACEPOINT_KILL | typeof SIGNAL_GENERATE;
  raw: string;
  timestamp: number;
}

export interface CallMatcherOptions {
  /** /proc, or a fake in tests; none: nothing is read (every /proc fact is null). */
  lookup?: SenderLookup;
  /** Victims' uids from /proc; none: every victim's uid is null. */
  victimLookup?: VictimLookup;
  /** Trace-clock seconds when tracing started: a process older than that may have no creation line. */
  tracingSince: number;
  /** The kernel's arch name (x86_64). */
  arch: string | null;
}

interface OpenCall {
  name: string;
  head: TraceHead;
  lines: string[];
  args: Array<{ name: string; value: bigint }>;
  /** The signal_generate lines' victims (the thread or process the kernel named), with when and as whom. */
  victims: Array<{ pid: number; comm: string; at: number }>;
}

/** A call still open this long (trace seconds) behind the newest line is ended unfinished. */
const OPEN_SECONDS = 2;
/** Tasks remembered from their creation, rename and exec lines. */
const MAX_TASKS = 65_536;
/** Ancestors followed through /proc. */
const MAX_ANCESTRY = 16;
/** pidfds remembered per process, and processes with any. */
const MAX_PIDFDS = 4096;

export interface CallMatcherStats {
  calls: number;
  /** Calls whose exit line never came (lost, or capture ended first). */
  unfinished: number;
  /** signal_generate lines outside any traced call. */
  outside: number;
  /** Exit lines whose enter was never seen (the call began before tracing did). */
  orphanExits: number;
  /** Lines of the traced events that did not parse. */
  unreadable: number;
}

/**
 * Feed trace lines in order with `line`; each returns the records it
 * completed. `expire` ends calls left open too long (a lost exit line);
 * `flush` ends all at the end of a capture.
 */
export class CallMatcher {
  private readonly open = new Map<number, OpenCall>();
  /** Tasks by thread id, from their creation, rename and exec lines. */
  private readonly tasks = new TaskTable(MAX_TASKS, (head) => this.processOf(head).tgid);
  /** `TGID:FD` → the pid that pidfd_open named, and when the opener was created (a reused TGID's descriptors are not its). */
  private readonly pidfds = new Map<string, { pid: number; openerCreatedAt: number | null }>();
  private newest = 0;
  readonly stats: CallMatcherStats = { calls: 0, unfinished: 0, outside: 0, orphanExits: 0, unreadable: 0 };

  constructor(private readonly options: CallMatcherOptions) {}

  line(raw: string): MadeRecord[] {
    const parsed = parseTracepointLine(raw);
    if (!parsed) {
      this.stats.unreadable++;
      return [];
    }
    if (parsed.head.timestamp > this.newest) this.newest = parsed.head.timestamp;
    return this.take(parsed, raw);
  }

  /** End the calls open more than OPEN_SECONDS behind `now` (trace seconds; default the newest line's). */
  expire(now: number = this.newest): MadeRecord[] {
    const out: MadeRecord[] = [];
    for (const [tid, call] of this.open) {
      if (now - call.head.timestamp <= OPEN_SECONDS) continue;
      this.open.delete(tid);
      out.push(this.finish(call, null));
    }
    return out;
  }

  /** End every open call: the capture is over. */
  flush(): MadeRecord[] {
    return this.expire(Number.POSITIVE_INFINITY);
  }

  /** One parsed line taken in: the records it completed. */
  private take(parsed: TracepointLine, raw: string): MadeRecord[] {
    const tid = parsed.head.tid;
    switch (parsed.event) {
      case "newtask":
      case "fork":
      case "rename":
        this.tasks.take(parsed, raw);
        return [];
      case "exec": {
        // Read now, while it may still live; kept only if it is this process, as it was after this exec.
        const now = this.tasks.take(parsed, raw)!;
        const proc = this.options.lookup?.(parsed.pid, parsed.pid) ?? null;
        if (proc && this.mismatch(proc, parsed.head.timestamp, now, now.comm) === null) now.lastProc = { view: proc, at: parsed.head.timestamp, when: "exec" };
        return [];
      }
      case "enter": {
        if (!TRACED_CALLS.includes(parsed.call)) return [];
        const before = this.open.get(tid);
        // One thread makes one call at a time: an open one whose exit never came ends here.
        const ended = before ? [this.finish(before, null)] : [];
        this.open.set(tid, { name: parsed.call, head: parsed.head, lines: [raw], args: parsed.args, victims: [] });
        return ended;
      }
      case "signal_generate": {
        const call = this.open.get(tid);
        // A signal raised in an interrupt while the task was in kill() (a timer's) is not the call's.
        if (call && KILL_CALLS.has(call.name) && !inInterrupt(parsed.head)) {
          call.lines.push(raw);
          call.victims.push({ pid: parsed.generate.target.pid, comm: parsed.generate.target.comm, at: parsed.head.timestamp });
          return [];
        }
        this.stats.outside++;
        return [{ type: SIGNAL_GENERATE, raw, timestamp: parsed.head.timestamp }];
      }
      case "exit": {
        const call = this.open.get(tid);
        if (!call || call.name !== parsed.call) {
          this.stats.orphanExits++;
          return [];
        }
        this.open.delete(tid);
        call.lines.push(raw);
        if (call.name === "pidfd_open") {
          this.openedPidfd(call, parsed.ret);
          return [];
        }
        return [this.finish(call, parsed.ret)];
      }
    }
  }

  private openedPidfd(call: OpenCall, ret: bigint): void {
    const pid = call.args[0] ? intArg(call.args[0].value) : null;
    if (ret < 0n || pid === null || pid <= 0) return;
    const tgid = this.processOf(call.head).tgid;
    setBounded(this.pidfds, `${tgid}:${ret}`, { pid, openerCreatedAt: this.tasks.get(tgid)?.createdAt ?? null }, MAX_PIDFDS);
  }

  /** A call's record: its trace lines, the sender's creation and exec lines used, and what capture knew of the sender. */
  private finish(call: OpenCall, ret: bigint | null): MadeRecord {
    this.stats.calls++;
    if (ret === null) this.stats.unfinished++;
    const facts = this.senderFacts(call.head);
    if (ret === null) facts.warnings.push("the call's sys_exit line was not seen (lost, or the capture ended first): its result is not known");
    if (call.name === "pidfd_send_signal" && call.args[0]) {
      const opened = this.pidfds.get(`${facts.pid}:${BigInt.asIntN(32, call.args[0].value)}`);
      if (opened !== undefined && opened.openerCreatedAt === (this.tasks.get(facts.pid)?.createdAt ?? null)) facts.pidfdPid = opened.pid;
    }
    if (call.victims.length > 0 && this.options.victimLookup) facts.victims = call.victims.map((victim) => this.victimFacts(victim));
    const seen = this.tasks.get(facts.pid);
    const context: string[] = [];
    if (seen?.createLine && facts.ppidFrom === "fork") context.push(seen.createLine);
    if (seen?.execLine && facts.exeFrom === "exec") context.push(seen.execLine);
    return { type: TRACEPOINT_KILL, raw: [...call.lines, ...context, SENDER_PREFIX + JSON.stringify(facts)].join("\n"), timestamp: call.head.timestamp };
  }

  /**
   * The process a line's task belongs to: from its creation or exec line
   * when seen; else from /proc, for a task older than the tracing; else the
   * head's thread group column, which is a cache (`note` says so).
   */
  private processOf(head: TraceHead): { tgid: number; note: string | null } {
    const known = this.tasks.get(head.tid);
    if (known?.tgid != null) return { tgid: known.tgid, note: null };
    const view = this.options.victimLookup?.(head.tid) ?? null;
    if (view?.tgid != null && view.start <= this.options.tracingSince + TICK_SLACK / 2) {
      // Remembered: a busy parent forks often. A new task with this id would come with its creation line. An entry a
      // rename line made keeps its name.
      if (known) known.tgid = view.tgid;
      else this.tasks.remember(head.tid, { ...blankTask(), tgid: view.tgid });
      return { tgid: view.tgid, note: null };
    }
    if (head.tgid === null) return { tgid: head.tid, note: "pid: the trace line has no thread group id (options/record-tgid), and no line or /proc told it: the thread's id is used" };
    return { tgid: head.tgid, note: head.tgid === head.tid ? null : `pid: ${head.tgid}, from trace_pipe's thread group cache for thread ${head.tid}: no line or /proc told it` };
  }

  /**
   * The sender as known now. /proc counts only when its process provably
   * made the call: it started within a tick of the creation seen for that
   * PID, or, with no creation seen, before tracing began (a process created
   * since would have shown one); and its calling thread still has the comm
   * its creation, rename or exec line gave it (an exec since would have
   * changed it). Gone by then, it is what /proc showed at its exec or at an
   * earlier call, under the same name.
   */
  private senderFacts(head: TraceHead): SenderFacts {
    const { tgid: pid, note } = this.processOf(head);
    const seen = this.tasks.get(pid);
    const comm = this.tasks.known(head).comm;
    const facts: SenderFacts = {
      pid, tid: head.tid, comm, exe: null, exeFrom: null, ppid: null, ppidFrom: null,
      uid: null, euid: null, argv: null, start: null, ancestry: [], arch: this.options.arch, warnings: [],
    };
    if (note !== null) facts.warnings.push(note);
    const proc = this.options.lookup?.(pid, head.tid) ?? null;
    const reason = proc ? this.mismatch(proc, head.timestamp, seen, comm) : "it had ended when capture read /proc";
    const last = seen?.lastProc;
    if (proc && reason === null) {
      this.fromProc(facts, proc);
      // Kept for its next call: a killer may be gone before that call's exit line is read.
      (seen ?? this.tasks.remember(pid, { ...blankTask(), tgid: pid })).lastProc = { view: proc, at: head.timestamp, when: "call" };
    } else if (last && (comm === null || last.view.comm === comm)) {
      // Gone by now, but read at its exec or an earlier call, under the same name: what it was then.
      this.fromProc(facts, last.view);
      const when = last.when === "exec" ? "after its exec" : "at an earlier call";
      facts.warnings.push(`sender ${pid}: uid, exe and argv as /proc showed them ${when} (${Math.max(0, Math.round((head.timestamp - last.at) * 1000))} ms before the call); ${reason} at the call`);
    } else {
      facts.warnings.push(`sender ${pid}: uid and argv not known: ${reason}`);
    }
    if (facts.exe === null && seen?.exe) {
      facts.exe = seen.exe;
      facts.exeFrom = "exec";
      facts.warnings.push(seen.inherited ? "exe: its parent's program as given to execve (sched_process_exec): it did not exec since its creation was seen" : "exe: the path given to execve (sched_process_exec), not resolved");
    }
    if (facts.ppid === null && seen?.parent != null) {
      facts.ppid = seen.parent;
      facts.ppidFrom = "fork";
      // The parent usually outlives a short-lived sender: its chain, if it is the process that created it.
      if (seen.createdAt !== null) facts.ancestry = this.ancestryFrom(seen.parent, seen.createdAt);
    }
    if (facts.exe === null && !seen?.exe) facts.warnings.push("exe not known: no exec of the sender was seen and /proc could not tell");
    if (facts.ppid === null) facts.warnings.push("parent not known: no creation of the sender was seen and /proc could not tell");
    return facts;
  }

  private fromProc(facts: SenderFacts, proc: ProcView): void {
    facts.exe = proc.exe;
    facts.exeFrom = proc.exe === null ? null : "proc";
    facts.ppid = proc.ppid;
    facts.ppidFrom = "proc";
    facts.uid = proc.uid;
    facts.euid = proc.euid;
    facts.argv = proc.argv;
    if (proc.argv === null) facts.warnings.push(`argv not known: /proc/${proc.pid}/cmdline was empty (it was ending)`);
    facts.start = proc.start;
    facts.ancestry = this.ancestryFrom(proc.ppid, proc.start, proc.pid);
    // /proc names the thread now; the guard made sure that is the name it had.
    facts.comm = proc.comm;
  }

  /**
   * A victim's uid, when the process /proc shows under its PID is the one
   * signalled: the trace's comm, started by the signal (and at its creation,
   * if seen). A PID is not reused before its zombie is reaped, so a victim
   * the signal ended is still there for a moment; one reaped already keeps
   * what /proc showed after its exec.
   */
  private victimFacts(victim: { pid: number; comm: string; at: number }): { uid: number | null; tgid: number | null } {
    const unknown = { uid: null, tgid: null };
    const task = this.tasks.get(victim.pid);
    const view = this.options.victimLookup?.(victim.pid) ?? null;
    if (!view) {
      const last = task?.lastProc?.view;
      return last && last.comm === victim.comm ? { uid: last.uid, tgid: victim.pid } : { uid: null, tgid: task?.tgid ?? null };
    }
    if (view.comm !== victim.comm || view.start > victim.at + TICK_SLACK) return unknown;
    if (task?.createdAt != null && Math.abs(view.start - task.createdAt) > TICK_SLACK) return unknown;
    return { uid: view.uid, tgid: view.tgid };
  }

  /** Why the /proc process is not the call's sender (as of `at`, named `comm` then), or null when it is. */
  private mismatch(proc: ProcView, at: number, seen: TaskSeen | undefined, comm: string | null): string | null {
    if (seen?.createdAt != null) {
      if (proc.start > seen.createdAt + TICK_SLACK || proc.start < seen.createdAt - TICK_SLACK) {
        return `the process now holding PID ${proc.pid} started at ${proc.start.toFixed(2)} s, not at its creation seen at ${seen.createdAt.toFixed(6)} s (the PID was reused)`;
      }
    } else if (proc.start > this.options.tracingSince + TICK_SLACK / 2) {
      return `the process now holding PID ${proc.pid} started after tracing began, yet no creation of it was seen (lost lines, or the PID was reused)`;
    }
    if (proc.start > at + TICK_SLACK) return `the process now holding PID ${proc.pid} started after the call`;
    if (comm !== null && proc.comm !== comm) return `its thread is now named ${JSON.stringify(proc.comm)}, not ${JSON.stringify(comm)} (it exec'd since, or was renamed)`;
    return null;
  }

  /** The chain from `pid` up, each process older than `youngerStart` (its child's start) or it is not that parent. */
  private ancestryFrom(first: number, youngerStart: number, childPid?: number): AncestorFacts[] {
    const chain: AncestorFacts[] = [];
    let childStart = youngerStart;
    const visited = new Set<number>(childPid === undefined ? [] : [childPid]);
    for (let pid = first; pid > 0 && chain.length < MAX_ANCESTRY && !visited.has(pid); ) {
      visited.add(pid);
      const parent = this.options.lookup?.(pid, null) ?? null;
      if (!parent || parent.start > childStart + TICK_SLACK) break;
      chain.push({ pid, comm: parent.comm, exe: parent.exe, ...(parent.argv ? { argv: parent.argv } : {}) });
      childStart = parent.start;
      pid = parent.ppid;
    }
    return chain;
  }
}

/**
 * A made record as a `record` line: `serial` (the capture's count) makes its
 * id unique, `SEC.MS:SERIAL` with the wall time of its first line, the
 * trace clock placed on the wall clock by `offsetMs`.
 */
export function madeRecordLine(made: MadeRecord, serial: number, offsetMs: number): RecordLine {
  return ownRecordLine(made.type, made.raw, { file: TRACEPOINTS_FILE, line: serial }, serial, Math.round(made.timestamp * 1000 + offsetMs));
}

/**
 * The sender facts on a TRACEPOINT_KILL record's last line, or null when it
 * has none or it does not read. A record line may come from anywhere (a
 * file, a hand-made line): each member is taken only with its own type, else
 * as not known.
 */
export function senderFactsOf(raw: string): SenderFacts | null {
  const line = raw.slice(raw.lastIndexOf("\n") + 1);
  if (!line.startsWith(SENDER_PREFIX)) return null;
  let value: unknown;
  try {
    value = JSON.parse(line.slice(SENDER_PREFIX.length));
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return null;
  const o = value as Record<string, unknown>;
  if (!isInt(o.pid)) return null;
  const facts: SenderFacts = {
    pid: o.pid,
    tid: isInt(o.tid) ? o.tid : o.pid,
    comm: strOrNull(o.comm),
    exe: strOrNull(o.exe),
    exeFrom: o.exeFrom === "proc" || o.exeFrom === "exec" ? o.exeFrom : null,
    ppid: isInt(o.ppid) ? o.ppid : null,
    ppidFrom: o.ppidFrom === "proc" || o.ppidFrom === "fork" ? o.ppidFrom : null,
    uid: isInt(o.uid) ? o.uid : null,
    euid: isInt(o.euid) ? o.euid : null,
    argv: isStrings(o.argv) ? o.argv : null,
    start: typeof o.start === "number" && Number.isFinite(o.start) ? o.start : null,
    ancestry: Array.isArray(o.ancestry) ? o.ancestry.flatMap((a) => ancestorOf(a)) : [],
    arch: strOrNull(o.arch),
    warnings: isStrings(o.warnings) ? o.warnings : [],
  };
  if (isInt(o.pidfdPid)) facts.pidfdPid = o.pidfdPid;
  if (Array.isArray(o.victims)) {
    facts.victims = o.victims.map((v) => {
      const r = typeof v === "object" && v !== null ? (v as Record<string, unknown>) : {};
      return { uid: isInt(r.uid) ? r.uid : null, tgid: isInt(r.tgid) ? r.tgid : null };
    });
  }
  return facts;
}

function isInt(value: unknown): value is number {
  return Number.isSafeInteger(value);
}

function strOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === "string");
}

function ancestorOf(value: unknown): AncestorFacts[] {
  if (typeof value !== "object" || value === null) return [];
  const a = value as Record<string, unknown>;
  if (!isInt(a.pid)) return [];
  return [{ pid: a.pid, comm: strOrNull(a.comm), exe: strOrNull(a.exe), ...(isStrings(a.argv) ? { argv: a.argv } : {}) }];
}
