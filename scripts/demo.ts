#!/usr/bin/env bun
/**
 * demo: the main job. Replays the original case on this machine for real
 * (rules, a rogue killer, bait, capture --netlink | attribute | report), or,
 * without root or audit, the bundled records of the 2010 case.
 */
import { defineCommand } from "citty";
import { runScript, secondsFlag, wayArgs } from "../lib/cli/args.ts";
import { parseWatchWay } from "../lib/rules/ways.ts";
import { checkInterval, DEFAULT_INTERVAL_SECONDS, liveDemo, liveDemoUnavailable, replaySeed } from "../lib/demo/demo-run.ts";
import { log } from "../lib/log.ts";
import { stopOnSignals } from "../lib/cli/script-io.ts";

const command = defineCommand({
  meta: {
    name: "demo",
    description: [
      "Replay the original whokilled case live: a root process keeps SIGKILLing one PID; bait holds that PID;",
      "whokilled names the killer and diagnoses the stale/recycled PID. Needs root and kernel audit",
      "(--way tracepoints: root and tracefs);",
      "otherwise (or with --seed) it replays the 2010 case's audit records instead.",
      "Ctrl-C stops it at once: its rules are removed and its processes ended (exit 130).",
      "",
      "Examples:",
      "  sudo npx bun scripts/demo.ts",
      "  sudo npx bun scripts/demo.ts --way tracepoints   # no audit rule: the kernel's tracepoints",
      "  npx bun scripts/demo.ts --seed --format markdown",
    ].join("\n"),
  },
  args: {
    seed: { type: "boolean", description: "Replay the bundled 2010 records instead of running live" },
    format: { type: "enum", options: ["text", "markdown", "json", "html"], default: "text", description: "Report format" },
    interval: { type: "string", default: String(DEFAULT_INTERVAL_SECONDS), description: "Seconds between the rogue's kills", valueHint: "SECONDS" },
    ...wayArgs,
  },
  async run({ args }) {
    const intervalSeconds = secondsFlag(args.interval, "interval") ?? DEFAULT_INTERVAL_SECONDS;
    // Checked whichever way the demo goes: a bad flag is a usage error, not a reason to replay.
    checkInterval(intervalSeconds);
    const way = parseWatchWay(args.way);
    const stop = stopOnSignals();
    const why = args.seed ? "--seed given" : liveDemoUnavailable(way);
    if (why) log.warn(`live demo not run: ${why}; replaying the bundled seed records instead`);
    const code = why
      ? await replaySeed({ format: args.format, signal: stop.signal })
      : await liveDemo({ format: args.format, intervalSeconds, signal: stop.signal, way });
    process.exitCode = stop.exitCode() ?? code ?? 1;
  },
});

export { command };

// Imported by scripts/whokilled.ts (the single binary) it only provides its command.
if (import.meta.main) await runScript(command);
