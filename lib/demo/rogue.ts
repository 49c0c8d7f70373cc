/**
 * The demo's "rogue": a stand-in for the original case's web server, which
 * sent SIGKILL to one fixed PID every few seconds whether or not anything
 * lived there (mostly ESRCH, now and then a victim).
 *
 * It must be harmless on a shared machine, so before every kill it looks at
 * the PID and goes ahead only when the PID is
 * - free (the ESRCH case, the point of the exercise), and not about to be
 *   handed out (the allocator's cursor is not just below it), or
 * - held by a process (not a thread) with the bait's comm that descends from
 *   the demo's own process (`ancestor`).
 * Anything else is skipped and reported. What remains is a window of
 * microseconds between the check and kill(2) in which the PID would have to
 * change hands; with the cursor check that takes a deliberate ns_last_pid
 * write aimed at this very PID by someone else.
 *
 * kill goes through process.kill, which Bun implements with the kill syscall
 * (x86_64 62) from the main thread, so audit logs it with the rogue's comm.
 */
import { writeFileSync } from "node:fs";
import { abortableSleep } from "../sources/abortable-sleep.ts";
import { usageError } from "../errors.ts";
import { aheadOfCursor, ancestorsOf, readLastPid, readPidMax, readPidStat } from "./pid-space.ts";
import { signalName, signalNumber } from "../tables/signals.ts";

export const DEFAULT_ROGUE_COMM = "rogue-httpd";

export interface RogueOptions {
  /** The one PID it keeps killing. */
  pid: number;
  /** A process at pid is fair game only with this comm … */
  baitComm: string;
  /** … and with this process among its ancestors (the demo). Must be the rogue's own ancestor or itself. */
  ancestor: number;
  /** Default 2000 ms, as the original web server did every few seconds. */
  intervalMs?: number;
  /** Stop after this long. Required: the rogue never runs open-ended. */
  forMs: number;
  /** What to send. Default SIGKILL. */
  sendSignal?: string;
  /** Stop when our parent is no longer this PID (it died and we were re-parented). */
  parentPid?: number;
  signal?: AbortSignal;
}

export type RogueAction = "killed" | "esrch" | "skipped" | "error";

export interface RogueAttempt {
  time: string;
  pid: number;
  signal: number;
  action: RogueAction;
  /** Why it skipped, or the errno of a failed kill. */
  reason?: string;
  /** The holder's comm when a process held the PID. */
  comm?: string;
}

export type Verdict = { go: true; state: "free" | "bait"; comm?: string } | { go: false; reason: string; comm?: string };

/** A free PID at most this many allocations after the cursor may be handed out any moment: not a target. */
const CURSOR_GUARD = 64;

/** Whether the rogue may send a signal to pid now. Pure reading of /proc; the rogue itself is never a target. */
export function rogueVerdict(pid: number, options: { baitComm: string; ancestor: number }): Verdict {
  if (pid <= 1) return { go: false, reason: "PID 1 and below are never targets" };
  if (pid === process.pid || pid === options.ancestor) return { go: false, reason: "that is the rogue or the demo itself" };
  const stat = readPidStat(pid);
  if (!stat) {
    const last = readLastPid();
    if (last !== null && aheadOfCursor(pid, last, readPidMax()) <= CURSOR_GUARD) {
      return { go: false, reason: `free, but the allocator is about to hand it out (last pid ${last})` };
    }
    return { go: true, state: "free" };
  }
  if (stat.tgid !== null && stat.tgid !== pid) return { go: false, reason: `a thread of ${stat.tgid}`, comm: stat.comm };
  if (stat.comm !== options.baitComm) {
    return { go: false, reason: `held by ${JSON.stringify(stat.comm)}, not the bait (${JSON.stringify(options.baitComm)})`, comm: stat.comm };
  }
  if (!ancestorsOf(pid).includes(options.ancestor)) {
    return { go: false, reason: `held by a ${JSON.stringify(stat.comm)} that is not a descendant of the demo (${options.ancestor})`, comm: stat.comm };
  }
  return { go: true, state: "bait", comm: stat.comm };
}

/** Set our comm (what audit's `comm=` shows for our syscalls). /proc/self/comm names the main thread. */
export function setOwnComm(name: string): void {
  writeFileSync("/proc/self/comm", name.slice(0, 15));
}

function validate(options: RogueOptions): number {
  if (!Number.isInteger(options.pid) || options.pid <= 1) throw usageError(`rogue: --pid must be a PID above 1, got ${options.pid}`);
  if (!Number.isInteger(options.ancestor) || options.ancestor <= 1) {
    throw usageError(`rogue: --ancestor must be the demo's PID (above 1), got ${options.ancestor}`);
  }
  // Naming some unrelated process as "the demo" would widen what counts as bait.
  if (options.ancestor !== process.pid && !ancestorsOf(process.pid).includes(options.ancestor)) {
    throw usageError(`rogue: --ancestor ${options.ancestor} is not among the rogue's own ancestors`);
  }
  if (options.baitComm === "") throw usageError("rogue: --bait-comm must not be empty");
  if (!(options.forMs > 0) || !Number.isFinite(options.forMs)) throw usageError("rogue: --for must be a positive number of seconds");
  const nr = signalNumber(options.sendSignal ?? "SIGKILL");
  if (nr === null || nr < 1 || nr > 64) throw usageError(`rogue: unknown signal ${String(options.sendSignal)}`);
  return nr;
}

/** Kill pid every intervalMs for forMs; yields one attempt per tick. */
export async function* rogue(options: RogueOptions): AsyncGenerator<RogueAttempt> {
  const sig = validate(options);
  const intervalMs = options.intervalMs ?? 2000;
  const deadline = Date.now() + options.forMs;
  const stopped = () =>
    options.signal?.aborted === true || Date.now() >= deadline || (options.parentPid !== undefined && readPidStat(process.pid)?.ppid !== options.parentPid);
  while (!stopped()) {
    const attempt: RogueAttempt = { time: new Date().toISOString(), pid: options.pid, signal: sig, action: "skipped" };
    const verdict = rogueVerdict(options.pid, options);
    if (verdict.comm !== undefined) attempt.comm = verdict.comm;
    if (!verdict.go) attempt.reason = verdict.reason;
    else {
      try {
        process.kill(options.pid, sig);
        attempt.action = "killed";
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? String(error);
        attempt.action = code === "ESRCH" ? "esrch" : "error";
        if (code !== "ESRCH") attempt.reason = code;
      }
    }
    yield attempt;
    // Sleep in short steps so a dead parent or the deadline ends us promptly.
    const wake = Math.min(deadline, Date.now() + intervalMs);
    while (Date.now() < wake && !stopped()) await abortableSleep(Math.min(100, wake - Date.now()), options.signal);
  }
}

/**
 * Wait for the go: the first bytes on `input` (true), or its end or an abort
 * first (false). The demo starts the rogue before its pipeline listens, so
 * that the pipeline can be told the rogue's pid, and gives the go once it does.
 */
export async function waitForGo(input: ReadableStream<Uint8Array>, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return false;
  const reader = input.getReader();
  let onAbort = () => {};
  const aborted = new Promise<false>((resolve) => {
    onAbort = () => resolve(false);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([reader.read().then((chunk) => !chunk.done), aborted]);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    // A read still pending would keep us alive after an abort.
    void reader.cancel().catch(() => {});
  }
}

/** One line for people: `kill(26880, SIGKILL) = -1 ESRCH`. */
export function describeAttempt(a: RogueAttempt): string {
  const call = `kill(${a.pid}, ${signalName(a.signal) ?? a.signal})`;
  switch (a.action) {
    case "killed":
      return `${call} = 0 (${a.comm ?? "?"})`;
    case "esrch":
      return `${call} = -1 ESRCH`;
    case "error":
      return `${call} = -1 ${a.reason ?? ""}`;
    case "skipped":
      return `skip ${call}: ${a.reason ?? ""}`;
  }
}
