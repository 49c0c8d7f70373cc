#!/usr/bin/env bun
/**
 * decode: audit records → one JSON `event` per line (docs/SCHEMA.md).
 * Reads raw audit text (audit.log, ausearch output, kernel log) or capture's
 * `record` lines; passes other JSON line kinds through.
 */
import { defineCommand } from "citty";
import { idNamesFromArgs, inputArgs, runScript, secondsFlag } from "../lib/cli/args.ts";
import { LineWriter } from "../lib/bytes/line-writer.ts";
import { runDecode, type DecodeRun } from "../lib/audit/event-stage.ts";
import { inputErrors, stopOnSignals, inputPaths, logSummary } from "../lib/cli/script-io.ts";

const command = defineCommand({
  meta: {
    name: "decode",
    description: [
      "Group audit records into events and interpret them (arch, syscall, signal, errno, ids, hex strings).",
      "",
      "Examples:",
      "  bun scripts/decode.ts < /var/log/audit/audit.log",
      "  bun scripts/capture.ts --rotated | bun scripts/decode.ts --no-lookup",
      "  bun scripts/decode.ts test/fixtures/ausearch-block.log | jq .syscall",
    ].join("\n"),
  },
  args: {
    ...inputArgs,
    window: { type: "string", description: "Close an event this many seconds (audit time) behind the newest record", default: "2" },
    paths: { type: "positional", required: false, description: "Input files (as --file)" },
  },
  async run({ args, rawArgs }) {
    const errors = inputErrors(args.strict);
    const writer = new LineWriter();
    const settings = {
      ...idNamesFromArgs(args),
      windowSeconds: secondsFlag(args.window, "window"),
    };
    const controller = stopOnSignals();
    let run: DecodeRun;
    try {
      run = await runDecode(inputPaths(rawArgs, args._), settings, errors, writer, { signal: controller.signal });
    } finally {
      writer.flush();
    }
    const { records, events, structural } = run.stats;
    logSummary("decode", { records, events, "structural lines": structural, "duplicate records folded": run.folded }, errors);
    controller.finish("decode");
  },
});

export { command };

// Imported by scripts/whokilled.ts (the single binary) it only provides its command.
if (import.meta.main) await runScript(command);
