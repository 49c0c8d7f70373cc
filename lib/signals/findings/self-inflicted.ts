/**
 * self-inflicted: the process ended itself. abort() (SIGABRT to itself),
 * SIGPIPE on a pipe whose reader had gone, a fault (SIGSEGV, SIGBUS, SIGFPE,
 * SIGILL, a trap), raise() or a kill of its own process group. From tracefs
 * causes (lib/tables/kernel-signals.ts) and from audit calls a process made
 * against itself.
 */
import { plural } from "../describe.ts";
import { signalName } from "../keys.ts";
import type { SignalLine } from "../../schema.ts";
import { defineCauseDetector, groupFacts, signalList, taskList } from "./cause-groups.ts";
import type { Severity } from "./types.ts";

/** Signals that end a process when it sends them to itself; SIGPWR and real-time signals are runtimes talking to their own threads (GC). */
const SELF_FATAL = new Set(["SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE", "SIGKILL", "SIGSEGV", "SIGPIPE", "SIGTERM", "SIGSYS"]);

type SelfKind = "abort" | "sigpipe" | "fault" | "self-signal" | "own-group";

const WORDS: Readonly<Record<SelfKind, { headline: string; severity: Severity; explanation: string; advice: string }>> = {
  abort: {
    headline: "called abort()",
    severity: "warning",
    explanation:
      "The process aborted itself: abort() sends SIGABRT to the calling thread (tgkill to itself). C and C++ programs do this on a failed assert(), " +
      "when the C library detects heap corruption (\"double free\", \"corrupted size\"), or on an uncaught C++ exception (std::terminate). No other process was involved.",
    advice: "Read the program's stderr just before it died (the assertion or the library's message), and its core dump (`coredumpctl list`, or `ulimit -c unlimited`) for the stack.",
  },
  sigpipe: {
    headline: "got SIGPIPE writing to a pipe or socket whose reader had gone",
    severity: "info",
    explanation:
      "The process wrote to a pipe (or socket) that nobody reads any more, and the kernel sent it SIGPIPE, in its own context, with SI_USER as if it had called kill() on itself. " +
      "`yes | head -1` ends `yes` this way: head exits after one line. This is usually normal at the end of a pipeline.",
    advice: "Expected when the reader stops early. If it is not, find why the reader (the next command of the pipeline, the peer of the socket) went away. A program can ignore SIGPIPE and handle EPIPE instead.",
  },
  fault: {
    headline: "crashed",
    severity: "warning",
    explanation:
      "A fault in the process itself: a bad memory access (SIGSEGV, SIGBUS), an arithmetic error (SIGFPE), an illegal instruction (SIGILL) or a trap. " +
      "The kernel raises the signal in the faulting thread; no other process killed it, and audit has no kill() record.",
    advice: "This is a crash, not a murder: look for a core dump (`coredumpctl list`), the program's logs, and the kernel log's `segfault at` line (`dmesg | grep segfault`). Audit writes ANOM_ABEND for it too.",
  },
  "self-signal": {
    headline: "signalled itself",
    severity: "info",
    explanation: "The process sent this signal to itself (raise(), kill(getpid(), …), or a thread signalling its own process): it chose to end, or a library in it did.",
    advice: "Look at the program's own logs and exit path: whatever ended it ran inside it.",
  },
  "own-group": {
    headline: "signalled its own process group, itself included",
    severity: "info",
    explanation:
      "The process sent the signal to its whole process group (kill(0, …) or kill(-PGID, …)), which includes itself. Shell scripts do this with `kill 0` or `kill -- -$$` to clean up their jobs.",
    advice: "If that group held processes it should not have ended, start those in their own process group (setsid, set -m) or signal only the PIDs meant.",
  },
};

function selfKind(signal: SignalLine): SelfKind | null {
  // Ignored or blocked (tracefs res != 0) or refused: it ended nothing.
  if (signal.result.success === false) return null;
  const cause = signal.cause;
  if (cause) {
    if (cause.kind === "fault") return "fault";
    if (cause.kind !== "self") return null;
    if (cause.rule === "abort" || cause.rule === "sigpipe") return cause.rule;
    return SELF_FATAL.has(signalName(signal.signal)) ? (signal.target.scope === "group" ? "own-group" : "self-signal") : null;
  }
  if (signal.source !== "audit" || !SELF_FATAL.has(signalName(signal.signal))) return null;
  const killer = signal.killer.pid;
  if (killer === null) return null;
  if (signal.target.scope === "group" && signal.victims.some((v) => v.pid === killer)) return "own-group";
  if (!signal.self) return null;
  return signal.signal.nr === 6 ? "abort" : "self-signal";
}

export const selfInflicted = defineCauseDetector({
  id: "self-inflicted",
  title: "The process ended itself",
  observe(groups, observed) {
    const { signal } = observed;
    const kind = selfKind(signal);
    if (!kind) return;
    const who = kind === "own-group" ? signal.killer.comm : (signal.victims[0]?.comm ?? signal.killer.comm);
    groups.add(JSON.stringify([kind, signal.node, who, kind === "fault" ? (signal.cause?.label ?? null) : null]), observed, kind);
  },
  *detect({ state }) {
    for (const g of state.groups()) {
      const kind = (Object.keys(g.counts)[0] ?? "self-signal") as SelfKind;
      const words = WORDS[kind];
      const detail = kind === "fault" && g.label ? `: ${g.label}` : "";
      yield {
        severity: words.severity,
        headline: `${taskList(g.victims.values(), g.moreVictims) || "a process"} ${words.headline} (${signalList(g)}, ${plural(g.count, "signal")})${detail}`,
        explanation: words.explanation,
        advice: words.advice,
        ...groupFacts(g, g.rule === "audit" ? ["Seen by audit as a call the process made against itself"] : []),
      };
    }
  },
});
