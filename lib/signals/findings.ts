/**
 * The finding registry and the analyzer that runs a stream of SignalLines
 * through the Summary and every detector in one pass.
 *
 * To add a finding: write lib/signals/findings/NAME.ts exporting a
 * `defineDetector({...})`, and list it in DETECTORS below.
 */
import type { GapLine, SignalLine } from "../schema.ts";
import { SourceCorrelator, type CorrelateStats } from "./correlate.ts";
import { blindSpot } from "./findings/blind-spot.ts";
import { foldFindings } from "./findings/fold.ts";
import { PairTable } from "./findings/pairs.ts";
import { recycledPid } from "./findings/recycled-pid.ts";
import { signalStorm, type StormState } from "./findings/signal-storm.ts";
import { stalePid } from "./findings/stale-pid.ts";
import {
  DEFAULT_FINDING_OPTIONS,
  SEVERITY_ORDER,
  type Finding,
  type FindingDetector,
  type FindingOptions,
  type CorrelatedSignal,
  type ResolvedFindingOptions,
} from "./findings/types.ts";
import { blamedKiller, killerKey, signalTimeMs } from "./keys.ts";
import { describeAncestry } from "./describe.ts";
import { detach } from "../strings.ts";
import { SummaryBuilder, type Summary, type SummaryOptions } from "./summary.ts";

export * from "./findings/types.ts";

// Each detector keeps its own state type; the registry only needs the common shape.
export const DETECTORS: ReadonlyArray<FindingDetector<any>> = [stalePid, recycledPid, signalStorm, blindSpot];

export interface AnalyzeOptions extends SummaryOptions, FindingOptions {
  /** Detectors to run (default: all of DETECTORS). */
  detectors?: ReadonlyArray<FindingDetector<any>>;
  /** tracefs signals waiting for an audit twin (see lib/signals/correlate.ts). */
  maxPending?: number;
}

/** Everything a renderer needs. */
export interface Report {
  summary: Summary;
  findings: Finding[];
  /** How tracefs signals compared with audit ones (all zero when only one source was read). */
  crossCheck: CorrelateStats;
  /** Gaps the capture knew it had: signals in them are missing from this report. */
  gaps: GapStats;
  /** What the detectors let go to bound memory (see findings/pairs.ts, findings/signal-storm.ts; the summary's: totals.victimsNotKept, totals.killersNotKept). */
  limits: ReportLimits;
}

export interface ReportLimits {
  /** (killer, PID) pairs hit once and not kept: a stale PID whose killer came back to it only after this many others could be missed. */
  pairsNotKept: number;
  /** Killers that had sent one signal and that signal-storm stopped following: a storm could be counted a signal short, or missed. */
  stormKillersNotKept: number;
}

export interface GapStats {
  count: number;
  /** Records lost, summed over the gaps that said how many. */
  lost: number;
  /** Gaps that did not say how many records they lost. */
  lostUnknown: number;
  first: string | null;
  last: string | null;
}

export function resolveFindingOptions(options: FindingOptions = {}): ResolvedFindingOptions {
  const out = { ...DEFAULT_FINDING_OPTIONS };
  for (const key of Object.keys(out) as Array<keyof ResolvedFindingOptions>) {
    const value = options[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
}

/**
 * Most severe first, then the best-evidenced, then in registry order (the
 * diagnosis, stale-pid, before its symptoms), then by headline.
 */
export function sortFindings(findings: Finding[]): Finding[] {
  const rank = (id: string) => {
    const i = DETECTORS.findIndex((d) => d.id === id);
    return i < 0 ? DETECTORS.length : i;
  };
  return findings.sort(
    (a, b) =>
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      b.evidence.count - a.evidence.count ||
      rank(a.id) - rank(b.id) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) ||
      (a.headline < b.headline ? -1 : a.headline > b.headline ? 1 : 0),
  );
}

/**
 * Who started the killer, where the signals knew (ancestry from the stream's
 * execve events or /proc): one note on every finding about that killer, so
 * the report names the cron job or service behind it, not only the program.
 */
function addStartedBy(findings: Finding[], summary: Summary): void {
  const chains = new Map(summary.killers.filter((k) => k.ancestry.length > 0).map((k) => [k.key, k.ancestry]));
  for (const finding of findings) {
    const chain = finding.killer ? chains.get(finding.killer.key) : undefined;
    if (chain) finding.evidence.notes.push(`Started by: ${describeAncestry(chain)}`);
  }
}

/** Feed signals one at a time (`add`), then `finish()` once. */
export class Analyzer {
  private readonly options: ResolvedFindingOptions;
  private readonly summary: SummaryBuilder;
  private readonly correlator: SourceCorrelator;
  private readonly runs: Array<{ detector: FindingDetector<any>; state: unknown }>;
  private readonly gaps: GapStats = { count: 0, lost: 0, lostUnknown: 0, first: null, last: null };
  /** State the detectors share (the pair table). */
  private readonly shared = new Map<string, unknown>();

  constructor(options: AnalyzeOptions = {}) {
    this.options = resolveFindingOptions(options);
    this.summary = new SummaryBuilder(options);
    this.correlator = new SourceCorrelator({ toleranceSec: this.options.matchToleranceSec, maxPending: options.maxPending });
    this.runs = (options.detectors ?? DETECTORS).map((detector) => ({ detector, state: detector.init(this.options, this.shared) }));
  }

  add(signal: SignalLine): void {
    // Ids are kept as examples for the whole run; one read from raw text is a slice that would keep its whole line alive.
    signal.id = detach(signal.id);
    for (const observed of this.correlator.push(signal, signalTimeMs(signal))) this.count(observed);
  }

  /** Note a gap line (lost records) from the capture. */
  gap(line: GapLine): void {
    this.gaps.count++;
    if (line.lost === null) this.gaps.lostUnknown++;
    else this.gaps.lost += line.lost;
    const ms = Date.parse(line.time);
    if (Number.isFinite(ms)) {
      const iso = new Date(ms).toISOString();
      if (this.gaps.first === null || iso < this.gaps.first) this.gaps.first = iso;
      if (this.gaps.last === null || iso > this.gaps.last) this.gaps.last = iso;
    }
  }

  private count(correlated: CorrelatedSignal): void {
    const observed = { ...correlated, killerKey: killerKey(blamedKiller(correlated.signal), correlated.signal.node) };
    this.summary.add(observed.signal, observed.ms, observed.killerKey);
    for (const run of this.runs) run.detector.observe(run.state, observed);
  }

  finish(): Report {
    for (const observed of this.correlator.flush()) this.count(observed);
    const summary = this.summary.summary();
    const findings: Finding[] = [];
    for (const run of this.runs) findings.push(...run.detector.detect({ summary, state: run.state, options: this.options }));
    const folded = foldFindings(sortFindings(findings));
    addStartedBy(folded, summary);
    const pairs = this.shared.get("pairs");
    const storm = this.runs.find((run) => run.detector === signalStorm)?.state as StormState | undefined;
    const limits = { pairsNotKept: pairs instanceof PairTable ? pairs.notKept : 0, stormKillersNotKept: storm?.killers.notKept ?? 0 };
    return { summary, findings: folded, crossCheck: { ...this.correlator.stats }, gaps: { ...this.gaps }, limits };
  }
}

/**
 * Summary + findings for a whole stream (array, generator, or async
 * generator, e.g. `signalsFrom` from lib/signals/pipeline.ts). Gap lines in
 * the stream are counted, not analysed.
 */
export async function analyze(
  lines: Iterable<SignalLine | GapLine> | AsyncIterable<SignalLine | GapLine>,
  options: AnalyzeOptions = {},
): Promise<Report> {
  const analyzer = new Analyzer(options);
  for await (const line of lines) {
    if (line.kind === "signal") analyzer.add(line);
    else analyzer.gap(line);
  }
  return analyzer.finish();
}
