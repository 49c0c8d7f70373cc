/**
 * Bookkeeping shared by the findings about kernel-sent and self-inflicted
 * signals (tty-hangup, timer, resource-limit, self-inflicted): signals
 * grouped by what caused them, with their victims, the tasks that were
 * running when they were generated, times and example ids. Bounded: a few
 * victims and contexts per group, and MAX_CAUSE_GROUPS groups.
 */
import type { SignalLine } from "../../schema.ts";
import { isoTime, signalName, victimKey, victimsOf, widen } from "../keys.ts";
import { defineDetector, type DetectorSpec, type Finding, type FindingDetector, type ObservedSignal } from "./types.ts";

const MAX_VICTIMS = 10;
/** Contexts kept per group (blind-spot's context note keeps as many). */
export const MAX_CONTEXTS = 5;
export const MAX_CAUSE_GROUPS = 1000;

export interface TaskCount {
  pid: number | null;
  comm: string | null;
  count: number;
}

/** What every group of signals in a finding counts: how many, of which signals, when, and a few example ids. */
export interface SignalCounts {
  count: number;
  signals: Map<string, number>;
  first: number | null;
  last: number | null;
  examples: string[];
}

export function noSignals(): SignalCounts {
  return { count: 0, signals: new Map(), first: null, last: null, examples: [] };
}

/** One more signal named `name` (at `ms`, id `id`) in `group`, keeping at most `maxExamples` examples. */
export function countSignal(group: SignalCounts, name: string, ms: number | null, id: string, maxExamples: number): void {
  group.count++;
  group.signals.set(name, (group.signals.get(name) ?? 0) + 1);
  widen(group, ms);
  if (group.examples.length < maxExamples) group.examples.push(id);
}

export interface CauseGroup extends SignalCounts {
  /** The cause rule of the first signal (lib/tables/kernel-signals.ts). */
  rule: string;
  label: string;
  victims: Map<string, TaskCount>;
  moreVictims: number;
  /** Tasks that were running when the kernel generated the signals, other than the victim: context, never the sender. */
  contexts: Map<string, TaskCount>;
  /** The first signal's cause evidence (si_code, signal, context). */
  evidence: string[];
  settle: string | null;
  /** Named counts a module adds (e.g. hangup pairs). */
  counts: Record<string, number>;
}

export class CauseGroups {
  private readonly map = new Map<string, CauseGroup>();
  /** Signals not grouped because MAX_CAUSE_GROUPS was reached (the report's limits say how many). */
  notGrouped = 0;

  constructor(private readonly maxExamples: number) {}

  /** Count one signal in the group `key`, and under `tag` in its counts (none past MAX_CAUSE_GROUPS). */
  add(key: string, { signal, ms }: Pick<ObservedSignal, "signal" | "ms">, tag?: string): void {
    let group = this.map.get(key);
    if (!group) {
      if (this.map.size >= MAX_CAUSE_GROUPS) {
        this.notGrouped++;
        return;
      }
      group = {
        rule: signal.cause?.rule ?? "audit",
        label: signal.cause?.label ?? "",
        ...noSignals(),
        victims: new Map(),
        moreVictims: 0,
        contexts: new Map(),
        evidence: signal.cause?.evidence ?? [],
        settle: signal.cause?.settle ?? null,
        counts: {},
      };
      this.map.set(key, group);
    }
    countSignal(group, signalName(signal.signal), ms, signal.id, this.maxExamples);
    const victims = victimsOf(signal);
    for (const v of victims) bump(group.victims, victimKey(v, signal.node), v.pid, v.comm, MAX_VICTIMS, () => group.moreVictims++);
    const context = signal.context;
    if (context && !victims.some((v) => v.pid === context.pid)) bump(group.contexts, `${context.pid}\n${context.comm}`, context.pid, context.comm, MAX_CONTEXTS);
    if (tag !== undefined) group.counts[tag] = (group.counts[tag] ?? 0) + 1;
  }

  groups(): CauseGroup[] {
    return [...this.map.values()];
  }
}

/** A detector whose state is one CauseGroups: what it could not group goes to the report's limits. */
export function defineCauseDetector(detector: Pick<DetectorSpec<CauseGroups>, "id" | "title" | "observe" | "detect">): FindingDetector<CauseGroups> {
  return defineDetector({ ...detector, init: (options) => new CauseGroups(options.maxExamples), limits: (groups) => ({ causeSignalsNotGrouped: groups.notGrouped }) });
}

/** One more signal for the task `key` in `map`, which holds at most `max` tasks (`onFull` hears of one not kept). */
export function bump(map: Map<string, TaskCount>, key: string, pid: number | null, comm: string | null, max: number, onFull?: () => void): void {
  const acc = map.get(key);
  if (acc) acc.count++;
  else if (map.size < max) map.set(key, { pid, comm, count: 1 });
  else onFull?.();
}

export function taskList(tasks: Iterable<TaskCount>, more = 0): string {
  const sorted = [...tasks].sort((a, b) => b.count - a.count);
  const text = sorted.map((t) => `${t.pid === 0 ? "<idle>" : (t.comm ?? "?")}[${t.pid ?? "?"}]${t.count > 1 ? ` ×${t.count}` : ""}`).join(", ");
  return more > 0 ? `${text}, … (${more} more)` : text;
}

export function signalList(group: CauseGroup): string {
  return [...group.signals].sort((a, b) => b[1] - a[1]).map(([name]) => name).join("/");
}

/**
 * What a finding says of a group besides its words: no sender (the kernel or the process itself sent them), the one
 * victim's PID when there is one, and the evidence: counts per signal, times, examples, the cause's facts and the contexts.
 */
export function groupFacts(group: CauseGroup, notes: string[] = []): Pick<Finding, "killer" | "target" | "evidence"> {
  const counts: Record<string, number> = { signals: group.count, ...group.counts };
  for (const [name, count] of group.signals) counts[name] = count;
  const all = [`Hit: ${taskList(group.victims.values(), group.moreVictims)}`];
  if (group.evidence.length > 0) all.push(`What the kernel said: ${group.evidence.join("; ")}`);
  all.push(...notes);
  if (group.settle) all.push(`To settle it: ${group.settle}`);
  return {
    killer: null,
    target: group.victims.size === 1 && group.moreVictims === 0 ? { pid: [...group.victims.values()][0]!.pid } : null,
    evidence: { count: group.count, first: isoTime(group.first), last: isoTime(group.last), examples: group.examples, counts, notes: all },
  };
}

/** A group key: the rule plus whatever the module groups by, and the host. */
export function causeKey(signal: SignalLine, ...parts: Array<string | number | null>): string {
  return JSON.stringify([signal.cause?.rule ?? null, signal.node, ...parts]);
}
