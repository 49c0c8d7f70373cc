/**
 * recycled-pid: one killer, one PID, different processes hit (another comm or
 * another uid). The killer is not after a program; it is after a number, and
 * whoever holds that number pays.
 */
import { describeProcess, formatDuration, plural } from "../describe.ts";
import { definePairDetector, distinctHolders, holderText, pairFacts } from "./pairs.ts";

export const recycledPid = definePairDetector({
  id: "recycled-pid",
  title: "Killer hits whichever process holds a PID",
  *detect({ state, options }) {
    for (const pair of state.pairs()) {
      const holders = distinctHolders(pair);
      if (holders.length < 2) continue;
      const span = pair.first !== null && pair.last !== null ? pair.last - pair.first : 0;
      const uids = new Set(holders.map((h) => h.uid).filter((u) => u !== null));
      const notes = holders.map((h) => `PID ${pair.targetPid} held by ${holderText(h)}`);
      yield {
        severity: "critical",
        headline:
          `${describeProcess(pair.killer)} signalled PID ${pair.targetPid} ${plural(pair.total, "time")} over ${formatDuration(span)} ` +
          `and hit ${holders.length} different processes: ${holders.map((h) => h.comm ?? "?").join(", ")}` +
          (uids.size > 1 ? ` (${uids.size} different users)` : ""),
        explanation:
          `Each time this program signalled PID ${pair.targetPid}, a different process held that PID. ` +
          "Linux hands out PIDs again once a process has ended, so a program that remembers a PID for longer than its process lives " +
          "ends up signalling unrelated processes, possibly of other users. This is what a stale PID looks like from the victims' side.",
        advice:
          "Restart or stop the killer now, since it will keep hitting whichever process gets that PID next. " +
          "Then find out why it remembers the PID: a child it never reaped, a stale PID file, or a supervisor that does not notice its child exit. " +
          "Programs should signal through a pidfd, or check the process identity (start time) before signalling.",
        ...pairFacts(pair, options.maxExamples, notes),
      };
    }
  },
});
