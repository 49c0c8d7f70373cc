#!/usr/bin/env bun
/**
 * What each way of watching costs the whole host, measured in one run on
 * this machine: a C program (bench/syscall-loop.c, built with gcc into a
 * temporary directory) times getppid(), a syscall no rule or tracepoint is
 * about, and a kill loop to a child of its own, under each kernel state:
 *
 *   nothing      no rule or tracepoint of ours (audit left as it is)
 *   audit        whokilled's kill-family audit rules (as `setup-rule install` adds them)
 *   tracepoints  the tracepoint way's set (lib/rules/ways.ts): sys_enter_/sys_exit_ of the six
 *                kill-family calls, signal:signal_generate, sched_process_exec and _fork
 *   both         audit and tracepoints
 *   signal_generate alone, and the syscall tracepoints alone: which tracepoint costs what
 *
 * States alternate within each round (the order rotates) and the median of
 * the rounds is reported, as a ratio against "nothing". Each state is set up
 * and taken down around its runs, in a private tracefs instance and under an
 * audit key unique to the run (lib/rules/cost-states.ts, shared with
 * `setup-rule status --probe`); both go in `finally`, on SIGINT/SIGTERM and
 * at exit, and a later run (or `setup-rule remove`) removes what a killed
 * run left. Audit is never switched on here: when it is off, the audit rows
 * say so and measure audit as it is; when it is locked, they are skipped.
 *
 *   bun bench/overhead.ts [--calls N] [--kills N] [--kill-signal 0|18] [--rounds R] [--json OUT] [--if-root]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { stopOnSignals } from "../lib/cli/script-io.ts";
import { log } from "../lib/log.ts";
import { escapeControl } from "../lib/render/escape.ts";
import { CostStates, median, rotated, type CostState } from "../lib/rules/cost-states.ts";
import { WAY_TRACEPOINTS, wayTracepoints } from "../lib/rules/way-check.ts";

const HERE = resolve(import.meta.dir);

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "5000000" },
    kills: { type: "string", default: "200000" },
    "kill-signal": { type: "string", default: "0" },
    rounds: { type: "string", default: "5" },
    json: { type: "string" },
    "if-root": { type: "boolean", default: false },
  },
});

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) {
    process.stderr.write(`bench/overhead.ts: --${name} must be a positive integer, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return n;
}
const calls = positive("calls", values.calls!);
const kills = positive("kills", values.kills!);
const rounds = positive("rounds", values.rounds!);
const killSignal = Number(values["kill-signal"]);
if (killSignal !== 0 && killSignal !== 18) {
  process.stderr.write(`bench/overhead.ts: --kill-signal must be 0 (a probe) or 18 (SIGCONT, logged by the rules), got ${JSON.stringify(values["kill-signal"])}\n`);
  process.exit(2);
}

if (process.getuid?.() !== 0) {
  const why = "bench:overhead: skipped: needs root (it loads audit rules and tracepoints)";
  if (values["if-root"]) {
    log.info(why);
    process.exit(0);
  }
  process.stderr.write(`${why}\n`);
  process.exit(2);
}

type StateName = "nothing" | "audit" | "tracepoints" | "both" | "signal_generate" | "syscall tracepoints";
interface State extends CostState {
  name: StateName;
  /** Why it is not measured, when it is not. */
  skipped?: string;
}

// What is ours (a run key, a private instance) is set up and taken down by lib/rules/cost-states.ts, shared with setup-rule status --probe.
const states = new CostStates("bench", { whenAuditOff: "load" });
const auditNote = states.audit.note ?? "";
const auditEnabled = states.audit.enabled ?? -1;
const key = states.key;

// "tracepoints" is the tracepoint way's whole set (lib/rules/way-check.ts: what capture --tracepoints enables); the last two rows split it.
const STATES: State[] = (
  [
    { name: "nothing", audit: false, tracepoints: [] },
    { name: "audit", audit: true, tracepoints: [] },
    { name: "tracepoints", audit: false, tracepoints: wayTracepoints() },
    { name: "both", audit: true, tracepoints: wayTracepoints() },
    { name: "signal_generate", audit: false, tracepoints: WAY_TRACEPOINTS.signalGenerate },
    { name: "syscall tracepoints", audit: false, tracepoints: WAY_TRACEPOINTS.syscalls },
  ] satisfies State[]
).map((state) => {
  const skipped = states.skipReason(state);
  return skipped ? { ...state, skipped } : state;
});

let loop: ReturnType<typeof Bun.spawn> | null = null;
const workDir = mkdtempSync(join(tmpdir(), "whokilled-overhead-"));
process.on("exit", () => rmSync(workDir, { recursive: true, force: true }));
const stop = stopOnSignals();
stop.signal.addEventListener("abort", () => loop?.kill("SIGKILL"));

/** One run of the C program; its one line of output as a number. */
async function runLoop(binary: string, args: string[]): Promise<number> {
  loop = Bun.spawn([binary, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err, code] = await Promise.all([new Response(loop.stdout as ReadableStream).text(), new Response(loop.stderr as ReadableStream).text(), loop.exited]);
  loop = null;
  if (stop.signal.aborted) throw new Stopped();
  const value = Number(out.trim());
  if (code !== 0 || !Number.isFinite(value)) throw new Error(`syscall-loop ${args.join(" ")} failed (exit ${code}): ${escapeControl(err.trim() || out.trim())}`);
  return value;
}
class Stopped extends Error {}

async function main(): Promise<void> {
  states.removeLeftovers();
  const binary = join(workDir, "syscall-loop");
  const built = Bun.spawnSync(["gcc", "-O2", "-o", binary, join(HERE, "syscall-loop.c")], { stdout: "pipe", stderr: "pipe" });
  if (built.exitCode !== 0) throw new Error(`gcc failed: ${built.stderr.toString().trim()}`);
  log.info(`bench:overhead: pid ${process.pid}, audit key ${key}; ${calls} getppid() and ${kills} kill(child, ${killSignal}) per run, ${rounds} round(s)`);
  if (auditNote) log.warn(`bench:overhead: ${auditNote}`);

  const measured = STATES.filter((s) => !s.skipped);
  const perCall = new Map<StateName, number[]>(measured.map((s) => [s.name, []]));
  const killRate = new Map<StateName, number[]>(measured.map((s) => [s.name, []]));
  const others = { auditRules: 0, instances: 0 };
  for (let round = 0; round < rounds; round++) {
    for (const state of rotated(measured, round)) {
      if (stop.signal.aborted) throw new Stopped();
      await states.visit(state, others, async () => {
        perCall.get(state.name)!.push(await runLoop(binary, ["getppid", String(calls)]));
        killRate.get(state.name)!.push(await runLoop(binary, ["kill", String(kills), String(killSignal)]));
      });
    }
    log.info(`bench:overhead: round ${round + 1}/${rounds} done`);
  }

  const baseNs = median(perCall.get("nothing")!);
  const baseRate = median(killRate.get("nothing")!);
  const rows = STATES.map((state) => {
    if (state.skipped) return { state: state.name, skipped: state.skipped };
    const ns = median(perCall.get(state.name)!);
    const rate = median(killRate.get(state.name)!);
    return {
      state: state.name,
      nsPerCall: Number(ns.toFixed(1)),
      callRatio: Number((ns / baseNs).toFixed(2)),
      killsPerSecond: Math.round(rate),
      killRatio: Number((rate / baseRate).toFixed(2)),
      runs: { nsPerCall: perCall.get(state.name)!, killsPerSecond: killRate.get(state.name)! },
    };
  });

  const out: string[] = [];
  out.push(`| state | ns per getppid() | × nothing | kill(child, ${killSignal}) per s | × nothing |`);
  out.push("| --- | --- | --- | --- | --- |");
  for (const row of rows) {
    if ("skipped" in row) out.push(`| ${row.state} | skipped: ${row.skipped} | | | |`);
    else out.push(`| ${row.state} | ${row.nsPerCall} | ${row.callRatio.toFixed(2)}× | ${row.killsPerSecond} | ${row.killRatio.toFixed(2)}× |`);
  }
  out.push("");
  out.push(`medians of ${rounds} round(s); ${calls} calls, ${kills} kills per run; audit enabled ${auditEnabled}${auditNote ? ` (${auditNote})` : ""}`);
  if (others.auditRules || others.instances) out.push(`present meanwhile (others'): up to ${others.auditRules} audit rule(s), ${others.instances} tracefs instance(s): they weigh on every state alike`);
  process.stdout.write(`${out.join("\n")}\n`);

  if (values.json) {
    const report = { date: new Date().toISOString(), calls, kills, killSignal, rounds, auditEnabled, auditNote: auditNote || null, key, others, rows };
    writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  }
}

try {
  await main();
} catch (error) {
  if (!(error instanceof Stopped)) {
    log.error(`bench:overhead: ${escapeControl((error as Error).message)}`);
    process.exitCode = 1;
  }
} finally {
  states.takeDown();
  stop.finish("bench:overhead", "rules and tracepoints removed");
}
