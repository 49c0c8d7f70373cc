#!/usr/bin/env bun
/**
 * Entry point of the demo's rogue, run as its own process so its kill calls
 * carry their own pid and comm in the audit log:
 *
 *   bun lib/demo/rogue-main.ts --pid 26880 --ancestor $DEMO_PID --for 30
 *
 * With --start-on-stdin it kills nothing until a line arrives on stdin.
 *
 * Not a user-facing verb (scripts/ holds those); see lib/demo/rogue.ts for the
 * safety rules.
 */
import { defineCommand } from "citty";
import { intFlag, millisecondsFlag, runScript } from "../cli/args.ts";
import { usageError } from "../errors.ts";
import { LineWriter } from "../bytes/line-writer.ts";
import { log } from "../log.ts";
import { readPidStat } from "./pid-space.ts";
import { stopOnSignals } from "../cli/script-io.ts";
import { DEFAULT_ROGUE_COMM, describeAttempt, rogue, setOwnComm, waitForGo } from "./rogue.ts";

const command = defineCommand({
  meta: { name: "rogue", description: "Send SIGKILL to one PID every few seconds, like the original case's web server (demo only)." },
  args: {
    pid: { type: "string", required: true, description: "The PID to keep killing", valueHint: "PID" },
    ancestor: { type: "string", required: true, description: "The demo's PID: a held PID is killed only if it descends from it", valueHint: "PID" },
    "bait-comm": { type: "string", default: "wk-bait", description: "…and only if its comm is this", valueHint: "NAME" },
    interval: { type: "string", default: "2", description: "Seconds between kills", valueHint: "SECONDS" },
    for: { type: "string", default: "60", description: "Stop after this many seconds", valueHint: "SECONDS" },
    comm: { type: "string", default: DEFAULT_ROGUE_COMM, description: "Our own comm, as audit will show it", valueHint: "NAME" },
    signal: { type: "string", default: "SIGKILL", description: "Signal to send", valueHint: "SIG" },
    json: { type: "boolean", description: "Also write each attempt as a JSON line on stdout" },
    "start-on-stdin": { type: "boolean", description: "Wait for a line on stdin before the first kill (end of input: never start)" },
  },
  async run({ args }) {
    const pid = intFlag(args.pid, "pid");
    const ancestor = intFlag(args.ancestor, "ancestor");
    if (pid === undefined || ancestor === undefined) throw usageError("--pid and --ancestor are required");
    const forMs = millisecondsFlag(args.for, "for") ?? 60_000;
    const intervalMs = millisecondsFlag(args.interval, "interval") ?? 2000;
    // Stopping is the rogue's normal end (exit 0): the demo tells it to.
    const controller = stopOnSignals({ exitWithSignal: false });
    if (args["start-on-stdin"] && !(await waitForGo(Bun.stdin.stream(), controller.signal))) return;
    // Named when it starts work, so a capture started meanwhile sees the rename (task_rename): trace_pipe's heads
    // cache names by PID, and may still show an earlier holder's for a process renamed before the tracing began.
    setOwnComm(args.comm);
    const writer = new LineWriter();
    for await (const attempt of rogue({
      pid,
      ancestor,
      baitComm: args["bait-comm"],
      intervalMs,
      forMs,
      sendSignal: args.signal,
      parentPid: readPidStat(process.pid)?.ppid,
      signal: controller.signal,
    })) {
      if (args.json) {
        writer.write(attempt);
        writer.flush();
      }
      log.info(`rogue: ${describeAttempt(attempt)}`);
    }
  },
});

export { command };

// Imported by scripts/whokilled.ts (the single binary) it only provides its command.
if (import.meta.main) await runScript(command);
