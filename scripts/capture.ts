#!/usr/bin/env bun
/**
 * capture: raw audit records → one JSON `record` line each.
 * From files (audit.log, rotated and gzipped generations, ausearch output,
 * kernel log), stdin, auditd's live log (--follow, --checkpoint), the kernel
 * directly (--netlink, with `coverage` lines saying whether audit can see kill
 * calls at all), the kernel's signal tracepoint (--tracefs), or the kill
 * family's syscall tracepoints with no audit rule (--tracepoints).
 */
import { defineCommand } from "citty";
import { runScript } from "../lib/cli/args.ts";
import { captureLive, captureFiles, type CaptureMode } from "../lib/sources/capture-run.ts";
import { usageError } from "../lib/errors.ts";
import { LineWriter } from "../lib/bytes/line-writer.ts";
import { stopOnSignals, inputErrors, inputPaths, logSummary } from "../lib/cli/script-io.ts";
import { captureJournal, journalctlArgs } from "../lib/sources/journal-read.ts";
import { journalArgs, journalFlag } from "../lib/cli/args.ts";
import { DEFAULT_AUDIT_LOG } from "../lib/audit/ids.ts";


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
      "  bun scripts/capture.ts --tracepoints | bun scripts/attribute.ts --format table   # no audit rule",
      "  journalctl -o export | bun scripts/capture.ts --journal -   # systemd's kills, the journal's audit records",
    ].join("\n"),
  },
  args: {
    file: { type: "string", alias: "f", description: `Input file, repeatable; - is stdin (default ${DEFAULT_AUDIT_LOG})`, valueHint: "PATH" },
    rotated: { type: "boolean", description: "Also read FILE.N and FILE.N.gz, oldest first" },
    follow: { type: "boolean", description: "Follow the log like tail -F (survives rotation and truncation)" },
    "from-start": { type: "boolean", description: "With --follow: start at the beginning of the log, not its end" },
    checkpoint: { type: "string", description: "Resume after the last record read by the previous run (for cron)", valueHint: "FILE" },
    netlink: {
      type: "boolean",
      description: "Read records from the kernel's audit multicast group (needs CAP_AUDIT_READ); also says, at once and whenever it changes, whether audit can see kill calls (a `coverage` line, and a warning)",
    },
    coverage: {
      type: "boolean",
      default: true,
      description: "With --netlink: check whether the loaded rules let audit see every kill call (--no-coverage for a capture scoped on purpose, as the demo's)",
    },
    tracefs: { type: "boolean", description: "Read every generated signal from the signal:signal_generate tracepoint" },
    tracepoints: {
      type: "boolean",
      description:
        "Attribute kill calls with no audit rule: the kill family's syscall tracepoints, signal_generate, and the exec and task tracepoints in a private tracefs instance (root); cannot see 32-bit callers' calls, auid or a gone sender's uid (docs/TRACEPOINTS.md)",
    },
    "tracefs-filter": { type: "string", description: "Tracepoint filter for --tracefs", default: "sig != 17" },
    strict: { type: "boolean", description: "Stop at the first malformed line (exit 1)" },
    ...journalArgs,
    paths: { type: "positional", required: false, description: "Input files (as --file)" },
  },
  async run({ args, rawArgs }) {
    const live: CaptureMode[] = [];
    if (args.follow) live.push("follow");
    if (args.checkpoint) live.push("checkpoint");
    if (args.netlink) live.push("netlink");
    if (args.tracefs) live.push("tracefs");
    if (args.tracepoints) live.push("tracepoints");
    if (args.tracefs && args.tracepoints) throw usageError("--tracepoints reads signal_generate itself: drop --tracefs");
    if (live.includes("follow") && live.includes("checkpoint")) throw usageError("--follow and --checkpoint do not combine");
    const errors = inputErrors(args.strict);
    const writer = new LineWriter();
    const controller = stopOnSignals();
    const journal = journalFlag(args.journal);
    if (journal !== null) {
      if (live.length > 0 || args._.length > 0 || args.file !== undefined) throw usageError("--journal reads the journal alone: no other input or live source");
      try {
        const input = "file" in journal ? { file: journal.file } : { journalctl: journalctlArgs() };
        const stats = await captureJournal(input, { errors, writer, signal: controller.signal });
        logSummary("capture", { records: stats.records, "other journal entries": stats.structural, "binary fields left out": stats.binaryFields }, errors);
      } finally {
        writer.flush();
      }
      controller.finish("capture");
      return;
    }
    const paths = inputPaths(rawArgs, args._, [DEFAULT_AUDIT_LOG]);
    try {
      const stats =
        live.length === 0
          ? await captureFiles(paths, { rotated: args.rotated === true, errors, writer, signal: controller.signal })
          : await captureLive(live, {
              path: paths[0] ?? DEFAULT_AUDIT_LOG,
              checkpointFile: args.checkpoint,
              fromStart: args["from-start"] === true,
              tracefsFilter: args["tracefs-filter"],
              checkCoverage: args.coverage !== false,
              errors,
              writer,
              signal: controller.signal,
            });
      logSummary("capture", { records: stats.records, "structural lines": stats.structural, gaps: stats.gaps }, errors);
    } finally {
      writer.flush();
    }
    controller.finish("capture");
  },
});

export { command };

// Imported by scripts/whokilled.ts (the single binary) it only provides its command.
if (import.meta.main) await runScript(command);
