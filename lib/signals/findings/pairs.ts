/**
 * Per (killer, target PID) bookkeeping shared by stale-pid and recycled-pid:
 * both ask "what happened every time this killer aimed at this PID?".
 */
import type { SignalLine } from "../../schema.ts";
import { blamedKiller, isEsrch, isoTime, killerKey, signalName, victimsOf } from "../keys.ts";
import type { Evidence, FindingProcess, ObservedSignal } from "./types.ts";

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
  killer: FindingProcess;
  targetPid: number;
  total: number;
  success: number;
  esrch: number;
  otherFailure: number;
  signals: Map<string, number>;
  first: number | null;
  last: number | null;
  examples: string[];
  esrchExamples: string[];
  holders: Map<string, Holder>;
  moreHolders: number;
}

export class PairTable {
  readonly pairs = new Map<string, PairAcc>();
  constructor(private readonly maxExamples: number) {}

  /** Which PID a call aimed at, or null for calls that are not about one PID. */
  static targetOf(signal: SignalLine): number | null {
    if (signal.signal.nr === 0) return null; // existence probes are how careful programs check a PID
    const scope = signal.target.scope;
    if (scope === "group" || scope === "all") return null; // members differ by design
    const pid = signal.target.tid ?? signal.target.pid;
    return pid !== null && pid > 0 ? pid : null;
  }

  add({ signal, ms }: ObservedSignal): PairAcc | null {
    const targetPid = PairTable.targetOf(signal);
    if (targetPid === null) return null;
    const who = blamedKiller(signal);
    const kKey = killerKey(who);
    const key = `${kKey}\n${targetPid}`;
    let pair = this.pairs.get(key);
    if (!pair) {
      pair = {
        killer: {
          key: kKey,
          pids: [],
          comm: who.comm,
          exe: who.exe,
          uid: who.uid,
          user: who.user,
        },
        targetPid,
        total: 0,
        success: 0,
        esrch: 0,
        otherFailure: 0,
        signals: new Map(),
        first: null,
        last: null,
        examples: [],
        esrchExamples: [],
        holders: new Map(),
        moreHolders: 0,
      };
      this.pairs.set(key, pair);
    }
    pair.total++;
    if (signal.result.success === true) pair.success++;
    else if (isEsrch(signal)) pair.esrch++;
    else if (signal.result.success === false) pair.otherFailure++;
    const name = signalName(signal.signal);
    pair.signals.set(name, (pair.signals.get(name) ?? 0) + 1);
    pair.killer.user ??= who.user;
    const pid = who.pid;
    if (pid !== null && !pair.killer.pids.includes(pid) && pair.killer.pids.length < MAX_PIDS) pair.killer.pids.push(pid);
    if (ms !== null) {
      pair.first = pair.first === null ? ms : Math.min(pair.first, ms);
      pair.last = pair.last === null ? ms : Math.max(pair.last, ms);
    }
    if (pair.examples.length < this.maxExamples) pair.examples.push(signal.id);
    if (isEsrch(signal) && pair.esrchExamples.length < this.maxExamples) pair.esrchExamples.push(signal.id);
    for (const v of victimsOf(signal)) {
      if (v.comm === null && v.uid === null) continue; // holder unknown: says nothing about who held the PID
      const hKey = JSON.stringify([v.comm, v.uid]);
      const holder = pair.holders.get(hKey);
      if (holder) holder.count++;
      else if (pair.holders.size < MAX_HOLDERS) pair.holders.set(hKey, { comm: v.comm, uid: v.uid, user: v.user, count: 1, firstId: signal.id });
      else pair.moreHolders++;
    }
    return pair;
  }
}

/** Examples with the telling ones (ESRCH) first, then the rest, no repeats. */
export function pairExamples(pair: PairAcc, max: number): string[] {
  const out: string[] = [];
  for (const id of [...pair.examples, ...pair.esrchExamples]) {
    if (!out.includes(id)) out.push(id);
  }
  // Keep chronological-ish order from `examples`, but make sure at least one ESRCH id survives the cut.
  if (out.length > max) {
    const esrch = pair.esrchExamples[0];
    const cut = out.slice(0, max);
    if (esrch && !cut.includes(esrch)) cut[max - 1] = esrch;
    return cut;
  }
  return out;
}

export function pairEvidence(pair: PairAcc, max: number, notes: string[]): Evidence {
  const counts: Record<string, number> = { calls: pair.total, success: pair.success, ESRCH: pair.esrch };
  if (pair.otherFailure) counts.otherFailures = pair.otherFailure;
  for (const [name, n] of [...pair.signals].sort((a, b) => b[1] - a[1])) counts[name] = n;
  return {
    count: pair.total,
    first: isoTime(pair.first),
    last: isoTime(pair.last),
    examples: pairExamples(pair, max),
    counts,
    notes,
  };
}

/**
 * Holders that really are different processes: two holders differ when both
 * know the comm and the comms differ, or both know the uid and the uids differ.
 */
export function distinctHolders(pair: PairAcc): Holder[] {
  const out: Holder[] = [];
  for (const h of pair.holders.values()) {
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
