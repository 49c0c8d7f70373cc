/**
 * memory-pressure: a user-space low-memory killer (systemd-oomd, earlyoom,
 * oomd, nohang) killed processes. These act before the kernel's OOM killer:
 * systemd-oomd on memory pressure (PSI) or swap use, killing a whole cgroup;
 * earlyoom when free memory and swap fall below its limits.
 */
import { plural } from "../describe.ts";
import { catalogueFacts, perVictimNotes, victimList } from "./catalogue.ts";
import { defineSequenceDetector, stopEpisodes } from "./sequences.ts";

export const memoryPressure = defineSequenceDetector({
  id: "memory-pressure",
  title: "A low-memory daemon killed processes",
  *detect({ state, options }) {
    for (const seqs of stopEpisodes(state.of("memory-pressure"))) {
      const first = seqs[0]!;
      const program = first.program!;
      const oomd = program.names.includes("systemd-oomd") || program.names.includes("oomd");
      const signals = [...new Set(seqs.flatMap((s) => s.steps.map((step) => step.name)))].join(" and ");
      const notes = perVictimNotes(seqs);
      notes.push(`Sender: ${program.what}`);
      notes.push(
        oomd
          ? "Its log names the cgroup and the pressure: `Killed /…/app-foo.scope due to memory pressure for /user.slice/… being 86.80% > 50.00% for > 20s with reclaim activity` (journalctl -u systemd-oomd)."
          : "Its log names the process and the memory left: `journalctl -u earlyoom` (or its stderr).",
      );
      yield {
        severity: "warning",
        headline: `${first.killer.comm ?? "a low-memory daemon"} (${program.what}) killed ${plural(seqs.length, "process", "processes")} to free memory: ${victimList(seqs)} (${signals})`,
        explanation:
          `${first.killer.comm ?? "This daemon"} watches memory and kills before the kernel's OOM killer has to. ` +
          (oomd
            ? "systemd-oomd acts on memory pressure (PSI: the share of time tasks stall waiting for memory) or swap use, over a limit for a while, and SIGKILLs every process of the cgroup it picks, often a whole app scope or service. "
            : "earlyoom acts when both free memory and free swap fall below its limits (10 % by default): SIGTERM first, SIGKILL at half the limits, to the process with the highest oom_score. ") +
          "The victims did nothing wrong by themselves: the machine, or their slice, was short of memory.",
        advice:
          "Find what used the memory (the victims may be the hog, or only the biggest at the time). Give the machine or the slice more memory, limit the hog (MemoryMax=, MemoryHigh=), " +
          (oomd
            ? "or tune systemd-oomd: ManagedOOMMemoryPressureLimit= and ManagedOOMMemoryPressure= on the slice, ManagedOOMSwap=, or ManagedOOMPreference=avoid for units that must survive."
            : "or tune earlyoom: -m/-s limits, --avoid and --prefer patterns for which processes it picks."),
        ...catalogueFacts(seqs, options.maxExamples, notes),
      };
    }
  },
});
