#!/usr/bin/env bun
/**
 * capture: raw audit records → one JSON `record` line each.
 * From files (audit.log, rotated and gzipped generations, ausearch output,
 * kernel log), stdin, auditd's live log (--follow, --checkpoint), the kernel
 * directly (--netlink), or the kernel's signal tracepoint (--tracefs).
 */
import { defineCommand } from "citty";
import { runScript } from "../lib/cli.ts";
import { captureLive, captureFiles, type CaptureMode } from "../lib/capture-run.ts";
import { usageError } from "../lib/errors.ts";
import { LineWriter } from "../lib/jsonl.ts";
import { abortOnSignals, inputErrors, inputPaths, logSummary } from "../lib/script-io.ts";

const DEFAULT_LOG = "/var/log/audit/audit.log";

const command = defineCommand({
  meta: {
    name: "capture",
    description: [
      "Read raw audit records and write one JSON `record` line per record.",
      "",
      "Examples:",
      "  bun scripts/capture.ts                                  # /var/log/audit/audit.log",
      "  bun scripts/capture.ts --rotated                        # audit.log.N … audit.log, oldest first, .gz too",
      "  dmesg | bun scripts/capture.ts -f -                     # kernel-log form, no auditd",
      "  bun scripts/capture.ts --follow | bun scripts/attribute.ts --format table",
      "  bun scripts/capture.ts --checkpoint /var/lib/whokilled/cp.json | bun scripts/report.ts --quiet-if-clean",
      "  bun scripts/capture.ts --netlink --tracefs | bun scripts/attribute.ts",
    ].join("\n"),
  },
  args: {
    file: { type: "string", alias: "f", description: `Input file, repeatable; - is stdin (default ${DEFAULT_LOG})`, valueHint: "PATH" },
    rotated: { type: "boolean", description: "Also read FILE.N and FILE.N.gz, oldest first" },
    follow: { type: "boolean", description: "Follow the log like tail -F (survives rotation and truncation)" },
    "from-start": { type: "boolean", description: "With --follow: start at the beginning of the log, not its end" },
    checkpoint: { type: "string", description: "Resume after the last record read by the previous run (for cron)", valueHint: "FILE" },
    netlink: { type: "boolean", description: "Read records from the kernel's audit multicast group (needs CAP_AUDIT_READ)" },
    tracefs: { type: "boolean", description: "Read every generated signal from the signal:signal_generate tracepoint" },
    "tracefs-filter": { type: "string", description: "Tracepoint filter for --tracefs", default: "sig != 17" },
    strict: { type: "boolean", description: "Stop at the first malformed line (exit 1)" },
    paths: { type: "positional", required: false, description: "Input files (as --file)" },
  },
  async run({ args, rawArgs }) {
    const live: CaptureMode[] = [];
    if (args.follow) live.push("follow");
    if (args.checkpoint) live.push("checkpoint");
    if (args.netlink) live.push("netlink");
    if (args.tracefs) live.push("tracefs");
    if (live.includes("follow") && live.includes("checkpoint")) throw usageError("--follow and --checkpoint do not combine");
    const errors = inputErrors(args.strict);
    const writer = new LineWriter();
    const controller = abortOnSignals();
    const paths = inputPaths(rawArgs, args._, [DEFAULT_LOG]);
    try {
      const stats =
        live.length === 0
          ? await captureFiles(paths, { rotated: args.rotated === true, errors, writer, signal: controller.signal })
          : await captureLive(live, {
              path: paths[0] ?? DEFAULT_LOG,
              checkpointFile: args.checkpoint,
              fromStart: args["from-start"] === true,
              tracefsFilter: args["tracefs-filter"],
              errors,
              writer,
              signal: controller.signal,
            });
      logSummary("capture", { records: stats.records, "structural lines": stats.structural, gaps: stats.gaps }, errors);
    } finally {
      writer.flush();
    }
  },
});

await runScript(command);
