#!/usr/bin/env bun
/**
 * attribute: who signalled whom. One JSON `signal` line per kill-family call
 * (kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo,
 * pidfd_send_signal, both ABIs) and per tracefs signal, from raw audit text,
 * `record` lines or `event` lines.
 */
import { defineCommand } from "citty";
import { idNamesFromArgs, inputArgs, procArgs, runScript, signalFilterArgs, signalFilterFromArgs } from "../lib/cli/args.ts";
import { LineWriter } from "../lib/bytes/line-writer.ts";
import { coverageLineText } from "../lib/render/coverage-line.ts";
import { escapeControl } from "../lib/render/escape.ts";
import { formatSignalRow } from "../lib/render/signal-row.ts";
import { runAttribute, type AttributeRun } from "../lib/signals/signal-stage.ts";
import type { NoticeLine, SignalLine } from "../lib/schema.ts";
import { stopOnSignals, inputErrors, inputPaths, logSummary } from "../lib/cli/script-io.ts";
import { log } from "../lib/log.ts";

const command = defineCommand({
  meta: {
    name: "attribute",
    description: [
      "Say who signalled whom: killer (pid, comm, exe, user, argv), signal, target, victims, result.",
      "",
      "Examples:",
      "  bun scripts/capture.ts | bun scripts/attribute.ts",
      "  bun scripts/attribute.ts --pid 26880 --format table < /var/log/audit/audit.log",
      "  bun scripts/capture.ts --netlink | bun scripts/attribute.ts --signal KILL --proc --format table",
      "  bun scripts/attribute.ts --failed --since yesterday -f /var/log/audit/audit.log",
    ].join("\n"),
  },
  args: {
    ...inputArgs,
    ...signalFilterArgs,
    ...procArgs,
    format: { type: "enum", options: ["jsonl", "table"], default: "jsonl", description: "jsonl (one signal line each) or table (one readable line each)" },
    paths: { type: "positional", required: false, description: "Input files (as --file)" },
  },
  async run({ args, rawArgs }) {
    const errors = inputErrors(args.strict);
    const writer = new LineWriter();
    const table = args.format === "table";
    const color = table && process.stdout.isTTY === true && !process.env.NO_COLOR;
    const emit = (line: SignalLine | NoticeLine) => {
      if (line.kind === "signal") writer.writeLine(formatSignalRow(line, { color }));
      else if (line.kind === "gap") log.warn(`gap in ${line.source}: ${escapeControl(line.reason)}`);
      else if (line.state !== "full") log.warn(escapeControl(coverageLineText(line)));
    };
    const options = {
      ...idNamesFromArgs(args),
      proc: args.proc === true,
      filter: signalFilterFromArgs(args),
    };
    const controller = stopOnSignals();
    let run: AttributeRun;
    try {
      // The table is made from signal objects; JSON lines may be written from the records' bytes.
      run = await runAttribute(inputPaths(rawArgs, args._), options, errors, writer, { emit: table ? emit : undefined, signal: controller.signal });
    } finally {
      writer.flush();
    }
    const { records, unrelated } = run;
    const { signals, filtered, gaps } = run.stats;
    logSummary(
      "attribute",
      {
        "records decoded": records,
        "execve lines read for ancestry": unrelated.ancestry,
        "unrelated lines skipped": unrelated.lines,
        "unrelated events": unrelated.events,
        signals,
        "filtered out": filtered,
        gaps,
      },
      errors,
    );
    controller.finish("attribute");
  },
});

export { command };

// Imported by scripts/whokilled.ts (the single binary) it only provides its command.
if (import.meta.main) await runScript(command);
