/**
 * Filters on signal lines (attribute's and report's shared flags), compiled
 * once into a predicate.
 */
import { usageError } from "../errors.ts";
import type { SignalLine } from "../schema.ts";
import { signalNumber } from "../tables/signals.ts";
import { isoMs, TIME_FORMS, parseTimeSpec } from "./time-spec.ts";
import { factsTid, signalNr } from "./keys.ts";
import type { SignalFacts } from "./signal-facts.ts";

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

/** A --since/--until value (lib/signals/time-spec.ts) → ms, relative to `now`. */
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

/** The filters compiled by compileFactFilter, over signal lines. */
export function signalFilter({ accept }: FactFilter): (signal: SignalLine) => boolean {
  return (signal) => accept(factsOf(signal));
}

/** A signal line's facts, for the filters. */
function factsOf(s: SignalLine): SignalFacts {
  return {
    killerPid: s.killer.pid,
    killerPpid: s.killer.ppid,
    pidfd: s.target.scope === "pidfd",
    callTarget: s.target.scope === "pidfd" ? (s.target.fd ?? null) : s.target.pid,
    scope: s.target.scope,
    targetPid: s.target.pid,
    pidFrom: s.target.pidFrom ?? null,
    tid: factsTid(s.target.tid),
    victimPids: s.victims.map((v) => v.pid),
    victimCount: s.victims.length,
    signalNr: signalNr(s.signal),
    probe: s.probe === true,
    success: s.result.success,
    self: s.self === true,
    node: s.node,
    timeMs: s.time === null ? Number.NaN : isoMs(s.time),
    killerComm: s.killer.comm,
    killerExe: s.killer.exe,
    victimComms: s.victims.map((v) => v.comm),
    key: s.key,
  };
}

export interface FactFilter {
  accept: (facts: SignalFacts) => boolean;
  /** The filters read comm, exe or key: the writer must fill those in. */
  needsText: boolean;
}

/** The filters over SignalFacts: attribute's and report's flags, compiled once. */
export function compileFactFilter(options: SignalFilterOptions, window: SignalTimeWindow = timeWindow(options)): FactFilter {
  const { pid, node, victimComm, killer, key } = options;
  const probes = options.probes === true;
  let nr: number | null = null;
  if (options.signal !== undefined) {
    nr = signalNumber(options.signal);
    if (nr === null) throw usageError(`--signal: unknown signal ${JSON.stringify(options.signal)} (try KILL, SIGTERM or 15)`);
  }
  const excludeSelf = options.excludeSelf === true;
  const failed = options.failed === true;
  const { sinceMs, untilMs } = window;
  const killerPid = killer !== undefined && /^\d+$/.test(killer) ? Number(killer) : null;
  const accept = (f: SignalFacts) => {
    if (!probes && f.probe) return false;
    if (pid !== undefined && f.targetPid !== pid && f.tid !== pid && !hasAmong(f.victimPids, f.victimCount, pid)) return false;
    if (nr !== null && f.signalNr !== nr) return false;
    if (excludeSelf && f.self) return false;
    if (node !== undefined && f.node !== node) return false;
    if (failed && f.success !== false) return false;
    if (sinceMs !== undefined && !(f.timeMs >= sinceMs)) return false;
    if (untilMs !== undefined && !(f.timeMs < untilMs)) return false;
    if (victimComm !== undefined && !hasAmong(f.victimComms, f.victimCount, victimComm)) return false;
    if (killer !== undefined && (killerPid !== null ? f.killerPid !== killerPid : f.killerComm !== killer && f.killerExe !== killer)) return false;
    if (key !== undefined && (f.key === null || !f.key.split(",").includes(key))) return false;
    return true;
  };
  return { accept, needsText: victimComm !== undefined || killer !== undefined || key !== undefined };
}

/** `wanted` among the first `count` values (a writer's lists are longer than their victims: no slice per signal). */
function hasAmong<T>(values: ReadonlyArray<T>, count: number, wanted: T): boolean {
  for (let v = 0; v < count; v++) if (values[v] === wanted) return true;
  return false;
}
