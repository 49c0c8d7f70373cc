#!/usr/bin/env bun
/**
 * report: who signalled whom, summed up, and what looks wrong (stale PIDs,
 * recycled PIDs, signal storms, blind spots), for people and for cron.
 * Reads anything upstream: raw audit text, record, event or signal lines.
 */
import { writeFileSync } from "node:fs";
import { defineCommand } from "citty";
import { idNamesFromArgs, inputArgs, intFlag, procArgs, runScript, signalFilterArgs, signalFilterFromArgs } from "../lib/cli/args.ts";
import { WhokilledError, usageError } from "../lib/errors.ts";
import { renderReport, REPORT_FORMATS, type ReportFormat } from "../lib/render/formats.ts";
import { shouldColor } from "../lib/render/format.ts";
import { analyze, findingsNeedingAttention, hasCoverageProblem } from "../lib/signals/findings.ts";
import { signalsFrom } from "../lib/signals/signal-stage.ts";
import type { BucketChoice } from "../lib/signals/report-summary.ts";
import { stopOnSignals, inputErrors, inputPaths, logSummary } from "../lib/cli/script-io.ts";

/** Exit code when --fail-on findings and something was found (1 and 2 are errors). */
const EXIT_FINDINGS = 3;

const command = defineCommand({
  meta: {
    name: "report",
    description: [
      "Summarise who signalled whom and flag what looks wrong: a killer stuck on a stale PID,",
      "a PID hit whoever holds it, signal storms, signals audit could not see.",
      "",
      "Examples:",
      "  bun scripts/report.ts -f /var/log/audit/audit.log --since 2h",
      "  bun scripts/report.ts --format html --output report.html < signals.jsonl",
      "  bun scripts/capture.ts --checkpoint /var/lib/whokilled/cp.json | bun scripts/report.ts --quiet-if-clean",
      "  bun scripts/report.ts --format json --fail-on findings -f audit.log || echo 'something is killing processes'",
    ].join("\n"),
  },
  args: {
    ...inputArgs,
    ...signalFilterArgs,
    ...procArgs,
    format: { type: "enum", options: [...REPORT_FORMATS], default: "text", description: "text, markdown, json (one object) or html (one self-contained page)" },
    output: { type: "string", alias: "o", description: "Write the report to FILE instead of stdout", valueHint: "FILE" },
    bucket: { type: "enum", options: ["auto", "minute", "hour"], default: "auto", description: "Timeline bucket size (auto: minutes for spans up to 3 h)" },
    "quiet-if-clean": { type: "boolean", description: "Print nothing when no finding is a warning or critical and audit could see every kill call (cron mails any output); info findings explain kills that were meant" },
    "fail-on": { type: "enum", options: ["findings", "never"], default: "never", description: `findings: exit ${EXIT_FINDINGS} when a finding is a warning or critical` },
    "storm-threshold": { type: "string", description: "signal-storm: signals from one killer within the window (default 100)", valueHint: "N" },
    "storm-window": { type: "string", description: "signal-storm: window length in seconds (default 60)", valueHint: "SECONDS" },
    paths: { type: "positional", required: false, description: "Input files (as --file)" },
  },
  async run({ args, rawArgs }) {
    const format = args.format as ReportFormat;
    if (!REPORT_FORMATS.includes(format)) throw usageError(`--format must be one of ${REPORT_FORMATS.join(", ")}`);
    const stormThreshold = intFlag(args["storm-threshold"], "storm-threshold");
    const stormWindow = intFlag(args["storm-window"], "storm-window");
    if (stormThreshold !== undefined && stormThreshold < 1) throw usageError("--storm-threshold must be at least 1");
    if (stormWindow !== undefined && stormWindow < 1) throw usageError("--storm-window must be at least 1 second");
    const quiet = args["quiet-if-clean"] === true;

    const errors = inputErrors(args.strict);
    const controller = stopOnSignals();
    const lines = signalsFrom(inputPaths(rawArgs, args._), {
      errors,
      signal: controller.signal,
      ...idNamesFromArgs(args),
      proc: args.proc === true,
      filter: signalFilterFromArgs(args),
    });
    const report = await analyze(lines, {
      bucket: args.bucket as BucketChoice,
      stormThreshold,
      stormWindowSec: stormWindow,
    });
    // Stopped mid-input, a report would be a partial one that reads as complete: print none.
    if (controller.finish("report", "no report printed, since the input was not read to the end")) return;

    const clean = findingsNeedingAttention(report.findings).length === 0;
    const toFile = typeof args.output === "string" && args.output !== "";
    const color = format === "text" && shouldColor({ isTTY: process.stdout.isTTY, toFile });
    // On a terminal, use its width (within reason); files and pipes get a stable 100 columns.
    const width = !toFile && process.stdout.isTTY ? Math.max(60, Math.min(process.stdout.columns ?? 100, 160)) : 100;
    const text = renderReport(report, format, { color, width });
    if (toFile) {
      try {
        writeFileSync(args.output!, text);
      } catch (error) {
        throw new WhokilledError("E_IO", `cannot write ${args.output}: ${(error as Error).message}`, { cause: error });
      }
    } else if (!(quiet && clean && !hasCoverageProblem(report))) {
      // A capture during which audit was blind is not clean, whatever it found.
      process.stdout.write(text);
    }

    // cron mails stderr too: stay silent on a clean run unless something went wrong.
    logSummary("report", { signals: report.summary.totals.signals, findings: report.findings.length }, errors, { errorLabel: "input error", quiet });

    if (args["fail-on"] === "findings" && !clean) process.exitCode = EXIT_FINDINGS;
  },
});

export { command };

// Imported by scripts/whokilled.ts (the single binary) it only provides its command.
if (import.meta.main) await runScript(command);
