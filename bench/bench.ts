#!/usr/bin/env bun
/**
 * Benchmark: whokilled decode/attribute against ausearch on one generated log.
 *
 *   bun bench/bench.ts [--lines N] [--runs N] [--stat median|min] [--skip-ausearch]
 *                      [--skip-family] [--storm-kills N] [--skip-storm] [--file LOG] [--seed S] [--json OUT]
 *
 * Prints figures, never asserts: exit 0 whatever the speed, non-zero only when
 * a command fails (its stderr is shown).
 *
 * Method (also printed with the results):
 * - Every command runs once untimed with stdout piped into a counter (warm-up
 *   and sanity counts), then --runs times with stdout on /dev/null; wall time
 *   is measured here, CPU time and peak RSS by /usr/bin/time (GNU). Bun's own
 *   `resourceUsage().maxRSS` is not used: Bun spawns with vfork semantics, so
 *   the child's max RSS starts at the parent's RSS (a 330 MB bench process
 *   made `/usr/bin/true` report 330 MB).
 * - ausearch runs with TZ=UTC LC_ALL=C and, when root and unshare(1) work, in
 *   a private mount namespace whose /etc/passwd and /etc/group also name the
 *   users in the log. Without that, `ausearch -i` spends ~90 % of its time in
 *   failing NSS lookups (nss-systemd walks /run/systemd/userdb for every
 *   unknown uid, uncached), which would flatter us by an order of magnitude.
 *   `ausearch -i` and `ausearch -sc kill -i` also run once more each as they
 *   run on this machine, the `(host passwd)` rows, reported beside the fair
 *   ones and never instead of them (--skip-host-passwd leaves them out).
 * - ausearch matches one syscall per invocation (-sc takes one value, a
 *   repeated -sc overrides), and without --arch only the machine's ABI. The
 *   full kill-family equivalent is 12 runs, `--arch b64|b32 -sc NAME -i` for
 *   the six syscalls, whose times are summed. `-sc NUMBER` would not do:
 *   i386 numbers collide with unrelated x86_64 ones (37 is alarm, 270 pselect6).
 * - A second log, a kill storm (bench/gen-storm.ts), is nearly all kill-family
 *   events: there ausearch's filter drops nothing and attribute decodes
 *   everything, the opposite end from the main log.
 */
import { cpus, loadavg, release, totalmem, availableParallelism } from "node:os";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  DEFAULT_LINES,
  DEFAULT_SEED,
  GROUPS,
  KILL_SYSCALLS,
  USERS,
  defaultLogPath,
  ensureLog,
  stampPath,
  type GenStats,
} from "./gen-log.ts";
import { DEFAULT_KILLS, ensureStorm, type StormStats } from "./gen-storm.ts";
import { ensureCorpusLog, type CorpusStats } from "./gen-corpus.ts";

const ROOT = resolve(import.meta.dir, "..");
const STARTUP = "attribute start-up, no input";
const PIPE_ATTRIBUTE = "capture FILE | attribute";
const FLOOR_BYTES = "bun floor: find line ends";
const FLOOR_STRINGS = "bun floor: line strings";
const FLOOR_NATIVE = "bun floor: line ends, native";
const FLOOR_JSON = "bun floor: fields and raw as JSON";
const STORM_AUSEARCH = "ausearch -sc kill -i, kill storm";
const STORM_ATTRIBUTE = "attribute, kill storm";
const STORM_WINDOW = "attribute --since, storm 1/10";
const CORPUS_AUSEARCH_I = "ausearch -i, real records";
const CORPUS_DECODE = "decode, real records";
const CORPUS_AUSEARCH_KILL = "ausearch -sc kill -i, real records";
const CORPUS_ATTRIBUTE = "attribute, real records";
const BUN = process.execPath;
const GNU_TIME = "/usr/bin/time";
const AUSEARCH_ENV = { ...process.env, TZ: "UTC", LC_ALL: "C" };

// ---------------------------------------------------------------- options

interface Options {
  lines: number;
  seed: number;
  runs: number;
  stat: "median" | "min";
  skipAusearch: boolean;
  skipFamily: boolean;
  /** Skip the extra `ausearch -i` run with this machine's own passwd (slow: failing lookups). */
  skipHostPasswd: boolean;
  /** Skip the log of the corpus's real records. */
  skipCorpus: boolean;
  /** Kills in the storm log; 0 skips it. */
  stormKills: number;
  file: string | null;
  json: string | null;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      lines: { type: "string" },
      seed: { type: "string" },
      runs: { type: "string" },
      stat: { type: "string" },
      "skip-ausearch": { type: "boolean" },
      "skip-family": { type: "boolean" },
      "skip-host-passwd": { type: "boolean" },
      "storm-kills": { type: "string" },
      "skip-storm": { type: "boolean" },
      "skip-corpus": { type: "boolean" },
      file: { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(
      [
        "usage: bun bench/bench.ts [options]",
        "  --lines N        generate/use a log of about N lines (default 1000000)",
        "  --seed S         generator seed",
        "  --runs N         timed runs per command (default 3)",
        "  --stat S         median (default) or min of the timed runs",
        "  --skip-ausearch  time only our tools",
        "  --skip-family    skip the 12-run ausearch kill-family equivalent",
        "  --skip-host-passwd  skip `ausearch -i` and `-sc kill -i` with this machine's own passwd (slow)",
        `  --storm-kills N  kills in the kill-storm log (default ${DEFAULT_KILLS})`,
        "  --skip-storm     skip the kill-storm log",
        "  --skip-corpus    skip the log of real records (test/corpus, repeated to --lines)",
        "  --file LOG       benchmark an existing log instead (sanity counts need its .stamp.json)",
        "  --json OUT       also write all figures as JSON to OUT",
        "",
      ].join("\n"),
    );
    process.exit(0);
  }
  const int = (v: string | undefined, name: string, dflt: number, min = 1): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) fail(`--${name} must be a whole number >= ${min}, got ${JSON.stringify(v)}`);
    return n;
  };
  const stat = values.stat ?? "median";
  if (stat !== "median" && stat !== "min") fail(`--stat must be median or min, got ${JSON.stringify(stat)}`);
  return {
    lines: int(values.lines, "lines", DEFAULT_LINES),
    seed: int(values.seed, "seed", DEFAULT_SEED, 0),
    runs: int(values.runs, "runs", 3),
    stat,
    skipAusearch: values["skip-ausearch"] === true,
    skipFamily: values["skip-family"] === true,
    skipHostPasswd: values["skip-host-passwd"] === true,
    stormKills: values["skip-storm"] === true ? 0 : int(values["storm-kills"], "storm-kills", DEFAULT_KILLS),
    skipCorpus: values["skip-corpus"] === true,
    file: values.file ?? null,
    json: values.json ?? null,
  };
}

function fail(message: string, code = 2): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(code);
}

// ---------------------------------------------------------------- running things

/** Counts lines, and lines starting with `prefix`, across arbitrary chunk boundaries. */
export class LineCounter {
  lines = 0;
  matches = 0;
  private seen = 0;
  private ok = true;
  private readonly prefix: Uint8Array;
  constructor(prefix: string) {
    this.prefix = new TextEncoder().encode(prefix);
  }
  push(chunk: Uint8Array): void {
    const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const plen = this.prefix.length;
    let i = 0;
    while (i < buf.length) {
      if (this.seen < plen) {
        const b = buf[i]!;
        if (b === 0x0a) {
          this.endLine();
        } else {
          if (b !== this.prefix[this.seen]) this.ok = false;
          this.seen++;
        }
        i++;
        continue;
      }
      const nl = buf.indexOf(0x0a, i);
      if (nl < 0) return;
      this.endLine();
      i = nl + 1;
    }
  }
  finish(): void {
    if (this.seen > 0) this.endLine();
  }
  private endLine(): void {
    this.lines++;
    if (this.ok && this.seen >= this.prefix.length) this.matches++;
    this.seen = 0;
    this.ok = true;
  }
}

interface Cmd {
  argv: string[];
  env?: Record<string, string | undefined>;
  /** ausearch exits 1 with `<no matches>` on stderr when nothing matched: not a failure. */
  noMatchOk?: boolean;
}

interface Measured {
  wall: number;
  cpu: number | null;
  rssMB: number | null;
}

class CommandFailed extends Error {
  constructor(
    readonly cmd: Cmd,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(`command failed (exit ${code}): ${cmd.argv.join(" ")}`);
  }
}

function okExit(cmd: Cmd, code: number | null, stderr: string): boolean {
  if (code === 0) return true;
  return cmd.noMatchOk === true && code === 1 && stderr.includes("<no matches>");
}

/** Untimed run with stdout counted; returns the counter. */
async function countRun(cmd: Cmd, prefix: string): Promise<LineCounter> {
  const proc = Bun.spawn(cmd.argv, { cwd: ROOT, env: cmd.env ?? process.env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const counter = new LineCounter(prefix);
  const stderrText = new Response(proc.stderr).text();
  for await (const chunk of proc.stdout) counter.push(chunk);
  counter.finish();
  const code = await proc.exited;
  const stderr = await stderrText;
  if (!okExit(cmd, code, stderr)) throw new CommandFailed(cmd, code, stderr);
  return counter;
}

const haveGnuTime = existsSync(GNU_TIME);

/** One timed run, stdout to /dev/null. */
async function timedRun(cmd: Cmd, tmpDir: string): Promise<Measured> {
  const timeFile = `${tmpDir}/time.out`;
  const argv = haveGnuTime ? [GNU_TIME, "-f", "%U %S %M", "-o", timeFile, ...cmd.argv] : cmd.argv;
  const started = performance.now();
  const proc = Bun.spawn(argv, { cwd: ROOT, env: cmd.env ?? process.env, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
  const stderrText = new Response(proc.stderr).text();
  // Without GNU time, sample VmHWM (the peak so far) until the process is gone.
  let hwmKB = 0;
  let poller: ReturnType<typeof setInterval> | null = null;
  if (!haveGnuTime) {
    poller = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"));
        if (m) hwmKB = Math.max(hwmKB, Number(m[1]));
      } catch {
        // gone between ticks
      }
    }, 5);
  }
  const code = await proc.exited;
  const wall = (performance.now() - started) / 1000;
  if (poller) clearInterval(poller);
  const stderr = await stderrText;
  if (haveGnuTime) {
    // GNU time prefixes "Command exited with non-zero status N" to its -o file.
    const text = existsSync(timeFile) ? readFileSync(timeFile, "utf8").trim().split("\n").pop() ?? "" : "";
    rmSync(timeFile, { force: true });
    if (!okExit(cmd, code, stderr)) throw new CommandFailed(cmd, code, stderr);
    const [u, s, m] = text.split(/\s+/).map(Number);
    return { wall, cpu: u !== undefined && s !== undefined ? u + s : null, rssMB: m !== undefined ? (m * 1024) / 1e6 : null };
  }
  if (!okExit(cmd, code, stderr)) throw new CommandFailed(cmd, code, stderr);
  const ru = proc.resourceUsage();
  const cpu = ru ? Number(ru.cpuTime.total) / 1e6 : null;
  return { wall, cpu, rssMB: hwmKB > 0 ? (hwmKB * 1024) / 1e6 : null };
}

interface TaskResult {
  name: string;
  /** Which of our rows this ausearch row is compared with. */
  versus?: string;
  invocations: number;
  runs: Measured[];
  seconds: number;
  cpu: number | null;
  rssMB: number | null;
  /** Counted output: lines, and lines with the task's prefix. */
  lines: number;
  matches: number;
  standIn?: string;
  /** A baseline row (bench/floor.ts), not a tool. */
  floor?: boolean;
  /** Per-invocation match counts (kill-family set). */
  parts?: Record<string, number>;
  /** Input size when it is not the main log (the kill storm). */
  bytes?: number;
}

function pickStat(values: number[], stat: "median" | "min"): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (stat === "min") return sorted[0]!;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * A task is one or more invocations (the kill-family set is 12); a timed run
 * of the task runs them all in sequence and sums the wall and CPU times.
 */
async function runTask(
  name: string,
  cmds: { label: string; cmd: Cmd }[],
  prefix: string,
  opts: Options,
  tmpDir: string,
  extra: Partial<TaskResult> = {},
): Promise<TaskResult> {
  const started = performance.now();
  process.stderr.write(`bench: ${name}: count run`);
  let lines = 0;
  let matches = 0;
  const parts: Record<string, number> = {};
  for (const { label, cmd } of cmds) {
    const c = await countRun(cmd, prefix);
    lines += c.lines;
    matches += c.matches;
    parts[label] = c.matches;
  }
  const runs: Measured[] = [];
  for (let r = 0; r < opts.runs; r++) {
    process.stderr.write(`, run ${r + 1}/${opts.runs}`);
    let wall = 0;
    let cpu: number | null = 0;
    let rss: number | null = null;
    for (const { cmd } of cmds) {
      const m = await timedRun(cmd, tmpDir);
      wall += m.wall;
      cpu = cpu === null || m.cpu === null ? null : cpu + m.cpu;
      if (m.rssMB !== null) rss = Math.max(rss ?? 0, m.rssMB);
    }
    runs.push({ wall, cpu, rssMB: rss });
  }
  process.stderr.write(` (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
  const cpus = runs.map((r) => r.cpu).filter((c): c is number => c !== null);
  const rsses = runs.map((r) => r.rssMB).filter((c): c is number => c !== null);
  return {
    name,
    invocations: cmds.length,
    runs,
    seconds: pickStat(
      runs.map((r) => r.wall),
      opts.stat,
    ),
    cpu: cpus.length === runs.length ? pickStat(cpus, opts.stat) : null,
    rssMB: rsses.length ? Math.max(...rsses) : null,
    lines,
    matches,
    ...(cmds.length > 1 ? { parts } : {}),
    ...extra,
  };
}

// ---------------------------------------------------------------- environment

function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) return m[1]!.trim();
  } catch {
    // not Linux /proc
  }
  return cpus()[0]?.model ?? "unknown";
}

function commandOutput(argv: string[]): string | null {
  try {
    const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: AUSEARCH_ENV });
    return (r.stdout.toString() + r.stderr.toString()).trim();
  } catch {
    return null;
  }
}

/**
 * The uids and gids a log names, from the fields auparse reads as user or
 * group ids (uid, auid, ouid, inode_uid, old-auid, id… and their gid
 * kin): read from the log itself, so a log given with --file is covered as
 * well as the generated one. 4294967295 (unset) is left out.
 */
function logIds(path: string): { uids: Set<number>; gids: Set<number> } {
  const uids = new Set<number>();
  const gids = new Set<number>();
  const field = /(?:^|[ '])([a-z_-]*(uid|gid)|id)=(\d{1,10})(?= |'|\x1d|$)/gm;
  const fd = openSync(path, "r");
  const chunk = Buffer.allocUnsafe(4 << 20);
  let carry = "";
  try {
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      const text = carry + chunk.toString("latin1", 0, Math.max(0, n));
      const cut = n > 0 ? text.lastIndexOf("\n") + 1 : text.length;
      for (const m of text.slice(0, cut).matchAll(field)) {
        const id = Number(m[3]);
        if (id >= 4294967295) continue;
        (m[2] === "gid" ? gids : uids).add(id);
      }
      carry = text.slice(cut);
      if (n <= 0) break;
    }
  } finally {
    closeSync(fd);
  }
  return { uids, gids };
}

/**
 * A passwd/group pair: this machine's, plus every id the log names that is
 * missing, so `ausearch -i` finds every id (as it would on the machine that
 * wrote the log). The generator's names where it has them, else `wk-uN`.
 */
function writeNsFiles(dir: string, logPaths: readonly string[]): { passwd: string; group: string; added: number } {
  const passwdText = readFileSync("/etc/passwd", "utf8");
  const groupText = readFileSync("/etc/group", "utf8");
  const ids = (text: string) => new Set(text.split("\n").filter(Boolean).map((l) => Number(l.split(":")[2])));
  const names = (text: string) => new Set(text.split("\n").filter(Boolean).map((l) => l.split(":")[0]));
  const haveUid = ids(passwdText);
  const haveUser = names(passwdText);
  const haveGid = ids(groupText);
  const haveGroup = names(groupText);
  const named = (id: number, known: Record<number, string>, have: Set<string | undefined>, prefix: string) => {
    const name = known[id] ?? `${prefix}${id}`;
    return have.has(name) ? `wk-${name}` : name;
  };
  const uids = new Set<number>();
  const gids = new Set<number>();
  for (const path of logPaths) {
    const found = logIds(path);
    for (const uid of found.uids) uids.add(uid);
    for (const gid of found.gids) gids.add(gid);
  }
  for (const uid of Object.keys(USERS)) uids.add(Number(uid));
  for (const gid of Object.keys(GROUPS)) gids.add(Number(gid));
  let added = 0;
  let passwd = passwdText.endsWith("\n") ? passwdText : passwdText + "\n";
  for (const uid of [...uids].sort((a, b) => a - b)) {
    if (haveUid.has(uid)) continue;
    passwd += `${named(uid, USERS, haveUser, "wk-u")}:x:${uid}:${uid}::/nonexistent:/usr/sbin/nologin\n`;
    added++;
  }
  let group = groupText.endsWith("\n") ? groupText : groupText + "\n";
  for (const gid of [...gids].sort((a, b) => a - b)) {
    if (haveGid.has(gid)) continue;
    group += `${named(gid, GROUPS, haveGroup, "wk-g")}:x:${gid}:\n`;
    added++;
  }
  const p = `${dir}/passwd`;
  const g = `${dir}/group`;
  writeFileSync(p, passwd);
  writeFileSync(g, group);
  return { passwd: p, group: g, added };
}

/** argv prefix that runs a command with those files bind-mounted, or null if not possible here. */
function nsPrefix(files: { passwd: string; group: string }): string[] | null {
  if (process.getuid?.() !== 0 || !existsSync("/usr/bin/unshare")) return null;
  const prefix = [
    "/usr/bin/unshare",
    "-m",
    "--propagation",
    "private",
    "/bin/sh",
    "-c",
    'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/group && shift 2 && exec "$@"',
    "sh",
    files.passwd,
    files.group,
  ];
  const probe = Bun.spawnSync([...prefix, "/usr/bin/id", "-nu", "1001"], { stdout: "pipe", stderr: "pipe" });
  return probe.exitCode === 0 ? prefix : null;
}

interface Tool {
  path: string;
  present: boolean;
  args: string[];
  notes: string[];
}

/** Our script's argv for FILE, using the flags its --help advertises. */
function ourTool(script: string, file: string, wanted: string[]): Tool {
  const path = `${ROOT}/${script}`;
  if (!existsSync(path)) return { path, present: false, args: ["/bin/cat", file], notes: [`${script} missing: stand-in \`cat FILE\``] };
  const help = Bun.spawnSync([BUN, path, "--help"], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const text = help.stdout.toString() + help.stderr.toString();
  const flags = wanted.filter((f) => text.includes(f));
  const notes = wanted.filter((f) => !flags.includes(f)).map((f) => `${script} has no ${f}`);
  // Positional PATHS if advertised, else --file.
  const fileArgs = /\[PATHS?\]|\bPATHS?\b/.test(text) ? [file] : ["--file", file];
  return { path, present: true, args: [BUN, path, ...flags, ...fileArgs], notes };
}

/**
 * The time from which a log's last tenth (by audit time) runs, and how many
 * SYSCALL records it holds from then on: what `--since` should give.
 */
function lastTenth(path: string): { sinceMs: number; kills: number } {
  const bytes = readFileSync(path);
  const needle = Buffer.from("type=SYSCALL msg=audit(");
  const times: number[] = [];
  for (let at = bytes.indexOf(needle); at >= 0; at = bytes.indexOf(needle, at + needle.length)) {
    const close = bytes.indexOf(0x3a /* : */, at + needle.length);
    times.push(Math.round(Number(bytes.toString("latin1", at + needle.length, close)) * 1000));
  }
  const first = Math.min(...times.slice(0, 1000));
  const last = Math.max(...times.slice(-1000));
  const sinceMs = first + Math.round((last - first) * 0.9);
  return { sinceMs, kills: times.filter((t) => t >= sinceMs).length };
}

// ---------------------------------------------------------------- report

function fmt(n: number | null, digits = 2): string {
  return n === null || !Number.isFinite(n) ? "-" : n.toFixed(digits);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  return rows
    .map((r, i) => {
      const line = r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ");
      return i === 0 ? `${line}\n${widths.map((w) => "-".repeat(w)).join("  ")}` : line;
    })
    .join("\n");
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const load0 = loadavg();

  // 1. The log.
  let logPath: string;
  let stats: GenStats | null = null;
  if (opts.file) {
    logPath = resolve(opts.file);
    if (!existsSync(logPath)) fail(`no such file: ${logPath}`);
    try {
      stats = JSON.parse(readFileSync(stampPath(logPath), "utf8")) as GenStats;
    } catch {
      stats = null;
    }
  } else {
    logPath = resolve(ROOT, defaultLogPath(opts.lines));
    process.stderr.write(`bench: log ${logPath} …\n`);
    const r = ensureLog(logPath, { seed: opts.seed, lines: opts.lines });
    stats = r.stats;
    process.stderr.write(`bench: ${r.reused ? "reused" : `generated in ${r.seconds.toFixed(1)} s`}: ${stats.lines} lines, ${(stats.bytes / 1e6).toFixed(1)} MB\n`);
  }
  const bytes = Bun.file(logPath).size;
  const tmpDir = resolve(dirname(logPath), `.bench-tmp-${process.pid}`);
  mkdirSync(tmpDir, { recursive: true });

  // 2. Commands.
  const decode = ourTool("scripts/decode.ts", logPath, ["--no-lookup"]);
  const attribute = ourTool("scripts/attribute.ts", logPath, ["--no-lookup", "--probes"]);
  const ausearchPath = Bun.which("ausearch") ?? (existsSync("/usr/sbin/ausearch") ? "/usr/sbin/ausearch" : null);
  const runAusearch = !opts.skipAusearch && ausearchPath !== null;
  const notes: string[] = [...decode.notes, ...attribute.notes];
  if (!opts.skipAusearch && ausearchPath === null) notes.push("ausearch not installed: ausearch rows skipped (apt-get install auditd)");
  // Real records, as a second input: made before the namespace, whose passwd must cover its ids too.
  const corpusPath = resolve(ROOT, `bench/.data/corpus-${opts.lines}.log`);
  let corpus: CorpusStats | null = null;
  if (!opts.skipCorpus && decode.present && attribute.present) {
    const made = ensureCorpusLog(corpusPath, opts.lines);
    if (made) {
      corpus = made.stats;
      process.stderr.write(`bench: real records ${corpusPath} ${made.reused ? "reused" : "written"}\n`);
    } else notes.push("test/corpus not found: the real-records rows are skipped");
  }
  let ns: string[] | null = null;
  if (runAusearch) {
    const nsFiles = writeNsFiles(tmpDir, corpus ? [logPath, corpusPath] : [logPath]);
    ns = nsPrefix(nsFiles);
    notes.push(
      ns
        ? `ausearch ran in a private mount namespace whose passwd/group name every uid/gid in the logs (${nsFiles.added} added to this machine's; fair: no NSS misses)`
        : "ausearch ran with this machine's passwd/group: uids unknown here cost it failing NSS lookups, so its -i figures are pessimistic (run as root with unshare(1) for fair figures)",
    );
  }
  const aus = (...args: string[]): Cmd => ({ argv: [...(ns ?? []), ausearchPath!, "-if", logPath, ...args], env: AUSEARCH_ENV, noMatchOk: true });

  const results: TaskResult[] = [];
  let storm: StormStats | null = null;
  let stormPath = "";
  let stormWindow: { sinceMs: number; kills: number } | null = null;
  try {
    if (runAusearch) results.push(await runTask("ausearch -i", [{ label: "all", cmd: aus("-i") }], "----", opts, tmpDir, { versus: "decode" }));
    // The same command as a user runs it on a log from elsewhere: this machine's passwd, the log's users unknown.
    if (runAusearch && ns && !opts.skipHostPasswd) {
      const host: Cmd = { argv: [ausearchPath!, "-if", logPath, "-i"], env: AUSEARCH_ENV, noMatchOk: true };
      results.push(await runTask("ausearch -i (host passwd)", [{ label: "all", cmd: host }], "----", opts, tmpDir, { versus: "decode" }));
    }
    results.push(
      await runTask("decode", [{ label: "decode", cmd: { argv: decode.args } }], decode.present ? '{"kind":"event"' : "type=", opts, tmpDir, decode.present ? {} : { standIn: "cat" }),
    );
    if (runAusearch) results.push(await runTask("ausearch -sc kill -i", [{ label: "b64 kill", cmd: aus("-sc", "kill", "-i") }], "----", opts, tmpDir, { versus: "attribute" }));
    if (runAusearch && ns && !opts.skipHostPasswd) {
      const host: Cmd = { argv: [ausearchPath!, "-if", logPath, "-sc", "kill", "-i"], env: AUSEARCH_ENV, noMatchOk: true };
      results.push(await runTask("ausearch -sc kill -i (host passwd)", [{ label: "b64 kill", cmd: host }], "----", opts, tmpDir, { versus: "attribute" }));
    }
    if (runAusearch && !opts.skipFamily) {
      const cmds = (["b64", "b32"] as const).flatMap((abi) => KILL_SYSCALLS.map((name) => ({ label: `${abi} ${name}`, cmd: aus("--arch", abi, "-sc", name, "-i") })));
      results.push(await runTask("ausearch kill family ×12", cmds, "----", opts, tmpDir, { versus: "attribute" }));
    }
    results.push(
      await runTask(
        "attribute",
        [{ label: "attribute", cmd: { argv: attribute.args } }],
        attribute.present ? '{"kind":"signal"' : "type=SYSCALL",
        opts,
        tmpDir,
        attribute.present ? {} : { standIn: "cat" },
      ),
    );
    // The pipelines users type: capture's record lines through a pipe.
    if (attribute.present && existsSync(`${ROOT}/scripts/capture.ts`)) {
      const pipe = (consumer: string[]) => ({
        argv: ["/bin/sh", "-c", 'set -e; "$1" "$2" --file "$3" | "$1" "$4" --no-lookup --probes', "sh", BUN, `${ROOT}/scripts/capture.ts`, logPath, ...consumer],
      });
      results.push(await runTask(PIPE_ATTRIBUTE, [{ label: "pipe", cmd: pipe([`${ROOT}/scripts/attribute.ts`]) }], '{"kind":"signal"', opts, tmpDir, {}));
    }
    // Real records: the corpus's, repeated to the same number of lines.
    if (corpus) {
      const on = { bytes: corpus.bytes };
      const ausOn = (...args: string[]): Cmd => ({ argv: [...(ns ?? []), ausearchPath!, "-if", corpusPath, ...args], env: AUSEARCH_ENV, noMatchOk: true });
      if (runAusearch) results.push(await runTask(CORPUS_AUSEARCH_I, [{ label: "corpus", cmd: ausOn("-i") }], "----", opts, tmpDir, { ...on, versus: CORPUS_DECODE }));
      results.push(await runTask(CORPUS_DECODE, [{ label: "corpus", cmd: { argv: [...decode.args.slice(0, -1), corpusPath] } }], '{"kind":"event"', opts, tmpDir, on));
      if (runAusearch) results.push(await runTask(CORPUS_AUSEARCH_KILL, [{ label: "corpus", cmd: ausOn("-sc", "kill", "-i") }], "----", opts, tmpDir, { ...on, versus: CORPUS_ATTRIBUTE }));
      results.push(await runTask(CORPUS_ATTRIBUTE, [{ label: "corpus", cmd: { argv: [...attribute.args.slice(0, -1), corpusPath] } }], '{"kind":"signal"', opts, tmpDir, on));
    }
    // The other end: a log that is nearly all kill-family events.
    if (opts.stormKills > 0 && attribute.present) {
      stormPath = resolve(ROOT, `bench/.data/storm-${opts.stormKills}.log`);
      process.stderr.write(`bench: kill storm ${stormPath} …\n`);
      storm = ensureStorm(stormPath, opts.stormKills).stats;
      if (runAusearch) {
        const cmd: Cmd = { argv: [...(ns ?? []), ausearchPath!, "-if", stormPath, "-sc", "kill", "-i"], env: AUSEARCH_ENV, noMatchOk: true };
        results.push(await runTask(STORM_AUSEARCH, [{ label: "storm", cmd }], "----", opts, tmpDir, { versus: STORM_ATTRIBUTE, bytes: storm.bytes }));
      }
      const argv = [...attribute.args.slice(0, -1), stormPath];
      results.push(await runTask(STORM_ATTRIBUTE, [{ label: "storm", cmd: { argv } }], '{"kind":"signal"', opts, tmpDir, { bytes: storm.bytes }));
      // A cron report asks for a window: kills outside it are left unread.
      stormWindow = lastTenth(stormPath);
      const windowed = [...attribute.args.slice(0, -1), "--since", String(stormWindow.sinceMs / 1000), stormPath];
      results.push(await runTask(STORM_WINDOW, [{ label: "storm", cmd: { argv: windowed } }], '{"kind":"signal"', opts, tmpDir, { bytes: storm.bytes }));
    }
    // What no Bun tool can go under: starting one of ours, and reading the file and finding its lines.
    if (attribute.present) {
      const empty = [...attribute.args.slice(0, -1), "/dev/null"].filter((a) => a !== "--file");
      results.push(await runTask(STARTUP, [{ label: "startup", cmd: { argv: empty } }], "", opts, tmpDir, { floor: true }));
    }
    results.push(await runTask(FLOOR_BYTES, [{ label: "floor", cmd: { argv: [BUN, `${ROOT}/bench/floor.ts`, logPath] } }], "", opts, tmpDir, { floor: true }));
    results.push(await runTask(FLOOR_STRINGS, [{ label: "floor", cmd: { argv: [BUN, `${ROOT}/bench/floor.ts`, logPath, "--strings"] } }], "", opts, tmpDir, { floor: true }));
    results.push(await runTask(FLOOR_NATIVE, [{ label: "floor", cmd: { argv: [BUN, `${ROOT}/bench/floor.ts`, logPath, "--native"] } }], "", opts, tmpDir, { floor: true }));
    // What no decode in Bun can go under: every line's fields and raw text written as JSON, nothing else.
    results.push(await runTask(FLOOR_JSON, [{ label: "floor", cmd: { argv: [BUN, `${ROOT}/bench/floor-json.ts`, logPath, "--fields"] } }], '{"fields"', opts, tmpDir, { floor: true }));
  } catch (error) {
    rmSync(tmpDir, { recursive: true, force: true });
    if (error instanceof CommandFailed) {
      process.stderr.write(`bench: ${error.message}\n${error.stderr}\n`);
      process.exit(1);
    }
    throw error;
  }
  rmSync(tmpDir, { recursive: true, force: true });
  const load1 = loadavg();

  // 3. Report.
  const byName = new Map(results.map((r) => [r.name, r]));
  const mb = bytes / 1e6;
  const out: string[] = [];
  const nproc = availableParallelism();
  out.push(`whokilled benchmark — ${new Date().toISOString()}`);
  out.push(`input    ${logPath.replace(ROOT + "/", "")}: ${stats?.lines ?? "?"} lines, ${mb.toFixed(1)} MB, ${stats ? `${stats.events} events (${stats.ausearchEvents} as ausearch counts), ${stats.kill.total} kill-family syscalls (${stats.kill.probes} signal-0 probes), ${stats.enrichedFormatLines} lines in ENRICHED stretches (${stats.enrichedLines} with a 0x1d tail), seed ${stats.seed}, generator v${stats.generatorVersion}` : "no stamp: sanity counts unavailable"}`);
  if (corpus) out.push(`real     ${corpusPath.replace(ROOT + "/", "")}: ${corpus.lines} lines, ${(corpus.bytes / 1e6).toFixed(1)} MB: the ${corpus.records} distinct audit.log records of ${corpus.files} files in test/corpus (EOE left out), repeated with fresh stamps`);
  if (storm) out.push(`storm    ${stormPath.replace(ROOT + "/", "")}: ${storm.lines} lines, ${(storm.bytes / 1e6).toFixed(1)} MB, ${storm.kills} x86_64 kill calls by one process (${storm.esrch} ESRCH), generator v${storm.generatorVersion}`);
  out.push(`machine  ${nproc} CPUs (nproc), ${cpuModel()}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}`);
  out.push(`load     ${load0.map((l) => l.toFixed(2)).join(" ")} at start, ${load1.map((l) => l.toFixed(2)).join(" ")} at end (1/5/15 min)${load0[0]! > nproc || load1[0]! > nproc ? "  ⚠ busy machine: wall times inflated; CPU s is steadier" : ""}`);
  out.push(`versions bun ${Bun.version}, ${runAusearch ? (commandOutput([ausearchPath!, "-v"]) ?? "ausearch ?") : "ausearch (not run)"}`);
  out.push(`method   ${opts.stat} of ${opts.runs} timed runs after 1 untimed counting run; stdout → /dev/null; wall by bench, CPU (user+sys) and peak RSS by ${haveGnuTime ? "GNU time" : "/proc VmHWM polling"}`);
  out.push("");

  const rows: string[][] = [["tool", "seconds", "MB/s", "CPU s", "peak RSS MB", "ausearch/ours"]];
  const commands: string[] = [];
  for (const r of results) {
    const ours = r.versus ? byName.get(r.versus) : undefined;
    const ratio = ours && !ours.standIn ? r.seconds / ours.seconds : null;
    const label = r.standIn ? `${r.name} (stand-in: ${r.standIn})` : r.name;
    const show = (args: string[]) => args.map((a) => (a === logPath ? "FILE" : a === BUN ? "bun" : a.replace(ROOT + "/", ""))).join(" ");
    const cmd =
      r.name === "decode"
        ? show(decode.args)
        : r.name === "attribute"
          ? show(attribute.args)
          : r.name === PIPE_ATTRIBUTE
            ? "bun scripts/capture.ts --file FILE | bun scripts/attribute.ts --no-lookup --probes (the headline pipeline: record lines through a pipe)"
          : r.name === STARTUP
            ? "bun scripts/attribute.ts --no-lookup --probes /dev/null (start-up: bun, our modules, citty; no input)"
          : r.name === FLOOR_BYTES
            ? "bun bench/floor.ts FILE (read 1 MiB chunks into one buffer, find every line end: the least a line tool does)"
          : r.name === FLOOR_STRINGS
            ? "bun bench/floor.ts FILE --strings (the same, and one string per line: what a string-per-line pipeline pays)"
          : r.name === FLOOR_NATIVE
            ? "bun bench/floor.ts FILE --native (the same, the line ends found by memchr in C compiled at start by Bun's TinyCC)"
          : r.name === FLOOR_JSON
            ? "bun bench/floor-json.ts FILE --fields (the same, and each line written as {\"fields\":{…},\"raw\":\"…\"}: what every decoded record carries, without events, decoded values or summaries)"
          : r.name === STORM_AUSEARCH
            ? "ausearch -if STORM -sc kill -i (STORM = the kill-storm log below)"
          : r.name === CORPUS_AUSEARCH_I || r.name === CORPUS_AUSEARCH_KILL
            ? `ausearch -if REAL ${r.name.slice("ausearch ".length, r.name.indexOf(","))} (REAL = the real-records log above)`
          : r.name === CORPUS_DECODE
            ? show([...decode.args.slice(0, -1), "REAL"])
          : r.name === CORPUS_ATTRIBUTE
            ? show([...attribute.args.slice(0, -1), "REAL"])
          : r.name === STORM_ATTRIBUTE
            ? show([...attribute.args.slice(0, -1), "STORM"])
          : r.name === STORM_WINDOW
            ? show([...attribute.args.slice(0, -1), "--since", stormWindow ? String(stormWindow.sinceMs / 1000) : "T", "STORM"])
          : r.name === "ausearch kill family ×12"
            ? "ausearch -if FILE --arch {b64,b32} -sc {kill,tkill,tgkill,rt_sigqueueinfo,rt_tgsigqueueinfo,pidfd_send_signal} -i (sum)"
            : r.name === "ausearch -i (host passwd)"
              ? "ausearch -if FILE -i, with this machine's passwd/group (uids of the log unknown: each costs a failing NSS lookup)"
              : `ausearch -if FILE ${r.name.slice("ausearch ".length)}`;
    rows.push([label, fmt(r.seconds), r.name === STARTUP ? "-" : fmt((r.bytes !== undefined ? r.bytes / 1e6 : mb) / r.seconds, 1), fmt(r.cpu), fmt(r.rssMB, 1), ratio === null ? "" : `${fmt(ratio, 1)}×`]);
    commands.push(`  ${label}: ${cmd}`);
  }
  out.push(table(rows));
  out.push(`  (seconds and CPU s: ${opts.stat} of the timed runs; peak RSS: the highest of them)`);
  out.push("");
  out.push("runs (wall s / CPU s / peak RSS MB)");
  for (const r of results) out.push(`  ${r.name}: ${r.runs.map((m) => `${fmt(m.wall)}/${fmt(m.cpu)}/${fmt(m.rssMB, 0)}`).join("  ")}`);
  out.push("");
  out.push("commands (FILE = the input above; ausearch with TZ=UTC LC_ALL=C)");
  out.push(...commands);
  out.push("");

  // Goals.
  const goal = (label: string, ok: boolean | null, detail: string) => out.push(`  ${ok === null ? "n/a " : ok ? "MET " : "MISS"}  ${label}: ${detail}`);
  const dec = byName.get("decode");
  const att = byName.get("attribute");
  const ausI = byName.get("ausearch -i");
  const ausK = byName.get("ausearch -sc kill -i");
  const ausF = byName.get("ausearch kill family ×12");
  out.push("goals");
  const cpuRatio = (a: TaskResult, b: TaskResult) => (a.cpu !== null && b.cpu !== null ? `; CPU-time ratio ${fmt(a.cpu / b.cpu, 1)}×` : "");
  if (dec && ausI && !dec.standIn) {
    goal("decode ≥ 3× faster than ausearch -i", ausI.seconds / dec.seconds >= 3, `${fmt(ausI.seconds / dec.seconds, 1)}×${cpuRatio(ausI, dec)}`);
    const floorJson = byName.get(FLOOR_JSON);
    if (floorJson) {
      const cpu = dec.cpu !== null ? `; decode's CPU time is ${fmt(dec.cpu)} s: ${fmt(dec.cpu / 2)} s even split evenly over two cores` : "";
      out.push(`        3× means ${fmt(ausI.seconds / 3)} s; writing each line's fields and raw text as JSON, and nothing else, takes ${fmt(floorJson.seconds)} s (at most ~${fmt(ausI.seconds / floorJson.seconds, 1)}×)${cpu}`);
    }
  } else goal("decode ≥ 3× faster than ausearch -i", null, dec?.standIn ? "decode is a stand-in" : "ausearch not run");
  const ausHost = byName.get("ausearch -i (host passwd)");
  if (dec && ausHost && !dec.standIn) {
    goal("decode ≥ 3× faster than ausearch -i with this machine's passwd", ausHost.seconds / dec.seconds >= 3, `${fmt(ausHost.seconds / dec.seconds, 1)}×${cpuRatio(ausHost, dec)}`);
  }
  const startup = byName.get(STARTUP);
  const floorBytes = byName.get(FLOOR_BYTES);
  if (att && ausK && !att.standIn) {
    goal(
      "attribute ≥ 5× faster than ausearch -sc kill -i",
      ausK.seconds / att.seconds >= 5,
      `${fmt(ausK.seconds / att.seconds, 1)}×${cpuRatio(ausK, att)}${ausF ? ` (vs the full 12-run kill-family equivalent: ${fmt(ausF.seconds / att.seconds, 1)}×${cpuRatio(ausF, att)})` : ""}`,
    );
    const ausKHost = byName.get("ausearch -sc kill -i (host passwd)");
    if (ausKHost) {
      goal("attribute ≥ 5× faster than ausearch -sc kill -i with this machine's passwd", ausKHost.seconds / att.seconds >= 5, `${fmt(ausKHost.seconds / att.seconds, 1)}×${cpuRatio(ausKHost, att)}`);
    }
    const pipeline = byName.get(PIPE_ATTRIBUTE);
    if (pipeline) out.push(`        the pipeline capture FILE | attribute: ${fmt(pipeline.seconds)} s, ${fmt(ausK.seconds / pipeline.seconds, 1)}×${ausF ? ` (${fmt(ausF.seconds / pipeline.seconds, 1)}× the 12-run equivalent)` : ""}`);
    if (startup && floorBytes) {
      const floor = startup.seconds + floorBytes.seconds;
      const floorNative = byName.get(FLOOR_NATIVE);
      const native = floorNative ? `; with the line ends found natively, ${fmt(startup.seconds + floorNative.seconds)} s, before a line is judged` : "";
      // Each floor row is its own process, so bun's own start (~10 ms) is in both: "about".
      out.push(`        5× means ${fmt(ausK.seconds / 5)} s; start-up plus finding the lines alone take about ${fmt(floor)} s (at most ~${fmt(ausK.seconds / floor, 1)}×)${native}`);
    }
  } else goal("attribute ≥ 5× faster than ausearch -sc kill -i", null, att?.standIn ? "attribute is a stand-in" : "ausearch not run");
  const stormAtt = byName.get(STORM_ATTRIBUTE);
  const stormAus = byName.get(STORM_AUSEARCH);
  if (stormAtt && stormAus) {
    out.push(`        on the kill storm (every event a kill): ${fmt(stormAus.seconds / stormAtt.seconds, 1)}×${cpuRatio(stormAus, stormAtt)}, peak RSS ${fmt(stormAtt.rssMB, 1)} MB`);
  }
  const corpusDecode = byName.get(CORPUS_DECODE);
  const corpusAusI = byName.get(CORPUS_AUSEARCH_I);
  const corpusAtt = byName.get(CORPUS_ATTRIBUTE);
  const corpusAusK = byName.get(CORPUS_AUSEARCH_KILL);
  const stormWin = byName.get(STORM_WINDOW);
  if (stormAtt && stormWin) {
    out.push(`        with --since over the storm's last tenth: ${fmt(stormWin.seconds)} s, ${fmt(stormAtt.seconds / stormWin.seconds, 1)}× faster than the whole storm (kills outside the window are left unread)`);
  }
  for (const r of [dec, att]) {
    if (!r) continue;
    goal(`${r.name} peak RSS < 150 MB`, r.standIn || r.rssMB === null ? null : r.rssMB < 150, r.rssMB === null ? "not measured" : `${fmt(r.rssMB, 1)} MB`);
  }
  // The same comparisons on real records: figures to read beside the goals, which are set on the generated log.
  const versus = (ours: TaskResult | undefined, theirs: TaskResult | undefined, what: string) => {
    if (!ours || !theirs) return;
    out.push(`        ${what} ${fmt(theirs.seconds)} s, ${ours.name.replace(", real records", "")} ${fmt(ours.seconds)} s: ${fmt(theirs.seconds / ours.seconds, 1)}×${cpuRatio(theirs, ours)}; peak RSS ${fmt(ours.rssMB, 1)} MB, ${ours.matches} ${ours.name.startsWith("decode") ? "events" : "signals"}`);
  };
  if (corpusDecode || corpusAtt) {
    out.push("  on real records (the same comparisons on the corpus's records; the goals above are set on the generated log)");
    versus(corpusDecode, corpusAusI, "ausearch -i");
    versus(corpusAtt, corpusAusK, "ausearch -sc kill -i");
  }
  out.push("");

  // Sanity: a fast-but-wrong run should stand out.
  out.push("sanity (counted from the untimed run's stdout)");
  const check = (label: string, got: number | null, want: number | null, note = "") => {
    const status = got === null || want === null ? "n/a " : got === want ? "OK  " : "DIFF";
    out.push(`  ${status}  ${label}: ${got ?? "-"} (expected ${want ?? "?"})${note ? `  ${note}` : ""}`);
  };
  // attribute also turns each ANOM_ABEND (a crash) into a signal line.
  const abends = stats?.recordTypes?.ANOM_ABEND ?? 0;
  const killWant = stats ? (attribute.args.includes("--probes") ? stats.kill.total : stats.kill.total - stats.kill.probes) + abends : null;
  if (dec) check("decode event lines vs distinct event ids", dec.standIn ? null : dec.matches, stats?.events ?? null, dec.standIn ? "(stand-in)" : dec.lines !== dec.matches ? `(${dec.lines - dec.matches} other lines)` : "");
  if (ausI) check("ausearch -i `----` blocks vs generated", ausI.matches, stats?.ausearchEvents ?? null, stats ? `(auparse splits LOGIN from its SYSCALL: ${stats.ausearchEvents - stats.events} extra)` : "");
  if (att) check(`attribute signal lines vs kill-family SYSCALL${attribute.args.includes("--probes") ? "" : " (minus probes)"} and ANOM_ABEND records`, att.standIn ? null : att.matches, killWant, att.standIn ? "(stand-in)" : "");
  const pipeRow = byName.get(PIPE_ATTRIBUTE);
  if (pipeRow) check("capture | attribute signal lines vs kill-family SYSCALL and ANOM_ABEND records", pipeRow.matches, stats ? stats.kill.total + abends : null);
  if (ausK) check("ausearch -sc kill -i blocks vs b64 kill records", ausK.matches, stats?.kill.byAbiName["b64 kill"] ?? null);
  if (ausF) {
    check("ausearch kill family ×12 blocks vs kill-family records", ausF.matches, stats?.kill.total ?? null);
    if (stats && ausF.parts) {
      const off = Object.entries(ausF.parts).filter(([k, v]) => stats!.kill.byAbiName[k] !== v);
      if (off.length) out.push(`        differing: ${off.map(([k, v]) => `${k} ${v}≠${stats!.kill.byAbiName[k]}`).join(", ")}`);
    }
  }
  if (storm) {
    if (stormAtt) check("kill storm: attribute signal lines vs kill calls", stormAtt.matches, storm.kills);
    if (stormAus) check("kill storm: ausearch -sc kill -i blocks vs kill calls", stormAus.matches, storm.kills);
    if (stormWin && stormWindow) check("kill storm, last tenth: attribute signal lines vs kill calls in the window", stormWin.matches, stormWindow.kills);
  }
  out.push("");
  if (notes.length) {
    out.push("notes");
    for (const n of notes) out.push(`  - ${n}`);
    out.push("");
  }
  out.push(`total bench time ${((performance.now() - started) / 1000).toFixed(0)} s`);
  process.stdout.write(out.join("\n") + "\n");

  if (opts.json) {
    writeFileSync(
      opts.json,
      JSON.stringify({ logPath, bytes, stats, machine: { nproc, cpu: cpuModel(), kernel: release(), load: [load0, load1] }, bun: Bun.version, opts, results, notes }, null, 2) + "\n",
    );
  }
}

if (import.meta.main) await main();
