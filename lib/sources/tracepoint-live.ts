/**
 * capture --tracepoints, live: the kill family's syscall tracepoints (enter
 * and exit), signal_generate and the task creation, rename and exec tracepoints, in one private
 * tracefs instance (lib/sources/tracefs.ts: its own name, removed on every
 * way out, a killed run's leftover removed by the next), turned into records
 * by CallMatcher (tracepoint-calls.ts), with /proc read while each sender
 * lives. No audit rule, no audit at all: this is the light way of watching.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { log } from "../log.ts";
import { clockTicksPerSecond, parseProcStatus, readExe, readProcStat, uptimeSeconds } from "../rules/blind-spots.ts";
import type { GapLine, RecordLine } from "../schema.ts";
import { CallMatcher, madeRecordLine, TRACED_CALLS, type CallMatcherStats, type MadeRecord, type SenderLookup, type VictimLookup } from "./tracepoint-calls.ts";
import { TRACEPOINT_TASK_EVENTS, type ProcView } from "./trace-tasks.ts";
import { tracefsLines, type TracefsExtraEvent, type TracefsLine } from "./tracefs.ts";
import { TRACEPOINTS_FILE } from "./tracefs-line.ts";

/**
 * SIGCHLD is generated at every child's exit (si_code CLD_*, > 0) and says
 * nothing of who killed whom; one a process sends (SI_USER, SI_QUEUE,
 * SI_TKILL: code <= 0) is a kill like any other and stays.
 */
export const TRACEPOINT_SIGNAL_FILTER = "sig != 17 || code <= 0";

/** The kill-family calls' enter (arguments) and exit (result, ESRCH included) tracepoints, with the marker each prints. */
export const TRACEPOINT_SYSCALL_EVENTS: readonly TracefsExtraEvent[] = TRACED_CALLS.flatMap((call) => [
  { path: `syscalls/sys_enter_${call}`, marker: `: sys_${call}(` },
  { path: `syscalls/sys_exit_${call}`, marker: `: sys_${call} -> ` },
]);

/** Every tracepoint the tracepoint way enables beside signal_generate (setup-rule's checks read its two halves). */
export const TRACEPOINT_EVENTS: readonly TracefsExtraEvent[] = [...TRACEPOINT_SYSCALL_EVENTS, ...TRACEPOINT_TASK_EVENTS];

export interface TracepointOptions {
  signal?: AbortSignal;
  /** Called once every tracepoint is enabled: kill calls from then on are seen. */
  onReady?: () => void;
  /** Per-CPU ring buffer size (buffer_size_kb); default 4096: a burst of kills is three lines each. */
  bufferSizeKb?: number;
  /** Instance directory name; default run-keys.ts runKey(). */
  instanceName?: string;
  /** Gets the matcher's counts when the capture ends (calls, unfinished, outside…). */
  onEnd?: (stats: CallMatcherStats) => void;
}

const DEFAULT_BUFFER_KB = 4096;
/** How long one poll(2) on the trace pipe may hold the thread: SIGINT and other sources wait at most this. */
const POLL_WAIT_MS = 10;
/** How often a quiet capture looks for calls whose exit line never came. */
const IDLE_CHECK_MS = 500;

/** The kernel's arch as audit names it: syscall tracepoints fire for the native ABI only. */
export function nativeArch(): string | null {
  const names: Record<string, string> = { x64: "x86_64", arm64: "aarch64", ia32: "i386", arm: "armeb", riscv64: "riscv64", ppc64: "ppc64le", s390x: "s390x" };
  return names[process.arch] ?? null;
}

/**
 * A SenderLookup over /proc: the process, its calling thread's comm, its
 * uid and euid, exe and argv. Read twice over its stat, so a PID that
 * changed hands while it was read is not mixed up; a zombie is gone.
 */
export function procLookup(root = "/proc", ticksPerSecond = clockTicksPerSecond()): SenderLookup {
  return (pid, tid) => {
    const dir = join(root, String(pid));
    try {
      const first = readProcStat(pid, root);
      if (first === null || first.state === "Z" || first.kernelThread) return null;
      let comm = first.comm;
      if (tid !== null) {
        try {
          comm = readFileSync(join(dir, "task", String(tid), "comm"), "utf8").replace(/\n$/, "");
        } catch {
          // The thread ended; the process's comm is all there is.
        }
      }
      const { uid, euid } = parseProcStatus(readFileSync(join(dir, "status"), "utf8"));
      const exe = readExe(pid, root);
      const cmdline = readFileSync(join(dir, "cmdline"));
      const again = readProcStat(pid, root);
      if (again === null || again.startTicks !== first.startTicks || again.state === "Z") return null;
      // Empty for a process on its way out (its memory is gone): not known, not an empty argv.
      const argv = cmdline.length === 0 ? null : cmdline.toString("utf8").replace(/\0$/, "").split("\0");
      return { pid, ppid: first.ppid, comm, start: first.startTicks / ticksPerSecond, uid, euid, exe, argv };
    } catch {
      return null;
    }
  };
}

/** A victim's start, comm and uid from /proc, a zombie's too (it keeps its PID and status until reaped). */
export function procVictimLookup(root = "/proc", ticksPerSecond = clockTicksPerSecond()): VictimLookup {
  return (pid) => {
    try {
      const stat = readProcStat(pid, root);
      if (stat === null) return null;
      const { uid, tgid } = parseProcStatus(readFileSync(join(root, String(pid), "status"), "utf8"));
      const again = readProcStat(pid, root);
      if (again === null || again.startTicks !== stat.startTicks) return null;
      return { start: stat.startTicks / ticksPerSecond, comm: stat.comm, uid, tgid };
    } catch {
      return null;
    }
  };
}

/** Ancestors change seldom and a burst of kills asks for the same ones thousands of times: kept this long. */
const ANCESTOR_CACHE_MS = 2000;

/** procLookup with the ancestors (tid null) remembered for a while; the sender itself is always read afresh. */
function cachedLookup(lookup: SenderLookup): SenderLookup {
  const cache = new Map<number, { at: number; view: ProcView | null }>();
  return (pid, tid) => {
    if (tid !== null) return lookup(pid, tid);
    const now = Date.now();
    const hit = cache.get(pid);
    if (hit && now - hit.at < ANCESTOR_CACHE_MS) return hit.view;
    const view = lookup(pid, null);
    if (cache.size > 4096) cache.clear();
    cache.set(pid, { at: now, view });
    return view;
  };
}

/**
 * One record per kill-family call (TRACEPOINT_KILL) and per signal no
 * traced call made (SIGNAL_GENERATE), with `gap` lines where the kernel
 * dropped lines, until `signal` aborts or the consumer stops. Every
 * record's source is `{file: "tracepoints", line: N}` and its id
 * `SEC.MS:N` (the call's wall time from the trace clock).
 */
export async function* tracepointRecords(options: TracepointOptions = {}): AsyncGenerator<RecordLine | GapLine> {
  const { signal, onReady, bufferSizeKb = DEFAULT_BUFFER_KB, instanceName, onEnd } = options;
  // Before tracing starts: the lookups ask getconf for the clock's rate.
  const lookup = cachedLookup(procLookup());
  const victimLookup = procVictimLookup();
  // Made in onReady (a callback TS does not follow: hence the cast).
  let matcher = null as CallMatcher | null;
  // Ours to abort when the consumer stops: tracefsLines sleeps on its signal between reads.
  const stop = new AbortController();
  const lines = tracefsLines({
    signal: signal ? AbortSignal.any([signal, stop.signal]) : stop.signal,
    filter: TRACEPOINT_SIGNAL_FILTER,
    instanceName,
    bufferSizeKb,
    extraEvents: TRACEPOINT_EVENTS,
    recordTgid: true,
    // Woken as each line comes: a short-lived sender's /proc is read before it is gone more often.
    pollWaitMs: POLL_WAIT_MS,
    onReady: () => {
      // After every tracepoint is on: a process started before this has no creation line to be seen.
      matcher = new CallMatcher({ lookup, victimLookup, tracingSince: uptimeSeconds(), arch: nativeArch() });
      onReady?.();
    },
  });

  let counter = 0;
  // Trace clock to wall clock: the offset tracefs.ts measured for the last line's batch (one per read).
  let offsetMs = Date.now() - uptimeSeconds() * 1000;
  const toRecord = (made: MadeRecord): RecordLine => madeRecordLine(made, ++counter, offsetMs);

  let next: Promise<IteratorResult<TracefsLine | GapLine>> | null = null;
  try {
    for (;;) {
      next ??= lines.next();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<"idle">((resolve) => (timer = setTimeout(() => resolve("idle"), IDLE_CHECK_MS)));
      const result = await Promise.race([next, idle]);
      clearTimeout(timer);
      if (result === "idle") {
        // Quiet: a call whose exit line was lost must not wait for the next line to be written.
        if (matcher) for (const made of matcher.expire(uptimeSeconds())) yield toRecord(made);
        continue;
      }
      next = null;
      if (result.done) break;
      if (result.value.kind === "gap") {
        // The ring buffer overflowed (`[LOST N EVENTS]`): yielded in line, as a gap of source `tracepoints`.
        const gap = result.value;
        yield { ...gap, source: TRACEPOINTS_FILE, reason: `${gap.reason}; kill calls and signals in it are not seen` };
        continue;
      }
      if (!matcher) continue;
      offsetMs = result.value.offsetMs;
      for (const made of matcher.line(result.value.record.raw)) yield toRecord(made);
      for (const made of matcher.expire()) yield toRecord(made);
    }
    // Stopped (signal): the calls still open are written, unfinished.
    if (matcher) for (const made of matcher.flush()) yield toRecord(made);
  } finally {
    if (matcher) {
      onEnd?.(matcher.stats);
      if (matcher.stats.unreadable > 0) log.warn(`tracepoints: ${matcher.stats.unreadable} trace lines did not read`);
    }
    // The reader waits on its signal alone: stop it, so its instance is removed now, not at the next line.
    stop.abort();
    await lines.return(undefined);
  }
}
