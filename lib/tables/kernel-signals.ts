/**
 * Who really sent a signal that the `signal:signal_generate` tracepoint saw,
 * from what the kernel says: si_code, the signal, and whether the task that
 * was running (the trace line's "context") is the victim itself. The one
 * place these rules live; lib/signals/cause.ts applies them and every
 * finding reads their result. Each row was measured on kernel 6.18 with
 * test/helpers/measure-kernel-signals.ts: see docs/KERNEL-SIGNALS.md.
 *
 * Rows are tried in order; the first that matches wins.
 */

/** si_code values (include/uapi/asm-generic/siginfo.h). */
export const SI_USER = 0;
export const SI_KERNEL = 0x80;
export const SI_QUEUE = -1;
export const SI_TIMER = -2;
export const SI_TKILL = -6;

/**
 * - process: a process sent it with a kill-family call; the context task is the sender.
 * - self: the victim did it to itself (abort, raise, its own group), or the kernel did on its behalf in its context (SIGPIPE).
 * - fault: the victim's own instruction faulted or trapped.
 * - tty: the terminal layer (hangup, Ctrl-C, job control).
 * - timer: a timer the victim owns expired; the victim is the "sender".
 * - rlimit: a resource limit of the victim was reached.
 * - notify: a kernel notification (SIGCHLD, SIGIO…) in the context of what it reports on.
 * - kernel: the kernel, cause not told by the line alone (see `settle`).
 */
export type CauseKind = "process" | "self" | "fault" | "tty" | "timer" | "rlimit" | "notify" | "kernel";

/** Who is named as the killer on the signal line. */
export type KillerIs = "context" | "victim" | "kernel";

export interface KernelSignalRule {
  id: string;
  /** si_code to match; "fault" = any positive code (a fault's own code: SEGV_MAPERR…). */
  code: number | readonly number[] | "fault";
  /** Signal names to match, or "any". */
  signals: readonly string[] | "any";
  /** self: the context task is the victim; other: it is not; any. */
  context: "self" | "other" | "any";
  cause: CauseKind;
  killer: KillerIs;
  /** Plain words: what happened. */
  label: string;
  /** The kernel path that sends it: documentation, read by no code. */
  path: string;
  /** Could a kill-family syscall have made this line (so audit may hold its twin)? */
  viaSyscall: boolean;
  /** Where the line alone cannot tell: the evidence that would settle it. */
  settle?: string;
  /**
   * A sequence rule: it replaces the rule `refines` when a signal of rule
   * `afterRule` went to the same victim before (lib/signals/cause.ts CauseSequences).
   */
  afterRule?: string;
  refines?: string;
}

const FAULT_SIGNALS = ["SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGTRAP"] as const;
/** The si_codes a kill-family call gives (kill, sigqueue, tkill/tgkill). */
export const FROM_SYSCALL: readonly number[] = [SI_USER, SI_QUEUE, SI_TKILL];
export const OOM_SETTLE = "confirm with `dmesg | grep -i 'killed process'` (the kernel log names every OOM kill)";

export const KERNEL_SIGNAL_RULES: readonly KernelSignalRule[] = [
  {
    id: "fault", code: "fault", signals: FAULT_SIGNALS, context: "any", cause: "fault", killer: "victim", viaSyscall: false,
    label: "a fault in the process itself",
    path: "force_sig_fault() in the faulting task (page fault, divide error, invalid opcode…)",
  },
  {
    id: "seccomp-trap", code: 1, signals: ["SIGSYS"], context: "any", cause: "fault", killer: "victim", viaSyscall: false,
    label: "a seccomp filter trapped one of the process's own system calls (SYS_SECCOMP)",
    path: "force_sig_seccomp() in the calling task",
  },
  {
    id: "trap", code: SI_KERNEL, signals: FAULT_SIGNALS, context: "self", cause: "fault", killer: "victim", viaSyscall: false,
    label: "a trap in the process itself (a breakpoint instruction, or a fault the kernel forces, e.g. on a bad signal frame)",
    path: "do_int3_user() / force_sigsegv() in the task itself",
  },
  {
    id: "tty-hangup", code: SI_KERNEL, signals: ["SIGHUP"], context: "any", cause: "tty", killer: "kernel", viaSyscall: false,
    label: "its terminal hung up: the terminal window, SSH session or `script` holding it closed (the kernel's tty layer)",
    path: "__tty_hangup() → tty_signal_session_leader() (in the task closing the terminal), then disassociate_ctty() in the exiting session leader; kill_orphaned_pgrp() sends the same pair to a stopped, orphaned process group",
  },
  {
    id: "tty-hangup-cont", code: SI_KERNEL, signals: ["SIGCONT"], context: "any", cause: "tty", killer: "kernel", viaSyscall: false,
    label: "the SIGCONT the kernel sends with a hangup's SIGHUP, so a stopped process sees the hangup",
    path: "tty_signal_session_leader() / kill_orphaned_pgrp()",
  },
  {
    id: "tty-key", code: SI_KERNEL, signals: ["SIGINT", "SIGQUIT", "SIGTSTP"], context: "any", cause: "tty", killer: "kernel", viaSyscall: false,
    label: "a key typed on its terminal: Ctrl-C (SIGINT), Ctrl-\\ (SIGQUIT) or Ctrl-Z (SIGTSTP)",
    path: "n_tty isig() → kill_pgrp() to the foreground process group, in a kworker or the writer of the terminal",
  },
  {
    id: "tty-job-control", code: SI_KERNEL, signals: ["SIGTTIN", "SIGTTOU", "SIGWINCH"], context: "any", cause: "tty", killer: "kernel", viaSyscall: false,
    label: "terminal job control: a background job read or wrote its terminal (SIGTTIN/SIGTTOU), or the window was resized (SIGWINCH)",
    path: "tty_check_change() / tiocswinsz() → kill_pgrp()",
  },
  {
    id: "posix-timer", code: SI_TIMER, signals: "any", context: "any", cause: "timer", killer: "victim", viaSyscall: false,
    label: "a POSIX timer the process owns expired (timer_create; timeout(1) arms one)",
    path: "posix_timer_fn() in hard-interrupt context, whatever task was running (often <idle>)",
  },
  {
    id: "alarm", code: SI_KERNEL, signals: ["SIGALRM"], context: "any", cause: "timer", killer: "victim", viaSyscall: false,
    label: "the process's own alarm() or setitimer(ITIMER_REAL) timer expired",
    path: "it_real_fn() in hard-interrupt context, whatever task was running",
  },
  {
    id: "cpu-itimer", code: SI_KERNEL, signals: ["SIGVTALRM", "SIGPROF"], context: "any", cause: "timer", killer: "victim", viaSyscall: false,
    label: "the process's own CPU-time timer expired (setitimer ITIMER_VIRTUAL or ITIMER_PROF)",
    path: "check_cpu_itimer() in the task itself",
  },
  {
    id: "rlimit-cpu-soft", code: SI_KERNEL, signals: ["SIGXCPU"], context: "any", cause: "rlimit", killer: "kernel", viaSyscall: false,
    label: "it used more CPU time than its RLIMIT_CPU soft limit (ulimit -t)",
    path: "check_process_timers() → check_rlimit(), in the task itself",
  },
  {
    id: "rlimit-fsize", code: SI_USER, signals: ["SIGXFSZ"], context: "self", cause: "rlimit", killer: "kernel", viaSyscall: false,
    label: "it wrote past its RLIMIT_FSIZE file-size limit (ulimit -f)",
    path: "generic_write_check_limits() → send_sig(SIGXFSZ, current, 0), in the writer",
  },
  {
    id: "sigpipe", code: SI_USER, signals: ["SIGPIPE"], context: "self", cause: "self", killer: "victim", viaSyscall: false,
    label: "it wrote to a pipe or socket whose reader had gone (the kernel sends SIGPIPE to the writer)",
    path: "pipe_write() → send_sig(SIGPIPE, current, 0), in the writer",
  },
  {
    id: "rlimit-cpu-hard", code: SI_KERNEL, signals: ["SIGKILL"], context: "self", cause: "rlimit", killer: "kernel", viaSyscall: false,
    afterRule: "rlimit-cpu-soft", refines: "kernel-sigkill-self",
    label: "it reached its RLIMIT_CPU hard limit (ulimit -t): the kernel's SIGKILL after the SIGXCPU at the soft limit",
    path: "check_process_timers() → check_rlimit() at the hard limit, in the task itself",
  },
  {
    id: "kernel-sigkill-self", code: SI_KERNEL, signals: ["SIGKILL"], context: "self", cause: "kernel", killer: "kernel", viaSyscall: false,
    label: "killed by the kernel in its own context: possibly the OOM killer, or its RLIMIT_CPU hard limit (ulimit -t)",
    path: "__oom_kill_process() (the allocating task is often the victim), or check_process_timers() at the hard limit",
    settle: `${OOM_SETTLE}; no such line, and a SIGXCPU before it or a busy process, point to RLIMIT_CPU`,
  },
  {
    id: "kernel-sigkill", code: SI_KERNEL, signals: ["SIGKILL"], context: "other", cause: "kernel", killer: "kernel", viaSyscall: false,
    label: "killed by the kernel: possibly the OOM killer",
    path: "__oom_kill_process(), in the task whose allocation failed",
    settle: OOM_SETTLE,
  },
  {
    id: "kernel-unknown", code: SI_KERNEL, signals: "any", context: "any", cause: "kernel", killer: "kernel", viaSyscall: false,
    label: "sent by the kernel (cause unknown)",
    path: "a send with SEND_SIG_PRIV",
    settle: "the kernel log around this time (`dmesg -T`), and what the process was doing",
  },
  {
    id: "abort", code: SI_TKILL, signals: ["SIGABRT"], context: "self", cause: "self", killer: "victim", viaSyscall: true,
    label: "it called abort(): a failed assertion, a detected heap corruption, an uncaught C++ exception…",
    path: "glibc abort() → raise() → tgkill(getpid(), gettid(), SIGABRT)",
  },
  {
    id: "self-signal", code: FROM_SYSCALL, signals: "any", context: "self", cause: "self", killer: "victim", viaSyscall: true,
    label: "it signalled itself: raise(), kill(getpid()) or a kill of its own process group",
    path: "kill/tgkill from the process to itself",
  },
  {
    id: "sent-by-process", code: FROM_SYSCALL, signals: "any", context: "other", cause: "process", killer: "context", viaSyscall: true,
    label: "sent by a process with kill(2), tkill/tgkill or sigqueue",
    path: "a kill-family syscall, in the sender; SI_USER is also the parent-death signal (PR_SET_PDEATHSIG), sent from the dying parent's exit path",
  },
  {
    id: "notify", code: "fault", signals: ["SIGCHLD", "SIGIO", "SIGPOLL"], context: "any", cause: "notify", killer: "context", viaSyscall: false,
    label: "a kernel notification: a child changed state (SIGCHLD, in the child's context) or I/O is ready (SIGIO)",
    path: "do_notify_parent() in the exiting child; kill_fasync()",
  },
];

/** The sequence rules: [rule it refines, rule that must come first to the same victim, the refined rule]. */
export const SEQUENCE_RULES: ReadonlyArray<{ refines: string; after: string; rule: KernelSignalRule }> = KERNEL_SIGNAL_RULES.filter(
  (rule) => rule.afterRule !== undefined,
).map((rule) => ({ refines: rule.refines!, after: rule.afterRule!, rule }));

/** The first rule for this si_code, signal name and context, or null (no rule: another si_code). */
export function matchKernelSignalRule(code: number, signal: string, selfContext: boolean): KernelSignalRule | null {
  for (const rule of KERNEL_SIGNAL_RULES) {
    if (rule.afterRule !== undefined) continue;
    const codes = rule.code;
    if (codes === "fault" ? code <= 0 || code === SI_KERNEL : typeof codes === "number" ? codes !== code : !codes.includes(code)) continue;
    if (rule.signals !== "any" && !rule.signals.includes(signal)) continue;
    if (rule.context === "self" && !selfContext) continue;
    if (rule.context === "other" && selfContext) continue;
    return rule;
  }
  return null;
}
