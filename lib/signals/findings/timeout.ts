/**
 * timeout: coreutils timeout(1) ended the command it ran because its time
 * limit was up. It arms a timer on itself; the kernel's SIGALRM wakes it,
 * and it sends SIGTERM (or -s SIG), then SIGCONT, to the command, and with
 * -k DURATION a SIGKILL that much later. The limit is in its argv.
 */
import { formatSpan } from "../describe.ts";
import { isoTime } from "../keys.ts";
import { catalogueFacts, commandText, launcherText, perVictimNotes, victimList } from "./catalogue.ts";
import { defineSequenceDetector, graceMs, groupBy } from "./sequences.ts";

export interface TimeoutArgs {
  /** The limit as written (`1`, `30s`, `2.5m`). */
  duration: string | null;
  durationMs: number | null;
  /** -k / --kill-after, as written and in ms. */
  killAfter: string | null;
  killAfterMs: number | null;
  /** -s / --signal, as written. */
  signal: string | null;
  command: string[];
}

const UNIT_MS: Record<string, number> = { "": 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** coreutils' DURATION: a number, maybe with a fraction, and an optional s/m/h/d suffix; null if not one. */
export function timeoutDurationMs(text: string): number | null {
  const match = /^(\d+(?:\.\d*)?|\.\d+)([smhd]?)$/.exec(text);
  if (!match) return null;
  return Number(match[1]) * UNIT_MS[match[2]!]!;
}

/** timeout's options (coreutils 9: -f/--foreground, -p/--preserve-status, -v, -k, -s), then DURATION, then the command. */
export function parseTimeoutArgv(argv: readonly string[]): TimeoutArgs {
  const out: TimeoutArgs = { duration: null, durationMs: null, killAfter: null, killAfterMs: null, signal: null, command: [] };
  let i = 1;
  for (; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      i++;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") break;
    let value: string | undefined;
    let option: "k" | "s" | null = null;
    if (arg.startsWith("--kill-after")) option = "k";
    else if (arg.startsWith("--signal")) option = "s";
    else if (/^-[fpv]*[ks]/.test(arg)) {
      const at = arg.search(/[ks]/);
      option = arg[at] as "k" | "s";
      value = arg.slice(at + 1) || undefined;
    } else continue; // --foreground, --preserve-status, --verbose, -f, -p, -v
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      value = eq >= 0 ? arg.slice(eq + 1) : undefined;
    }
    if (value === undefined) value = argv[++i];
    if (value === undefined) break;
    if (option === "k") {
      out.killAfter = value;
      out.killAfterMs = timeoutDurationMs(value);
    } else out.signal = value;
  }
  if (i < argv.length) {
    out.duration = argv[i]!;
    out.durationMs = timeoutDurationMs(argv[i]!);
    out.command = argv.slice(i + 1);
  }
  return out;
}

export const timeoutKill = defineSequenceDetector({
  id: "timeout",
  title: "timeout(1) ended a command at its time limit",
  *detect({ state, options }) {
    for (const seqs of groupBy(state.of("timeout"), (s) => JSON.stringify([s.killer.node, s.killerPid, s.killer.key]))) {
      const first = seqs[0]!;
      const args = parseTimeoutArgv(first.killerArgv);
      const limit = args.durationMs !== null ? formatSpan(args.durationMs) : args.duration;
      const killed = seqs.filter((s) => s.kill !== null && s.stop !== null);
      const stopName = first.stop?.name ?? first.steps[0]?.name ?? "a signal";
      const grace = killed.length > 0 ? graceMs(killed[0]!) : null;
      const notes: string[] = [];
      if (first.killerArgv.length > 0) notes.push(`Command line: ${commandText(first.killerArgv)}`);
      if (limit !== null) notes.push(`Time limit: ${limit}${args.duration !== null && /[smhd]$/.test(args.duration) ? ` (written ${args.duration})` : ""}`);
      if (args.signal !== null) notes.push(`Signal asked for with -s: ${args.signal}`);
      if (args.killAfter !== null) {
        notes.push(
          killed.length > 0
            ? `-k ${args.killAfter}: the command was still running ${grace !== null ? formatSpan(grace) : args.killAfter} after ${stopName}, so timeout sent SIGKILL`
            : `-k ${args.killAfter}: no SIGKILL followed, so the command ended within that time after ${stopName}`,
        );
      }
      const timer = state.timerOf(first.killer.node, first.killerPid);
      if (timer) notes.push(`The timer fired at ${isoTime(timer.ms) ?? "?"}: the kernel's SIGALRM to timeout itself (SI_TIMER), in ${timer.id}`);
      const launcher = launcherText(first);
      if (launcher && first.killerAncestry.length === 0) notes.push(`timeout: ${launcher}`);
      notes.push(...perVictimNotes(seqs));
      const what = args.command.length > 0 ? commandText(args.command) : victimList(seqs);
      yield {
        severity: "info",
        headline:
          `timeout(1)${first.killerPid !== null ? ` (pid ${first.killerPid}${first.killer.node ? ` on ${first.killer.node}` : ""})` : ""} ` +
          `stopped ${what} when its ${limit !== null ? `${limit} ` : ""}time limit ran out: ` +
          `${stopName} to ${victimList(seqs)}` +
          (killed.length > 0 ? `, then SIGKILL${grace !== null ? ` ${formatSpan(grace)} later` : ""} (-k)` : ""),
        explanation:
          "timeout(1) runs a command as its child and sets a timer on itself. When the time is up the kernel sends SIGALRM to timeout, " +
          `and timeout sends ${args.signal !== null ? `the signal given with -s (${args.signal})` : "SIGTERM"} to the command, then SIGCONT so that a stopped command sees it too. ` +
          "With -k DURATION it sends SIGKILL if the command is still running that much later. timeout then exits with status 124. " +
          "Nothing else killed the command: it ran longer than the limit it was given.",
        advice:
          "If the command needs more time, raise the limit where timeout is called (the script, cron job or unit that runs it; see who ran it below). " +
          "If it should never take that long, find out why it hung. To let it stop cleanly, give -s the signal it handles and -k a hard limit.",
        ...catalogueFacts(seqs, options.maxExamples, notes, { ...(args.durationMs !== null ? { limitMs: args.durationMs } : {}), ...(grace !== null ? { killAfterMs: grace } : {}) }),
      };
    }
  },
});
