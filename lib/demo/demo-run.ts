/**
 * The main job: the original case replayed on this machine, for real, in
 * the way of watching asked for (lib/rules/ways.ts):
 *
 *  1. rules: temporary audit rules for SIGKILLs aimed at one free PID, under a
 *     key unique to this run (first in the list); none with --way tracepoints;
 *  2. pipeline: the rogue (waiting for its go), then `capture --netlink |
 *     attribute --key KEY --killer ROGUE --pid PID --proc | report`, as
 *     separate processes, exactly as a user would run them (`capture
 *     --tracepoints`, its private tracefs instance, for the tracepoint way);
 *  3. rogue: it SIGKILLs that PID every interval; the PID is free, so ESRCH;
 *  4. bait-root, bait-nobody: bait parks on the PID as root, then as nobody;
 *  5. report: capture ends, attribute and report finish, the report is printed;
 *  6. cleanup: our processes ended, our rules removed.
 *
 * Only the demo's own processes reach the report, whatever else kills on the
 * machine: the rules log only kills aimed at the bait PID, and attribute keeps
 * only the rogue's (its pid) aimed at that PID, so a kill by anyone else stays
 * out as well (the tracepoints see every kill on the host: attribute alone
 * keeps the rogue's). An abort (Ctrl-C, SIGTERM) ends every phase at once and runs
 * the cleanup; no report is printed then.
 *
 * Without root or audit the script says why and replays the bundled seed records.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SpawnOptions, Subprocess } from "bun";
import { abortableSleep } from "../sources/abortable-sleep.ts";
import { WhokilledError, usageError } from "../errors.ts";
import { log } from "../log.ts";
import { pickFreePid } from "./pid-space.ts";
import { kernelAuditControl } from "../rules/control.ts";
import { installRules, listInstalled } from "../rules/install.ts";
import { removeLeftRunRules, RunRules } from "../rules/run-keys.ts";
import { isCompiledBinary, stageCommand, type StageName } from "../cli/stage-command.ts";
import { DEFAULT_ROGUE_COMM } from "./rogue.ts";
import { DEFAULT_WATCH_WAY, wayUses, type WatchWay } from "../rules/ways.ts";
import { missingTracepoints } from "../rules/way-check.ts";
import { findTracefs } from "../sources/tracefs.ts";

// Imported as files so that `npm run build` embeds them in dist/whokilled: the replay works there too.
import seedRecordsPath from "../../test/fixtures/seed.log" with { type: "file" };
// The seed's users as every Linux host names them (root), and no others: the replay reads the same everywhere.
import seedPasswdPath from "../../test/fixtures/passwd.minimal" with { type: "file" };
import seedGroupPath from "../../test/fixtures/group.minimal" with { type: "file" };
import { SIG } from "../tables/signals.ts";

/** Why the live demo cannot run here in this way, or null. */
export function liveDemoUnavailable(way: WatchWay = DEFAULT_WATCH_WAY): string | null {
  if (process.getuid?.() !== 0) {
    return way === "tracepoints"
      ? "not running as root (the live demo reads the kernel's tracepoints in a private tracefs instance)"
      : "not running as root (the live demo adds audit rules and reads the kernel's audit stream)";
  }
  if (wayUses(way).audit) {
    try {
      // AUDIT_GET over netlink: the kernel alone, no auditctl needed.
      kernelAuditControl.status();
    } catch (error) {
      return `the kernel's audit subsystem is not available (${(error as Error).message})`;
    }
  }
  if (wayUses(way).tracepoints) {
    // Not mounted yet is no obstacle: capture mounts tracefs as it starts.
    const root = findTracefs();
    const missing = root ? missingTracepoints(root) : [];
    if (missing.length > 0) return `this kernel lacks tracepoints the tracepoint way needs: ${missing.join(", ")}`;
  }
  return null;
}

/** The demo's steps in order. Each begins with a progress line on stderr, `demo phase 3/7 rogue: …`. */
export const DEMO_PHASES = ["rules", "pipeline", "rogue", "bait-root", "bait-nobody", "report", "cleanup"] as const;
export type DemoPhase = (typeof DEMO_PHASES)[number];

export const DEFAULT_INTERVAL_SECONDS = 1.5;
/** The bait's comm, as in the original case. */
const BAIT_COMM = "findpid";
/** How long children get to end on SIGTERM before SIGKILL: short when interrupted, so the demo is gone within 2 s. */
const STOP_GRACE_MS = { interrupted: 700, finished: 3000 };
const CAPTURE_START_TIMEOUT_MS = 15_000;
/** The rogue stops by itself after this many intervals (plus a minute), should the demo not end it: more than the demo lasts. */
const ROGUE_LIFETIME_INTERVALS = 20;
/** After a child failed us: how long to wait for an interruption that may be its cause. */
const CHILD_FAILURE_GRACE_MS = 200;

/** Throws E_USAGE unless `seconds` can be the rogue's pause (checked before live or replay is chosen). */
export function checkInterval(seconds: number): void {
  // A kill loop without a pause would only flood the log.
  if (!(seconds > 0) || !Number.isFinite(seconds)) throw usageError(`--interval must be more than 0 seconds, got ${seconds}`);
}

export interface DemoOptions {
  /** Report format passed to report (text by default). */
  format?: string;
  /** Seconds between the rogue's kills. */
  intervalSeconds?: number;
  /** Abort = stop now: end our processes, remove our rules, resolve null. */
  signal?: AbortSignal;
  /** How capture sees the kills: audit rules (the default), the kernel's tracepoints, or both. */
  way?: WatchWay;
}

/** `promise`, or a rejection with the abort's reason as soon as `signal` aborts (the demo's catch then sees the signal aborted). */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

async function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  await abortableSleep(ms, signal);
  signal?.throwIfAborted();
}

/** Our children, and only they, ended however the demo ends. */
class Children {
  private readonly all: { name: StageName; child: Subprocess }[] = [];

  /** The one place the demo starts a stage of its own (stageCommand knows scripts/ and the single binary). */
  spawn<const In extends SpawnOptions.Writable, const Out extends SpawnOptions.Readable, const Err extends SpawnOptions.Readable>(
    name: StageName,
    args: readonly string[],
    io: SpawnOptions.SpawnOptions<In, Out, Err>,
  ): Subprocess<In, Out, Err> {
    const child = Bun.spawn([...stageCommand(name), ...args], io);
    this.all.push({ name, child });
    return child;
  }

  /** SIGTERM to each child still running (an unreaped child's PID is still ours). */
  terminate(): void {
    for (const { child } of this.all) if (running(child)) child.kill("SIGTERM");
  }

  /** Wait for every child; SIGKILL those still running after graceMs, or sooner once `signal` aborts. */
  async reap(graceMs: number, signal?: AbortSignal): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let shorten = () => {};
    const graceOver = new Promise<"late">((resolve) => {
      const late = () => resolve("late");
      timer = setTimeout(late, signal?.aborted ? STOP_GRACE_MS.interrupted : graceMs);
      shorten = () => {
        clearTimeout(timer);
        timer = setTimeout(late, STOP_GRACE_MS.interrupted);
      };
      signal?.addEventListener("abort", shorten, { once: true });
    });
    try {
      await Promise.all(
        this.all.map(async ({ name, child }) => {
          if ((await Promise.race([child.exited, graceOver])) === "late" && running(child)) {
            log.warn(`${name} (pid ${child.pid}) did not end on SIGTERM in time: SIGKILL`);
            child.kill("SIGKILL");
            await child.exited;
          }
        }),
      );
    } finally {
      signal?.removeEventListener("abort", shorten);
      clearTimeout(timer);
    }
  }
}

function running(child: Subprocess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/** Replay the bundled records of the 2010 case through attribute | report. Resolves report's exit code, or null when aborted. */
export async function replaySeed(options: DemoOptions = {}): Promise<number | null> {
  log.info("replaying the original case's records (test/fixtures/seed.log)");
  const seed = await seedFilesOnDisk();
  const children = new Children();
  const attribute = children.spawn("attribute", ["--passwd", seed.passwd, "--group", seed.group, seed.records], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const report = children.spawn("report", ["--format", options.format ?? "text"], { stdin: attribute.stdout, stdout: "inherit", stderr: "inherit" });
  try {
    const [, code] = await unlessAborted(Promise.all([attribute.exited, report.exited]), options.signal);
    return code;
  } catch (error) {
    if (!options.signal?.aborted) throw error;
    return null;
  } finally {
    children.terminate();
    await children.reap(STOP_GRACE_MS.interrupted, options.signal);
    if (seed.tempDir) rmSync(seed.tempDir, { recursive: true, force: true });
  }
}

/**
 * The seed's files as paths the stages can open. Inside dist/whokilled they
 * are embedded, and only the binary's own file API reads them there, so they
 * are copied out to a temporary directory for the child processes.
 */
async function seedFilesOnDisk(): Promise<{ records: string; passwd: string; group: string; tempDir: string | null }> {
  if (!isCompiledBinary()) return { records: seedRecordsPath, passwd: seedPasswdPath, group: seedGroupPath, tempDir: null };
  const tempDir = mkdtempSync(join(tmpdir(), "whokilled-seed-"));
  const copy = async (from: string, name: string) => {
    const to = join(tempDir, name);
    await Bun.write(to, Bun.file(from));
    return to;
  };
  return { records: await copy(seedRecordsPath, "seed.log"), passwd: await copy(seedPasswdPath, "passwd"), group: await copy(seedGroupPath, "group"), tempDir };
}

/** Pass a child's stderr through to ours; resolves once `marker` went by `times` times (false: the stream ended first), with what it said until then. */
function forwardStderr(stream: ReadableStream<Uint8Array>, marker: string, times = 1): Promise<{ found: boolean; text: string }> {
  return new Promise((resolve) => {
    let text = "";
    let found = false;
    const decoder = new TextDecoder();
    void (async () => {
      for await (const chunk of stream) {
        process.stderr.write(chunk);
        if (found) continue;
        text += decoder.decode(chunk, { stream: true });
        if (text.split(marker).length > times) {
          found = true;
          resolve({ found, text });
        }
      }
    })()
      .catch(() => {})
      .finally(() => resolve({ found, text }));
  });
}

/** The live demo. Resolves to report's exit code, or null when aborted (after the cleanup). */
export async function liveDemo(options: DemoOptions = {}): Promise<number | null> {
  const { signal } = options;
  const interval = options.intervalSeconds ?? DEFAULT_INTERVAL_SECONDS;
  checkInterval(interval);
  const intervalMs = interval * 1000;
  // Removed in the cleanup below, and at process exit should the demo end otherwise; a demo killed by kill -9
  // leaves them under a key that names it, for the next run, setup-rule status and setup-rule remove (run-keys.ts).
  const rules = new RunRules("demo");
  const key = rules.key;
  const uses = wayUses(options.way ?? DEFAULT_WATCH_WAY);
  const children = new Children();
  let phase: DemoPhase = "rules";
  const enter = (next: DemoPhase, what: string) => {
    phase = next;
    log.info(`demo phase ${DEMO_PHASES.indexOf(next) + 1}/${DEMO_PHASES.length} ${next}: ${what}`);
  };
  let rulesTouched = false;
  let rogue: Subprocess<"pipe", "ignore", "inherit"> | null = null;
  try {
    signal?.throwIfAborted();
    const pid = pickFreePid();
    if (uses.audit) {
      enter("rules", `audit rules for SIGKILLs aimed at PID ${pid}, key ${key}`);
      rulesTouched = true;
      try {
        removeLeftRunRules();
      } catch (error) {
        log.warn(`demo: could not look for rules left by killed runs: ${(error as Error).message}`);
      }
      // As narrow as the case allows: first in the list, so no earlier rule takes our kills, and narrow (the
      // rogue's kill() of SIGKILL at this PID only), so we take as little as possible from other keys' rules.
      const install = rules.add(() => installRules({ key, first: true, pid, signal: SIG.KILL, syscalls: ["kill"] }));
      log.info(`rules installed under key ${key} (${install.added.length} added)`);
      if (install.enabledAudit) log.warn("audit was off: switched it on (enabled 1, never 2); it stays on");
      // The install blocks the event loop: let a Ctrl-C that came meanwhile be seen before anything starts.
      await pause(0, signal);
    } else {
      enter("rules", `no audit rule: capture --tracepoints watches PID ${pid} through the kernel's tracepoints, in a private tracefs instance`);
    }

    // Fresh processes from here on: a process forked before audit was on is never audited.
    // The rogue comes first, waiting for its go: attribute keeps only its kills (--killer PID).
    const sources = [...(uses.audit ? ["--netlink"] : []), ...(uses.tracepoints ? ["--tracepoints"] : [])];
    enter("pipeline", `capture ${sources.join(" ")} | attribute | report, and the rogue, waiting for its go`);
    rogue = children.spawn(
      "rogue",
      ["--pid", String(pid), "--ancestor", String(process.pid), "--bait-comm", BAIT_COMM, "--interval", String(interval), "--for", String(ROGUE_LIFETIME_INTERVALS * interval + 60), "--start-on-stdin"],
      { stdin: "pipe", stdout: "ignore", stderr: "inherit" },
    );
    // The rules are narrow on purpose (one PID, one signal): no "audit sees kills only partly" warning.
    const capture = children.spawn("capture", [...sources, ...(uses.audit ? ["--no-coverage"] : [])], { stdout: "pipe", stderr: "pipe" });
    // The tracepoints' signals carry no audit key: the rogue's pid and the bait PID select them.
    const keep = [...(uses.tracepoints ? [] : ["--key", key]), "--killer", String(rogue.pid), "--pid", String(pid), "--proc"];
    const attribute = children.spawn("attribute", keep, {
      stdin: capture.stdout,
      stdout: "pipe",
      stderr: "inherit",
    });
    const report = children.spawn("report", ["--format", options.format ?? "text"], { stdin: attribute.stdout, stdout: "pipe", stderr: "inherit" });
    // Held back until the end: an interrupted demo prints no partial report.
    const reportText = new Response(report.stdout).text();
    let startTimer: ReturnType<typeof setTimeout> | undefined;
    const started = await unlessAborted(
      Promise.race([
        forwardStderr(capture.stderr, "listening", sources.length),
        new Promise<{ found: false; text: string }>((resolve) => (startTimer = setTimeout(() => resolve({ found: false, text: "(no answer)" }), CAPTURE_START_TIMEOUT_MS))),
      ]).finally(() => clearTimeout(startTimer)),
      signal,
    );
    if (!started.found) throw new WhokilledError("E_KERNEL", `capture ${sources.join(" ")} did not start: ${started.text.trim()}`);

    enter("rogue", `${DEFAULT_ROGUE_COMM} (pid ${rogue.pid}) SIGKILLs PID ${pid} every ${interval} s, whoever holds it; the PID is free, so ESRCH`);
    rogue.stdin.write("go\n");
    await rogue.stdin.flush();
    await pause(intervalMs * 2 + 300, signal);

    const runBait = async (extra: string[]) => {
      const bait = children.spawn(
        "bait",
        ["--pid", String(pid), "--comm", BAIT_COMM, "--count", "2", "--timeout", String(Math.max(20, interval * 4)), ...extra],
        { stdout: "ignore", stderr: "inherit" },
      );
      await unlessAborted(bait.exited, signal);
      await pause(intervalMs + 300, signal);
    };
    enter("bait-root", `bait (comm ${BAIT_COMM}) takes PID ${pid} as root, twice`);
    await runBait([]);
    enter("bait-nobody", `bait takes PID ${pid} again, now as nobody (another uid holding the same PID)`);
    await runBait(["--uid", "nobody"]);

    enter("report", "capture ends; attribute and report finish");
    capture.kill("SIGINT");
    const [, attributeCode, reportCode, text] = await unlessAborted(Promise.all([capture.exited, attribute.exited, report.exited, reportText]), signal);
    await Bun.write(Bun.stdout, text);
    if (attributeCode !== 0) log.warn(`attribute exited with status ${attributeCode}`);
    return reportCode !== 0 ? reportCode : attributeCode;
  } catch (error) {
    // An abort throws its reason from the step it stopped. Ctrl-C reaches the whole process group at once: a child that
    // stopped on it can fail a step (a closed pipe, capture gone) before our own handler has run. Give that handler a moment.
    if (!(await abortableSleep(CHILD_FAILURE_GRACE_MS, signal).then(() => signal?.aborted))) throw error;
    log.warn(`demo interrupted in phase ${phase}: ending its processes and removing its rules`);
    return null;
  } finally {
    enter("cleanup", rulesTouched ? "ending the demo's processes and removing its rules" : "ending the demo's processes");
    try {
      rogue?.stdin.end();
    } catch {
      // The rogue is gone already.
    }
    children.terminate();
    let left: string[] = [];
    if (rulesTouched) {
      try {
        rules.remove();
        left = listInstalled(key).map((line) => line.rule);
      } catch (error) {
        log.error(`could not remove the rules with key ${key}: ${(error as Error).message}`);
        left = ["(unknown)"];
      }
    }
    await children.reap(STOP_GRACE_MS.finished, signal);
    if (left.length > 0) log.error(`rules with key ${key} are still installed: ${left.join("; ")}`);
    else log.info(`cleanup: ${rulesTouched ? `rules with key ${key} removed, ` : ""}demo processes ended`);
  }
}
