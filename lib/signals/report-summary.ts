/**
 * SignalLines → a Summary: who signals whom, how often, and when.
 *
 * Built incrementally (`SummaryBuilder.add`) so a report can read a stream of
 * any length: memory grows with the number of distinct killers, victims and
 * time buckets, never with the number of signals; every list of examples or
 * pids kept per key has a fixed cap.
 *
 * Victims are the key a log can hold millions of (a supervisor that kills
 * each child it started: a new victim per kill, about 0.8 KB each), so at most
 * `maxVictims` (2,000 unless an option says) are kept. Past that, a new victim takes the place of the
 * oldest victim hit only once; when every victim has been hit again the new
 * one is not kept. Either way it is counted in `victimsNotKept`, and its
 * signals still count everywhere else. Killers are bounded the same way
 * (`maxKillers`, `killersNotKept`): a killer is its exe, comm and uid, and
 * comm is whatever the sender set, so a process renaming itself before each
 * kill would otherwise make a new killer (about 5 KB) per signal.
 */
import type { AncestorInfo, Killer, SignalLine, Workload } from "../schema.ts";
import { workloadLabel } from "./workload.ts";
import type { SourceName } from "../sources/registry.ts";
import { BoundedMap, PidSet, rankedRecord, Tally } from "./tally.ts";
import { blamedKiller, isoTime, killerKey, killerOfKey, signalName, signalTimeMs, victimKey, victimsOf, widen, type Span } from "./keys.ts";

export type BucketUnit = "minute" | "hour";
export type BucketChoice = BucketUnit | "auto";

export interface SummaryOptions {
  /** Timeline bucket size; `auto` picks minutes for spans up to AUTO_MINUTE_SPAN_MINUTES, hours beyond. */
  bucket?: BucketChoice;
  /** Example event ids kept per killer/victim (default 5). */
  maxExamples?: number;
  /** Distinct target pids remembered per killer (default 1000; the count stays exact up to this). */
  maxTargetPids?: number;
  /** Victims kept at most (default 2,000): see the header. */
  maxVictims?: number;
  /** Killers kept at most (default 20,000): see the header. */
  maxKillers?: number;
}

/** Calls by result. */
export interface CallCounts {
  total: number;
  success: number;
  failure: number;
  /** Calls whose result is not known (tracefs lines, truncated events). */
  unknown: number;
}

export interface KillerSummary extends CallCounts {
  key: string;
  /** The host (`node=`) in a log gathered from several; null for a single host's log. */
  node: string | null;
  comm: string | null;
  exe: string | null;
  uid: number | null;
  user: string | null;
  /** Sender pids seen (at most 20). */
  pids: number[];
  /** argv of the first call that had one. */
  argv: string[];
  /** The parent chain (parent first) of the first call that had one: from the stream's execve events or /proc. */
  ancestry: AncestorInfo[];
  /** Signal name → count, most frequent first. */
  signals: Record<string, number>;
  /** errno name → count, most frequent first. */
  errnos: Record<string, number>;
  first: string | null;
  last: string | null;
  /** Distinct target pids (exact up to maxTargetPids, then a lower bound). */
  targetPidCount: number;
  targetPidsTruncated: boolean;
  /** The first few target pids, ascending. */
  targetPids: number[];
  sources: SourceCounts;
  examples: string[];
}

export interface VictimSummary {
  key: string;
  node: string | null;
  pid: number | null;
  comm: string | null;
  uid: number | null;
  user: string | null;
  total: number;
  signals: Record<string, number>;
  /** Who hit it, most frequent first (at most 20; the rest add up in `otherKillers`). */
  killers: Array<{ key: string; comm: string | null; exe: string | null; uid: number | null; count: number }>;
  otherKillers: number;
  first: string | null;
  last: string | null;
  examples: string[];
}

export interface TimelineBucket {
  /** ISO start of the bucket (UTC). */
  start: string;
  count: number;
  failed: number;
}

export interface Timeline {
  unit: BucketUnit;
  /** Consecutive buckets from the first signal to the last (empty ones included) unless `sparse`. */
  buckets: TimelineBucket[];
  /** True when the span was too long to list every bucket: only non-empty ones are listed. */
  sparse: boolean;
}

export interface SummaryTotals {
  signals: number;
  success: number;
  failure: number;
  unknown: number;
  /** Signal-0 existence checks among `signals`. */
  probes: number;
  /** Distinct killers: those listed plus killersNotKept (one let go and back later, or turned away twice, counts twice). */
  killers: number;
  /** Killers that sent one signal and were not kept, to hold memory down (see SummaryOptions.maxKillers): in the counts, not in the list. */
  killersNotKept: number;
  /** Distinct victims: those listed plus victimsNotKept (one let go and hit again later counts twice). */
  victims: number;
  /** Victims hit once and not kept, to hold memory down (see SummaryOptions.maxVictims): in the counts, not in the list. */
  victimsNotKept: number;
  /** Signals with no usable time (not on the timeline). */
  untimed: number;
  /** Signals whose killer or victim uid has no name: the log did not name it and is not this host's (SignalLine.namesUnknown). */
  namesUnknown: number;
  sources: SourceCounts;
  errnos: Record<string, number>;
  first: string | null;
  last: string | null;
}

/** Signals by the unit or container of their killer and victims, where /proc told it (`--proc`). */
export interface WorkloadSummary {
  /** As people say it: `nginx.service`, `docker container 3f2a9c0d1e4b, pod …`. */
  label: string;
  workload: Workload;
  /** Signals its processes sent, and received. */
  sent: number;
  received: number;
}

export interface Summary {
  totals: SummaryTotals;
  /** Present when any killer or victim was placed in a unit or container: most signals first. */
  workloads?: WorkloadSummary[];
  /** Ranked: most signals first. */
  killers: KillerSummary[];
  /** Ranked: most often hit first. */
  victims: VictimSummary[];
  /** Signal name → count, most frequent first. */
  signals: Record<string, number>;
  timeline: Timeline;
}

/**
 * Victims kept by default: about 0.8 KB of heap each, and 1.2 KB more while the summary is built and printed.
 * Past the few hit again, the list is the newest hit-once tail, which the report counts either way.
 */
const MAX_VICTIMS = 2_000;
/** Units and containers listed; more are rare on one host, and each is small. */
const MAX_WORKLOADS = 1_000;
const MAX_KILLER_PIDS = 20;
const MAX_ANCESTORS = 16;
const MAX_SHOWN_TARGET_PIDS = 20;
const MAX_VICTIM_KILLERS = 20;
/** Past this many distinct minutes, auto mode folds into hours while reading. */
const MAX_MINUTE_BUCKETS = 20_000;
const MAX_DENSE_BUCKETS = 5_000;
/** Span (minutes) up to which `auto` uses minute buckets. */
const AUTO_MINUTE_SPAN_MINUTES = 180;
const MINUTE = 60_000;
const HOUR = 3_600_000;

/** A killer while the stream is read: its summary, with tallies, times and target pids as kept while counting. */
interface KillerAcc extends Omit<KillerSummary, "signals" | "errnos" | "first" | "last" | "targetPidCount" | "targetPids"> {
  signals: Tally;
  errnos: Tally;
  first: number | null;
  last: number | null;
  targetPids: PidSet;
}

/** A victim while the stream is read: its summary, with tallies and times as kept while counting. */
interface VictimAcc extends Omit<VictimSummary, "signals" | "killers" | "first" | "last"> {
  signals: Tally;
  killers: Tally;
  first: number | null;
  last: number | null;
}

interface BucketAcc {
  count: number;
  failed: number;
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** One more call, by its result. */
function countCall(counts: CallCounts, ok: boolean | null): void {
  counts.total++;
  if (ok === true) counts.success++;
  else if (ok === false) counts.failure++;
  else counts.unknown++;
}

export class SummaryBuilder {
  private readonly bucketChoice: BucketChoice;
  private readonly maxExamples: number;
  private readonly maxTargetPids: number;
  /** At most maxKillers: the oldest that sent one signal goes first. */
  private readonly killers: BoundedMap<KillerAcc>;
  /** At most maxVictims: the oldest hit only once goes first. */
  private readonly victims: BoundedMap<VictimAcc>;
  private readonly signals = new Map<string, number>();
  private readonly errnos = new Map<string, number>();
  /** Bucket start (epoch ms) → counts, in `bucketUnit` granularity. */
  private buckets = new Map<number, BucketAcc>();
  private bucketUnit: BucketUnit;
  private readonly calls: CallCounts = { total: 0, success: 0, failure: 0, unknown: 0 };
  private readonly workloads = new Map<string, WorkloadSummary>();
  private probes = 0;
  private untimed = 0;
  private namesUnknown = 0;
  private readonly sources: SourceCounts = { audit: 0, tracefs: 0 };
  private readonly span: Span = { first: null, last: null };

  constructor(options: SummaryOptions = {}) {
    this.bucketChoice = options.bucket ?? "auto";
    this.maxExamples = options.maxExamples ?? 5;
    this.maxTargetPids = options.maxTargetPids ?? 1000;
    this.victims = new BoundedMap(options.maxVictims ?? MAX_VICTIMS, (v) => v.key, (v) => v.total === 1);
    this.killers = new BoundedMap(options.maxKillers ?? 20_000, (k) => k.key, (k) => k.total === 1);
    this.bucketUnit = this.bucketChoice === "hour" ? "hour" : "minute";
  }

  /** Signals counted so far. */
  get signalCount(): number {
    return this.calls.total;
  }

  /** Count one signal. `ms` and `kKey` may be passed when the caller already has them. */
  add(signal: SignalLine, ms: number | null = signalTimeMs(signal), kKey?: string): void {
    const name = signalName(signal.signal);
    const ok = signal.result.success;
    const errno = ok === false ? signal.result.errno ?? "unknown" : null;

    countCall(this.calls, ok);
    this.countWorkloads(signal);
    if (signal.signal.nr === 0) this.probes++;
    if (signal.namesUnknown === true) this.namesUnknown++;
    countSource(this.sources, signal);
    bump(this.signals, name);
    if (errno) bump(this.errnos, errno);
    widen(this.span, ms);
    if (ms === null) this.untimed++;
    else this.addToTimeline(ms, ok === false);

    const who = blamedKiller(signal);
    kKey ??= killerKey(who, signal.node);
    const killer = this.killerFor(kKey, signal, who);
    if (killer !== null) this.addToKiller(killer, signal, who, ms, name, ok, errno);

    for (const v of victimsOf(signal)) {
      const vKey = victimKey(v, signal.node);
      let victim = this.victims.get(vKey);
      if (!victim) {
        if (!this.victims.makeRoom()) continue;
        victim = {
          key: vKey,
          node: signal.node,
          pid: v.pid,
          comm: v.comm,
          uid: v.uid,
          user: v.user,
          total: 0,
          signals: new Tally(),
          killers: new Tally(),
          otherKillers: 0,
          first: null,
          last: null,
          examples: [],
        };
        this.victims.add(victim);
      }
      victim.total++;
      victim.user ??= v.user;
      victim.signals.bump(name);
      if (victim.killers.has(kKey) || victim.killers.size < MAX_VICTIM_KILLERS) victim.killers.bump(kKey);
      else victim.otherKillers++;
      widen(victim, ms);
      if (victim.examples.length < this.maxExamples) victim.examples.push(signal.id);
    }
  }

  /** The killer's accumulator, made if need be; null when the cap is reached and none can go. */
  private killerFor(kKey: string, signal: SignalLine, who: Killer): KillerAcc | null {
    const known = this.killers.get(kKey);
    if (known) return known;
    if (!this.killers.makeRoom()) return null;
    const killer: KillerAcc = {
      key: kKey,
      node: signal.node,
      comm: who.comm,
      exe: who.exe,
      uid: who.uid,
      user: who.user,
      pids: [],
      argv: [],
      ancestry: [],
      total: 0,
      success: 0,
      failure: 0,
      unknown: 0,
      signals: new Tally(),
      errnos: new Tally(),
      first: null,
      last: null,
      targetPids: new PidSet(),
      targetPidsTruncated: false,
      sources: { audit: 0, tracefs: 0 },
      examples: [],
    };
    this.killers.add(killer);
    return killer;
  }

  private addToKiller(killer: KillerAcc, signal: SignalLine, who: Killer, ms: number | null, name: string, ok: boolean | null, errno: string | null): void {
    countCall(killer, ok);
    killer.signals.bump(name);
    if (errno) killer.errnos.bump(errno);
    countSource(killer.sources, signal);
    killer.user ??= who.user;
    if (who.pid !== null && killer.pids.length < MAX_KILLER_PIDS && !killer.pids.includes(who.pid)) killer.pids.push(who.pid);
    if (killer.argv.length === 0 && who.argv.length > 0) killer.argv = who.argv.slice(0, 64);
    if (killer.ancestry.length === 0 && who.ancestry && who.ancestry.length > 0) killer.ancestry = who.ancestry.slice(0, MAX_ANCESTORS);
    widen(killer, ms);
    const targetPid = signal.target.pid;
    if (targetPid !== null && !killer.targetPids.has(targetPid)) {
      if (killer.targetPids.size < this.maxTargetPids) killer.targetPids.add(targetPid);
      else killer.targetPidsTruncated = true;
    }
    if (killer.examples.length < this.maxExamples) killer.examples.push(signal.id);
  }

  private addToTimeline(ms: number, failed: boolean): void {
    const size = this.bucketUnit === "hour" ? HOUR : MINUTE;
    addToBucket(this.buckets, Math.floor(ms / size) * size, 1, failed ? 1 : 0);
    // So many distinct minutes means a span auto mode would show in hours anyway.
    if (this.bucketChoice === "auto" && this.bucketUnit === "minute" && this.buckets.size > MAX_MINUTE_BUCKETS) {
      this.buckets = foldToHours(this.buckets);
      this.bucketUnit = "hour";
    }
  }

  /** comm, exe and uid of a victim's killer: from its accumulator, or read back from its key once it was let go. */
  private killerIdentity(key: string): { comm: string | null; exe: string | null; uid: number | null } {
    const k = this.killers.get(key);
    return k ? { comm: k.comm, exe: k.exe, uid: k.uid } : killerOfKey(key);
  }

  /** The summary so far; the builder can keep accepting signals afterwards. */
  summary(): Summary {
    let unit = this.bucketUnit;
    let buckets = this.buckets;
    const { first, last } = this.span;
    if (this.bucketChoice === "auto" && unit === "minute" && first !== null && last !== null) {
      const spanMinutes = (Math.floor(last / MINUTE) - Math.floor(first / MINUTE)) + 1;
      if (spanMinutes > AUTO_MINUTE_SPAN_MINUTES) {
        buckets = foldToHours(buckets);
        unit = "hour";
      }
    }

    // Each summary is its accumulator (made in the summary's key order) with the counting forms turned into lists and times.
    const killers = [...this.killers.values()]
      .sort((a, b) => b.total - a.total || b.failure - a.failure || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map(({ targetPids, targetPidsTruncated, sources, examples, ...k }): KillerSummary => ({
        ...k,
        pids: [...k.pids].sort((a, b) => a - b),
        signals: k.signals.ranked(),
        errnos: k.errnos.ranked(),
        first: isoTime(k.first),
        last: isoTime(k.last),
        targetPidCount: targetPids.size,
        targetPidsTruncated,
        targetPids: targetPids.sorted().slice(0, MAX_SHOWN_TARGET_PIDS),
        sources: { ...sources },
        examples: [...examples],
      }));

    const victims = [...this.victims.values()]
      .sort((a, b) => b.total - a.total || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      .map((v): VictimSummary => ({
        ...v,
        signals: v.signals.ranked(),
        killers: v.killers
          .entries()
          .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
          .map(([key, count]) => ({ key, ...this.killerIdentity(key), count })),
        first: isoTime(v.first),
        last: isoTime(v.last),
        examples: [...v.examples],
      }));

    return {
      totals: {
        signals: this.calls.total,
        success: this.calls.success,
        failure: this.calls.failure,
        unknown: this.calls.unknown,
        probes: this.probes,
        killers: this.killers.size + this.killers.notKept,
        killersNotKept: this.killers.notKept,
        victims: this.victims.size + this.victims.notKept,
        victimsNotKept: this.victims.notKept,
        untimed: this.untimed,
        namesUnknown: this.namesUnknown,
        sources: { ...this.sources },
        errnos: rankedRecord(this.errnos),
        first: isoTime(first),
        last: isoTime(last),
      },
      ...(this.workloads.size > 0 ? { workloads: this.workloadSummaries() } : {}),
      killers,
      victims,
      signals: rankedRecord(this.signals),
      timeline: buildTimeline(buckets, unit),
    };
  }

  private workloadSummaries(): WorkloadSummary[] {
    return [...this.workloads.values()].sort((a, b) => b.sent + b.received - (a.sent + a.received) || (a.label < b.label ? -1 : 1)).map((w) => ({ ...w }));
  }

  /** A signal's killer sent it, its victims received it: counted under their unit or container. */
  private countWorkloads(signal: SignalLine): void {
    const bump = (workload: Workload | undefined, side: "sent" | "received") => {
      if (workload === undefined) return;
      const label = workloadLabel(workload);
      let acc = this.workloads.get(label);
      if (acc === undefined) {
        if (this.workloads.size >= MAX_WORKLOADS) return;
        acc = { label, workload, sent: 0, received: 0 };
        this.workloads.set(label, acc);
      }
      acc[side]++;
    };
    bump(signal.killer.workload, "sent");
    for (const v of signal.victims) bump(v.workload, "received");
  }
}

/** `count` signals, `failed` of them failed, into the bucket that starts at `start`. */
function addToBucket(buckets: Map<number, BucketAcc>, start: number, count: number, failed: number): void {
  const bucket = buckets.get(start);
  if (bucket) {
    bucket.count += count;
    bucket.failed += failed;
  } else buckets.set(start, { count, failed });
}

function foldToHours(minutes: Map<number, BucketAcc>): Map<number, BucketAcc> {
  const hours = new Map<number, BucketAcc>();
  for (const [start, b] of minutes) addToBucket(hours, Math.floor(start / HOUR) * HOUR, b.count, b.failed);
  return hours;
}

function buildTimeline(buckets: Map<number, BucketAcc>, unit: BucketUnit): Timeline {
  const size = unit === "hour" ? HOUR : MINUTE;
  const starts = [...buckets.keys()].sort((a, b) => a - b);
  if (starts.length === 0) return { unit, sparse: false, buckets: [] };
  const firstStart = starts[0]!;
  const lastStart = starts[starts.length - 1]!;
  const sparse = (lastStart - firstStart) / size + 1 > MAX_DENSE_BUCKETS;
  // Dense: every bucket from the first to the last, the empty ones too.
  const listed = sparse ? starts : [];
  if (!sparse) for (let s = firstStart; s <= lastStart; s += size) listed.push(s);
  const out = listed.map((s): TimelineBucket => ({ start: new Date(s).toISOString(), count: buckets.get(s)?.count ?? 0, failed: buckets.get(s)?.failed ?? 0 }));
  return { unit, sparse, buckets: out };
}

/** Signals per source; audit and tracefs always, any other source only once one is seen, so reports without any keep their shape. */
export type SourceCounts = { audit: number; tracefs: number } & { [name in SourceName]?: number };

function countSource(counts: SourceCounts, signal: SignalLine): void {
  const name = signal.source ?? "audit";
  counts[name] = (counts[name] ?? 0) + 1;
}
