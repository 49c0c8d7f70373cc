/**
 * `setup-rule status --probe`: what each way would cost this host, measured
 * here in a second or so, with no compiler: this process calls getppid(2), a
 * syscall no rule or tracepoint is about, in a tight loop through bun:ffi
 * (lib/sources/libc.ts), and times it with nothing of ours loaded, with the
 * audit rules setup-rule would install (under a run key), and with the
 * tracepoint way's tracepoints enabled in a private instance. States
 * alternate, the order rotating each round; each visit to a state times a few
 * short runs and keeps the quickest (the host's noise only adds time), and a
 * state's figure is the median of its visits. The FFI call adds the same few
 * ns to each syscall in every state (docs/PERFORMANCE.md).
 *
 * The states are set up and taken down by cost-states.ts (shared with the
 * bench): nothing is left behind on return, error, abort or exit, and a run
 * killed by kill -9 leaves a key and an instance the next run removes.
 */
import { WhokilledError } from "../errors.ts";
import type { StatusCost } from "../schema.ts";
import { lib } from "../sources/libc.ts";
import { ensureTracefs } from "../sources/tracefs.ts";
import type { RuleOptions } from "./build.ts";
import type { AuditControl } from "./control.ts";
import { CostStates, median, rotated, type CostState, type OthersPresent } from "./cost-states.ts";
import { missingTracepoints, wayTracepoints } from "./way-check.ts";

export type ProbeStateName = "nothing" | "audit" | "tracepoints";
export const PROBE_STATES: readonly ProbeStateName[] = ["nothing", "audit", "tracepoints"];

export interface ProbeRow {
  state: ProbeStateName;
  /** ns per getppid() call: the median over the rounds of each visit's quickest run; null when skipped. */
  nsPerCall: number | null;
  /** nsPerCall / nothing's; null when skipped. */
  ratio: number | null;
  /** Calls timed in this state, all runs together. */
  calls: number;
  /** Why the state was not measured, or null. */
  skipped: string | null;
}

export interface ProbeResult {
  rows: ProbeRow[];
  /** The run key the audit rules were loaded under (removed). */
  key: string;
  /** Others' rules and instances present meanwhile: they weigh on every state alike. */
  others: OthersPresent;
  rounds: number;
  callsPerRun: number;
  elapsedMs: number;
  /** The signal aborted the probe before it finished: rows are incomplete. */
  stopped: boolean;
}

export interface ProbeOptions {
  /** The audit rules to measure (what setup-rule install would add with these options); the key is the probe's own. */
  rules?: Omit<RuleOptions, "key">;
  signal?: AbortSignal;
  /** Time spent in the timed loops, about (default 600 ms; setting up and taking down the states adds ~0.1 s a round). */
  budgetMs?: number;
  rounds?: number;
  /** The kernel's audit (tests); default the real one. */
  control?: AuditControl;
}

const DEFAULT_BUDGET_MS = 600;
const DEFAULT_ROUNDS = 3;
const MIN_BATCH = 2_000;
const MAX_BATCH = 1_000_000;

/** Short runs per visit to a state: the host's noise (other processes) only ever adds time, so the quickest run is the state's own cost. */
const RUNS_PER_VISIT = 8;

/** ns per getppid() over `calls` calls, through the FFI binding. */
function timeGetppid(calls: number): number {
  const getppid = lib().getppid;
  const start = Bun.nanoseconds();
  for (let i = 0; i < calls; i++) getppid();
  return (Bun.nanoseconds() - start) / calls;
}

/** The quickest of `runs` runs of `calls` calls each. */
function quickest(runs: number, calls: number): number {
  let best = Infinity;
  for (let i = 0; i < runs; i++) best = Math.min(best, timeGetppid(calls));
  return best;
}

/** Let the event loop run (a SIGINT/SIGTERM handler gets its turn between visits), then tell whether `signal` has aborted. */
const abortedAfterTurn = (signal?: AbortSignal) => new Promise<boolean>((resolve) => setImmediate(() => resolve(signal?.aborted === true)));

/** Why the tracepoint state cannot be measured here, or null; mounts tracefs as capture would. */
function tracepointSkip(): string | null {
  let root: string;
  try {
    root = ensureTracefs();
  } catch (error) {
    return (error as Error).message;
  }
  const missing = missingTracepoints(root);
  return missing.length > 0 ? `this kernel lacks ${missing.join(", ")}` : null;
}

export async function probeCost(options: ProbeOptions = {}): Promise<ProbeResult> {
  const rounds = options.rounds ?? DEFAULT_ROUNDS;
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  if (!(Number.isInteger(rounds) && rounds > 0)) throw new WhokilledError("E_USAGE", `probe: rounds must be a positive integer, not ${rounds}`);
  const costStates = new CostStates("probe", { rules: options.rules, whenAuditOff: "skip", control: options.control });
  const started = performance.now();
  const states: Record<ProbeStateName, CostState> = {
    nothing: { audit: false, tracepoints: [] },
    audit: { audit: true, tracepoints: [] },
    tracepoints: { audit: false, tracepoints: wayTracepoints() },
  };
  const skipped: Record<ProbeStateName, string | null> = { nothing: null, audit: costStates.skipReason(states.audit), tracepoints: tracepointSkip() };
  const measured = PROBE_STATES.filter((name) => skipped[name] === null);
  const visits: Record<ProbeStateName, number[]> = { nothing: [], audit: [], tracepoints: [] };
  const others: OthersPresent = { auditRules: 0, instances: 0 };
  let stopped = false;
  let callsPerRun = 0;
  try {
    costStates.removeLeftovers();
    // Warm the loop up (the JIT), then size the runs to the budget.
    timeGetppid(20_000);
    const estimate = quickest(4, 5_000);
    callsPerRun = Math.max(MIN_BATCH, Math.min(MAX_BATCH, Math.round((budgetMs * 1e6) / (estimate * measured.length * rounds * RUNS_PER_VISIT))));
    probing: for (let round = 0; round < rounds; round++) {
      for (const name of rotated(measured, round)) {
        stopped = await abortedAfterTurn(options.signal);
        if (stopped) break probing;
        stopped = await costStates.visit(states[name], others, async () => {
          if (await abortedAfterTurn(options.signal)) return true;
          visits[name].push(quickest(RUNS_PER_VISIT, callsPerRun));
          return false;
        });
        if (stopped) break probing;
      }
    }
  } finally {
    costStates.takeDown();
  }
  const base = visits.nothing.length > 0 ? median(visits.nothing) : null;
  const rows = PROBE_STATES.map((state): ProbeRow => {
    const runs = visits[state];
    const ns = runs.length > 0 ? median(runs) : null;
    return {
      state,
      nsPerCall: ns === null ? null : Number(ns.toFixed(1)),
      ratio: ns === null || base === null ? null : Number((ns / base).toFixed(2)),
      calls: runs.length * callsPerRun * RUNS_PER_VISIT,
      skipped: skipped[state] ?? (stopped && runs.length === 0 ? "stopped before it was measured" : null),
    };
  });
  return { rows, key: costStates.key, others, rounds, callsPerRun, elapsedMs: Math.round(performance.now() - started), stopped };
}

/** The probe's rows as `status` lines (topic cost), each saying what was measured and that the figures are noisy. */
export function costStatusLines(result: ProbeResult, ruleCount: number): StatusCost[] {
  const how = `median over ${result.rounds} round(s) of the quickest of ${RUNS_PER_VISIT} runs of ${result.callsPerRun} getppid() calls from this process, through bun:ffi; noisy: a hint, bench:overhead measures longer`;
  const others =
    result.others.auditRules > 0
      ? `; ${result.others.auditRules} audit rule(s) of others were loaded meanwhile, so every state already paid audit's slow path`
      : "";
  const what: Record<ProbeStateName, string> = {
    nothing: `no rule or tracepoint of ours${others}`,
    audit: `the ${ruleCount} kill-family audit rule(s) setup-rule install would add, loaded under key ${result.key}, then removed`,
    tracepoints: `the tracepoint way's ${wayTracepoints().length} tracepoints enabled in a private tracefs instance, then removed`,
  };
  return result.rows.map((row) => ({
    kind: "status",
    topic: "cost",
    state: row.state,
    nsPerCall: row.nsPerCall,
    ratio: row.ratio,
    calls: row.calls,
    skipped: row.skipped,
    detail: row.skipped ? `not measured: ${row.skipped}` : `${what[row.state]}; ${how}`,
  }));
}

/** One line for people: each state's ns per call and ratio, or why it was skipped. */
export function probeSummary(result: ProbeResult): string {
  const parts = result.rows.map((row) =>
    row.nsPerCall === null ? `${row.state} skipped (${row.skipped})` : `${row.state} ${Math.round(row.nsPerCall)} ns${row.state === "nothing" || row.ratio === null ? "" : ` (${row.ratio.toFixed(2)}×)`}`,
  );
  return `probe: ns per unrelated syscall (getppid) from this process: ${parts.join(", ")}; in ${result.elapsedMs} ms, noisy (bench:overhead measures longer)`;
}
