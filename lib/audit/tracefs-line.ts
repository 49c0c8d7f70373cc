/**
 * The `signal:signal_generate` tracepoint line, as trace_pipe prints it, and
 * what its si_code says about where the signal came from. Pure: no I/O.
 *
 *   bash-9954 [001] d..1. 440.413824: signal_generate: sig=9 errno=0 code=0 comm=sleep pid=9955 grp=1 res=0
 *
 * The task before `[cpu]` is the sender (the task that was running when the
 * kernel generated the signal); `comm`/`pid` after are the target.
 */

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
  /** res=: see tracefsResultNames. */
  result: number;
}

/** The tracepoint's `res=` values (enum trace_signal_deliver_result in the kernel). */
export const tracefsResultNames: Readonly<Record<number, string>> = Object.freeze({
  0: "delivered",
  1: "ignored",
  2: "already pending",
  3: "overflow fail",
  4: "lose info",
});

// Parsed from the right on both halves: a comm may hold spaces, dashes and
// `pid=`-like text, but the kernel's own fields always come last.
// Head: TASK-PID, an optional `(TGID)` column (options/record-tgid), [CPU], an
// optional flags column (options/irq-info), then the timestamp.
const HEAD = /^\s*(.*)-(\d+)\s+(?:\(\s*(?:\d+|-+)\)\s+)?\[(\d+)\]\s+(?:\S+\s+)?(\d+(?:\.\d+)?):\s*$/;
const TAIL = /^sig=(-?\d+) errno=(-?\d+) code=(-?\d+) comm=(.*) pid=(-?\d+) grp=(\d+) res=(\d+)\s*$/;
const MARKER = ": signal_generate: ";

/** Parse one trace_pipe line; null when it is not a signal_generate line. */
export function parseSignalGenerate(raw: string): SignalGenerate | null {
  const at = raw.indexOf(MARKER);
  if (at < 0) return null;
  // A comm is at most 15 bytes, shorter than the marker, so the first
  // occurrence is the real one.
  const head = HEAD.exec(raw.slice(0, at + 1));
  const tail = TAIL.exec(raw.slice(at + MARKER.length).replace(/[\r\n]+$/, ""));
  if (!head || !tail) return null;
  const senderComm = head[1]!.trim();
  return {
    sender: { comm: senderComm === "<...>" || senderComm === "" ? null : senderComm, pid: Number(head[2]) },
    cpu: Number(head[3]),
    timestamp: Number(head[4]),
    sig: Number(tail[1]),
    errno: Number(tail[2]),
    code: Number(tail[3]),
    target: { comm: tail[4]!, pid: Number(tail[5]) },
    group: tail[6] === "1",
    result: Number(tail[7]),
  };
}

export interface SignalOriginInfo {
  code: number;
  /** "user", "kernel", "fault", "queue", "tkill", "timer" or "other". */
  kind: string;
  label: string;
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

const SIGILL = 4;
const SIGTRAP = 5;
const SIGBUS = 7;
const SIGFPE = 8;
const SIGSEGV = 11;
const SIGCHLD = 17;
const SIGPOLL = 29;
const SIGSYS = 31;

// Per-signal si_code names, index = code. Only the synchronous fault signals
// mean "the process did this to itself"; SIGCHLD/SIGPOLL/SIGSYS get their own.
const FAULT_CODES: Readonly<Record<number, readonly string[]>> = {
  [SIGILL]: ["", "ILL_ILLOPC", "ILL_ILLOPN", "ILL_ILLADR", "ILL_ILLTRP", "ILL_PRVOPC", "ILL_PRVREG", "ILL_COPROC", "ILL_BADSTK", "ILL_BADIADDR"],
  [SIGTRAP]: ["", "TRAP_BRKPT", "TRAP_TRACE", "TRAP_BRANCH", "TRAP_HWBKPT", "TRAP_UNK", "TRAP_PERF"],
  [SIGBUS]: ["", "BUS_ADRALN", "BUS_ADRERR", "BUS_OBJERR", "BUS_MCEERR_AR", "BUS_MCEERR_AO"],
  [SIGFPE]: ["", "FPE_INTDIV", "FPE_INTOVF", "FPE_FLTDIV", "FPE_FLTOVF", "FPE_FLTUND", "FPE_FLTRES", "FPE_FLTINV", "FPE_FLTSUB", "", "", "", "", "", "FPE_FLTUNK", "FPE_CONDTRAP"],
  [SIGSEGV]: ["", "SEGV_MAPERR", "SEGV_ACCERR", "SEGV_BNDERR", "SEGV_PKUERR", "SEGV_ACCADI", "SEGV_ADIDERR", "SEGV_ADIPERR", "SEGV_MTEAERR", "SEGV_MTESERR", "SEGV_CPERR"],
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
export function signalOrigin(code: number, sig: number): SignalOriginInfo {
  if (code === SI_USER) {
    return {
      code,
      kind: "user",
      label: "sent by a process with kill(2) (SI_USER), or by the kernel on a process's behalf the same way (e.g. SIGPIPE)",
    };
  }
  if (code === SI_KERNEL) {
    return { code, kind: "kernel", label: "sent by the kernel (SI_KERNEL): the OOM killer, or a similar kernel decision" };
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
  if (sig === SIGSYS && code === 1) {
    return { code, kind: "fault", label: "a seccomp filter trapped one of the process's own system calls (SYS_SECCOMP)" };
  }
  if (sig === SIGCHLD && CLD_CODES[code]) {
    return { code, kind: "other", label: `a child process changed state (${CLD_CODES[code]})` };
  }
  if (sig === SIGPOLL && POLL_CODES[code]) {
    return { code, kind: "other", label: `an I/O readiness notification (${POLL_CODES[code]})` };
  }
  return { code, kind: "other", label: `generated by the kernel with si_code ${code}` };
}
