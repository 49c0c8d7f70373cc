#!/usr/bin/env bun
/**
 * Measure which kernel path sends which si_code, in which task's context:
 * runs every scenario of kernel-signals.ts under a private tracefs instance
 * (SIGCHLD included) and prints the signal_generate lines each one caused.
 * docs/KERNEL-SIGNALS.md records its output. Needs root.
 *
 *   ./node_modules/.bin/bun test/helpers/measure-kernel-signals.ts [SCENARIO...]
 */
import { SCENARIOS, buildKernelSignals, kernelSignalsSkipReason, linesOf, startSignalCollector } from "./kernel-signals.ts";

const binary = buildKernelSignals();
if (!binary) throw new Error(kernelSignalsSkipReason());
const wanted = process.argv.slice(2);
const collector = startSignalCollector({ filter: "" });
await collector.ready;
try {
  for (const scenario of Object.values(SCENARIOS)) {
    if (wanted.length > 0 && !wanted.includes(scenario.name)) continue;
    const from = collector.seen.length;
    const run = await scenario.run(binary);
    await Bun.sleep(400);
    console.log(`## ${scenario.name}: ${scenario.command} (${run.outcome}; pids ${[...run.pids].join(" ")})`);
    for (const line of linesOf(collector.seen, run, from)) console.log(`    ${line.record.raw.trim()}`);
  }
} finally {
  await collector.stop();
}
