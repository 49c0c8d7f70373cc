/**
 * Every signal the kernel generates, from the `signal:signal_generate`
 * tracepoint in a private tracefs instance. This sees what audit never logs:
 * the OOM killer, SIGSEGV and other faults, SIGPIPE, tty hangups.
 *
 * The instance is ours alone (instances/whokilled-PID-START-RAND), so the
 * global trace and other users' instances are never touched. It is removed on
 * every way out: abort, the consumer stopping, an error, process.exit. Only
 * kill -9 (or a crash of the runtime) leaves it: the next run, and
 * setup-rule status / remove, find it by its owner's PID and start time.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, rmdirSync, writeFileSync, constants } from "node:fs";
import { join } from "node:path";
import { WhokilledError } from "../errors.ts";
import { log } from "../log.ts";
import { ownerGone, runKey } from "../rules/run-keys.ts";
import type { GapLine, RecordLine } from "../schema.ts";
import { LineSplitter } from "./lines.ts";
import { abortableSleep } from "./abortable-sleep.ts";
import { ownRecordLine } from "./own-record.ts";
import { lib } from "./libc.ts";
import { readable } from "./poll.ts";
import { parseTraceHead, SIGNAL_GENERATE, SIGNAL_GENERATE_EVENT, type TraceHead } from "./tracefs-line.ts";

export const DEFAULT_TRACEFS_MOUNT = "/sys/kernel/tracing";
/** SIGCHLD (17) fires on every child exit and says nothing about who killed whom. */
export const DEFAULT_SIGNAL_FILTER = "sig != 17";

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

/** struct timespec { time_t tv_sec; long tv_nsec; }, reused. */
const timespec = new BigInt64Array(2);

/** Milliseconds on a POSIX clock (CLOCK_BOOTTIME, CLOCK_MONOTONIC), through libc (libc.ts). */
function clockMs(id: number): number {
  let c: ReturnType<typeof lib>;
  try {
    c = lib();
  } catch (error) {
    throw new WhokilledError("E_KERNEL", `tracefs: cannot read the trace clock: ${(error as Error).message}`, { cause: error });
  }
  if (c.clock_gettime(id, timespec) !== 0) throw new WhokilledError("E_KERNEL", `clock_gettime(${id}) failed`);
  return Number(timespec[0]!) * 1000 + Number(timespec[1]!) / 1e6;
}

// Instances still to remove if the process exits without unwinding the
// generators (process.exit from elsewhere).
const liveInstances = new Set<() => void>();
let exitHooked = false;
/** `cleanup` made to run once, also at process exit if nothing ran it before; returns it. */
function trackInstance(cleanup: () => void): () => void {
  // Out of the set at its first run: a second finds it gone and does nothing.
  const once = () => {
    if (liveInstances.delete(once)) cleanup();
  };
  liveInstances.add(once);
  if (exitHooked) return once;
  exitHooked = true;
  process.on("exit", () => {
    for (const remove of liveInstances) remove();
  });
  return once;
}

/**
 * Disable every event of an instance (the syscall tracepoints cost every
 * process while on), then `beforeRemove` (its reader closed), then remove it;
 * tracefs answers EBUSY to the rmdir while a reader is still closing.
 */
function disableAndRemove(dir: string, beforeRemove?: () => void): void {
  try {
    writeFileSync(join(dir, "events", "enable"), "0");
  } catch {
    // Gone meanwhile, or half made: rmdir tells.
  }
  beforeRemove?.();
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
  /** Instance directory name; default `whokilled-PID-START-RAND` (run-keys.ts runKey()). */
  instanceName?: string;
  /** Called once the event is enabled: signals from then on will be seen. */
  onReady?: () => void;
  /** Per-CPU ring buffer size of the instance (buffer_size_kb); default: the kernel's. */
  bufferSizeKb?: number;
  /**
   * More tracepoints to enable in the same instance (watch: process exits,
   * exit codes, OOM victims). Their lines come out in order with the signals,
   * as records of type TRACEFS_EVENT; without this only signal_generate's.
   */
  extraEvents?: readonly TracefsExtraEvent[];
  /** Show each task's thread group id beside its thread id (options/record-tgid): `comm-TID (TGID) [CPU]`. */
  recordTgid?: boolean;
  /**
   * On an empty trace_pipe, wait in poll(2) up to this many ms, waking as a
   * line comes, instead of sleeping a growing pause: for a reader that must
   * act while the line's task still lives (tracepoints reads its /proc). It
   * holds the thread that long at a time. Default 0: sleep.
   */
  pollWaitMs?: number;
}

/** A tracepoint beside signal_generate (TracefsOptions.extraEvents). */
export interface TracefsExtraEvent {
  /** SYSTEM/EVENT under events/, e.g. `sched/sched_process_exit`. */
  path: string;
  /** What starts the event's part of a trace_pipe line: `: sched_process_exit: `; syscall events print `: sys_exit_group(`. */
  marker: string;
  filter?: string;
}

const INSTANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** Our instances: whokilled-PID-START-RAND, and whokilled-PID-RAND as named before the start time was recorded. */
const OWN_INSTANCE = /^whokilled-(\d+)-(?:(\d+)-)?([a-z0-9]{1,12})$/;

/** A whokilled instance whose owner is gone (or whose PID now belongs to another process). */
export interface LeftInstance {
  dir: string;
  pid: number;
  why: string;
}

/**
 * whokilled instances under the tracefs mount whose owner is gone: its PID
 * has no process, or one that started at another time (the PID was reused).
 * An instance named otherwise, or whose owner lives, is never listed. With
 * no tracefs mounted there is nothing to find (nothing is mounted for it).
 */
export function leftInstances(root: string | null = findTracefs()): LeftInstance[] {
  if (root === null) return [];
  let names: string[];
  try {
    names = readdirSync(join(root, "instances"));
  } catch {
    return [];
  }
  const left: LeftInstance[] = [];
  for (const name of names.sort()) {
    const own = OWN_INSTANCE.exec(name);
    if (!own) continue;
    const pid = Number(own[1]);
    if (!Number.isSafeInteger(pid) || pid <= 0) continue;
    const gone = ownerGone(pid, own[2] === undefined ? undefined : Number(own[2]));
    if (gone === null) continue; // The owner lives (or, named without a start time, its PID is taken): not ours to judge.
    const why = gone === "gone" ? `its owner, PID ${pid}, is gone` : `its owner, PID ${pid}, is gone (the PID now belongs to a process started later)`;
    left.push({ dir: join(root, "instances", name), pid, why });
  }
  return left;
}

/** Remove instances a killed run left (leftInstances): every event disabled, then rmdir; each said on stderr. Returns what was removed. */
export function removeLeftInstances(root: string | null = findTracefs()): LeftInstance[] {
  const removed: LeftInstance[] = [];
  for (const left of leftInstances(root)) {
    disableAndRemove(left.dir);
    if (existsSync(left.dir)) continue;
    log.warn(`tracefs: removed instance ${left.dir} left by a killed run: ${left.why}`);
    removed.push(left);
  }
  return removed;
}

/** Where a new instance goes, tracefs mounted and what killed runs left removed first. */
function newInstanceDir(name: string): string {
  const root = ensureTracefs();
  removeLeftInstances(root);
  return join(root, "instances", name);
}

/** A private instance with events enabled that nothing reads: bench/overhead.ts measures what enabling them costs every process. */
export interface QuietInstance {
  dir: string;
  /** Disable every event and remove the instance (also done at process exit if not called). */
  remove(): void;
}

/** Make a private instance (run-keys.ts runKey()) and enable `events` (SYSTEM/EVENT, each with an optional filter) in it. */
export function openQuietInstance(events: readonly { path: string; filter?: string }[]): QuietInstance {
  const dir = newInstanceDir(runKey());
  try {
    mkdirSync(dir);
  } catch (error) {
    const code = errorCode(error);
    throw new WhokilledError(code === "EACCES" || code === "EPERM" ? "E_PERM" : "E_KERNEL", `tracefs: cannot make instance ${dir}: ${(error as Error).message}`);
  }
  const remove = trackInstance(() => disableAndRemove(dir));
  try {
    for (const event of events) {
      if (event.filter) writeFileSync(join(dir, "events", event.path, "filter"), event.filter);
      writeFileSync(join(dir, "events", event.path, "enable"), "1");
    }
  } catch (error) {
    remove();
    throw new WhokilledError("E_KERNEL", `tracefs: cannot enable an event in ${dir}: ${(error as Error).message}`);
  }
  return { dir, remove };
}

/** One trace_pipe line: its record, and its batch's offset from the trace clock to the wall clock. */
export interface TracefsLine {
  kind: "line";
  record: RecordLine;
  /** Wall-clock ms minus trace-clock ms, measured when this line's batch was read: a trace time `t` s is at `t * 1000 + offsetMs`. */
  offsetMs: number;
}

/**
 * One RecordLine (type SIGNAL_GENERATE) per signal the kernel generates,
 * until `signal` aborts or the consumer stops. Where the ring buffer
 * overflowed and the kernel dropped events (trace_pipe's `CPU:N [LOST M
 * EVENTS]`), a GapLine (source `tracefs`) comes in its place in the stream.
 */
export function tracefsRecords(options: TracefsOptions = {}): AsyncGenerator<RecordLine | GapLine> {
  return readInstance(options, (record) => record);
}

/** tracefsRecords, each record with its batch's clock offset: for a reader that places times of its own (tracepoints). Gaps come as in tracefsRecords. */
export function tracefsLines(options: TracefsOptions = {}): AsyncGenerator<TracefsLine | GapLine> {
  return readInstance(options, (record, offsetMs) => ({ kind: "line", record, offsetMs }));
}

async function* readInstance<T>(options: TracefsOptions, make: (record: RecordLine, offsetMs: number) => T): AsyncGenerator<T | GapLine> {
  const { signal, filter = DEFAULT_SIGNAL_FILTER, onReady, bufferSizeKb, extraEvents = [], recordTgid = false, pollWaitMs = 0 } = options;
  // Checked here, where they become a directory and a kernel setting: a name must not leave the instances folder.
  if (bufferSizeKb !== undefined && !(Number.isInteger(bufferSizeKb) && bufferSizeKb > 0)) {
    throw new WhokilledError("E_USAGE", `tracefs: bufferSizeKb must be a positive integer, not ${bufferSizeKb}`);
  }
  const name = options.instanceName ?? runKey();
  if (!INSTANCE_NAME.test(name)) throw new WhokilledError("E_USAGE", `tracefs: bad instance name ${JSON.stringify(name)}`);
  if (signal?.aborted) return;

  const dir = newInstanceDir(name);
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
  const cleanup = trackInstance(() =>
    disableAndRemove(dir, () => {
      if (fd === null) return;
      try {
        closeSync(fd);
      } catch {
        // Already closed.
      }
    }),
  );

  try {
    const clock = pickClock(join(dir, "trace_clock"));
    writeFileSync(join(dir, "trace_clock"), clock.name);
    if (bufferSizeKb !== undefined) writeFileSync(join(dir, "buffer_size_kb"), String(bufferSizeKb));
    if (!existsSync(enablePath)) throw new WhokilledError("E_KERNEL", "tracefs: this kernel has no signal:signal_generate tracepoint");
    if (filter.trim() !== "") writeFilter(join(dir, "events", "signal", "signal_generate"), filter, "");
    if (recordTgid) writeFileSync(join(dir, "options", "record-tgid"), "1");
    for (const extra of extraEvents) enableExtraEvent(dir, extra);
    // What each event's text starts with, after the head (its marker without the leading `: `).
    const extraNames = extraEvents.map((extra) => extra.marker.replace(/^: /, ""));
    fd = openSync(join(dir, "trace_pipe"), constants.O_RDONLY | constants.O_NONBLOCK);
    writeFileSync(enablePath, "1");
    onReady?.();

    const splitter = new LineSplitter();
    const buffer = Buffer.alloc(READ_BUFFER_BYTES);
    let counter = 0;
    let idle = IDLE_SLEEP_MIN_MS;
    while (!signal?.aborted) {
      // 0: nothing to read yet (EAGAIN on the non-blocking pipe).
      let count = 0;
      try {
        count = readSync(fd, buffer, 0, buffer.length, null);
      } catch (error) {
        const code = errorCode(error);
        if (code === "EINTR") continue;
        if (code !== "EAGAIN" && code !== "EWOULDBLOCK") throw new WhokilledError("E_IO", `tracefs: reading ${dir}/trace_pipe: ${(error as Error).message}`, { cause: error });
        if (pollWaitMs > 0) {
          const ready = readable(fd, pollWaitMs);
          if (ready === true) continue;
          // Nothing yet: the event loop gets its turn between waits (signals, other sources).
          if (ready === false) {
            await abortableSleep(IDLE_SLEEP_MIN_MS, signal);
            continue;
          }
        }
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
        // A signal_generate line, an extra event's (TRACEFS_EVENT), else perhaps the overflow notice (a gap, yielded in its place).
        // The head is read once, and the event named by the text after it: a comm may hold any marker.
        const line = parseTraceHead(raw);
        const type = line === null ? null : eventType(line.body, extraNames);
        if (line !== null && type !== null) {
          yield make(toRecord(raw, line.head, offsetMs, ++counter, type), offsetMs);
          continue;
        }
        const gap = lostEvents(raw);
        if (gap) yield gap;
        else if (line === null && raw.trim() !== "") log.warn(`tracefs: a trace_pipe line with no head, not read: ${JSON.stringify(raw.slice(0, 200))}`);
      }
    }
  } finally {
    cleanup();
  }
}

/** The record type of a line's event text (the body after its head): SIGNAL_GENERATE, TRACEFS_EVENT for an extra event's, else null. */
function eventType(body: string, extraNames: readonly string[]): string | null {
  if (body.startsWith(SIGNAL_GENERATE_EVENT)) return SIGNAL_GENERATE;
  for (const name of extraNames) if (body.startsWith(name)) return "TRACEFS_EVENT";
  return null;
}

function enableExtraEvent(dir: string, extra: TracefsExtraEvent): void {
  const eventDir = join(dir, "events", ...extra.path.split("/"));
  if (!/^[a-z0-9_]+\/[a-z0-9_]+$/.test(extra.path) || !existsSync(join(eventDir, "enable"))) {
    throw new WhokilledError("E_KERNEL", `tracefs: this kernel has no ${extra.path} tracepoint`);
  }
  if (extra.filter !== undefined && extra.filter.trim() !== "") writeFilter(eventDir, extra.filter, ` on ${extra.path}`);
  writeFileSync(join(eventDir, "enable"), "1");
}

/** Set an event's filter (`on` names the event in the error); a bad one is a usage error. */
function writeFilter(eventDir: string, filter: string, on: string): void {
  try {
    writeFileSync(join(eventDir, "filter"), filter);
  } catch (error) {
    // On a bad filter the kernel leaves its parse error in the filter file.
    const detail = safeRead(join(eventDir, "filter")).trim();
    throw new WhokilledError("E_USAGE", `tracefs: filter ${JSON.stringify(filter)}${on} rejected: ${detail || (error as Error).message}`);
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

function toRecord(raw: string, head: TraceHead, offsetMs: number, counter: number, type: string): RecordLine {
  // Microseconds in the line; milliseconds are all the id and ISO time keep.
  return ownRecordLine(type, raw, { file: "tracefs", line: counter }, counter, Math.round(head.timestamp * 1000 + offsetMs));
}
