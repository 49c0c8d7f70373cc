/**
 * The ways of watching for kills:
 *
 *   audit        the kill-family audit rules (build.ts): complete (64- and
 *                32-bit callers, uid, auid, session, ESRCH attempts), but
 *                while any syscall rule is loaded every syscall of every
 *                process takes audit's slow path;
 *   tracepoints  the kernel's tracepoints in a private tracefs instance that
 *                lives only while capture runs: nothing is installed, and it
 *                costs the host little;
 *   both         the two side by side.
 *
 * setup-rule, the demo and watch take one (lib/cli/args.ts `wayArgs`). This
 * module is light (every script loads it through args.ts); what a way needs
 * and whether this host has it is way-check.ts.
 */
import { usageError } from "../errors.ts";
import type { WatchWay } from "../schema.ts";

export type { WatchWay };
export const WATCH_WAYS: readonly WatchWay[] = ["audit", "tracepoints", "both"];
export const DEFAULT_WATCH_WAY: WatchWay = "audit";

/** `--way`'s value; a usage error naming the choices otherwise. */
export function parseWatchWay(text: string | undefined): WatchWay {
  if (text === undefined || text === "") return DEFAULT_WATCH_WAY;
  const way = WATCH_WAYS.find((w) => w === text.trim());
  if (!way) throw usageError(`--way must be audit, tracepoints or both, got ${JSON.stringify(text)}`);
  return way;
}

/** Which mechanisms a way uses. */
export function wayUses(way: WatchWay): { audit: boolean; tracepoints: boolean } {
  return { audit: way !== "tracepoints", tracepoints: way !== "audit" };
}

/** What each way gives and what it cannot see, for people (status lines, --help). */
export const WAY_GIVES: Readonly<Record<WatchWay, string>> = {
  audit:
    "complete: every kill-family call from 64- and 32-bit callers, ESRCH attempts on a free PID included, with the sender's uid, auid, session, exe and argv as the kernel logged them; " +
    "the rules stay until removed, and while any syscall rule is loaded every syscall of every process takes audit's slow path",
  tracepoints:
    "light: the six calls' syscall tracepoints (arguments, result, ESRCH included), signal_generate (victims, and the signals the kernel sends itself) and the exec and task tracepoints (the sender's program, name and parents); " +
    "nothing is installed, a private tracefs instance lives only while capture runs; " +
    "cannot see: on x86_64 a 32-bit caller's call (its delivered signal still shows in signal_generate, a failed one not at all), auid and session, and uid or argv of a sender gone before /proc is read",
  both: "audit's record and the tracepoints' side by side: what one misses the other may show; costs what audit costs",
};

