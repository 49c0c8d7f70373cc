/**
 * What every script shares: the flags used by more than one verb, and the
 * wrapper that turns a thrown error into an exit code and one line on stderr.
 */
import { renderUsage, runCommand, type ArgsDef, type CommandDef, type ParsedArgs } from "citty";
import { WhokilledError, exitCodeFor, usageError } from "../errors.ts";
import { log } from "../log.ts";
import { escapeLine } from "../render/escape.ts";
import type { IdNameOptions } from "../audit/ids.ts";
import type { SignalFilterOptions } from "../signals/filter.ts";
import { DEFAULT_WATCH_WAY } from "../rules/ways.ts";
import { resolved, resolveSubCommandForHelp, withCommandSummaries } from "./help.ts";

/** The flags that name uids/gids the log does not name: part of inputArgs, and why's own. */
export const idNameArgs = {
  // Named `lookup`: citty reads any --no-X as X=false, so a flag named "no-lookup" would never be set.
  lookup: {
    type: "boolean",
    default: true,
    description:
      "Name uids/gids the log does not name (ENRICHED fields) from a passwd/group: this machine's for this host's own log (live capture, /var/log/audit), or --passwd/--group",
    negativeDescription: "Never name uids/gids from a passwd/group file (deterministic output)",
  },
  "local-names": {
    type: "boolean",
    description: "The input is this host's own log (e.g. a copy, or piped): name its uids/gids from this machine's passwd/group",
  },
  passwd: { type: "string", description: "Name uids from this passwd file, for any log (the log's host's passwd)", valueHint: "FILE" },
  group: { type: "string", description: "Name gids from this group file, for any log", valueHint: "FILE" },
} as const satisfies ArgsDef;

/** Input and decoding flags shared by decode, attribute and report. */
export const inputArgs = {
  file: {
    type: "string",
    alias: "f",
    description: "Input file (repeatable; `-` is stdin). Default: stdin",
    valueHint: "PATH",
  },
  strict: { type: "boolean", description: "Stop at the first malformed line (exit 1)" },
  ...idNameArgs,
} as const satisfies ArgsDef;

/** The parsed naming flags (--no-lookup, --local-names, --passwd, --group) as IdNames options. */
export function idNamesFromArgs(args: Pick<ParsedArgs<typeof idNameArgs>, keyof typeof idNameArgs>): IdNameOptions {
  return { lookup: args.lookup !== false, passwdFile: args.passwd, groupFile: args.group, localNames: args["local-names"] === true };
}

/** The way of watching kills, shared by setup-rule, demo and watch (lib/rules/ways.ts). */
export const wayArgs = {
  way: {
    type: "string",
    description:
      "How to watch: audit (rules, complete: 32-bit callers, uid, auid, ESRCH attempts; every syscall on the host pays while they are loaded), tracepoints (light: nothing installed, a private tracefs instance while capture runs) or both",
    default: DEFAULT_WATCH_WAY,
    valueHint: "audit|tracepoints|both",
  },
} as const satisfies ArgsDef;

/** The systemd journal as input, shared by capture and why. */
export const journalArgs = {
  journal: {
    type: "string",
    description:
      "Read the systemd journal from FILE (`journalctl -o json` or `-o export` output; - is stdin), or with no FILE (last on the line) from journalctl itself: systemd's and systemd-oomd's kills, and the audit records journald kept",
    valueHint: "FILE",
  },
} as const satisfies ArgsDef;

/** --journal's value: a file, or "" (the flag alone) for journalctl itself; a flag taken as its value is a usage error. */
export function journalFlag(value: string | undefined): { file: string } | { journalctl: true } | null {
  if (value === undefined) return null;
  if (value === "") return { journalctl: true };
  if (value.startsWith("--")) throw usageError(`--journal took ${value} as its FILE: give the FILE, or put --journal last to run journalctl`);
  return { file: value };
}

/** The evidence files `why` reads instead of this machine's own (each given one overrides discovery of all). */
export const evidenceArgs = {
  "audit-log": { type: "string", description: "Read this audit log (repeatable) instead of /var/log/audit/audit.log and its rotations", valueHint: "FILE" },
  "kernel-log": { type: "string", description: "Read this kernel log (dmesg, kern.log, journalctl -k output) instead of running dmesg", valueHint: "FILE" },
  journal: journalArgs.journal,
} as const satisfies ArgsDef;

/** Live /proc for what the log lacks, shared by attribute and report. */
export const procArgs = {
  proc: {
    type: "boolean",
    description: "Add cmdline, exe, parent chain, unit or container and namespace PID from live /proc (only if the process predates the signal)",
  },
} as const satisfies ArgsDef;

/** Filters on signal lines, shared by attribute and report. */
export const signalFilterArgs = {
  pid: { type: "string", description: "Only signals aimed at or delivered to this PID" },
  "victim-comm": { type: "string", description: "Only signals whose victim has this comm" },
  killer: { type: "string", description: "Only signals sent by this pid, comm or exe" },
  signal: { type: "string", description: "Only this signal (name like KILL/SIGKILL, or number)" },
  failed: { type: "boolean", description: "Only calls that failed (EPERM, ESRCH…)" },
  since: {
    type: "string",
    description: "Only signals at or after this time: ISO 8601 (local without a zone), epoch seconds, today, yesterday, recent…, or 2h (ago)",
    valueHint: "TIME",
  },
  until: { type: "string", description: "Only signals before this time (same forms as --since)", valueHint: "TIME" },
  probes: { type: "boolean", description: "Keep signal-0 existence probes (dropped by default)" },
  key: { type: "string", description: "Only signals logged under this audit rule key" },
  node: { type: "string", description: "Only signals from this host of a gathered log (its node=NAME)", valueHint: "NAME" },
  "exclude-self": {
    type: "boolean",
    description: "Drop signals a process sent to itself or its own threads (runtimes do this for GC; abort() does it too)",
  },
} as const satisfies ArgsDef;

/** The parsed `signalFilterArgs` as filter options (throws E_USAGE on a bad --pid). */
export function signalFilterFromArgs(args: Pick<ParsedArgs<typeof signalFilterArgs>, keyof typeof signalFilterArgs>): SignalFilterOptions {
  return {
    pid: intFlag(args.pid, "pid"),
    victimComm: args["victim-comm"],
    killer: args.killer,
    signal: args.signal,
    failed: args.failed === true,
    since: args.since,
    until: args.until,
    probes: args.probes === true,
    key: args.key,
    excludeSelf: args["exclude-self"] === true,
    node: args.node,
  };
}

/** All values of a repeatable string flag (citty keeps only the last one). */
export function repeatedFlag(rawArgs: readonly string[], name: string, alias?: string): string[] {
  const values: string[] = [];
  const names = new Set([`--${name}`, ...(alias ? [`-${alias}`] : [])]);
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") break;
    const eq = arg.indexOf("=");
    if (eq > 0 && names.has(arg.slice(0, eq))) values.push(arg.slice(eq + 1));
    else if (names.has(arg)) {
      const value = rawArgs[i + 1];
      if (value === undefined) throw usageError(`${arg} needs a value`);
      values.push(value);
      i++;
    }
  }
  return values;
}

/** Parse a flag that must be an integer; names the flag in the error. */
export function intFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  if (!/^-?\d+$/.test(value.trim())) throw usageError(`--${flag} must be a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** A flag's number of seconds ("2", "0.5"); undefined when not given. */
export function secondsFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const text = value.trim();
  if (!/^\d+(\.\d+)?$/.test(text)) throw usageError(`--${flag} must be a number of seconds, got ${JSON.stringify(value)}`);
  return Number(text);
}

/** The same in milliseconds. */
export function millisecondsFlag(value: string | undefined, flag: string): number | undefined {
  const seconds = secondsFlag(value, flag);
  return seconds === undefined ? undefined : Math.round(seconds * 1000);
}

/**
 * Flags whose value is the rest of the command line (watch --exec CMD ARG…):
 * CMD is the flag's value, and the ARGs after it are not ours to parse, so
 * runScript hands them over through restArgs() instead of to citty.
 */
export const REST_FLAGS: ReadonlySet<string> = new Set(["--exec"]);
let rest: string[] = [];

/** The arguments after a rest flag's value in the last runScript call (empty without one). */
export function restArgs(): string[] {
  return [...rest];
}

/** rawArgs split at the first rest flag: the command's own (up to the flag's value) and the rest. */
export function splitRest(rawArgs: readonly string[]): { own: string[]; rest: string[] } {
  const end = rawArgs.indexOf("--");
  const at = rawArgs.findIndex((arg, i) => REST_FLAGS.has(arg) && (end < 0 || i < end));
  return at < 0 ? { own: [...rawArgs], rest: [] } : { own: rawArgs.slice(0, at + 2), rest: rawArgs.slice(at + 2) };
}

/**
 * Run a citty command as a script: `--help` prints usage; errors become one
 * line on stderr and an exit code (2 usage/permission, 1 otherwise).
 * rawArgs are the command's own arguments: the single binary passes what
 * follows the sub-command's name.
 */
export async function runScript<T extends ArgsDef>(command: CommandDef<T>, allArgs: string[] = process.argv.slice(2)): Promise<void> {
  const split = splitRest(allArgs);
  const rawArgs = split.own;
  rest = split.rest;
  try {
    if (rawArgs.includes("--help") || rawArgs.includes("-h")) {
      const [cmd, parent] = await resolveSubCommandForHelp(command, rawArgs);
      const usage = tidyUsage(await renderUsage(await withCommandSummaries(cmd), parent));
      // citty colours unless NO_COLOR/CI is set; help piped to a file or a pager should not carry escape codes.
      const plain = process.stdout.isTTY === true && !process.env.NO_COLOR ? usage : stripSgr(usage);
      process.stdout.write(`${plain}\n\n`);
      return;
    }
    if (rawArgs.includes("--version") && !rawArgs.slice(0, rawArgs.indexOf("--version")).includes("--")) {
      process.stdout.write(`${await scriptVersion(command)}\n`);
      return;
    }
    const unknown = await unknownOption(command, rawArgs);
    if (unknown !== null) throw usageError(`unknown option ${unknown} (see --help)`);
    await runCommand(command, { rawArgs });
  } catch (error) {
    // `… | head` closed our stdout: that is the reader's choice, not a failure.
    if (error instanceof WhokilledError && error.code === "E_PIPE") return;
    process.exitCode = error instanceof WhokilledError ? exitCodeFor(error) : isCittyError(error) ? 2 : 1;
    // citty colours its own messages (an enum's choices); ours are plain, and the logger colours on a terminal.
    // Either may quote an argument or a path as given: escaped here, whatever its message did.
    const message = escapeLine(stripSgr(error instanceof Error ? error.message : String(error)));
    log.error(message);
    if (!(error instanceof WhokilledError) && !isCittyError(error) && error instanceof Error) log.debug(error.stack);
  }
}

/** `whokilled NAME VERSION` (`whokilled VERSION` for the binary itself), the version from package.json. */
async function scriptVersion<T extends ArgsDef>(command: CommandDef<T>): Promise<string> {
  const meta = await resolved(command.meta);
  // An import, not a file read: the compiled binary carries package.json inside it.
  const pkg = (await import("../../package.json")).default as { name?: string; version?: string };
  const name = pkg.name ?? "whokilled";
  const verb = meta?.name ?? "script";
  return verb === name ? `${name} ${pkg.version ?? "unknown"}` : `${name} ${verb} ${pkg.version ?? "unknown"}`;
}

/**
 * The first option in rawArgs that the command (or the sub-command named)
 * does not define, or null. citty ignores unknown options, so a typo such as
 * `--pidd 5` would run unfiltered and read `5` as a file.
 */
export async function unknownOption<T extends ArgsDef>(command: CommandDef<T>, rawArgs: readonly string[]): Promise<string | null> {
  const [target] = await resolveSubCommandForHelp(command, rawArgs);
  const defs = (await resolved(target.args)) ?? {};
  const takesValue = new Map<string, boolean>();
  for (const [name, def] of Object.entries(defs as ArgsDef)) {
    if (def.type === "positional") continue;
    const value = def.type === "string" || def.type === "enum";
    const alias = (def as { alias?: string | string[] }).alias;
    const aliases = alias === undefined ? [] : Array.isArray(alias) ? alias : [alias];
    for (const spelling of [name, ...aliases]) {
      takesValue.set(spelling.length === 1 ? `-${spelling}` : `--${spelling}`, value);
      if (def.type === "boolean") takesValue.set(`--no-${spelling}`, false);
    }
  }
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i]!;
    if (arg === "--") break;
    if (!arg.startsWith("-") || arg === "-") continue;
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = takesValue.get(flag);
    if (value === undefined) return flag;
    // A value may itself start with "-" (`--pid -1`, `-f -`).
    if (value && eq < 0) i++;
  }
  return null;
}

const SGR = "(?:\u001b\\[[0-9;]*m)*";
const USAGE_HEADING = new RegExp(`\\n\\n${SGR}USAGE`);
const NAME_AFTER_DESCRIPTION = new RegExp(` \\([^()\\n]*\\)(${SGR})$`);
const TRAILING_BLANKS = new RegExp(`[ \\t]+(${SGR})$`, "gm");

/**
 * citty's usage, fit to paste from: citty appends ` (name)` to the
 * description, whose last line here is an example command (pasted, the
 * parenthesis is a shell syntax error), and pads every option line to the
 * widest description with trailing blanks.
 */
export function tidyUsage(usage: string): string {
  const heading = usage.search(USAGE_HEADING);
  const described = heading < 0 ? usage : usage.slice(0, heading).replace(NAME_AFTER_DESCRIPTION, "$1") + usage.slice(heading);
  return described.replace(TRAILING_BLANKS, "$1");
}

/** Without ANSI colour (SGR) sequences. */
export function stripSgr(text: string): string {
  return text.replace(/\u001b\[[0-9;]*m/g, "");
}

function isCittyError(error: unknown): boolean {
  return error instanceof Error && error.name === "CLIError";
}
