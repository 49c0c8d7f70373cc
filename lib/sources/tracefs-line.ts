/**
 * The `signal:signal_generate` tracepoint line, as trace_pipe prints it, and
 * what its si_code says about where the signal came from. Pure: no I/O.
 *
 *   bash-9954 [001] d..1. 440.413824: signal_generate: sig=9 errno=0 code=0 comm=sleep pid=9955 grp=1 res=0
 *
 * The task before `[cpu]` is the sender (the task that was running when the
 * kernel generated the signal); `comm`/`pid` after are the target.
 *
 * The tracefs source (lib/sources/registry.ts): its SIGNAL_GENERATE records
 * become events here, and their signals get their cause in
 * lib/signals/cause.ts. The live reader is lib/sources/tracefs.ts.
 */
import type { AssembledEvent, PendingRecord } from "../audit/assemble.ts";
import { isoClock } from "../audit/spelling.ts";
import type { EventLine, SignalLine, SignalOrigin } from "../schema.ts";
import { explainTracefsSignal } from "../signals/cause.ts";
import { errnoName } from "../tables/errno.ts";
import { SIG, signalName } from "../tables/signals.ts";
import { ownRecord, ownSignalEvent, unreadRecordEvent } from "./own-record.ts";
import type { SourceSpec } from "./registry.ts";

export const SIGNAL_GENERATE = "SIGNAL_GENERATE";

export interface SignalGenerate {
  /** The task that was current when the signal was generated. comm is null when tracefs printed `<...>` (name not cached). */
  sender: { comm: string | null; pid: number };
  cpu: number;
  /** Trace clock seconds (whatever clock the instance used). */
  timestamp: number;
  sig: number;
  errno: number;
  /** si_code. */
  code: number;
  target: { comm: string; pid: number };
  /** grp=1: sent to the whole thread group (process), not one thread. */
  group: boolean;
  /** res= (enum trace_signal_deliver_result in the kernel): 0 delivered, 1 ignored, 2 already pending, 3 overflow fail, 4 lose info. */
  result: number;
}

/** The task a trace_pipe line ran in, as its head prints it: thread id, thread group id (null without record-tgid), comm (null for `<...>`). */
export interface TraceHead {
  comm: string | null;
  tid: number;
  tgid: number | null;
  cpu: number;
  /** The latency flags column (`d..1.`), or null when the instance prints none. */
  flags: string | null;
  /** Trace clock seconds. */
  timestamp: number;
}

// Head: TASK-PID, an optional `(TGID)` column (options/record-tgid), [CPU], an
// optional flags column (irq-info), the timestamp, then the event's text.
// A comm is at most 15 bytes: the shortest comm for which the rest of the head
// fits is the real one, whatever the comm holds (dashes, digits, spaces, `: `).
const HEAD = /^\s*(.{0,16}?)-(\d+)\s+(?:\(\s*(\d+|-+)\)\s+)?\[(\d+)\]\s+(?:([^\s\d][^\s]*)\s+)?(\d+(?:\.\d+)?): (.*)$/s;

/** The head of a trace_pipe line and the event text after it; null when the line has no head. The one reading of a head: tracefs, tracepoints and watch. */
export function parseTraceHead(raw: string): { head: TraceHead; body: string } | null {
  const match = HEAD.exec(raw.replace(/[\r\n]+$/, ""));
  if (!match) return null;
  const comm = match[1]!.trim();
  const tgid = match[3] !== undefined && /^\d+$/.test(match[3]) ? Number(match[3]) : null;
  return {
    head: { comm: comm === "<...>" || comm === "" ? null : comm, tid: Number(match[2]), tgid, cpu: Number(match[4]), flags: match[5] ?? null, timestamp: Number(match[6]) },
    body: match[7]!,
  };
}

// The kernel's own fields come last: a comm may hold spaces, dashes and `pid=`-like text.
const TAIL = /^sig=(-?\d+) errno=(-?\d+) code=(-?\d+) comm=(.*) pid=(-?\d+) grp=(\d+) res=(\d+)\s*$/;
/** What a signal_generate line's event text (after its head) starts with. */
export const SIGNAL_GENERATE_EVENT = "signal_generate: ";

/** Parse one trace_pipe line; null when it is not a signal_generate line. */
export function parseSignalGenerate(raw: string): SignalGenerate | null {
  const line = parseTraceHead(raw);
  return line ? signalGenerateOf(line.head, line.body) : null;
}

/** A line already split at its head (parseTraceHead): its signal_generate event, or null. */
export function signalGenerateOf(head: TraceHead, body: string): SignalGenerate | null {
  if (!body.startsWith(SIGNAL_GENERATE_EVENT)) return null;
  const tail = TAIL.exec(body.slice(SIGNAL_GENERATE_EVENT.length));
  if (!tail) return null;
  return {
    sender: { comm: head.comm, pid: head.tid },
    cpu: head.cpu,
    timestamp: head.timestamp,
    sig: Number(tail[1]),
    errno: Number(tail[2]),
    code: Number(tail[3]),
    target: { comm: tail[4]!, pid: Number(tail[5]) },
    group: tail[6] === "1",
    result: Number(tail[7]),
  };
}

// si_code values from include/uapi/asm-generic/siginfo.h.
const SI_USER = 0;
const SI_KERNEL = 0x80;
const NEGATIVE_CODES: Readonly<Record<number, { kind: string; label: string }>> = {
  [-1]: { kind: "queue", label: "sent with sigqueue(3) / rt_sigqueueinfo(2) (SI_QUEUE)" },
  [-2]: { kind: "timer", label: "a POSIX timer expired (SI_TIMER)" },
  [-3]: { kind: "other", label: "a POSIX message queue notification (SI_MESGQ)" },
  [-4]: { kind: "other", label: "asynchronous I/O completed (SI_ASYNCIO)" },
  [-5]: { kind: "other", label: "queued SIGIO (SI_SIGIO)" },
  [-6]: { kind: "tkill", label: "sent to one thread with tkill(2) or tgkill(2) (SI_TKILL)" },
  [-7]: { kind: "other", label: "another thread called execve or exit_group; the kernel ends this thread (SI_DETHREAD)" },
  [-60]: { kind: "other", label: "asynchronous name lookup completed (SI_ASYNCNL)" },
};


// Per-signal si_code names, index = code. Only the synchronous fault signals
// mean "the process did this to itself"; SIGCHLD/SIGPOLL/SIGSYS get their own.
const FAULT_CODES: Readonly<Record<number, readonly string[]>> = {
  [SIG.ILL]: ["", "ILL_ILLOPC", "ILL_ILLOPN", "ILL_ILLADR", "ILL_ILLTRP", "ILL_PRVOPC", "ILL_PRVREG", "ILL_COPROC", "ILL_BADSTK", "ILL_BADIADDR"],
  [SIG.TRAP]: ["", "TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH", "TRAP_HWBKPT", "TRAP_UNK", "TRAP_PERF"],
  [SIG.BUS]: ["", "BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR", "BUS_MCEERR_AR", "BUS_MCEERR_AO"],
  [SIG.FPE]: ["", "FPE_INTDIV", "FPE_INTOVF", "FPE_FLTDIV", "FPE_FLTOVF", "FPE_FLTUND", "FPE_FLTRES", "FPE_FLTINV", "FPE_FLTSUB", "", "", "", "", "", "FPE_FLTUNK", "FPE_CONDTRAP"],
  [SIG.SEGV]: ["", "SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR", "SEGV_PKUERR", "SEGV_ACCADI", "SEGV_ADIDERR", "SEGV_ADIPERR", "SEGV_MTEAERR", "SEGV_MTESERR", "SEGV_CPERR"],
};
const FAULT_WORDS: Readonly<Record<string, string>> = {
  SEGV_MAPERR: "address not mapped",
  SEGV_ACCERR: "no permission for the mapped address",
  BUS_ADRALN: "misaligned address",
  BUS_ADRERR: "nonexistent physical address",
  BUS_OBJERR: "object-specific hardware error (e.g. a truncated mmap'ed file)",
  FPE_INTDIV: "integer divide by zero",
  ILL_ILLOPC: "illegal opcode",
  TRAP_BRKPT: "breakpoint",
};
const CLD_CODES = ["", "CLD_EXITED", "CLD_KILLED", "CLD_DUMPED", "CLD_TRAPPED", "CLD_STOPPED", "CLD_CONTINUED"];
const POLL_CODES = ["", "POLL_IN", "POLL_OUT", "POLL_MSG", "POLL_ERR", "POLL_PRI", "POLL_HUP"];

/** What si_code says about a signal's origin, in plain English. */
export function signalOrigin(code: number, sig: number): SignalOrigin {
  if (code === SI_USER) {
    return {
      code,
      kind: "user",
      label: "sent by a process with kill(2) (SI_USER), or by the kernel on a process's behalf the same way (e.g. SIGPIPE)",
    };
  }
  if (code === SI_KERNEL) {
    // Many kernel paths use SI_KERNEL (tty hangup, alarm, RLIMIT_CPU, OOM…): lib/tables/kernel-signals.ts tells them apart.
    return { code, kind: "kernel", label: "sent by the kernel (SI_KERNEL)" };
  }
  if (code < 0) {
    const known = NEGATIVE_CODES[code];
    return known ? { code, ...known } : { code, kind: "other", label: `sent from user space with si_code ${code}` };
  }
  const faultNames = FAULT_CODES[sig];
  if (faultNames) {
    const name = faultNames[code] || `si_code ${code}`;
    const words = FAULT_WORDS[name];
    return { code, kind: "fault", label: `a fault in the process itself (${name}${words ? `: ${words}` : ""})` };
  }
  if (sig === SIG.SYS && code === 1) {
    return { code, kind: "fault", label: "a seccomp filter trapped one of the process's own system calls (SYS_SECCOMP)" };
  }
  if (sig === SIG.CHLD && CLD_CODES[code]) {
    return { code, kind: "other", label: `a child process changed state (${CLD_CODES[code]})` };
  }
  if (sig === SIG.IO && POLL_CODES[code]) {
    return { code, kind: "other", label: `an I/O readiness notification (${POLL_CODES[code]})` };
  }
  return { code, kind: "other", label: `generated by the kernel with si_code ${code}` };
}

/** A SIGNAL_GENERATE record as an event: the running task as its process, the target as its victim. */
function interpretSignalGenerate(event: AssembledEvent, record: PendingRecord): EventLine {
  const parsed = parseSignalGenerate(record.raw);
  const decodedRecord = ownRecord(record);
  const time = record.time ?? isoClock.text(event.seconds, event.millis);
  if (!parsed) return unreadRecordEvent(event, decodedRecord, time, "not a signal_generate trace line");
  const f = decodedRecord.fields;
  f.sig = String(parsed.sig);
  f.errno = String(parsed.errno);
  f.code = String(parsed.code);
  f.comm = parsed.target.comm;
  f.pid = String(parsed.target.pid);
  f.grp = parsed.group ? "1" : "0";
  f.res = String(parsed.result);
  f.sender_comm = parsed.sender.comm ?? "<...>";
  f.sender_pid = String(parsed.sender.pid);
  const sigName = signalName(parsed.sig);
  if (sigName) decodedRecord.decoded.sig = sigName;
  const made = ownSignalEvent(event, decodedRecord, time, {
    // res 0 = delivered; 1 ignored, 2 already pending, 3/4 queue trouble.
    success: parsed.result === 0,
    errno: parsed.errno === 0 ? null : errnoName(Math.abs(parsed.errno)),
    signal: { nr: parsed.sig, name: sigName },
    target: { pid: parsed.target.pid, scope: parsed.group ? "process" : "thread" },
    process: {
      pid: parsed.sender.pid, ppid: null, comm: parsed.sender.comm, exe: null,
      uid: null, user: null, euid: null, auid: null, ses: null, tty: null,
    },
    victim: { pid: parsed.target.pid, comm: parsed.target.comm, uid: null, user: null, auid: null, ses: null },
    origin: signalOrigin(parsed.code, parsed.sig),
  });
  // capture --tracepoints writes a signal here when no traced kill-family call made it: say so, it is a gap or the kernel.
  if (record.source?.file === TRACEPOINTS_FILE) made.warnings = [`${SIGNAL_GENERATE}: ${CALL_NOT_SEEN}`];
  return made;
}

/** `source.file` of the records capture --tracepoints writes. */
export const TRACEPOINTS_FILE = "tracepoints";
/** What a signal_generate line outside any traced call says (capture --tracepoints). */
export const CALL_NOT_SEEN =
  "no kill-family call was traced around this signal: the kernel sent it, or its caller's syscall tracepoints do not fire (a 32-bit program on a 64-bit kernel), so its result, uid and argv are not known";

/** A tracefs signal finished: its cause; and, written by capture --tracepoints, the call it did not see. */
function finishSignalGenerate(line: SignalLine, event: EventLine): void {
  explainTracefsSignal(line);
  if (event.records[0]?.source?.file === TRACEPOINTS_FILE) line.warnings = [CALL_NOT_SEEN];
}

export const TRACEFS_SOURCE: SourceSpec = {
  name: "tracefs",
  label: "tracefs",
  ownRecordTypes: [SIGNAL_GENERATE],
  standalone: true,
  kernelTrace: true,
  streamAncestry: false,
  liveFiles: ["tracefs"],
  interpret: interpretSignalGenerate,
  // tracefs names the running task; the cause rules say who really sent it.
  finishSignal: finishSignalGenerate,
};
