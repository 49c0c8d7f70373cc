/**
 * The main job: the original case replayed on this machine, for real.
 *
 *  1. temporary audit rules under a key unique to this run (first in the list);
 *  2. the pipeline `capture --netlink | attribute --key KEY --exclude-self
 *     --proc | report`, as separate processes, exactly as a user would run it
 *     (Bun's own GC signals its threads with tgkill: --exclude-self keeps that
 *     out; --proc reads who started the rogue while it runs);
 *  3. a "rogue" (comm rogue-httpd) that SIGKILLs one fixed PID every couple
 *     of seconds, as the root web server did;
 *  4. bait on that PID: first as root, then as nobody, with gaps in between
 *     in which the PID is free and the rogue gets ESRCH;
 *  5. the report names the rogue and its exe and diagnoses the
 *     stale/recycled-PID pattern; then everything is cleaned up: our rules
 *     removed, our processes ended (also on Ctrl-C and on failure).
 *
 * Without root or audit it says why and replays the bundled seed records.
 */
import { join } from "node:path";
import { WhokilledError, usageError } from "../errors.ts";
import { log } from "../log.ts";
import { pickFreePid } from "../pid-space.ts";
import { auditctl } from "../rules/auditctl.ts";
import { installRules, listInstalled, removeRules } from "../rules/install.ts";

const root = join(import.meta.dir, "..", "..");
const script = (name: string) => join(root, "scripts", `${name}.ts`);
export const SEED_RECORDS = join(root, "test", "fixtures", "seed.log");
/** The seed's users as every Linux host names them (root), and no others: the replay reads the same everywhere. */
const SEED_PASSWD = join(root, "test", "fixtures", "passwd.minimal");
const SEED_GROUP = join(root, "test", "fixtures", "group.minimal");

/** Why the live demo cannot run here, or null. */
export function liveDemoUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "not running as root (the live demo adds audit rules and reads the kernel's audit stream)";
  try {
    const status = auditctl(["-s"]);
    if (status.exitCode !== 0) return `the kernel's audit subsystem is not available (${(status.stderr || status.stdout).trim()})`;
  } catch (error) {
    return (error as Error).message;
  }
  return null;
}

export interface DemoOptions {
  /** Report format passed to report (text by default). */
  format?: string;
  /** Seconds between the rogue's kills. */
  intervalSeconds?: number;
  signal?: AbortSignal;
}

/** Replay the bundled records of the 2010 case through attribute | report. */
export async function replaySeed(options: DemoOptions = {}): Promise<number> {
  log.info(`replaying the original case's records: ${SEED_RECORDS}`);
  const bun = process.execPath;
  const attribute = Bun.spawn([bun, script("attribute"), "--passwd", SEED_PASSWD, "--group", SEED_GROUP, SEED_RECORDS], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const report = Bun.spawn([bun, script("report"), "--format", options.format ?? "text"], {
    stdin: attribute.stdout,
    stdout: "inherit",
    stderr: "inherit",
  });
  const [, code] = await Promise.all([attribute.exited, report.exited]);
  return code;
}

/** Our children, ended (only they) however the demo ends. */
class Children {
  private readonly all: Bun.Subprocess[] = [];

  add<T extends Bun.Subprocess>(child: T): T {
    this.all.push(child);
    return child;
  }

  async stopAll(): Promise<void> {
    for (const child of this.all) {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    }
    const deadline = Bun.sleep(3000).then(() => "timeout" as const);
    for (const child of this.all) {
      if ((await Promise.race([child.exited, deadline])) === "timeout" && child.exitCode === null) child.kill("SIGKILL");
    }
  }
}

/** The live demo. Resolves to report's exit code. */
export async function liveDemo(options: DemoOptions = {}): Promise<number> {
  const bun = process.execPath;
  const key = `whokilled-demo-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const interval = options.intervalSeconds ?? 1.5;
  // The rogue's pause: a kill loop without one would only flood the log.
  if (!(interval > 0)) throw usageError(`--interval must be more than 0 seconds, got ${interval}`);
  const children = new Children();
  const stop = () => void children.stopAll();
  options.signal?.addEventListener("abort", stop, { once: true });
  let installed = false;
  try {
    const install = installRules({ key, first: true });
    installed = true;
    log.info(`rules installed under key ${key} (${install.added.length} added)`);
    if (install.enabledAudit) log.warn("audit was off: switched it on (auditctl -e 1); it stays on");

    // Fresh processes from here on: a process forked before audit was on is never audited.
    const capture = children.add(Bun.spawn([bun, script("capture"), "--netlink"], { stdout: "pipe", stderr: "pipe" }));
    const attribute = children.add(
      Bun.spawn([bun, script("attribute"), "--key", key, "--exclude-self", "--proc"], { stdin: capture.stdout, stdout: "pipe", stderr: "inherit" }),
    );
    const report = children.add(
      Bun.spawn([bun, script("report"), "--format", options.format ?? "text"], { stdin: attribute.stdout, stdout: "inherit", stderr: "inherit" }),
    );
    let captureLog = "";
    const ready = (async () => {
      for await (const chunk of capture.stderr) {
        const text = new TextDecoder().decode(chunk);
        captureLog += text;
        process.stderr.write(text);
        if (captureLog.includes("listening")) break;
      }
    })();
    await Promise.race([ready, Bun.sleep(15_000)]);
    if (!captureLog.includes("listening")) throw new WhokilledError("E_KERNEL", `capture --netlink did not start: ${captureLog.trim()}`);
    // Keep passing capture's later messages through.
    void (async () => {
      for await (const chunk of capture.stderr) process.stderr.write(chunk);
    })().catch(() => {});

    const pid = pickFreePid();
    log.info(`the rogue (comm rogue-httpd) will SIGKILL PID ${pid} every ${interval} s, whoever holds it`);
    const rogue = children.add(
      Bun.spawn(
        [bun, join(root, "lib", "demo", "rogue-main.ts"), "--pid", String(pid), "--ancestor", String(process.pid), "--bait-comm", "findpid", "--interval", String(interval), "--for", "60"],
        { stdout: "ignore", stderr: "inherit" },
      ),
    );

    const runBait = async (extra: string[], count: number) => {
      const bait = children.add(
        Bun.spawn([bun, script("bait"), "--pid", String(pid), "--comm", "findpid", "--count", String(count), "--timeout", "20", ...extra], {
          stdout: "ignore",
          stderr: "inherit",
        }),
      );
      await bait.exited;
    };
    // The PID is free at first: the rogue's kills fail with ESRCH.
    await Bun.sleep(interval * 2000 + 300);
    log.info(`bait takes PID ${pid} as root, twice`);
    await runBait([], 2);
    await Bun.sleep(interval * 1000 + 300);
    log.info(`bait takes PID ${pid} again, now as nobody (another uid holding the same PID)`);
    await runBait(["--uid", "nobody"], 2);
    await Bun.sleep(interval * 1000 + 300);

    // End capture before the rogue: our own SIGTERM to it is not part of the case, and would
    // stand in the report as a second killer. attribute and report finish on EOF.
    capture.kill("SIGINT");
    await capture.exited;
    rogue.kill("SIGTERM");
    await rogue.exited;
    await attribute.exited;
    return await report.exited;
  } finally {
    options.signal?.removeEventListener("abort", stop);
    await children.stopAll();
    if (installed) {
      removeRules(key);
      const left = listInstalled(key);
      if (left.length > 0) log.error(`rules with key ${key} are still installed: ${left.map((l) => l.rule).join("; ")}`);
      else log.info(`cleanup: rules with key ${key} removed, demo processes ended`);
    }
  }
}
