#!/usr/bin/env bun
/**
 * decode: audit records → one JSON `event` per line (docs/SCHEMA.md).
 * Reads raw audit text (audit.log, ausearch output, kernel log) or capture's
 * `record` lines; passes other JSON line kinds through.
 */
import { defineCommand } from "citty";
import { inputArgs, runScript, secondsFlag } from "../lib/cli.ts";
import { LineWriter } from "../lib/jsonl.ts";
import { EventStage, pushFiles } from "../lib/pipeline.ts";
import { inputErrors, inputPaths, logSummary } from "../lib/script-io.ts";

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
    // The stage writes to `writer` itself: events as bytes, other lines as they come.
    const stage = new EventStage(
      { lookup: args.lookup !== false, passwdFile: args.passwd, groupFile: args.group, windowSeconds: secondsFlag(args.window, "window") },
      errors,
      writer,
    );
    try {
      // Read as bytes (lib/sources/slot-reader.ts). Each chunk's events go out before the next read,
      // which may wait (capture --follow | decode): a burst must not sit in the buffer until more input comes.
      await pushFiles(stage, inputPaths(rawArgs, args._), () => writer.flush());
      stage.flush();
    } finally {
      writer.flush();
    }
    const { records, events, structural } = stage.stats;
    logSummary("decode", { records, events, "structural lines": structural, "duplicate records folded": stage.decoder.folded }, errors);
  },
});

await runScript(command);
