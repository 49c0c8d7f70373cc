/**
 * The finding registry and the analyzer that runs a stream of SignalLines
 * through the Summary and every detector in one pass.
 *
 * To add a finding: write lib/signals/findings/NAME.ts exporting a
 * `defineDetector({...})`, and list it in DETECTORS below.
 */
import type { CoverageLine, CoverageState, GapLine, NoticeLine, SignalLine } from "../schema.ts";
import { SourceCorrelator, type CorrelateStats } from "./correlate.ts";
import { blindSpot } from "./findings/blind-spot.ts";
import { FindingFolder } from "./findings/fold.ts";
import { PairTable } from "./findings/pairs.ts";
import { recycledPid } from "./findings/recycled-pid.ts";
import { signalStorm } from "./findings/signal-storm.ts";
import { stalePid } from "./findings/stale-pid.ts";
import { ttyHangup } from "./findings/tty-hangup.ts";
import { timer } from "./findings/timer.ts";
import { resourceLimit } from "./findings/resource-limit.ts";
import { parentDeath } from "./findings/parent-death.ts";
import { selfInflicted } from "./findings/self-inflicted.ts";
import { containerStop } from "./findings/container-stop.ts";
import { memoryPressure } from "./findings/memory-pressure.ts";
import { oomKill } from "./findings/oom-kill.ts";
import { pkillKill } from "./findings/pkill.ts";
import { supervisorKill } from "./findings/supervisor.ts";
import { systemdStop } from "./findings/systemd-stop.ts";
import { timeoutKill } from "./findings/timeout.ts";
import {
  DEFAULT_FINDING_OPTIONS,
  SEVERITY_ORDER,
  type Finding,
  type FindingDetector,
  type FindingOptions,
  type CorrelatedSignal,
  type ReportLimits,
  type ResolvedFindingOptions,
} from "./findings/types.ts";
import { blamedKiller, killerKey, signalTimeMs } from "./keys.ts";
import { describeAncestry } from "./describe.ts";
import { CauseSequences, explainTracefsSignal } from "./cause.ts";
import { detach } from "../bytes/detach.ts";
import { SummaryBuilder, type Summary, type SummaryOptions } from "./report-summary.ts";
import { heapSize } from "bun:jsc";

export * from "./findings/types.ts";

// Each detector keeps its own state type; the registry only needs the common shape.
export const DETECTORS: ReadonlyArray<FindingDetector<any>> = [stalePid, recycledPid, signalStorm, blindSpot, timeoutKill, pkillKill, supervisorKill, systemdStop, containerStop, memoryPressure, oomKill, ttyHangup, timer, resourceLimit, parentDeath, selfInflicted];

export interface AnalyzeOptions extends SummaryOptions, FindingOptions {
  /** Detectors to run (default: all of DETECTORS). */
  detectors?: ReadonlyArray<FindingDetector<any>>;
}

/** Everything a renderer needs. */
export interface Report {
  summary: Summary;
  findings: Finding[];
  /** How tracefs signals compared with audit ones (all zero when only one source was read). */
  crossCheck: CorrelateStats;
  /** Gaps the capture knew it had: signals in them are missing from this report. */
  gaps: GapStats;
  /** Whether audit could see kill calls while the capture ran (coverage lines; none in a plain log). */
  coverage: CoverageStats;
  /** What the detectors let go to bound memory (see findings/pairs.ts, findings/signal-storm.ts; the summary's: totals.victimsNotKept, totals.killersNotKept). */
  limits: ReportLimits;
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

/** What the capture's coverage lines said, in order of the stream. */
export interface CoverageStats {
  /** Coverage lines read: 0 when the input says nothing about it (a log file, a capture without --netlink). */
  checks: number;
  /** Each stretch of time audit was blind, partly blind or not checked; the first MAX_COVERAGE_PROBLEMS are kept. */
  problems: CoverageProblem[];
  problemsNotKept: number;
  /** The last verdict read, null without coverage lines. */
  last: { state: CoverageState; time: string } | null;
}

/** A coverage line's verdict that was not full, over the time it held. */
export interface CoverageProblem extends Pick<CoverageLine, "reason" | "missing" | "fix"> {
  state: Exclude<CoverageState, "full">;
  /** From the line that said so to the next verdict; `until` null: to the end of the capture. */
  since: string;
  until: string | null;
}

const MAX_COVERAGE_PROBLEMS = 20;
/** Signals past which finish() collects its garbage as it goes (see there); below, the heap is too small for it to matter. */
const BIG_RUN_SIGNALS = 10_000;
const COVERAGE_STATES = new Set<CoverageState>(["full", "partial", "none", "unknown"]);

/** True when the capture knew audit could not see every kill at some point: the report is incomplete. */
export function hasCoverageProblem(report: Pick<Report, "coverage">): boolean {
  return report.coverage.problems.length > 0 || report.coverage.problemsNotKept > 0;
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
 * Findings that call for attention. An info finding explains a kill that was
 * meant (a timeout, a unit stop), so cron's --quiet-if-clean and --fail-on
 * look only at warnings and criticals.
 */
export function findingsNeedingAttention(findings: readonly Finding[]): Finding[] {
  return findings.filter((finding) => finding.severity !== "info");
}

const detectorRank = new Map(DETECTORS.map((detector, i) => [detector.id, i]));

/**
 * Most severe first, then the best-evidenced, then in registry order (the
 * diagnosis, stale-pid, before its symptoms), then by headline.
 */
export function compareFindings(a: Finding, b: Finding): number {
  const rank = (id: string) => detectorRank.get(id) ?? DETECTORS.length;
  return (
    SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
    b.evidence.count - a.evidence.count ||
    rank(a.id) - rank(b.id) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) ||
    (a.headline < b.headline ? -1 : a.headline > b.headline ? 1 : 0)
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

/** Garbage let pile up before a full collection: 5 to 10 of them on a 5M-line log or 200,000 signals, 30–50 ms each. */
const GARBAGE_SLACK_BYTES = 20 * 1024 * 1024;
/**
 * Signals between two looks at the heap's size, at least and at most. A look walks the heap's blocks (0.1 ms
 * on 60 MB), so the gap adapts to how fast the stream makes garbage: about an eighth of the slack per gap.
 */
const HEAP_LOOK_MIN_SIGNALS = 16;
const HEAP_LOOK_MAX_SIGNALS = 4096;

/**
 * JSC frees garbage that outlived a young-generation pass only in a full
 * collection, which it starts once the heap is about three times what is
 * live: on a big stream, tens of MB of dead lines and signals on top of the
 * report's tables, and RSS never gives that memory back. A full collection
 * once the heap is GARBAGE_SLACK_BYTES past what the last one left keeps the
 * peak near live + that slack; what the reader and the tables do not free, it cannot.
 */
class GarbageBudget {
  private live = heapSize();
  private lastLook = this.live;
  private gap = HEAP_LOOK_MIN_SIGNALS;
  private countdown = HEAP_LOOK_MIN_SIGNALS;

  /** Once per signal. */
  tick(): void {
    if (--this.countdown > 0) return;
    const size = heapSize();
    const grown = size - this.lastLook;
    this.lastLook = size;
    const gap = grown > 0 ? Math.floor((this.gap * GARBAGE_SLACK_BYTES) / 8 / grown) : this.gap * 2;
    this.gap = Math.min(HEAP_LOOK_MAX_SIGNALS, Math.max(HEAP_LOOK_MIN_SIGNALS, gap));
    this.countdown = this.gap;
    if (size - this.live > GARBAGE_SLACK_BYTES) this.fullCollection();
  }

  /** A full collection if more than `atLeast` bytes were allocated since the last one (a full collection costs 30–90 ms on a big run). */
  collect(atLeast: number): void {
    if (heapSize() - this.live > atLeast) this.fullCollection();
  }

  private fullCollection(): void {
    Bun.gc(true);
    this.live = this.lastLook = heapSize();
  }
}

/** Findings a detector raises between young-generation sweeps on a big run: a folded finding is a few KB of garbage at once. */
const FINDINGS_PER_SWEEP = 256;

/** `items`, with a young-generation collection every `every` of them (about a millisecond each when little survives). */
function* sweptEvery<T>(every: number, items: Iterable<T>): Generator<T> {
  let countdown = every;
  for (const item of items) {
    yield item;
    if (--countdown === 0) {
      Bun.gc(false);
      countdown = every;
    }
  }
}

/** Feed signals one at a time (`add`), then `finish()` once. */
export class Analyzer {
  private readonly options: ResolvedFindingOptions;
  private readonly summary: SummaryBuilder;
  private readonly correlator: SourceCorrelator;
  private readonly sequences = new CauseSequences();
  private readonly runs: Array<{ detector: FindingDetector<any>; state: unknown }>;
  private readonly gaps: GapStats = { count: 0, lost: 0, lostUnknown: 0, first: null, last: null };
  private readonly coverageStats: CoverageStats = { checks: 0, problems: [], problemsNotKept: 0, last: null };
  /** The problem still open (the last verdict, when it was not full). */
  private openProblem: CoverageProblem | null = null;
  /** State the detectors share (the pair table). */
  private readonly shared = new Map<string, unknown>();
  private readonly garbage = new GarbageBudget();

  constructor(options: AnalyzeOptions = {}) {
    this.options = resolveFindingOptions(options);
    this.summary = new SummaryBuilder(options);
    this.correlator = new SourceCorrelator(this.options.matchToleranceSec);
    this.runs = (options.detectors ?? DETECTORS).map((detector) => ({ detector, state: detector.init(this.options, this.shared) }));
  }

  add(signal: SignalLine): void {
    // Ids are kept as examples for the whole run; one read from raw text is a slice that would keep its whole line alive.
    signal.id = detach(signal.id);
    // tracefs lines written before causes existed get theirs here.
    explainTracefsSignal(signal);
    const ms = signalTimeMs(signal);
    this.sequences.refine(signal, ms);
    for (const observed of this.correlator.push(signal, ms)) this.count(observed);
    this.garbage.tick();
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

  /** Note a coverage line: each verdict holds until the next one. */
  coverage(line: CoverageLine): void {
    const stats = this.coverageStats;
    stats.checks++;
    const time = typeof line.time === "string" ? line.time : "";
    if (this.openProblem) this.openProblem.until = time;
    this.openProblem = null;
    // A JSON input line is anyone's: a state we do not know is not a clean bill of health.
    const state: CoverageState = COVERAGE_STATES.has(line.state) ? line.state : "unknown";
    stats.last = { state, time };
    if (state === "full") return;
    const problem: CoverageProblem = {
      state,
      since: time,
      until: null,
      reason: String(line.reason ?? ""),
      missing: Array.isArray(line.missing) ? line.missing.map(String) : [],
      fix: typeof line.fix === "string" ? line.fix : null,
    };
    if (stats.problems.length < MAX_COVERAGE_PROBLEMS) {
      stats.problems.push(problem);
      this.openProblem = problem;
    } else stats.problemsNotKept++;
  }

  private count(correlated: CorrelatedSignal): void {
    const observed = { ...correlated, killerKey: killerKey(blamedKiller(correlated.signal), correlated.signal.node) };
    this.summary.add(observed.signal, observed.ms, observed.killerKey);
    for (const run of this.runs) run.detector.observe(run.state, observed);
  }

  finish(): Report {
    for (const observed of this.correlator.flush()) this.count(observed);
    // On a big run: the stream's garbage goes first, unless the budget just took it; the summary and each
    // detector make MBs of short-lived strings and arrays at once, each burst swept when done (a young-generation
    // pass, ms); one full collection before the renderer builds its big strings lets them reuse that memory.
    const big = this.summary.signalCount >= BIG_RUN_SIGNALS;
    if (big) this.garbage.collect(GARBAGE_SLACK_BYTES / 4);
    const summary = this.summary.summary();
    if (big) Bun.gc(false);
    // Folded detector by detector: the thousands a big log raises are never all held at once.
    const folder = new FindingFolder(compareFindings);
    for (const run of this.runs) {
      const findings = run.detector.detect({ summary, state: run.state, options: this.options });
      folder.add(big ? sweptEvery(FINDINGS_PER_SWEEP, findings) : findings);
      if (big) Bun.gc(false);
    }
    const folded = folder.findings();
    if (big) this.garbage.collect(0);
    addStartedBy(folded, summary);
    const pairs = this.shared.get("pairs");
    // The pairs table is shared by stale-pid and recycled-pid, so it is asked here, once; every other detector says its own.
    const limits: ReportLimits = { pairsNotKept: pairs instanceof PairTable ? pairs.notKept : 0, stormKillersNotKept: 0, causeSignalsNotGrouped: 0, parentDeathSignalsNotKept: 0 };
    for (const run of this.runs) {
      const held = run.detector.limits?.(run.state);
      if (held) for (const name of Object.keys(held) as Array<keyof ReportLimits>) limits[name] += held[name] ?? 0;
    }
    return { summary, findings: folded, crossCheck: { ...this.correlator.stats }, gaps: { ...this.gaps }, coverage: { ...this.coverageStats, problems: this.coverageStats.problems.map((p) => ({ ...p })) }, limits };
  }
}

/**
 * Summary + findings for a whole stream (array, generator, or async
 * generator, e.g. `signalsFrom` from lib/signals/signal-stage.ts). Gap and
 * coverage lines in the stream are noted, not analysed.
 */
export async function analyze(
  lines: Iterable<SignalLine | NoticeLine> | AsyncIterable<SignalLine | NoticeLine>,
  options: AnalyzeOptions = {},
): Promise<Report> {
  let analyzer: Analyzer | null = new Analyzer(options);
  for await (const line of lines) {
    if (line.kind === "signal") analyzer.add(line);
    else if (line.kind === "gap") analyzer.gap(line);
    else analyzer.coverage(line);
  }
  const report = analyzer.finish();
  analyzer = null;
  // A big run's tables (tens of MB) are garbage now: collected before the caller renders, the renderer reuses their memory.
  if (report.summary.totals.signals >= BIG_RUN_SIGNALS) Bun.gc(true);
  return report;
}
