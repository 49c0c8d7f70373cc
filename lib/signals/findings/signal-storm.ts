/**
 * signal-storm: one killer sends many signals in a short time. Counted in
 * one-second slots per killer, so the state per killer is at most a few
 * windows' worth of slots whatever the rate. At most `maxKillers` killers
 * are followed (comm is the sender's to choose, so one process can be a new
 * killer at every signal): past that, the oldest killer that has sent one
 * signal, below any threshold that makes a storm, is let go, or the new one
 * is not followed; both are counted (`notKept`). A storm is then missed, or
 * counted one signal short, only if more than maxKillers other killers come
 * between its first and second signal.
 */
import { describeProcess, formatDuration, plural } from "../describe.ts";
import { blamedKiller, isoTime, signalName } from "../keys.ts";
import { BoundedMap, PidSet, Tally } from "../tally.ts";
import { defineDetector, type Finding, type FindingProcess, type ResolvedFindingOptions } from "./types.ts";

const TITLE = "Signal storm from one sender";
const MAX_PIDS = 10;
const RECENT_IDS = 5;

interface StormAcc {
  killer: FindingProcess;
  total: number;
  /** Sorted (second, count) slots; only the last few windows are kept. */
  slots: Array<[number, number]>;
  peak: number;
  peakStart: number;
  peakEnd: number;
  peakIds: string[];
  recent: string[];
  signals: Tally;
  targets: PidSet;
  targetsTruncated: boolean;
}

export interface StormState {
  windowSec: number;
  /** At most maxKillers; its notKept counts those let go or never followed. */
  killers: BoundedMap<StormAcc>;
}

/** Index of the first slot with second >= sec. */
function lowerBound(slots: Array<[number, number]>, sec: number): number {
  let lo = 0;
  let hi = slots.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (slots[mid]![0] < sec) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sumRange(slots: Array<[number, number]>, from: number, to: number): number {
  let sum = 0;
  for (let i = lowerBound(slots, from); i < slots.length && slots[i]![0] <= to; i++) sum += slots[i]![1];
  return sum;
}

export const signalStorm = defineDetector<StormState>({
  id: "signal-storm",
  title: TITLE,
  description: "One killer sends at least --storm-threshold signals within --storm-window seconds",
  init: (options: ResolvedFindingOptions) => ({
    windowSec: Math.max(1, options.stormWindowSec),
    // One signal, short of any threshold that makes a storm: a killer that may already have stormed never goes.
    killers: new BoundedMap<StormAcc>(options.maxKillers, (acc) => acc.killer.key, (acc) => acc.total === 1 && acc.peak < options.stormThreshold),
  }),
  observe(state, { signal, ms, killerKey: key }) {
    const who = blamedKiller(signal);
    let acc = state.killers.get(key);
    if (!acc) {
      if (!state.killers.makeRoom()) return;
      acc = {
        killer: { key, node: signal.node, pids: [], comm: who.comm, exe: who.exe, uid: who.uid, user: who.user },
        total: 0,
        slots: [],
        peak: 0,
        peakStart: 0,
        peakEnd: 0,
        peakIds: [],
        recent: [],
        signals: new Tally(),
        targets: new PidSet(),
        targetsTruncated: false,
      };
      state.killers.add(acc);
    }
    acc.total++;
    const name = signalName(signal.signal);
    acc.signals.bump(name);
    const pid = who.pid;
    if (pid !== null && !acc.killer.pids.includes(pid) && acc.killer.pids.length < MAX_PIDS) acc.killer.pids.push(pid);
    const target = signal.target.pid;
    if (target !== null && !acc.targets.has(target)) {
      if (acc.targets.size < 1000) acc.targets.add(target);
      else acc.targetsTruncated = true;
    }
    acc.recent.push(signal.id);
    if (acc.recent.length > RECENT_IDS) acc.recent.shift();
    if (ms === null) return;

    const w = state.windowSec;
    const sec = Math.floor(ms / 1000);
    const slots = acc.slots;
    const i = lowerBound(slots, sec);
    if (i < slots.length && slots[i]![0] === sec) slots[i]![1]++;
    else slots.splice(i, 0, [sec, 1]);
    // Both windows that contain this second at an edge: ending here, and (for late arrivals) starting here.
    const ending = sumRange(slots, sec - w + 1, sec);
    const starting = sumRange(slots, sec, sec + w - 1);
    if (ending > acc.peak || starting > acc.peak) {
      if (ending >= starting) {
        acc.peak = ending;
        acc.peakStart = sec - w + 1;
        acc.peakEnd = sec;
      } else {
        acc.peak = starting;
        acc.peakStart = sec;
        acc.peakEnd = sec + w - 1;
      }
      acc.peakIds = [...acc.recent];
    }
    // Keep a few windows so mildly out-of-order input (tracefs merged late) still counts.
    const newest = slots[slots.length - 1]![0];
    const drop = lowerBound(slots, newest - 3 * w);
    if (drop > 0) slots.splice(0, drop);
  },
  detect({ state, options }) {
    const findings: Finding[] = [];
    for (const acc of state.killers.values()) {
      if (acc.peak < options.stormThreshold) continue;
      const start = acc.peakStart * 1000;
      const end = acc.peakEnd * 1000 + 999;
      const rate = acc.peak / state.windowSec;
      const counts: Record<string, number> = { peak: acc.peak, windowSeconds: state.windowSec, total: acc.total, ...acc.signals.ranked() };
      findings.push({
        id: "signal-storm",
        title: TITLE,
        severity: "warning",
        headline:
          `${describeProcess(acc.killer)} sent ${plural(acc.peak, "signal")} within ${formatDuration(state.windowSec * 1000)} ` +
          `(${rate >= 10 ? Math.round(rate) : rate.toFixed(1)}/s; ${plural(acc.total, "signal")} in all, to ${acc.targets.size}${acc.targetsTruncated ? "+" : ""} ${acc.targets.size === 1 ? "PID" : "PIDs"})`,
        explanation:
          "One program is sending signals at a high rate. Common causes: a supervisor or watchdog stuck in a restart or kill loop, " +
          "a script that kills in a tight loop without waiting, or a program aiming at a PID that keeps being reused. " +
          "Every signal may end or disturb a process, and the load alone can hurt.",
        advice:
          "Look at this program's logs and configuration (restart policies, health checks, kill loops). " +
          "If it hits the same PID again and again, see the stale-pid and recycled-pid findings. " +
          `Adjust the limit with --storm-threshold (now ${options.stormThreshold}) and --storm-window (now ${state.windowSec} s) if this rate is expected.`,
        killer: { ...acc.killer, pids: [...acc.killer.pids].sort((a, b) => a - b) },
        target: acc.targets.size === 1 ? { pid: acc.targets.sorted()[0]! } : null,
        evidence: {
          count: acc.peak,
          first: isoTime(start),
          last: isoTime(end),
          examples: acc.peakIds.slice(0, options.maxExamples),
          counts,
          notes: [`Busiest window: ${isoTime(start)} to ${isoTime(end)}`],
        },
      });
    }
    return findings;
  },
});
