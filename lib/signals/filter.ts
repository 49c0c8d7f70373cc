/**
 * Filters on signal lines (attribute's and report's shared flags), compiled
 * once into a predicate.
 */
import { usageError } from "../errors.ts";
import type { SignalLine } from "../schema.ts";
import { signalNumber } from "../tables/signals.ts";
import { isoMs, TIME_FORMS, parseTimeSpec } from "../time-spec.ts";

export interface SignalFilterOptions {
  pid?: number;
  victimComm?: string;
  killer?: string;
  signal?: string;
  failed?: boolean;
  since?: string;
  until?: string;
  probes?: boolean;
  /** Only signals logged under this audit rule key. */
  key?: string;
  /** Drop signals a process sent to itself or its own threads. */
  excludeSelf?: boolean;
  /** Only signals from this host of a gathered log (`node=NAME`). */
  node?: string;
}

/** Only signals at or after `sinceMs` and before `untilMs`, when given: --since/--until read once. */
export interface SignalTimeWindow {
  sinceMs?: number;
  untilMs?: number;
}

/** A --since/--until value (lib/time-spec.ts) → ms, relative to `now`. */
function parseTimeFlag(value: string, flag: string, now: Date): number {
  const ms = parseTimeSpec(value, now);
  if (ms === null) throw usageError(`--${flag}: expected ${TIME_FORMS}; got ${JSON.stringify(value)}`);
  return ms;
}

/** The options' --since/--until as times, `now` being the one instant `2h` or `today` are counted from. */
export function timeWindow(options: Pick<SignalFilterOptions, "since" | "until">, now = new Date()): SignalTimeWindow {
  return {
    sinceMs: options.since === undefined ? undefined : parseTimeFlag(options.since, "since", now),
    untilMs: options.until === undefined ? undefined : parseTimeFlag(options.until, "until", now),
  };
}

/** `window`: the options' times, read already (the prefilter uses the same). */
export function compileSignalFilter(options: SignalFilterOptions, window: SignalTimeWindow = timeWindow(options)): (signal: SignalLine) => boolean {
  const checks: Array<(s: SignalLine) => boolean> = [];
  if (!options.probes) checks.push((s) => s.probe !== true);
  if (options.pid !== undefined) {
    const pid = options.pid;
    checks.push((s) => s.target.pid === pid || s.target.tid === pid || s.victims.some((v) => v.pid === pid));
  }
  if (options.victimComm !== undefined) {
    const comm = options.victimComm;
    checks.push((s) => s.victims.some((v) => v.comm === comm));
  }
  if (options.killer !== undefined) {
    const who = options.killer;
    const pid = /^\d+$/.test(who) ? Number(who) : null;
    checks.push((s) => (pid !== null ? s.killer.pid === pid : s.killer.comm === who || s.killer.exe === who));
  }
  if (options.signal !== undefined) {
    const nr = signalNumber(options.signal);
    if (nr === null) throw usageError(`--signal: unknown signal ${JSON.stringify(options.signal)} (try KILL, SIGTERM or 15)`);
    checks.push((s) => s.signal.nr === nr);
  }
  if (options.key !== undefined) {
    const key = options.key;
    checks.push((s) => s.key !== null && s.key.split(",").includes(key));
  }
  if (options.excludeSelf) checks.push((s) => s.self !== true);
  if (options.node !== undefined) {
    const node = options.node;
    checks.push((s) => s.node === node);
  }
  if (options.failed) checks.push((s) => s.result.success === false);
  const { sinceMs, untilMs } = window;
  if (sinceMs !== undefined) checks.push((s) => s.time !== null && isoMs(s.time) >= sinceMs);
  if (untilMs !== undefined) checks.push((s) => s.time !== null && isoMs(s.time) < untilMs);
  return (signal) => checks.every((check) => check(signal));
}
