#!/usr/bin/env bun
/**
 * attribute: who signalled whom. One JSON `signal` line per kill-family call
 * (kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo,
 * pidfd_send_signal, both ABIs) and per tracefs signal, from raw audit text,
 * `record` lines or `event` lines.
 */
import { defineCommand } from "citty";
import { inputArgs, runScript, signalFilterArgs, signalFilterFromArgs } from "../lib/cli.ts";
import { LineWriter } from "../lib/jsonl.ts";
import { formatSignalRow } from "../lib/render/signal-row.ts";
import { SignalStage } from "../lib/signals/pipeline.ts";
import type { GapLine, SignalLine } from "../lib/schema.ts";
import { abortOnSignals, inputErrors, inputPaths, logSummary } from "../lib/script-io.ts";
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
    proc: { type: "boolean", description: "Add cmdline, exe and parent chain from live /proc (only if the process predates the signal)" },
    format: { type: "enum", options: ["jsonl", "table"], default: "jsonl", description: "jsonl (one signal line each) or table (one readable line each)" },
    paths: { type: "positional", required: false, description: "Input files (as --file)" },
  },
  async run({ args, rawArgs }) {
    const errors = inputErrors(args.strict);
    const writer = new LineWriter();
    const table = args.format === "table";
    const color = table && process.stdout.isTTY === true && !process.env.NO_COLOR;
    const emit = (line: SignalLine | GapLine) => {
      if (!table) writer.write(line);
      else if (line.kind === "signal") writer.writeLine(formatSignalRow(line, { color }));
      else log.warn(`gap in ${line.source}: ${line.reason}`);
    };
    const stage = new SignalStage(
      {
        lookup: args.lookup !== false,
        passwdFile: args.passwd,
        groupFile: args.group,
        proc: args.proc === true,
        filter: signalFilterFromArgs(args),
      },
      errors,
      // The table is made from signal objects; JSON lines may be written from the records' bytes.
      { emit, writer: table ? undefined : writer },
    );
    const controller = abortOnSignals();
    try {
      // What each chunk read made goes out before the next read, which may wait (capture --follow | attribute):
      // a kill in a burst of unrelated lines must not sit in the buffer until more input comes.
      await stage.read(inputPaths(rawArgs, args._), { signal: controller.signal, onChunk: () => writer.flush() });
      stage.finish();
    } finally {
      writer.flush();
    }
    const { records } = stage.eventStats;
    const unrelated = stage.unrelated;
    const { signals, filtered, gaps } = stage.stats;
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
  },
});

await runScript(command);
