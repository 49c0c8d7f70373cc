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

/**
 * What a signal line's filters read, as numbers: for a writer that has not
 * made the SignalLine (lib/signals/signal-json.ts). `victimPids` holds
 * `victimCount` entries.
 */
export interface SignalFacts {
  targetPid: number | null;
  tid: number | undefined;
  victimPids: ReadonlyArray<number | null>;
  victimCount: number;
  signalNr: number;
  success: boolean | null;
  self: boolean;
  node: string | null;
  /** Audit time in epoch ms. */
  timeMs: number;
}

/**
 * compileSignalFilter for the filters that read only SignalFacts (probes,
 * --pid, --signal, --failed, --exclude-self, --node, --since/--until); null
 * when the options also filter on text (--victim-comm, --killer, --key), which
 * needs the SignalLine.
 */
export function compileFactFilter(options: SignalFilterOptions, window: SignalTimeWindow = timeWindow(options)): ((facts: SignalFacts) => boolean) | null {
  if (options.victimComm !== undefined || options.killer !== undefined || options.key !== undefined) return null;
  const probes = options.probes === true;
  const pid = options.pid;
  let nr: number | null = null;
  if (options.signal !== undefined) {
    nr = signalNumber(options.signal);
    if (nr === null) throw usageError(`--signal: unknown signal ${JSON.stringify(options.signal)} (try KILL, SIGTERM or 15)`);
  }
  const excludeSelf = options.excludeSelf === true;
  const node = options.node;
  const failed = options.failed === true;
  const { sinceMs, untilMs } = window;
  return (f) => {
    if (!probes && f.signalNr === 0) return false;
    if (pid !== undefined && f.targetPid !== pid && f.tid !== pid && !victimHas(f, pid)) return false;
    if (nr !== null && f.signalNr !== nr) return false;
    if (excludeSelf && f.self) return false;
    if (node !== undefined && f.node !== node) return false;
    if (failed && f.success !== false) return false;
    if (sinceMs !== undefined && !(f.timeMs >= sinceMs)) return false;
    if (untilMs !== undefined && !(f.timeMs < untilMs)) return false;
    return true;
  };
}

function victimHas(facts: SignalFacts, pid: number): boolean {
  for (let v = 0; v < facts.victimCount; v++) if (facts.victimPids[v] === pid) return true;
  return false;
}
