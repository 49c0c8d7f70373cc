#!/usr/bin/env bun
/**
 * bait: hold a PID with a child process and wait for it to be killed; one
 * `bait` JSON line per child (docs/SCHEMA.md).
 */
import { defineCommand } from "citty";
import { bait, DEFAULT_BAIT_COMM, resolveUser, type BaitMethod } from "../lib/demo/pid-bait.ts";
import { intFlag, millisecondsFlag, runScript } from "../lib/cli/args.ts";
import { usageError } from "../lib/errors.ts";
import { LineWriter } from "../lib/bytes/line-writer.ts";
import { log } from "../lib/log.ts";
import { stopOnSignals } from "../lib/cli/script-io.ts";

const command = defineCommand({
  meta: {
    name: "bait",
    description: [
      "Take hold of a PID with a child process and wait there to be killed, like the `findpid` program of the original case.",
      "Prints one `bait` line per child: killed by which signal, exited, or stopped by bait. Run it while audit watches the kill family.",
      "As root it takes the PID at once via /proc/sys/kernel/ns_last_pid; otherwise it spawns children until one gets the PID.",
      "",
      "Examples:",
      "  sudo bun scripts/bait.ts --pid 26880",
      "  sudo bun scripts/bait.ts --pid 26880 --count 3 --timeout 60 --uid nobody",
    ].join("\n"),
  },
  args: {
    pid: { type: "string", description: "The PID to take (2 … pid_max−1)", required: true, valueHint: "PID" },
    count: { type: "string", description: "Children to park on the PID one after another; 0 = until Ctrl-C", default: "1", valueHint: "N" },
    timeout: { type: "string", description: "Per child: end it after this many seconds (outcome \"stopped\")", valueHint: "SECONDS" },
    uid: { type: "string", description: "Run the child as this user (name or id; needs root)", valueHint: "USER" },
    comm: { type: "string", description: "The child's comm, at most 15 bytes", default: DEFAULT_BAIT_COMM, valueHint: "NAME" },
    wait: { type: "string", description: "If another process holds the PID, wait up to this long for it to be free (default: fail at once)", valueHint: "SECONDS" },
    method: { type: "string", description: "auto, ns_last_pid (root) or fork-loop", default: "auto", valueHint: "HOW" },
    "take-timeout": { type: "string", description: "Give up taking the PID after this long", default: "300", valueHint: "SECONDS" },
  },
  async run({ args }) {
    const pid = intFlag(args.pid, "pid");
    if (pid === undefined) throw usageError("--pid is required");
    const count = intFlag(args.count, "count");
    const method = args.method;
    if (method !== "auto" && method !== "ns_last_pid" && method !== "fork-loop") {
      throw usageError(`--method must be auto, ns_last_pid or fork-loop, got ${JSON.stringify(method)}`);
    }
    const user = args.uid !== undefined ? resolveUser(args.uid) : undefined;
    const controller = stopOnSignals();
    const writer = new LineWriter();
    let lines = 0;
    for await (const line of bait({
      pid,
      count,
      timeoutMs: millisecondsFlag(args.timeout, "timeout"),
      waitMs: millisecondsFlag(args.wait, "wait"),
      takeTimeoutMs: millisecondsFlag(args["take-timeout"], "take-timeout"),
      uid: user?.uid,
      gid: user?.gid,
      comm: args.comm,
      method: method as BaitMethod | "auto",
      signal: controller.signal,
      onHold: (hold) =>
        log.info(`got pid ${hold.pid} (${hold.method}, ${hold.attempts} attempt${hold.attempts === 1 ? "" : "s"}, ${hold.takeMs.toFixed(1)} ms)`),
    })) {
      writer.write(line);
      writer.flush();
      lines++;
      const what =
        line.outcome === "signal"
          ? `killed by ${line.signal?.name ?? "signal"} (${line.signal?.nr})`
          : line.outcome === "exit"
            ? `exited with status ${line.exitCode}`
            : "stopped by bait";
      log.info(`child ${line.pid} ${what}`);
    }
    if (controller.signal.aborted && lines === 0) log.info("bait: stopped before any child held the PID");
    controller.finish("bait");
  },
});

export { command };

// Imported by scripts/whokilled.ts (the single binary) it only provides its command.
if (import.meta.main) await runScript(command);
