/**
 * pkill: pkill, killall or kill(1) signalled processes, usually from a
 * script or a cron job. The pattern (or names, or PIDs) is in its argv, and
 * its parents say whose job it was. `pkill -f` matches whole command lines,
 * its own parents' included: a pattern that hit the shell that ran it, or
 * processes whose name does not match, was probably broader than meant.
 */
import { describeProcess, plural } from "../describe.ts";
import { catalogueFacts, catalogueKiller, commandText, launcherText, perVictimNotes, scheduledBy, victimList } from "./catalogue.ts";
import { defineSequenceDetector, groupBy, type KillSequence } from "./sequences.ts";

export interface KillToolArgs {
  tool: "pkill" | "killall" | "kill" | "other";
  /** What it matched on: pkill's pattern, killall's names, kill's PIDs. */
  patterns: string[];
  /** pkill -f: the pattern is matched against whole command lines. */
  fullCommandLine: boolean;
  /** pkill -x / killall -e: the whole name must match. */
  exact: boolean;
  /** killall -r: the names are regular expressions. */
  regex: boolean;
  signal: string | null;
}

/** Options that take a value (so that value is not the pattern). */
const PKILL_VALUED = new Set(["-d", "-g", "-G", "-P", "-s", "-t", "-u", "-U", "-F", "--signal", "--pgroup", "--group", "--parent", "--session", "--terminal", "--euid", "--uid", "--pidfile", "--ns", "--nslist", "--delimiter", "--cgroup", "--env"]);
const KILLALL_VALUED = new Set(["-s", "-u", "-o", "-y", "-n", "--signal", "--user", "--older-than", "--younger-than", "--ns", "--context", "-Z"]);
const KILL_VALUED = new Set(["-s", "-n", "--signal", "-q", "--queue"]);

export function parseKillToolArgv(tool: string | null, argv: readonly string[]): KillToolArgs {
  const name = tool === "pkill" || tool === "killall" || tool === "kill" ? tool : "other";
  const out: KillToolArgs = { tool: name, patterns: [], fullCommandLine: false, exact: false, regex: false, signal: null };
  const valued = name === "pkill" ? PKILL_VALUED : name === "killall" ? KILLALL_VALUED : KILL_VALUED;
  let options = true;
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (options && arg === "--") {
      options = false;
      continue;
    }
    // kill -9 -1234: after the signal, a negative number is a process group, not an option.
    const groupTarget = name === "kill" && out.signal !== null && /^-\d+$/.test(arg);
    if (!options || !arg.startsWith("-") || arg.length === 1 || groupTarget) {
      out.patterns.push(arg);
      continue;
    }
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    if (valued.has(flag)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value !== undefined && (flag === "--signal" || (flag === "-s" && name !== "pkill"))) out.signal = value;
      continue;
    }
    if (/^-(\d+|(SIG)?[A-Z][A-Z0-9+-]*)$/.test(flag)) {
      out.signal = flag.slice(1); // -9, -TERM, -SIGKILL, -RTMIN+1
      continue;
    }
    if (name === "pkill" && (flag === "--full" || /^-[a-z]*f[a-z]*$/.test(flag))) out.fullCommandLine = true;
    if ((name === "pkill" && (flag === "--exact" || /^-[a-z]*x[a-z]*$/.test(flag))) || (name === "killall" && (flag === "--exact" || flag === "-e"))) out.exact = true;
    if (name === "killall" && (flag === "-r" || flag === "--regexp")) out.regex = true;
  }
  return out;
}

/** Does this name match pkill's pattern (an extended regular expression; taken as text where JS cannot read it)? */
function patternMatches(pattern: string, name: string): boolean {
  try {
    return new RegExp(pattern).test(name);
  } catch {
    return name.includes(pattern);
  }
}

/** Victims the pattern probably was not meant for: the sender's own parents, and (-f) processes whose name does not match it. */
function unintended(seqs: readonly KillSequence[], args: KillToolArgs): { parents: KillSequence[]; byCommandLine: KillSequence[] } {
  const first = seqs[0]!;
  const ancestors = new Set<number>(first.killerAncestry.map((a) => a.pid));
  if (first.killerPpid !== null) ancestors.add(first.killerPpid);
  const parents = seqs.filter((s) => s.victim.pid !== null && ancestors.has(s.victim.pid));
  const byCommandLine =
    args.tool === "pkill" && args.fullCommandLine && args.patterns.length > 0
      ? seqs.filter((s) => !parents.includes(s) && s.victim.comm !== null && !patternMatches(args.patterns[0]!, s.victim.comm))
      : [];
  return { parents, byCommandLine };
}

export const pkillKill = defineSequenceDetector({
  id: "pkill",
  title: "pkill, killall or kill(1) from a script",
  *detect({ state, options }) {
    for (const seqs of groupBy(state.of("pkill"), (s) => JSON.stringify([s.killer.node, s.killerPid, s.killer.key]))) {
      const first = seqs[0]!;
      const tool = first.program?.names.includes("pkill") ? "pkill" : first.program?.names.includes("killall") ? "killall" : first.program?.names.includes("kill") ? "kill" : null;
      const args = parseKillToolArgv(tool, first.killerArgv);
      const { parents, byCommandLine } = unintended(seqs, args);
      const launcher = launcherText(first);
      const job = scheduledBy(first);
      const signals = [...new Set(seqs.flatMap((s) => s.steps.map((step) => step.name)))].join("/");
      const pattern =
        args.patterns.length === 0
          ? ""
          : args.tool === "kill"
            ? ` aimed at ${args.patterns.join(" ")}`
            : ` matching ${args.fullCommandLine ? "-f " : ""}${JSON.stringify(args.patterns.join(" "))}`;
      const notes: string[] = [];
      if (first.killerArgv.length > 0) notes.push(`Command line: ${commandText(first.killerArgv)}`);
      // The analyzer adds "Started by: <chain>" when the chain is known; without one, the parent pid is all there is.
      if (launcher && first.killerAncestry.length === 0) notes.push(`${first.killer.comm ?? "It"}: ${launcher}`);
      for (const p of parents) notes.push(`It hit its own parent: ${p.victim.comm ?? "?"} (pid ${p.victim.pid}), whose command line holds the pattern`);
      if (byCommandLine.length > 0) notes.push(`Matched by command line only (their name does not match): ${victimList(byCommandLine)}`);
      notes.push(...perVictimNotes(seqs));
      const overBroad = parents.length > 0 || byCommandLine.length > 0;
      const toolWords = args.tool === "other" ? (first.killer.comm ?? "a kill tool") : args.tool;
      yield {
        severity: overBroad ? "warning" : "info",
        headline:
          `${describeProcess(catalogueKiller(seqs))}${launcher ? `, ${launcher}${job ? ` (${job})` : ""},` : ""} sent ${signals} to ${plural(seqs.length, "process", "processes")}${pattern}: ${victimList(seqs)}` +
          (parents.length > 0 ? `; it hit its own parent ${parents[0]!.victim.comm ?? "?"} (pid ${parents[0]!.victim.pid})` : "") +
          (byCommandLine.length > 0 ? `; ${plural(byCommandLine.length, "victim")} matched only by command line` : ""),
        explanation:
          (args.tool === "pkill"
            ? `pkill signals every process whose name${args.fullCommandLine ? ", or with -f its whole command line," : ""} matches a pattern. `
            : args.tool === "killall"
              ? "killall signals every process with the given name. "
              : args.tool === "kill"
                ? "kill(1) signals the processes (or process groups) given on its command line. "
                : `${toolWords} signals processes by name or PID. `) +
          "Someone ran it: a script, a cron job or a person (see who ran it below). " +
          (overBroad
            ? "The pattern caught more than its author probably meant: " +
              (parents.length > 0 ? "the shell that ran pkill has the pattern in its own command line (sh -c \"pkill -f …\"), so pkill -f matched and signalled it too; " : "") +
              (byCommandLine.length > 0 ? "some victims' names do not match the pattern at all: only their command lines did (an argument, a path, a config file name); " : "") +
              "pkill -f matches anywhere in any process's command line."
            : "The victims matched what it was told to signal."),
        advice:
          "Find the script or cron job that ran it (the parent chain; `attribute --proc` or an execve audit rule shows more of it) and decide whether it should stop these processes. " +
          (args.tool === "pkill" || args.tool === "killall"
            ? "Make the match exact: `pkill -x NAME` or `killall -e NAME` for a name, an anchored pattern (`pkill -f '^/usr/bin/app --id 7'`), " +
              "or better a PID file (`pkill -F app.pid`) or the service manager (`systemctl stop`, `supervisorctl stop`), which know exactly which processes are the service's. " +
              "`pgrep -a PATTERN` shows what a pattern matches before you kill with it."
            : "Check where the script got the PID from: a PID file or variable can be stale and name a process that reused the PID."),
        ...catalogueFacts(seqs, options.maxExamples, notes, { ownParentHit: parents.length, matchedByCommandLineOnly: byCommandLine.length }),
      };
    }
  },
});
