/**
 * Every signal the kernel generates, from the `signal:signal_generate`
 * tracepoint in a private tracefs instance. This sees what audit never logs:
 * the OOM killer, SIGSEGV and other faults, SIGPIPE, tty hangups.
 *
 * The instance is ours alone (instances/whokilled-PID-RAND), so the global
 * trace and other users' instances are never touched. It is removed on every
 * way out: abort, the consumer stopping, an error, process.exit.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmdirSync, writeFileSync, constants } from "node:fs";
import { join } from "node:path";
import { dlopen } from "bun:ffi";
import { WhokilledError } from "../errors.ts";
import { log } from "../log.ts";
import type { GapLine, RecordLine } from "../schema.ts";
import { LineSplitter } from "./lines.ts";
import { abortableSleep } from "../abortable-sleep.ts";

export const DEFAULT_TRACEFS_MOUNT = "/sys/kernel/tracing";
/** SIGCHLD (17) fires on every child exit and says nothing about who killed whom. */
export const DEFAULT_SIGNAL_FILTER = "sig != 17";

const MARKER = ": signal_generate: ";
const IDLE_SLEEP_MIN_MS = 1;
const IDLE_SLEEP_MAX_MS = 20;
const READ_BUFFER_BYTES = 64 * 1024;

/** Trace clocks we can convert to wall time, with their clock_gettime ids. */
const CLOCKS = [
  { name: "boot", id: 7 }, // CLOCK_BOOTTIME: also counts suspend, like the wall clock
  { name: "mono", id: 1 }, // CLOCK_MONOTONIC
] as const;

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Where tracefs is mounted now, or null. */
export function findTracefs(mounts = safeRead("/proc/mounts")): string | null {
  let found: string | null = null;
  for (const line of mounts.split("\n")) {
    const [, mountPoint, type] = line.split(" ");
    if (type !== "tracefs" || !mountPoint) continue;
    const path = mountPoint.replace(/\\040/g, " ");
    if (path === DEFAULT_TRACEFS_MOUNT) return path;
    found ??= path;
  }
  return found;
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/** The tracefs mount point, mounting it at /sys/kernel/tracing when it is not mounted yet (left mounted). */
export function ensureTracefs(): string {
  const mounted = findTracefs();
  if (mounted) return mounted;
  if (!existsSync(DEFAULT_TRACEFS_MOUNT)) {
    throw new WhokilledError("E_KERNEL", `tracefs: ${DEFAULT_TRACEFS_MOUNT} does not exist; this kernel has no tracefs (CONFIG_TRACING)`);
  }
  const result = Bun.spawnSync(["mount", "-t", "tracefs", "nodev", DEFAULT_TRACEFS_MOUNT], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  if (result.exitCode !== 0) {
    const message = result.stderr.toString().trim() || `exit ${result.exitCode}`;
    const code = process.getuid?.() !== 0 || /permission|not permitted|only root/i.test(message) ? "E_PERM" : "E_KERNEL";
    throw new WhokilledError(code, `tracefs: mount -t tracefs nodev ${DEFAULT_TRACEFS_MOUNT} failed: ${message}`);
  }
  log.info(`tracefs: mounted at ${DEFAULT_TRACEFS_MOUNT}`);
  return DEFAULT_TRACEFS_MOUNT;
}

type ClockReader = (id: number) => number;
let clockReader: ClockReader | null = null;

/** Milliseconds on a POSIX clock (CLOCK_BOOTTIME, CLOCK_MONOTONIC), through libc. */
function clockMs(id: number): number {
  if (!clockReader) {
    const { symbols } = dlopen("libc.so.6", { clock_gettime: { args: ["i32", "ptr"], returns: "i32" } });
    const timespec = new BigInt64Array(2);
    clockReader = (clock) => {
      if (symbols.clock_gettime(clock, timespec) !== 0) throw new WhokilledError("E_KERNEL", `clock_gettime(${clock}) failed`);
      return Number(timespec[0]!) * 1000 + Number(timespec[1]!) / 1e6;
    };
  }
  return clockReader(id);
}

// Instances still to remove if the process exits without unwinding the
// generators (process.exit from elsewhere).
const liveInstances = new Map<string, () => void>();
let exitHooked = false;
function trackInstance(dir: string, cleanup: () => void): void {
  liveInstances.set(dir, cleanup);
  if (exitHooked) return;
  exitHooked = true;
  process.on("exit", () => {
    for (const remove of liveInstances.values()) remove();
    liveInstances.clear();
  });
}

function writeControl(path: string, value: string): void {
  writeFileSync(path, value);
}


/** Remove an instance directory; tracefs answers EBUSY while a reader is still closing. */
function removeInstanceDir(dir: string): void {
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOENT") return;
      if (code === "EBUSY" && attempt < 50) {
        Bun.sleepSync(10);
        continue;
      }
      log.warn(`tracefs: could not remove instance ${dir}: ${(error as Error).message}`);
      return;
    }
  }
}

export interface TracefsOptions {
  signal?: AbortSignal;
  /** Event filter for signal_generate; default `sig != 17` (drop SIGCHLD). Empty string: no filter. */
  filter?: string;
  /** Instance directory name; default `whokilled-PID-RAND`. */
  instanceName?: string;
  /** Called once the event is enabled: signals from then on will be seen. */
  onReady?: () => void;
  /**
   * Called when the ring buffer overflowed and the kernel dropped events
   * (trace_pipe's `CPU:N [LOST M EVENTS]`). Without it, the loss is logged.
   */
  onLost?: (gap: GapLine) => void;
  /** Per-CPU ring buffer size of the instance (buffer_size_kb); default: the kernel's. */
  bufferSizeKb?: number;
}

const INSTANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * One RecordLine (type SIGNAL_GENERATE) per signal the kernel generates,
 * until `signal` aborts or the consumer stops.
 */
export async function* tracefsRecords(options: TracefsOptions = {}): AsyncGenerator<RecordLine> {
  const { signal, filter = DEFAULT_SIGNAL_FILTER, onReady, onLost, bufferSizeKb } = options;
  if (bufferSizeKb !== undefined && !(Number.isInteger(bufferSizeKb) && bufferSizeKb > 0)) {
    throw new WhokilledError("E_USAGE", `tracefs: bufferSizeKb must be a positive integer, not ${bufferSizeKb}`);
  }
  const name = options.instanceName ?? `whokilled-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  if (!INSTANCE_NAME.test(name)) throw new WhokilledError("E_USAGE", `tracefs: bad instance name ${JSON.stringify(name)}`);
  if (signal?.aborted) return;

  const root = ensureTracefs();
  const dir = join(root, "instances", name);
  const enablePath = join(dir, "events", "signal", "signal_generate", "enable");
  try {
    mkdirSync(dir);
  } catch (error) {
    const code = errorCode(error);
    if (code === "EEXIST") throw new WhokilledError("E_USAGE", `tracefs: instance ${dir} already exists (another run, or a leftover: rmdir it)`);
    if (code === "EACCES" || code === "EPERM") throw new WhokilledError("E_PERM", `tracefs: cannot create ${dir}: needs root`);
    throw new WhokilledError("E_KERNEL", `tracefs: cannot create ${dir}: ${(error as Error).message}`, { cause: error });
  }

  let fd: number | null = null;
  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    liveInstances.delete(dir);
    try {
      writeControl(enablePath, "0");
    } catch {
      // The instance may be half made; removing it disables everything anyway.
    }
    if (fd !== null) {
      try {
        closeSync(fd);
      } catch {
        // Already closed.
      }
      fd = null;
    }
    removeInstanceDir(dir);
  };
  trackInstance(dir, cleanup);

  try {
    const clock = pickClock(join(dir, "trace_clock"));
    writeControl(join(dir, "trace_clock"), clock.name);
    if (bufferSizeKb !== undefined) writeControl(join(dir, "buffer_size_kb"), String(bufferSizeKb));
    if (!existsSync(enablePath)) throw new WhokilledError("E_KERNEL", "tracefs: this kernel has no signal:signal_generate tracepoint");
    if (filter.trim() !== "") {
      try {
        writeControl(join(dir, "events", "signal", "signal_generate", "filter"), filter);
      } catch (error) {
        // On a bad filter the kernel leaves its parse error in the filter file.
        const detail = safeRead(join(dir, "events", "signal", "signal_generate", "filter")).trim();
        throw new WhokilledError("E_USAGE", `tracefs: filter ${JSON.stringify(filter)} rejected: ${detail || (error as Error).message}`);
      }
    }
    fd = openSync(join(dir, "trace_pipe"), constants.O_RDONLY | constants.O_NONBLOCK);
    writeControl(enablePath, "1");
    onReady?.();

    const splitter = new LineSplitter();
    const buffer = Buffer.alloc(READ_BUFFER_BYTES);
    let counter = 0;
    let idle = IDLE_SLEEP_MIN_MS;
    while (!signal?.aborted) {
      let count: number;
      try {
        count = readSync(fd, buffer, 0, buffer.length, null);
      } catch (error) {
        const code = errorCode(error);
        if (code === "EAGAIN" || code === "EWOULDBLOCK") {
          await abortableSleep(idle, signal);
          idle = Math.min(idle * 2, IDLE_SLEEP_MAX_MS);
          continue;
        }
        if (code === "EINTR") continue;
        throw new WhokilledError("E_IO", `tracefs: reading ${dir}/trace_pipe: ${(error as Error).message}`, { cause: error });
      }
      if (count === 0) {
        await abortableSleep(idle, signal);
        idle = Math.min(idle * 2, IDLE_SLEEP_MAX_MS);
        continue;
      }
      idle = IDLE_SLEEP_MIN_MS;
      // One offset per batch: the age of each line is measured against the
      // trace clock, then placed on the wall clock as it is now.
      const offsetMs = Date.now() - clockMs(clock.id);
      const lines: string[] = [];
      splitter.push(Buffer.from(buffer.subarray(0, count)), (line) => lines.push(line.bytes.toString("utf8")));
      for (const raw of lines) {
        const at = raw.indexOf(MARKER);
        if (at < 0) {
          const gap = lostEvents(raw);
          if (gap && onLost) onLost(gap);
          else if (gap) log.warn(`tracefs: ${gap.reason}`);
          continue;
        }
        counter++;
        yield toRecord(raw, at, offsetMs, counter);
      }
    }
  } finally {
    cleanup();
  }
}

function pickClock(path: string): (typeof CLOCKS)[number] {
  // e.g. "[local] global counter uptime perf mono mono_raw boot x86-tsc tai"
  const available = new Set(safeRead(path).replace(/[[\]]/g, "").split(/\s+/));
  const clock = CLOCKS.find((c) => available.has(c.name));
  if (!clock) throw new WhokilledError("E_KERNEL", `tracefs: neither the boot nor the mono trace clock is available (${[...available].join(" ")})`);
  return clock;
}

const LOST = /^CPU:(\d+) \[LOST (\d+) EVENTS\]/;

/** trace_pipe's overflow notice → a GapLine; null for any other line. */
export function lostEvents(raw: string, now = new Date()): GapLine | null {
  const match = LOST.exec(raw.trim());
  if (!match) return null;
  return {
    kind: "gap",
    source: "tracefs",
    time: now.toISOString(),
    reason: `trace buffer overflow: the kernel dropped ${match[2]} events on CPU ${match[1]} (reader too slow; raise bufferSizeKb)`,
    lost: Number(match[2]),
  };
}

const TIMESTAMP = /(\d+)\.(\d+):$/;

function toRecord(raw: string, markerAt: number, offsetMs: number, counter: number): RecordLine {
  const stamp = TIMESTAMP.exec(raw.slice(0, markerAt + 1));
  // Microseconds in the line; milliseconds are all the id and ISO time keep.
  const clockMsValue = stamp ? Number(stamp[1]) * 1000 + Number(`0.${stamp[2]}`) * 1000 : Date.now() - offsetMs;
  const wall = Math.round(clockMsValue + offsetMs);
  const sec = Math.floor(wall / 1000);
  const ms = String(wall % 1000).padStart(3, "0");
  return {
    kind: "record",
    type: "SIGNAL_GENERATE",
    id: `${sec}.${ms}:${counter}`,
    node: null,
    raw,
    source: { file: "tracefs", line: counter },
    time: new Date(wall).toISOString(),
  };
}
