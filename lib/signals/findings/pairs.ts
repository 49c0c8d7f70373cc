/**
 * Per (killer, target PID) bookkeeping shared by stale-pid and recycled-pid:
 * both ask "what happened every time this killer aimed at this PID?". One
 * table serves both (see `definePairDetector`), and a pair holds only counts
 * and a few ids, since a busy host can have many thousands of pairs.
 *
 * A supervisor that kills each child it started once makes a new pair per
 * kill: a month of that is millions of pairs, about 0.5 KB each. So the
 * table holds at most `maxPairs` (20,000 unless an option says). Past that,
 * a new pair takes the place of the oldest pair hit only once, which no
 * finding could come from yet; if every pair has been hit again, the new
 * one is not kept. Both are counted (`notKept`) and the report says so. A
 * stale PID is then missed only if its killer comes back to it after more
 * than maxPairs other new PIDs. A killer is kept only while it has a pair,
 * so killers too are bounded by maxPairs.
 */
import type { SignalLine } from "../../schema.ts";
import { blamedKiller, isEsrch, isoTime, signalName, victimsOf, widen } from "../keys.ts";
import { EvictionOrder } from "../tally.ts";
import { defineSharedDetector, findingProcess, type DetectorSpec, type Finding, type FindingDetector, type FindingProcess, type ObservedSignal } from "./types.ts";

const MAX_PIDS = 10;
const MAX_HOLDERS = 20;

export interface Holder {
  comm: string | null;
  uid: number | null;
  user: string | null;
  count: number;
  firstId: string;
}

export interface PairAcc {
  /** Shared by every pair of the same killer. */
  killer: FindingProcess;
  targetPid: number;
  total: number;
  success: number;
  esrch: number;
  otherFailure: number;
  signals: Record<string, number>;
  first: number | null;
  last: number | null;
  examples: string[];
  esrchExamples: string[] | null;
  holders: Holder[] | null;
  moreHolders: number;
}

export class PairTable {
  /** Killer key → target PID → pair: no key string made per pair. */
  private readonly byKiller = new Map<string, Map<number, PairAcc>>();
  private readonly killers = new Map<string, FindingProcess>();
  private last: ObservedSignal | null = null;
  private count = 0;
  /** Pairs in the order they were made, for the oldest hit only once to go. */
  private readonly order = new EvictionOrder<PairAcc>();
  /** Pairs let go, or never kept, to stay within maxPairs. */
  notKept = 0;

  constructor(
    private readonly maxExamples: number,
    private readonly maxPairs: number,
  ) {}

  /** Every pair kept, killer by killer. */
  *pairs(): Generator<PairAcc> {
    for (const inner of this.byKiller.values()) yield* inner.values();
  }

  /** Room for one more pair: the oldest pair hit only once goes (its killer too, if that was its last pair). False when every pair was hit again. */
  private makeRoom(): boolean {
    const pair = this.order.takeOldest((p) => p.total === 1 && this.byKiller.get(p.killer.key)?.get(p.targetPid) === p);
    if (pair === null) return false;
    const key = pair.killer.key;
    const inner = this.byKiller.get(key)!;
    inner.delete(pair.targetPid);
    if (inner.size === 0) {
      this.byKiller.delete(key);
      this.killers.delete(key);
    }
    this.count--;
    this.notKept++;
    return true;
  }

  private newPair(kKey: string, targetPid: number, signal: SignalLine): PairAcc {
    let killer = this.killers.get(kKey);
    let inner = this.byKiller.get(kKey);
    if (!killer || !inner) {
      const who = blamedKiller(signal);
      killer = { key: kKey, node: signal.node, pids: [], comm: who.comm, exe: who.exe, uid: who.uid, user: who.user };
      inner = new Map();
      this.killers.set(kKey, killer);
      this.byKiller.set(kKey, inner);
    }
    const pair: PairAcc = {
      killer,
      targetPid,
      total: 0,
      success: 0,
      esrch: 0,
      otherFailure: 0,
      signals: {},
      first: null,
      last: null,
      examples: [],
      esrchExamples: null,
      holders: null,
      moreHolders: 0,
    };
    inner.set(targetPid, pair);
    this.order.push(pair);
    this.count++;
    return pair;
  }

  /** Which PID a call aimed at, or null for calls that are not about one PID. */
  static targetOf(signal: SignalLine): number | null {
    if (signal.signal.nr === 0) return null; // existence probes are how careful programs check a PID
    const scope = signal.target.scope;
    if (scope === "group" || scope === "all") return null; // members differ by design
    // A pidfd names one process, never a recycled PID: its failed calls (target inferred, lib/signals/pidfd.ts) are no stale PID.
    if (scope === "pidfd" && signal.target.pidFrom !== undefined && signal.target.pidFrom !== "obj_pid") return null;
    const pid = signal.target.tid ?? signal.target.pid;
    return typeof pid === "number" && pid > 0 ? pid : null;
  }

  /** Count one signal. Safe to call from several detectors: the same signal counts once. */
  add(observed: ObservedSignal): void {
    if (observed === this.last) return;
    this.last = observed;
    const { signal, ms, killerKey: kKey } = observed;
    const targetPid = PairTable.targetOf(signal);
    if (targetPid === null) return;
    let pair = this.byKiller.get(kKey)?.get(targetPid);
    if (!pair) {
      // Nothing of the killer is kept unless its pair is: otherwise killers sending one signal each would pile up here.
      if (this.count >= this.maxPairs && !this.makeRoom()) {
        this.notKept++;
        return;
      }
      pair = this.newPair(kKey, targetPid, signal);
    }
    const who = blamedKiller(signal);
    const killer = pair.killer;
    killer.user ??= who.user;
    if (who.pid !== null && killer.pids.length < MAX_PIDS && !killer.pids.includes(who.pid)) killer.pids.push(who.pid);

    pair.total++;
    const esrch = isEsrch(signal);
    if (signal.result.success === true) pair.success++;
    else if (esrch) pair.esrch++;
    else if (signal.result.success === false) pair.otherFailure++;
    const name = signalName(signal.signal);
    pair.signals[name] = (pair.signals[name] ?? 0) + 1;
    widen(pair, ms);
    if (pair.examples.length < this.maxExamples) pair.examples.push(signal.id);
    if (esrch) {
      pair.esrchExamples ??= [];
      if (pair.esrchExamples.length < this.maxExamples) pair.esrchExamples.push(signal.id);
    }
    for (const v of victimsOf(signal)) {
      if (v.comm === null && v.uid === null) continue; // holder unknown: says nothing about who held the PID
      pair.holders ??= [];
      const holder = pair.holders.find((h) => h.comm === v.comm && h.uid === v.uid);
      if (holder) holder.count++;
      else if (pair.holders.length < MAX_HOLDERS) pair.holders.push({ comm: v.comm, uid: v.uid, user: v.user, count: 1, firstId: signal.id });
      else pair.moreHolders++;
    }
  }
}

/** stale-pid's and recycled-pid's detector: its state is the run's one PairTable. */
export function definePairDetector(detector: Pick<DetectorSpec<PairTable>, "id" | "title" | "detect">): FindingDetector<PairTable> {
  return defineSharedDetector("pairs", (options) => new PairTable(options.maxExamples, options.maxPairs), detector);
}

/**
 * What a finding says of a pair besides its words: the killer, the PID, and the evidence: its counts, examples (in
 * arrival order, but at least one ESRCH id survives the cut), the detector's notes, then how many hits on other processes were not kept.
 */
export function pairFacts(pair: PairAcc, max: number, notes: string[]): Pick<Finding, "killer" | "target" | "evidence"> {
  if (pair.moreHolders > 0) notes.push(`…and ${pair.moreHolders} more hits on other processes`);
  const counts: Record<string, number> = { calls: pair.total, success: pair.success, ESRCH: pair.esrch };
  if (pair.otherFailure) counts.otherFailures = pair.otherFailure;
  for (const [name, n] of Object.entries(pair.signals).sort((a, b) => b[1] - a[1])) counts[name] = n;
  const examples = pair.examples.slice(0, max);
  const esrch = pair.esrchExamples?.[0];
  if (esrch && !examples.includes(esrch)) {
    if (examples.length < max) examples.push(esrch);
    else examples[max - 1] = esrch;
  }
  return {
    killer: findingProcess(pair.killer),
    target: { pid: pair.targetPid },
    evidence: { count: pair.total, first: isoTime(pair.first), last: isoTime(pair.last), examples, counts, notes },
  };
}

/**
 * Holders that really are different processes: two holders differ when both
 * know the comm and the comms differ, or both know the uid and the uids differ.
 */
export function distinctHolders(pair: PairAcc): Holder[] {
  const out: Holder[] = [];
  // Fully known holders first: one whose uid or comm is unknown may be any of them, and must not stand in for two that differ.
  const known = (h: Holder) => h.comm !== null && h.uid !== null;
  const holders = pair.holders ?? [];
  for (const h of [...holders.filter(known), ...holders.filter((h) => !known(h))]) {
    const same = out.find(
      (o) => (o.comm === null || h.comm === null || o.comm === h.comm) && (o.uid === null || h.uid === null || o.uid === h.uid),
    );
    if (same) continue;
    out.push(h);
  }
  return out;
}

export function holderText(h: Holder): string {
  const uid = h.uid === null ? "uid ?" : h.user ? `uid ${h.uid} ${h.user}` : `uid ${h.uid}`;
  return `${h.comm ?? "?"} (${uid}), hit ${h.count}×, first in ${h.firstId}`;
}
