#!/usr/bin/env bun
/**
 * watch: wait for a process (by PID, comm, systemd unit or cgroup) to end,
 * and say at once how: the signal, its sender and the catalogue's cause; or
 * its exit code; or the OOM killer; and how long it ran. One line per death
 * (text, or a `death` JSON line, docs/SCHEMA.md).
 */
import { defineCommand } from "citty";
import { intFlag, millisecondsFlag, restArgs, runScript, wayArgs } from "../lib/cli/args.ts";
import { parseWatchWay, wayUses } from "../lib/rules/ways.ts";
import { stopOnSignals } from "../lib/cli/script-io.ts";
import { LineWriter } from "../lib/bytes/line-writer.ts";
import { usageError } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { escapeControl } from "../lib/render/escape.ts";
import { deathText } from "../lib/watch/death.ts";
import { runDeathCommand } from "../lib/watch/exec.ts";
import { watchDeaths } from "../lib/watch/live.ts";
import { targetFromFlags } from "../lib/watch/targets.ts";

const command = defineCommand({
  meta: {
    name: "watch",
    description: [
      "Wait for a process to end and say at once how: killed by which signal from whom (and why, in the catalogue's words), its exit code, or the OOM killer; and how long it ran.",
      "Needs root: it reads the kernel's tracepoints (a private tracefs instance) and, with --way audit or both (the default: audit) where audit is on, adds a temporary kill-family rule under its own key for the sender's exe, uid and argv; --way tracepoints leaves audit alone. Both are removed on every way out.",
      "--exec runs CMD ARG… for each death, with the answer as JSON on stdin and in WHOKILLED_* variables (no shell; --exec and its command come last).",
      "",
      "Examples:",
      "  sudo bun scripts/watch.ts --pid 4242",
      "  sudo bun scripts/watch.ts --comm nginx --format json --way tracepoints",
      "  sudo bun scripts/watch.ts --unit nginx.service --once --exec /usr/local/bin/notify-death",
    ].join("\n"),
  },
  args: {
    pid: { type: "string", description: "Watch this process (already running); watch ends when it does", valueHint: "PID" },
    comm: { type: "string", description: "Watch every process with this comm, new ones too", valueHint: "NAME" },
    unit: { type: "string", description: "Watch every process of this systemd unit (from /proc/PID/cgroup; .service when no suffix)", valueHint: "NAME" },
    cgroup: { type: "string", description: "Watch every process in this cgroup or below it (a path as /proc/PID/cgroup shows it)", valueHint: "PATH" },
    once: { type: "boolean", description: "Stop after the first death" },
    format: { type: "string", description: "text or json (one `death` line each)", default: "text", valueHint: "FORMAT" },
    ...wayArgs,
    rescan: { type: "string", description: "Read /proc for new matching processes this often", default: "0.25", valueHint: "SECONDS" },
    exec: { type: "string", description: "Run CMD ARG… for each death: JSON on stdin, WHOKILLED_* in the environment. Must come last", valueHint: "CMD" },
  },
  async run({ args }) {
    const format = args.format;
    if (format !== "text" && format !== "json") throw usageError(`--format must be text or json, got ${JSON.stringify(format)}`);
    const way = parseWatchWay(args.way);
    const target = targetFromFlags({ pid: intFlag(args.pid, "pid"), comm: args.comm, unit: args.unit, cgroup: args.cgroup });
    const execArgv = args.exec !== undefined ? [args.exec, ...restArgs()] : null;
    if (execArgv && execArgv[0] === "") throw usageError("--exec needs a command");
    const rescanMs = millisecondsFlag(args.rescan, "rescan");
    if (rescanMs !== undefined && rescanMs < 10) throw usageError("--rescan must be at least 0.01 s");
    const controller = stopOnSignals();
    const writer = new LineWriter();
    const commands: Promise<number | null>[] = [];
    let deaths = 0;
    for await (const death of watchDeaths({
      target,
      once: args.once === true,
      // watch sees deaths through tracepoints whatever the way; the way says whether audit adds the sender's exe, uid and argv.
      audit: wayUses(way).audit,
      rescanMs,
      signal: controller.signal,
      onReady: (state) =>
        log.info(
          `watch: watching ${escapeControl(state.target)} (${state.tracked} running now); ${state.audit.on ? `audit rule key ${state.audit.key}` : `audit not used: ${state.audit.why}`}`,
        ),
    })) {
      deaths++;
      if (format === "json") writer.write(death);
      else writer.writeLine(deathText(death));
      writer.flush();
      for (const note of death.notes) log.info(`watch: pid ${death.pid}: ${escapeControl(note)}`);
      if (execArgv) commands.push(runDeathCommand(execArgv, death));
    }
    // The commands run while watch goes on; at its end they are waited for, unless Ctrl-C ended it.
    if (!controller.signal.aborted) await Promise.all(commands);
    log.info(`watch: ${deaths} death${deaths === 1 ? "" : "s"} seen`);
    controller.finish("watch");
  },
});

export { command };

// Imported by scripts/whokilled.ts (the single binary) it only provides its command.
if (import.meta.main) await runScript(command);
