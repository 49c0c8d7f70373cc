/**
 * resource-limit: the kernel enforced one of the victim's resource limits:
 * SIGXCPU at RLIMIT_CPU's soft limit, SIGKILL at its hard limit (told by the
 * SIGXCPU before it: lib/tables/kernel-signals.ts rlimit-cpu-hard), SIGXFSZ
 * past RLIMIT_FSIZE. A lone SIGKILL in the victim's own context could also be
 * the OOM killer: blind-spot reports that one, with both candidates.
 */
import { plural } from "../describe.ts";
import { defineCauseDetector, groupFacts, signalList, taskList } from "./cause-groups.ts";

const ADVICE: Readonly<Record<string, string>> = {
  cpu:
    "Find who set the CPU-time limit: `ulimit -t` in a wrapper script, LimitCPU= in a systemd unit, /etc/security/limits.conf, or the program's parent " +
    "(`cat /proc/PID/limits` on a running sibling shows it). Raise it, or make the work shorter. A program may catch SIGXCPU to finish cleanly before the hard limit.",
  fsize:
    "Find who set the file-size limit: `ulimit -f`, LimitFSIZE= in a systemd unit, /etc/security/limits.conf. Raise it, or write smaller files; " +
    "a program that ignores SIGXFSZ gets EFBIG from write() instead.",
};

export const resourceLimit = defineCauseDetector({
  id: "resource-limit",
  title: "A resource limit was reached",
  observe(groups, observed) {
    const { signal } = observed;
    if (signal.cause?.kind !== "rlimit") return;
    const limit = signal.cause.rule === "rlimit-fsize" ? "fsize" : "cpu";
    groups.add(JSON.stringify([limit, signal.node, signal.victims[0]?.comm ?? null]), observed);
  },
  *detect({ state }) {
    for (const g of state.groups()) {
      const fsize = g.rule === "rlimit-fsize";
      const victims = taskList(g.victims.values(), g.moreVictims);
      const killed = g.signals.has("SIGKILL");
      const limit = fsize ? "RLIMIT_FSIZE (ulimit -f)" : "RLIMIT_CPU (ulimit -t)";
      const what = fsize
        ? "it wrote past its file-size limit"
        : killed
          ? "it used up its CPU-time limit: SIGXCPU at the soft limit, then SIGKILL at the hard limit"
          : "it used more CPU time than its soft limit";
      yield {
        severity: killed ? "warning" : "info",
        headline: `The kernel enforced ${limit} on ${victims}: ${what} (${signalList(g)}, ${plural(g.count, "signal")})`,
        explanation:
          `The process's own ${limit} limit was reached, and the kernel sent the signal itself, in the process's own context: no other process killed it, and audit has no record. ` +
          (fsize
            ? "SIGXFSZ's default action ends the process (with a core dump)."
            : "SIGXCPU's default action ends the process (with a core dump); a process that survives it gets SIGKILL at the hard limit. `ulimit -t N` sets both limits to N, and then only the SIGKILL shows."),
        advice: ADVICE[fsize ? "fsize" : "cpu"]!,
        ...groupFacts(g),
      };
    }
  },
});
