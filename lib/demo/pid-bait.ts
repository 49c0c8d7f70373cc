/**
 * bait: take hold of a chosen PID with a child process and wait there to be
 * killed, then say how that child died. This is the `findpid` trick from the
 * original case: a killer that keeps signalling one PID number gives itself
 * away in the audit log as soon as something lives at that number.
 *
 * Two ways to get a given PID:
 * - `ns_last_pid`: write PID−1 to /proc/sys/kernel/ns_last_pid (CAP_SYS_ADMIN
 *   or CAP_CHECKPOINT_RESTORE over our PID namespace) and spawn at once; the
 *   allocator hands out the next free number. Another process can slip in
 *   between the write and our fork, so we check and retry.
 * - `fork-loop`: spawn and discard children until the allocator's cursor comes
 *   round to the PID. Works unprivileged but costs one spawn per PID between
 *   the cursor and the target (about 1 ms each).
 *
 * The child must be, from its first instant on the PID, what bait says it
 * is: a killer can strike between fork and exec, and the kernel's OBJ_PID
 * then names whatever the child was at that moment. A child bait forked
 * itself would be `bun` as root until it exec'd and switched user. So bait
 * runs a helper, a shell started through a symlink named after the wanted
 * comm (the kernel takes comm from the exec'd path's basename) as the wanted
 * user, and has it fork the child: a fork inherits comm and uid, so the
 * child never has any other identity (its BaitLine says `identity: "taken"`).
 * The child then runs `sleep infinity` through symlinks with the same name
 * (env resets SIGINT and SIGQUIT, which a shell's background job ignores;
 * setpriv sets a parent-death signal), so it keeps that comm throughout.
 * The helper is in its own session, so a terminal's Ctrl-C reaches only
 * bait, and both it and the child die with their parent (setpriv
 * --pdeathsig), so nothing outlives a bait killed hard. The helper reports
 * the child's pid and, when it ends, its wait status. bait signals the child
 * (its grandchild) only through a pidfd it checked is still the helper's
 * child, so a recycled PID is never hit.
 */
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WhokilledError, usageError } from "../errors.ts";
import { abortableSleep } from "../sources/abortable-sleep.ts";
import { errno, lib } from "../sources/libc.ts";
import { log } from "../log.ts";
import { aheadOfCursor, describeHolder, NS_LAST_PID_FILE, PID_MAX_FILE, pidInUse, readLastPid, readPidMax, readPidStat, RESERVED_PIDS } from "./pid-space.ts";
import type { BaitLine } from "../schema.ts";
import { SIG, signalName } from "../tables/signals.ts";

export type BaitMethod = BaitLine["method"];

export const DEFAULT_BAIT_COMM = "wk-bait";

export interface BaitOptions {
  /** The PID to take. 2 … pid_max − 1. */
  pid: number;
  /** Children to park on the PID one after another; 0 = until stopped. Default 1. */
  count?: number;
  /** Per child: after this long bait ends the child itself (outcome "stopped"). */
  timeoutMs?: number;
  /** Run the child as this user (needs root); gid defaults to the user's primary group. */
  uid?: number;
  gid?: number;
  /** Abort = stop: end our child, yield its "stopped" line, return. */
  signal?: AbortSignal;
  /** The child's comm (max 15 bytes, no '/'). Default `wk-bait`. */
  comm?: string;
  /** How to take the PID. `auto` (default): ns_last_pid, else the fork loop. */
  method?: BaitMethod | "auto";
  /** If the PID is held by someone else, poll this long for it to become free. Default 0: fail at once. */
  waitMs?: number;
  /** Give up taking the PID after this long (the fork loop can take a while). Default 300 s. */
  takeTimeoutMs?: number;
  /** Called as soon as the child holds the PID (it has its comm and uid from its first instant). */
  onHold?: (hold: BaitHold) => void;
}

export interface BaitHold {
  pid: number;
  comm: string;
  method: BaitMethod;
  attempts: number;
  /** Time from the first attempt until the child held the PID. */
  takeMs: number;
}

const STOP_GRACE_MS = 1000;
/** Fork loop: spawn the real child (not a burner) once the target is at most this many allocations away. */
const REAL_CHILD_WITHIN = 2;
const PROGRESS_EVERY_MS = 5000;
/** Retries of ns_last_pid when another process got the PID first. */
const NS_LAST_PID_ATTEMPTS = 50;

/** Check options against the kernel's limits before touching anything. */
export function validateBaitOptions(options: BaitOptions, pidMax = readPidMax()): void {
  const { pid } = options;
  if (!Number.isInteger(pid)) throw usageError(`--pid must be a whole number, got ${String(pid)}`);
  if (pid <= 1) throw usageError(`--pid ${pid}: PID 1 and below cannot be taken (0 is the scheduler, 1 is init)`);
  if (pid >= pidMax) {
    throw usageError(`--pid ${pid}: the kernel hands out PIDs below pid_max (${pidMax}, ${PID_MAX_FILE}), so nothing can ever hold it`);
  }
  if (options.count !== undefined && (!Number.isInteger(options.count) || options.count < 0)) {
    throw usageError(`--count must be a whole number ≥ 0 (0 = until stopped), got ${options.count}`);
  }
  for (const [name, value] of [
    ["--timeout", options.timeoutMs],
    ["--wait", options.waitMs],
    ["--take-timeout", options.takeTimeoutMs],
  ] as const) {
    if (value !== undefined && (!Number.isFinite(value) || value < 0)) throw usageError(`${name} must be a number of seconds ≥ 0`);
  }
  const comm = options.comm ?? DEFAULT_BAIT_COMM;
  if (comm === "" || comm === "." || comm === ".." || /[/\0]/.test(comm)) throw usageError(`--comm ${JSON.stringify(comm)}: must be a file name (no '/')`);
  if (Buffer.byteLength(comm) > 15) throw usageError(`--comm ${JSON.stringify(comm)}: the kernel keeps only 15 bytes of a comm; use a shorter name`);
  if (options.uid !== undefined && (!Number.isInteger(options.uid) || options.uid < 0)) throw usageError(`--uid must be a user name or id ≥ 0`);
  if ((options.uid !== undefined || options.gid !== undefined) && process.getuid?.() !== 0) {
    throw new WhokilledError("E_PERM", "--uid needs root (bait switches user before running the child)");
  }
}

/** `nobody` or `65534` → ids, from /etc/passwd (a bare number not listed there gets gid = uid). */
export function resolveUser(spec: string, passwdFile = "/etc/passwd"): { uid: number; gid: number; name: string | null } {
  let entries: string[][] = [];
  try {
    entries = readFileSync(passwdFile, "utf8")
      .split("\n")
      .filter((line) => line && !line.startsWith("#"))
      .map((line) => line.split(":"));
  } catch {
    // No passwd file: only numeric ids work.
  }
  const numeric = /^\d+$/.test(spec);
  const entry = entries.find((fields) => (numeric ? fields[2] === spec : fields[0] === spec));
  if (entry) return { uid: Number(entry[2]), gid: Number(entry[3]), name: entry[0] ?? null };
  if (numeric) return { uid: Number(spec), gid: Number(spec), name: null };
  throw usageError(`--uid ${JSON.stringify(spec)}: no such user in ${passwdFile}`);
}

/** The programs bait runs, each through a symlink named `comm` (a directory each). */
interface ChildImage {
  /** The helper: setpriv --pdeathsig KILL -- COMM(sh) -c SCRIPT … */
  launcherArgv: string[];
  /** `true`: what the fork loop burns PIDs with. It exits by itself, so no kill(2) shows up in the audit log per PID. */
  burnerArgv: string[];
  cleanup(): void;
}

/**
 * The helper's script. Lines in: `fork`. Lines out: `ready`, then per fork
 * `pid N` at once and `status S` when that child ends ($? of wait: 128+N for
 * signal N). $1 env, $2 setpriv (each "" when not to be used), $3 sleep: all
 * named COMM (any bytes but '/': always quoted).
 */
const LAUNCHER_SCRIPT = `
env=$1 setpriv=$2 sleep=$3
set --
if [ -n "$env" ]; then set -- "$env" --default-signal=INT,QUIT; fi
if [ -n "$setpriv" ]; then set -- "$@" "$setpriv" --pdeathsig KILL --; fi
set -- "$@" "$sleep" infinity
echo ready
while read -r cmd; do
  [ "$cmd" = fork ] || exit 2
  "$@" </dev/null >/dev/null 2>&1 &
  child=$!
  echo "pid $child"
  wait "$child"
  echo "status $?"
done
`;

function prepareChildImage(comm: string): ChildImage {
  const path = `${process.env.PATH ?? ""}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin`;
  const sleep = Bun.which("sleep", { PATH: path });
  if (!sleep) throw new WhokilledError("E_MISSING_TOOL", "sleep not found (coreutils)");
  const sh = Bun.which("sh", { PATH: path });
  if (!sh) throw new WhokilledError("E_MISSING_TOOL", "sh not found");
  const setpriv = Bun.which("setpriv", { PATH: path });
  const env = Bun.which("env", { PATH: path });
  const burner = Bun.which("true", { PATH: path }) ?? sleep;
  const dir = mkdtempSync(join(tmpdir(), "whokilled-bait-"));
  // Another user (--uid) must be able to reach the symlinks.
  chmodSync(dir, 0o755);
  const named = (target: string, as: string) => {
    mkdirSync(join(dir, as), { mode: 0o755 });
    const link = join(dir, as, comm);
    symlinkSync(target, link);
    return link;
  };
  // A shell's background job ignores SIGINT and SIGQUIT (and cannot trap them back): env puts them back first.
  const resets = env !== null && Bun.spawnSync([env, "--default-signal=INT,QUIT", burner], { stdio: ["ignore", "ignore", "ignore"] }).exitCode === 0;
  if (!resets) log.warn("bait: env --default-signal (coreutils 8.31+) not found: the child will ignore SIGINT and SIGQUIT");
  if (!setpriv) log.debug("bait: setpriv (util-linux) not found; a child could outlive a bait killed with SIGKILL");
  const script = [named(sh, "sh"), "-c", LAUNCHER_SCRIPT, comm, resets ? named(env!, "env") : "", setpriv ? named(setpriv, "setpriv") : "", named(sleep, "sleep")];
  return {
    launcherArgv: setpriv ? [setpriv, "--pdeathsig", "KILL", "--", ...script] : script,
    burnerArgv: burner === sleep ? [sleep, "0"] : [burner],
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Lines from a stream, one at a time, read as they are asked for (a last line without its newline is dropped). */
async function* streamLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string, undefined> {
  const decoder = new TextDecoder();
  let buffered = "";
  for await (const chunk of stream) {
    const lines = (buffered + decoder.decode(chunk, { stream: true })).split("\n");
    buffered = lines.pop()!;
    yield* lines;
  }
}

const PIDFD_OPEN = 434;
const PIDFD_SEND_SIGNAL = 424;

/** A child the helper forked: its pid, and how it ended once `ended` resolves. */
interface HelperChild {
  pid: number;
  /** Its wait status as the helper's shell gives it ($?: 128+N for signal N), or null if the helper died first. */
  ended: Promise<number | null>;
}

/** bait's helper (see the header): forks children that have the wanted comm and uid from their first instant. */
class Launcher {
  private constructor(
    private readonly process: Bun.Subprocess<"pipe", "pipe", "ignore">,
    private readonly lines: AsyncGenerator<string, undefined>,
  ) {}

  get pid(): number {
    return this.process.pid;
  }

  static async start(image: ChildImage, uid: number | undefined, gid: number | undefined): Promise<Launcher> {
    let child: Bun.Subprocess<"pipe", "pipe", "ignore">;
    try {
      child = Bun.spawn(image.launcherArgv, {
        stdio: ["pipe", "pipe", "ignore"],
        // Own session: a terminal's Ctrl-C or hangup goes to bait, which then ends the child itself.
        detached: true,
        cwd: "/",
        env: {},
        ...(uid !== undefined ? { uid, gid: gid ?? uid } : {}),
      });
    } catch (error) {
      throw new WhokilledError("E_KERNEL", `cannot start bait's helper: ${(error as Error).message}`, { cause: error });
    }
    const launcher = new Launcher(child, streamLines(child.stdout));
    if ((await launcher.lines.next()).value !== "ready") {
      await launcher.close();
      throw new WhokilledError("E_KERNEL", `bait's helper (${image.launcherArgv.join(" ")}) did not start`);
    }
    return launcher;
  }

  /** Fork a child now; null if the helper is gone. */
  async fork(): Promise<HelperChild | null> {
    this.process.stdin.write("fork\n");
    this.process.stdin.flush();
    const { value: line } = await this.lines.next();
    const pid = line?.startsWith("pid ") ? Number(line.slice(4)) : Number.NaN;
    if (!Number.isInteger(pid)) return null;
    const ended = this.lines.next().then(({ value: status }) => (status?.startsWith("status ") ? Number(status.slice(7)) : null));
    return { pid, ended };
  }

  /**
   * Signal a child of the helper, through a pidfd checked to be the
   * helper's child still: a pid the helper has reaped could be someone
   * else's by now. False when it is gone.
   */
  signalChild(pid: number, nr: number): boolean {
    let c: ReturnType<typeof lib>;
    try {
      c = lib();
    } catch {
      // No glibc to call (a musl system): check, then kill; a PID reused in between is all that could go wrong.
      if (readPidStat(pid)?.ppid !== this.process.pid) return false;
      try {
        process.kill(pid, nr);
        return true;
      } catch {
        return false;
      }
    }
    const fd = Number(c.syscall(PIDFD_OPEN, pid, 0, 0, 0));
    if (fd < 0) return false;
    try {
      if (readPidStat(pid)?.ppid !== this.process.pid) return false;
      if (Number(c.syscall(PIDFD_SEND_SIGNAL, fd, nr, 0, 0)) === 0) return true;
      log.debug(`bait: pidfd_send_signal(${pid}, ${signalName(nr)}): errno ${errno(c)}`);
      return false;
    } finally {
      c.close(fd);
    }
  }

  /** End the helper (it is ours: Bun's own handle). */
  async close(): Promise<void> {
    try {
      this.process.stdin.end();
    } catch {
      // Already gone.
    }
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill("SIGKILL");
    await this.process.exited;
  }

  /** How the helper itself ended, for a message. */
  describeEnd(): string {
    const { exitCode, signalCode } = this.process;
    return signalCode !== null ? `killed by ${signalCode}` : exitCode !== null ? `exited with status ${exitCode}` : "still running";
  }
}

/** Burners: short-lived children of bait's own that use up PIDs in the fork loop. */
async function burn(image: ChildImage): Promise<number> {
  let child: Bun.Subprocess;
  try {
    child = Bun.spawn(image.burnerArgv, { stdio: ["ignore", "ignore", "ignore"], detached: true, cwd: "/", env: {} });
  } catch (error) {
    throw new WhokilledError("E_KERNEL", `cannot start a child: ${(error as Error).message}`, { cause: error });
  }
  await child.exited;
  return child.pid;
}

/** End a child of the helper that did not get the PID, and wait until the helper has reaped it (its number is not free before). */
async function discard(launcher: Launcher, child: HelperChild): Promise<void> {
  launcher.signalChild(child.pid, SIG.KILL);
  await child.ended;
}

/**
 * Wait until nobody holds pid. Resolves false on abort; throws E_USAGE when
 * it is still held at the deadline (at once when waitMs is 0).
 */
async function waitUntilFree(pid: number, waitMs: number, signal?: AbortSignal): Promise<boolean> {
  if (!pidInUse(pid)) return true;
  const deadline = Date.now() + waitMs;
  for (let first = true; Date.now() < deadline; first = false) {
    if (first) log.info(`bait: PID ${pid} is held by ${describeHolder(pid)}; waiting up to ${Math.round(waitMs / 1000)} s for it to be free`);
    await abortableSleep(Math.min(100, Math.max(0, deadline - Date.now())), signal);
    if (signal?.aborted) return false;
    if (!pidInUse(pid)) return true;
  }
  throw usageError(
    `PID ${pid} is in use: ${describeHolder(pid)}. Choose a free PID, or pass --wait SECONDS to wait for it to be free`,
  );
}

interface Taken {
  child: HelperChild;
  method: BaitMethod;
  attempts: number;
  takeMs: number;
}

class PidTaker {
  /** Cleared once a write to ns_last_pid is refused, so later rounds go straight to the fork loop. */
  private nsLastPidUsable: boolean;

  constructor(
    private readonly launcher: Launcher,
    private readonly image: ChildImage,
    private readonly options: Required<Pick<BaitOptions, "method" | "waitMs" | "takeTimeoutMs">> & Pick<BaitOptions, "signal">,
  ) {
    this.nsLastPidUsable = options.method !== "fork-loop";
  }

  /** A child from the helper; throws if the helper is gone. */
  private async fork(): Promise<HelperChild> {
    const child = await this.launcher.fork();
    if (child === null) throw new WhokilledError("E_KERNEL", `bait's helper (pid ${this.launcher.pid}) ${this.launcher.describeEnd()}`);
    return child;
  }

  /** A child of ours holding pid, or null when aborted first. */
  async take(pid: number): Promise<Taken | null> {
    const started = performance.now();
    if (this.nsLastPidUsable) {
      const taken = await this.viaNsLastPid(pid, started);
      if (taken !== "refused") return taken;
    }
    return await this.viaForkLoop(pid, started);
  }

  /**
   * Before an attempt: wait until pid is free; false when aborted. Held before our first attempt: wait the
   * user's --wait (0: fail at once). Taken while we were trying: we lost a race to a process that is likely
   * short-lived, so wait out the take budget.
   */
  private async untilFree(pid: number, attempt: number, started: number): Promise<boolean> {
    const { signal, waitMs, takeTimeoutMs } = this.options;
    if (signal?.aborted) return false;
    const holdWaitMs = attempt === 1 ? waitMs : Math.max(waitMs, takeTimeoutMs - (performance.now() - started));
    return await waitUntilFree(pid, holdWaitMs, signal);
  }

  private async viaNsLastPid(pid: number, started: number): Promise<Taken | null | "refused"> {
    for (let attempt = 1; attempt <= NS_LAST_PID_ATTEMPTS; attempt++) {
      if (!(await this.untilFree(pid, attempt, started))) return null;
      try {
        writeFileSync(NS_LAST_PID_FILE, String(pid - 1));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? String(error);
        this.nsLastPidUsable = false;
        if (this.options.method === "ns_last_pid") {
          throw new WhokilledError(
            code === "EPERM" || code === "EACCES" ? "E_PERM" : "E_KERNEL",
            `cannot write ${NS_LAST_PID_FILE} (${code}): needs root (CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE in this PID namespace)`,
          );
        }
        log.info(`bait: ${NS_LAST_PID_FILE} is not writable (${code}); spawning children until one gets PID ${pid}`);
        return "refused";
      }
      const child = await this.fork();
      if (child.pid === pid) return { child, method: "ns_last_pid", attempts: attempt, takeMs: performance.now() - started };
      // Another task got the number between our write and the helper's fork.
      await discard(this.launcher, child);
      log.debug(`bait: attempt ${attempt}: got PID ${child.pid}, not ${pid}; retrying`);
      await abortableSleep(Math.min(attempt, 20), this.options.signal);
    }
    throw new WhokilledError("E_KERNEL", `could not take PID ${pid}: other tasks got it first ${NS_LAST_PID_ATTEMPTS} times in a row`);
  }

  private async viaForkLoop(pid: number, started: number): Promise<Taken | null> {
    const { takeTimeoutMs } = this.options;
    const pidMax = readPidMax();
    const lastPid = readLastPid();
    // Below RESERVED_PIDS only counts once the allocator has wrapped, which on a running system it has.
    if (pid < RESERVED_PIDS && (lastPid === null || lastPid >= RESERVED_PIDS)) {
      throw usageError(`PID ${pid} is below ${RESERVED_PIDS}: after the first wrap the kernel only hands those out via ns_last_pid (needs root)`);
    }
    if (lastPid !== null) log.debug(`bait: fork loop: cursor at ${lastPid}, want ${pid}`);
    const deadline = Date.now() + takeTimeoutMs;
    // Two full turns of the PID space: enough unless others keep taking the number.
    const maxSpawns = 2 * pidMax;
    let nextProgress = Date.now() + PROGRESS_EVERY_MS;
    let realTries = 0;
    for (let attempt = 1; attempt <= maxSpawns; attempt++) {
      if (!(await this.untilFree(pid, attempt, started))) return null;
      // Burn PIDs with short-lived children (they exit by themselves, so no
      // kill per PID shows up in the audit log) until the target is a few
      // allocations away; from there on spawn real children, so other tasks
      // taking numbers meanwhile cannot make a burner overshoot the target.
      let got: number;
      if (allocationsBefore(pid, pidMax) <= REAL_CHILD_WITHIN) {
        realTries++;
        const child = await this.fork();
        if (child.pid === pid) return { child, method: "fork-loop", attempts: attempt, takeMs: performance.now() - started };
        got = child.pid;
        await discard(this.launcher, child);
        // Got a number shortly before pid in allocation order: not there yet. Past it: another task took it.
        if (aheadOfCursor(pid, got, pidMax) >= 64) log.debug(`bait: fork loop: another task took PID ${pid} first (we got ${got}); going round again`);
      } else {
        got = await burn(this.image);
        if (got === pid) log.debug(`bait: fork loop: a burner got PID ${pid} (the cursor moved under us); going round again`);
      }
      const now = Date.now();
      if (now >= deadline) {
        throw new WhokilledError(
          "E_KERNEL",
          `could not take PID ${pid} within ${Math.round(takeTimeoutMs / 1000)} s (${attempt} spawns, ${realTries} at the right moment, last got ${got}); raise --take-timeout or run as root for ns_last_pid`,
        );
      }
      if (now >= nextProgress) {
        log.info(`bait: fork loop: ${attempt} spawns so far, last got PID ${got}, want ${pid}`);
        nextProgress = now + PROGRESS_EVERY_MS;
      }
    }
    throw new WhokilledError("E_KERNEL", `could not take PID ${pid}: ${maxSpawns} spawns went round the PID space twice without getting it`);
  }
}

/**
 * How many PIDs the allocator will hand out before `pid`: it gives the first
 * free number after the cursor (ns_last_pid), wrapping from pid_max back to
 * RESERVED_PIDS. 0 = `pid` is next. Infinity when more than `limit` away;
 * 0 when the cursor is unknown, so the loop then just tries.
 */
export function allocationsBefore(pid: number, pidMax: number, lastPid = readLastPid(), inUse = pidInUse, limit = 64): number {
  if (lastPid === null) return 0;
  let next = lastPid + 1;
  let free = 0;
  for (let step = 0; step < limit; step++) {
    if (next >= pidMax) next = RESERVED_PIDS;
    if (next === pid) return free;
    if (!inUse(next)) free++;
    next++;
  }
  return Number.POSITIVE_INFINITY;
}

/**
 * Take the PID, wait there to be killed, report; `count` times. Yields one
 * BaitLine per child after it is gone. Only ever signals its own children.
 */
export async function* bait(options: BaitOptions): AsyncGenerator<BaitLine> {
  validateBaitOptions(options);
  const { pid, signal } = options;
  const count = options.count ?? 1;
  const comm = options.comm ?? DEFAULT_BAIT_COMM;
  const image = prepareChildImage(comm);
  let launcher: Launcher | null = null;
  let current: HelperChild | null = null;
  try {
    launcher = await startLauncher(image, pid, options);
    const helper = launcher;
    const taker = new PidTaker(helper, image, {
      method: options.method ?? "auto",
      waitMs: options.waitMs ?? 0,
      takeTimeoutMs: options.takeTimeoutMs ?? 300_000,
      signal,
    });
    for (let round = 0; count === 0 || round < count; round++) {
      if (signal?.aborted) return;
      const taken = await taker.take(pid);
      if (!taken) return;
      current = taken.child;
      const child = taken.child;
      // From here the PID is ours, with its comm and uid from the fork on.
      const start = new Date().toISOString();
      const childGone = new AbortController();
      void child.ended.then(() => childGone.abort());
      options.onHold?.({ pid: child.pid, comm, method: taken.method, attempts: taken.attempts, takeMs: taken.takeMs });

      let stopped = false;
      let escalated = false;
      const stop = async () => {
        if (childGone.signal.aborted || stopped) return;
        stopped = true;
        helper.signalChild(child.pid, SIG.TERM);
        // Not Bun.sleep: a pending one would keep bait alive for the whole grace after its child is gone.
        await abortableSleep(STOP_GRACE_MS, childGone.signal);
        if (!childGone.signal.aborted) {
          escalated = true;
          helper.signalChild(child.pid, SIG.KILL);
        }
      };
      const onAbort = () => void stop();
      signal?.addEventListener("abort", onAbort, { once: true });
      if (signal?.aborted) void stop();
      const timer = options.timeoutMs !== undefined ? setTimeout(() => void stop(), options.timeoutMs) : undefined;
      let status: number | null;
      try {
        status = await child.ended;
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      }
      current = null;
      if (status === null) {
        throw new WhokilledError("E_KERNEL", `bait's helper (pid ${helper.pid}) ${helper.describeEnd()} while child ${child.pid} held the PID; the child ended with it`);
      }

      // The shell's $? of wait: 128+N for a child killed by signal N (sleep itself exits with 0 or 1).
      const sig = status > 128 ? status - 128 : null;
      const byUs = stopped && (sig === SIG.TERM || (sig === SIG.KILL && escalated));
      const line: BaitLine = {
        kind: "bait",
        pid: child.pid,
        wanted: pid,
        start,
        end: new Date().toISOString(),
        outcome: byUs ? "stopped" : sig !== null ? "signal" : "exit",
        signal: byUs || sig === null ? null : { nr: sig, name: signalName(sig) },
        exitCode: byUs || sig !== null ? null : status,
        method: taken.method,
        attempts: taken.attempts,
        comm,
        uid: options.uid ?? process.getuid?.() ?? null,
        identity: "taken",
        takeMs: Math.round(taken.takeMs * 10) / 10,
      };
      yield line;
      if (byUs && signal?.aborted) return;
    }
  } finally {
    // Only reached with a live child on an error or an early return(): end it, it is ours.
    if (launcher !== null) {
      if (current !== null) await discard(launcher, current);
      await launcher.close();
    }
    image.cleanup();
  }
}


/**
 * The helper, on any PID but the wanted one: a helper that got it (the
 * allocator's cursor was just before it) would sit there as bun, then
 * setpriv, before it became the bait's comm.
 */
async function startLauncher(image: ChildImage, pid: number, options: BaitOptions): Promise<Launcher> {
  for (let attempt = 0; ; attempt++) {
    const launcher = await Launcher.start(image, options.uid, options.gid);
    if (launcher.pid !== pid || attempt >= 3) return launcher;
    log.debug(`bait: the helper got PID ${pid} itself; starting another`);
    await launcher.close();
  }
}
