/**
 * The interface every finding detector implements. Detectors live one per
 * module in this directory and are listed in lib/signals/findings.ts.
 *
 * A detector sees the stream once (`observe`, with state it created in
 * `init`) and then, with the finished Summary, says what it found
 * (`detect`). Its state must stay bounded by the number of distinct keys it
 * tracks, like the Summary's.
 */
import type { SignalLine } from "../../schema.ts";
import type { Summary } from "../report-summary.ts";

export type Severity = "critical" | "warning" | "info";

export const SEVERITY_ORDER: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

export interface FindingProcess {
  key: string;
  /** The host (`node=`) in a log gathered from several; null for a single host's log. */
  node: string | null;
  pids: number[];
  comm: string | null;
  exe: string | null;
  uid: number | null;
  user: string | null;
}

export interface Evidence {
  /** How many signals back this finding. */
  count: number;
  first: string | null;
  last: string | null;
  /** A few event ids to look up (`ausearch -a ID`, or grep the JSON lines). */
  examples: string[];
  /** Named counts, e.g. `{ success: 2, ESRCH: 1 }`. */
  counts: Record<string, number>;
  /** Further facts, one short sentence each (not escaped: may hold comm/exe). */
  notes: string[];
}

export interface Finding {
  /** The detector's id: `stale-pid`, `recycled-pid`, `signal-storm`, `blind-spot`. */
  id: string;
  title: string;
  severity: Severity;
  /** One sentence naming who did what (not escaped). */
  headline: string;
  /** Why this matters and what probably causes it, in plain language. */
  explanation: string;
  /** What to do about it. */
  advice: string;
  killer: FindingProcess | null;
  target: { pid: number | null } | null;
  evidence: Evidence;
}

export interface FindingOptions {
  /** stale-pid: calls to the same PID needed (default 3). */
  staleMinCalls?: number;
  /** stale-pid: first to last call at least this long apart, seconds (default 1). */
  staleMinSpanSec?: number;
  /** signal-storm: signals from one killer within the window (default 100). */
  stormThreshold?: number;
  /** signal-storm: window length in seconds (default 60). */
  stormWindowSec?: number;
  /** blind-spot: how far apart (seconds) an audit call and its tracefs twin may be (default 2). */
  matchToleranceSec?: number;
  /** Example ids per finding (default 5). */
  maxExamples?: number;
  /** stale-pid and recycled-pid: (killer, PID) pairs kept at most (default 20,000; see findings/pairs.ts). */
  maxPairs?: number;
  /** The killer catalogue's findings: kill sequences (one per kind and victim) kept at most (default 20,000; see findings/sequences.ts). */
  maxSequences?: number;
  /** signal-storm, and the summary's killer list: killers kept at most (default 20,000; see findings/signal-storm.ts). */
  maxKillers?: number;
}

export type ResolvedFindingOptions = Required<FindingOptions>;

export const DEFAULT_FINDING_OPTIONS: ResolvedFindingOptions = {
  staleMinCalls: 3,
  staleMinSpanSec: 1,
  stormThreshold: 100,
  stormWindowSec: 60,
  matchToleranceSec: 2,
  maxExamples: 5,
  // Not fewer: a killer that comes back to a PID hours later, after thousands of other new PIDs, is the stale PID to find.
  maxPairs: 20_000,
  maxSequences: 20_000,
  maxKillers: 20_000,
};

/**
 * How a tracefs signal compares with the audit signals in the same stream:
 * `unmatched` = audit was running then but recorded no such call (a blind
 * spot); `no-audit` = no audit signals cover that time, so nothing can be
 * said. Audit signals, and tracefs signals no kill-family call could have
 * caused (kernel, fault, timer…), carry null. Matched tracefs twins are
 * merged away before detectors see them.
 */
export type CrossCheck = "unmatched" | "no-audit" | null;

/** What the correlator hands on: a signal with its parsed time and cross-check. */
export interface CorrelatedSignal {
  signal: SignalLine;
  /** Epoch ms, or null when the signal carries no usable time. */
  ms: number | null;
  crossCheck: CrossCheck;
}

/** What detectors observe: one object per signal (detectors may use identity to count a signal once). */
export interface ObservedSignal extends CorrelatedSignal {
  /** `killerKey(blamedKiller(signal), signal.node)`, computed once for everyone. */
  killerKey: string;
}

export interface DetectInput<S> {
  summary: Summary;
  state: S;
  options: ResolvedFindingOptions;
}

/** What the detectors let go to bound memory, as the report says it (Report.limits). */
export interface ReportLimits {
  /** (killer, PID) pairs hit once and not kept: a stale PID whose killer came back to it only after this many others could be missed. */
  pairsNotKept: number;
  /** Killers that had sent one signal and that signal-storm stopped following: a storm could be counted a signal short, or missed. */
  stormKillersNotKept: number;
  /** Kernel-sent and self-inflicted signals past a finding's bound of cause groups (findings/cause-groups.ts): counted, in no finding. */
  causeSignalsNotGrouped: number;
  /** tracefs signals a process sent, and exit notifications, that parent-death let go unpaired: a parent-death signal among them could be missed. */
  parentDeathSignalsNotKept: number;
}

export interface FindingDetector<S = unknown> {
  id: string;
  title: string;
  /**
   * Fresh state for one run. `shared` is one map per run, for state that
   * several detectors can share (e.g. the per-PID table of stale-pid and
   * recycled-pid).
   */
  init(options: ResolvedFindingOptions, shared: Map<string, unknown>): S;
  observe(state: S, observed: ObservedSignal): void;
  /** Findings as they are made: the analyzer folds them one at a time, so a detector need not hold thousands. */
  detect(input: DetectInput<S>): Iterable<Finding>;
  /** What its state let go to stay bounded, asked once its findings are made: the analyzer sums every detector's into the report's limits. */
  limits?(state: S): Partial<ReportLimits>;
}

/** A finding as a detector yields it: its id and title are the detector's, unless it names its own title. */
export type DetectedFinding = Omit<Finding, "id" | "title"> & { title?: string };

/** A detector as its module writes it (see defineDetector). */
export interface DetectorSpec<S> extends Omit<FindingDetector<S>, "detect"> {
  detect(input: DetectInput<S>): Iterable<DetectedFinding>;
}

/**
 * A detector whose state is one table of the run, `name` in `shared`, that
 * several detectors read: made by whichever of them starts first, and fed
 * each signal (the table counts a signal once however many feed it).
 */
export function defineSharedDetector<T extends { add(observed: ObservedSignal): void }>(
  name: string,
  make: (options: ResolvedFindingOptions) => T,
  detector: Pick<DetectorSpec<T>, "id" | "title" | "detect">,
): FindingDetector<T> {
  return defineDetector({
    ...detector,
    init(options, shared) {
      let table = shared.get(name) as T | undefined;
      if (table === undefined) shared.set(name, (table = make(options)));
      return table;
    },
    observe: (table, observed) => table.add(observed),
  });
}

/** Each module's detector, whatever its state type, for the one registry array; its findings get its id and title. */
export function defineDetector<S>(spec: DetectorSpec<S>): FindingDetector<S> {
  const { id, title } = spec;
  return {
    ...spec,
    *detect(input) {
      for (const finding of spec.detect(input)) yield { id, title, ...finding };
    },
  };
}

/** A copy of a killer for a Finding, its pids in numeric order. */
export function findingProcess(killer: FindingProcess): FindingProcess {
  return { ...killer, pids: [...killer.pids].sort((a, b) => a - b) };
}
