#!/usr/bin/env bun
/**
 * demo: the main job. Replays the original case on this machine for real
 * (rules, a rogue killer, bait, capture --netlink | attribute | report), or,
 * without root or audit, the bundled records of the 2010 case.
 */
import { defineCommand } from "citty";
import { runScript, secondsFlag } from "../lib/cli.ts";
import { liveDemo, liveDemoUnavailable, replaySeed } from "../lib/demo/demo.ts";
import { log } from "../lib/log.ts";
import { abortOnSignals } from "../lib/script-io.ts";

const command = defineCommand({
  meta: {
    name: "demo",
    description: [
      "Replay the original whokilled case live: a root process keeps SIGKILLing one PID; bait holds that PID;",
      "whokilled names the killer and diagnoses the stale/recycled PID. Needs root and kernel audit;",
      "otherwise (or with --seed) it replays the 2010 case's audit records instead.",
      "",
      "Examples:",
      "  sudo npx bun scripts/demo.ts",
      "  npx bun scripts/demo.ts --seed --format markdown",
    ].join("\n"),
  },
  args: {
    seed: { type: "boolean", description: "Replay the bundled 2010 records instead of running live" },
    format: { type: "enum", options: ["text", "markdown", "json", "html"], default: "text", description: "Report format" },
    interval: { type: "string", default: "1.5", description: "Seconds between the rogue's kills", valueHint: "SECONDS" },
  },
  async run({ args }) {
    const intervalSeconds = secondsFlag(args.interval, "interval");
    const why = args.seed ? "--seed given" : liveDemoUnavailable();
    if (why) {
      log.warn(`live demo not run: ${why}; replaying the bundled seed records instead`);
      process.exitCode = await replaySeed({ format: args.format });
      return;
    }
    const controller = abortOnSignals();
    process.exitCode = await liveDemo({ format: args.format, intervalSeconds, signal: controller.signal });
  },
});

await runScript(command);
