/**
 * systemd-stop: systemd (PID 1, or a user's manager) stopping a unit. It
 * sends the unit's KillSignal (SIGTERM unless set) to the unit's processes,
 * and SIGKILL to those still there when TimeoutStopSec runs out (90 s by
 * default). One finding per stop: the processes signalled within a few
 * seconds of each other.
 */
import { formatSpan, plural } from "../describe.ts";
import { catalogueFacts, graceSentence, perVictimNotes, stopStory, typicalGrace, victimList } from "./catalogue.ts";
import { defineSequenceDetector, stopEpisodes } from "./sequences.ts";

const DEFAULT_TIMEOUT_STOP_MS = 90_000;
const SETTING = "TimeoutStopSec=, default 90 s";

export const systemdStop = defineSequenceDetector({
  id: "systemd-stop",
  title: "systemd stopped a unit",
  *detect({ state, options }) {
    for (const seqs of stopEpisodes(state.of("systemd"))) {
      const first = seqs[0]!;
      const story = stopStory(seqs);
      const grace = typicalGrace(story);
      const manager = first.killerPid === 1 ? "systemd (pid 1)" : `a systemd user manager (pid ${first.killerPid ?? "?"})`;
      const at = first.stop?.ms ?? first.firstMs;
      const notes = perVictimNotes(seqs);
      const unit = seqs.find((seq) => seq.unit !== undefined)?.unit;
      if (unit !== undefined) notes.push(`Which unit: ${unit}, says the journal.`);
      else notes.push(
        `Which unit: audit does not say. ${first.killerPid === 1 ? "journalctl" : "journalctl --user"} around ${at !== null ? new Date(at).toISOString() : "that time"} names it ` +
          "(`UNIT: Stopping…`, `State 'stop-sigterm' timed out. Killing.`, `Killing process N (COMM) with signal SIGKILL.`); so does `systemctl status` of the unit, or the victims' cgroup.",
      );
      yield {
        severity: story.forced.length > 0 ? "warning" : "info",
        headline:
          `${manager} stopped ${plural(seqs.length, "process", "processes")} of ${unit ?? "a unit"}: ${victimList(seqs)}: ` +
          // The journal logs systemd's SIGKILLs, not the KillSignal before them: no stop signal seen is not none sent.
          (unit !== undefined && story.stopNames.length === 0 ? "SIGKILL, logged in the journal (which does not log the KillSignal, SIGTERM by default, sent before it)" : graceSentence(story, DEFAULT_TIMEOUT_STOP_MS, SETTING)),
        explanation:
          "systemd stops a unit (systemctl stop or restart, a dependency, shutdown, a failed start, or a unit that exits and takes others with it) " +
          "by sending its KillSignal, SIGTERM unless the unit sets another, to the unit's processes (with the default KillMode=control-group, to every process in its cgroup). " +
          "Processes still there when TimeoutStopSec runs out (90 s unless the unit or DefaultTimeoutStopSec says otherwise) get SIGKILL. " +
          (story.forced.length > 0
            ? `Here ${plural(story.forced.length, "process", "processes")} did not exit within ${grace !== null ? formatSpan(grace) : "the grace period"} of SIGTERM, so systemd killed ${story.forced.length === 1 ? "it" : "them"}.`
            : "Here no SIGKILL followed: the processes ended within the grace period."),
        advice:
          "Find the unit and why it was stopped: `journalctl -u UNIT` and PID 1's messages around that time, `systemctl status UNIT`. " +
          (story.forced.length > 0
            ? "A service that needs longer to shut down should get a longer TimeoutStopSec=; one that ignores SIGTERM should handle it, or set KillSignal= to the signal it does handle. "
            : "If the stop was not wanted, look for what asked for it (a restart in a deploy script, Restart= with a failing dependency, a timer). ") +
          "A process that must outlive its unit should not be in the unit's cgroup (KillMode=, or start it as its own unit with systemd-run).",
        ...catalogueFacts(seqs, options.maxExamples, notes, grace !== null ? { graceMs: grace, forced: story.forced.length } : {}),
      };
    }
  },
});
