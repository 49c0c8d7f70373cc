#!/usr/bin/env bun
/**
 * why: who or what ended a process, after the fact, from the evidence the
 * machine already keeps (audit.log and its rotations, the kernel log, the
 * systemd journal, live /proc), with no rule installed beforehand. The same
 * stages as capture | attribute | report, under one command (lib/why/).
 */
import { defineCommand } from "citty";
import { evidenceArgs, idNameArgs, idNamesFromArgs, inputArgs, intFlag, journalFlag, repeatedFlag, runScript, signalFilterArgs } from "../lib/cli/args.ts";
import { usageError } from "../lib/errors.ts";
import { inputErrors, logSummary, stopOnSignals } from "../lib/cli/script-io.ts";
import { renderWhyText } from "../lib/why/render.ts";
import { why, type WhyQuery } from "../lib/why/why.ts";

const command = defineCommand({
  meta: {
    name: "why",
    description: [
      "Say who or what ended a process, from the evidence this machine already keeps:",
      "audit.log and its rotations, the kernel log (dmesg), the systemd journal, and live /proc",
      "for the killer's parents. Where the evidence does not settle it, it says what is missing",
      "and prints the command that sets the trap for next time.",
      "",
      "Examples:",
      "  bun scripts/why.ts 26880",
      "  bun scripts/why.ts nginx --since 2h",
      "  bun scripts/why.ts 4821 --journal journal.json --format json",
      "  bun scripts/why.ts hog --kernel-log dmesg.txt --no-proc",
    ].join("\n"),
  },
  args: {
    process: { type: "positional", required: true, description: "The process: its PID, or its comm (a unit name too, for the journal)" },
    since: signalFilterArgs.since,
    until: signalFilterArgs.until,
    node: signalFilterArgs.node,
    ...evidenceArgs,
    proc: { type: "boolean", default: true, description: "Read the killer's parents from live /proc (for this machine's own logs, not for files given)", negativeDescription: "Do not read /proc" },
    format: { type: "enum", options: ["text", "json"], default: "text", description: "text (one plain answer) or json (one object)" },
    ...idNameArgs,
    strict: inputArgs.strict,
  },
  async run({ args, rawArgs }) {
    const target = String(args.process).trim();
    if (target === "") throw usageError("why needs a PID or a comm");
    // A shell glob after --audit-log, or a time with a space, leaves words citty would drop unsaid.
    const leftOver = args._.slice(1);
    if (leftOver.length > 0) throw usageError(`why takes one PID or comm; left over: ${leftOver.join(" ")} (--audit-log takes one file: repeat the flag for each; quote a time with a space)`);
    const query: WhyQuery = /^\d+$/.test(target) ? { pid: intFlag(target, "pid")! } : { comm: target };
    if (query.pid !== undefined && (query.pid <= 0 || query.pid > 4194304)) throw usageError(`not a PID: ${target}`);
    const auditLogs = repeatedFlag(rawArgs, "audit-log");
    const journal = journalFlag(args.journal);
    const given = auditLogs.length > 0 || args["kernel-log"] !== undefined || (journal !== null && "file" in journal);
    const errors = inputErrors(args.strict);
    const controller = stopOnSignals();
    const answer = await why({
      query,
      since: args.since,
      until: args.until,
      ...(args.node !== undefined ? { node: args.node } : {}),
      inputs: {
        ...(auditLogs.length > 0 ? { auditLogs } : {}),
        ...(args["kernel-log"] !== undefined ? { kernelLog: args["kernel-log"] } : {}),
        ...(journal !== null && "file" in journal ? { journal: journal.file } : {}),
      },
      // Files given: only those are read. None: this machine's own, whose users this machine's passwd names.
      discover: !given,
      // /proc is this machine's: it speaks for this machine's own logs only, never for files from elsewhere.
      proc: args.proc !== false && !given,
      ...idNamesFromArgs(args),
      localNames: args["local-names"] === true || !given,
      errors,
      signal: controller.signal,
    });
    if (controller.finish("why", "no answer printed, since the evidence was not read to the end")) return;
    process.stdout.write(args.format === "json" ? `${JSON.stringify(answer)}\n` : renderWhyText(answer));
    logSummary("why", { "signals read": answer.totals.signals, "about it": answer.totals.matching, "journal entries": answer.totals.journalEntries }, errors);
  },
});

export { command };

// Imported by scripts/whokilled.ts (the single binary) it only provides its command.
if (import.meta.main) await runScript(command);
