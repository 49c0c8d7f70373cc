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
import { describeProcess, formatDuration, formatSpan, plural } from "../describe.ts";
import { blamedKiller, isoTime, signalName } from "../keys.ts";
import { BoundedMap, PidSet, Tally } from "../tally.ts";
import { defineDetector, findingProcess, type FindingProcess, type ResolvedFindingOptions } from "./types.ts";

const MAX_PIDS = 10;
const RECENT_IDS = 5;

interface StormAcc {
  killer: FindingProcess;
  total: number;
  /** Sorted slots, one per second: [second, count, earliest ms, latest ms]; only the last few windows are kept. */
  slots: Slot[];
  peak: number;
  /** The busiest window's first and last signal (epoch ms): its rate is over this real span, not the window's length. */
  peakFirstMs: number;
  peakLastMs: number;
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

type Slot = [second: number, count: number, firstMs: number, lastMs: number];

/** Index of the first slot with second >= sec. */
function lowerBound(slots: Slot[], sec: number): number {
  let lo = 0;
  let hi = slots.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (slots[mid]![0] < sec) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The window of the seconds from..to becomes the killer's peak if it holds more signals than the peak so far. */
function raisePeak(acc: StormAcc, from: number, to: number): void {
  const slots = acc.slots;
  let sum = 0;
  let firstMs = Number.POSITIVE_INFINITY;
  let lastMs = Number.NEGATIVE_INFINITY;
  for (let i = lowerBound(slots, from); i < slots.length && slots[i]![0] <= to; i++) {
    const slot = slots[i]!;
    sum += slot[1];
    if (slot[2] < firstMs) firstMs = slot[2];
    if (slot[3] > lastMs) lastMs = slot[3];
  }
  if (sum <= acc.peak) return;
  acc.peak = sum;
  acc.peakFirstMs = firstMs;
  acc.peakLastMs = lastMs;
  acc.peakIds = [...acc.recent];
}

export const signalStorm = defineDetector<StormState>({
  id: "signal-storm",
  title: "Signal storm from one sender",
  init: (options: ResolvedFindingOptions) => ({
    windowSec: Math.max(1, options.stormWindowSec),
    // One signal, short of any threshold that makes a storm: a killer that may already have stormed never goes.
    killers: new BoundedMap<StormAcc>(options.maxKillers, (acc) => acc.killer.key, (acc) => acc.total === 1 && acc.peak < options.stormThreshold),
  }),
  limits: (state) => ({ stormKillersNotKept: state.killers.notKept }),
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
        peakFirstMs: 0,
        peakLastMs: 0,
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
    const existing = i < slots.length && slots[i]![0] === sec ? slots[i]! : null;
    if (existing) {
      existing[1]++;
      if (ms < existing[2]) existing[2] = ms;
      if (ms > existing[3]) existing[3] = ms;
    } else slots.splice(i, 0, [sec, 1, ms, ms]);
    // Both windows that contain this second at an edge: ending here, and (for late arrivals) starting here.
    raisePeak(acc, sec - w + 1, sec);
    raisePeak(acc, sec, sec + w - 1);
    // Keep a few windows so mildly out-of-order input (tracefs merged late) still counts.
    const newest = slots[slots.length - 1]![0];
    const drop = lowerBound(slots, newest - 3 * w);
    if (drop > 0) slots.splice(0, drop);
  },
  *detect({ state, options }) {
    for (const acc of state.killers.values()) {
      if (acc.peak < options.stormThreshold) continue;
      const start = acc.peakFirstMs;
      const end = acc.peakLastMs;
      const spanMs = end - start;
      // Signals per second over the real span (at least the 1 ms audit stamps resolve).
      const rate = (acc.peak * 1000) / Math.max(1, spanMs);
      const rateText = rate >= 10 ? Math.round(rate).toLocaleString("en-US") : rate.toFixed(1);
      const counts: Record<string, number> = { peak: acc.peak, windowSeconds: state.windowSec, spanMs, total: acc.total, ...acc.signals.ranked() };
      yield {
        severity: "warning",
        headline:
          `${describeProcess(acc.killer)} sent ${plural(acc.peak, "signal")} within ${formatSpan(spanMs)} ` +
          `(${rateText}/s; ${plural(acc.total, "signal")} in all, to ${acc.targets.size}${acc.targetsTruncated ? "+" : ""} ${acc.targets.size === 1 ? "PID" : "PIDs"})`,
        explanation:
          "One program is sending signals at a high rate. Common causes: a supervisor or watchdog stuck in a restart or kill loop, " +
          "a script that kills in a tight loop without waiting, or a program aiming at a PID that keeps being reused. " +
          "Every signal may end or disturb a process, and the load alone can hurt.",
        advice:
          "Look at this program's logs and configuration (restart policies, health checks, kill loops). " +
          "If it hits the same PID again and again, see the stale-pid and recycled-pid findings. " +
          `Adjust the limit with --storm-threshold (now ${options.stormThreshold}) and --storm-window (now ${state.windowSec} s) if this rate is expected.`,
        killer: findingProcess(acc.killer),
        target: acc.targets.size === 1 ? { pid: acc.targets.sorted()[0]! } : null,
        evidence: {
          count: acc.peak,
          first: isoTime(start),
          last: isoTime(end),
          examples: acc.peakIds.slice(0, options.maxExamples),
          counts,
          notes: [`Busiest ${formatDuration(state.windowSec * 1000)} window: first signal at ${isoTime(start)}, last at ${isoTime(end)}`],
        },
      };
    }
  },
});
