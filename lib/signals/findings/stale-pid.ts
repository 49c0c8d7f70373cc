/**
 * stale-pid: a killer aims at the same PID again and again, and at least once
 * nobody held it (ESRCH). That is the signature of a parent that lost track
 * of a child: it keeps the dead child's PID and signals whoever gets it next.
 */
import { describeProcess, formatDuration, plural } from "../describe.ts";
import { definePairDetector, distinctHolders, holderText, pairFacts } from "./pairs.ts";

export const stalePid = definePairDetector({
  id: "stale-pid",
  title: "Killer keeps signalling a PID it no longer owns",
  *detect({ state, options }) {
    const minSpanMs = options.staleMinSpanSec * 1000;
    for (const pair of state.pairs()) {
      if (pair.esrch === 0 || pair.total < options.staleMinCalls) continue;
      // Repeated calls in one instant are one burst, not a program that keeps coming back.
      const span = pair.first !== null && pair.last !== null ? pair.last - pair.first : 0;
      if (span < minSpanMs) continue;
      const signals = Object.keys(pair.signals).join("/");
      const holders = distinctHolders(pair);
      const notes: string[] = [];
      if (holders.length > 0) notes.push(`Processes that held PID ${pair.targetPid} when hit: ${holders.map(holderText).join("; ")}`);
      yield {
        severity: pair.success > 0 ? "critical" : "warning",
        headline:
          `${describeProcess(pair.killer)} sent ${signals} to PID ${pair.targetPid} ${plural(pair.total, "time")} over ${formatDuration(span)}; ` +
          `${plural(pair.esrch, "call")} found no process with that PID (ESRCH)` +
          (pair.success > 0 ? ` and ${plural(pair.success, "call")} hit whoever held it` : ""),
        explanation:
          `This program keeps signalling PID ${pair.targetPid}, also at times when no process has that PID (the kernel answered ESRCH). ` +
          "A program does this when it has lost track of a child: the child ended, and the program still remembers its PID, " +
          "typically because it never reaped the child (waitpid) or ignores that it exited. " +
          "Linux reuses PIDs, so each time an unrelated process (a cron job, a shell, anything) gets that PID, it is signalled instead.",
        advice:
          "Restart the killer to make it forget the stale PID; that stops the kills for now. " +
          "Then fix or report the program: it should reap its children, forget a child's PID once the child has exited, " +
          "or hold a pidfd (pidfd_open/pidfd_send_signal), which cannot point at a recycled PID. " +
          `Until then, avoid running anything important as PID ${pair.targetPid}.`,
        ...pairFacts(pair, options.maxExamples, notes),
      };
    }
  },
});
