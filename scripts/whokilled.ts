#!/usr/bin/env bun
/**
 * whokilled: every script as a sub-command of one program. It is the entry
 * point of the single executable that `npm run build` makes (dist/whokilled),
 * for servers with neither Node nor Bun. Each sub-command is the script's own
 * command, run through the same runScript with the arguments after its name,
 * so flags, help, errors and exit codes are exactly the script's.
 */
import { defineCommand, type CommandDef } from "citty";
import { runScript } from "../lib/cli/args.ts";
import { usageError } from "../lib/errors.ts";
import type { StageName } from "../lib/cli/stage-command.ts";

type CommandLoader = () => Promise<CommandDef<any>>;

/**
 * Every stage, so the binary can start each one that the code spawns
 * (lib/cli/stage-command.ts). Loaded only when named: each script's imports
 * cost start-up time.
 */
const stages: Record<StageName, CommandLoader> = {
  capture: () => import("./capture.ts").then((m) => m.command),
  decode: () => import("./decode.ts").then((m) => m.command),
  attribute: () => import("./attribute.ts").then((m) => m.command),
  report: () => import("./report.ts").then((m) => m.command),
  "setup-rule": () => import("./setup-rule.ts").then((m) => m.command),
  bait: () => import("./bait.ts").then((m) => m.command),
  demo: () => import("./demo.ts").then((m) => m.command),
  why: () => import("./why.ts").then((m) => m.command),
  rogue: () => import("../lib/demo/rogue-main.ts").then((m) => m.command),
};

/** Commands no code starts as a stage of its own: people run them. */
const commands: Record<string, CommandLoader> = {
  ...stages,
  watch: () => import("./watch.ts").then((m) => m.command),
};

/** Stages that only the demo starts: runnable, but not listed in --help. */
const HIDDEN: ReadonlySet<string> = new Set(["rogue"]);

const listed = Object.fromEntries(Object.entries(commands).filter(([name]) => !HIDDEN.has(name)));

const command = defineCommand({
  meta: {
    name: "whokilled",
    description: [
      "Who killed my process? Finds the sender of every signal from the kernel's audit records.",
      "Each command is also a script of the repository (scripts/NAME.ts); `whokilled COMMAND --help` shows its flags.",
      "",
      "Examples:",
      "  whokilled setup-rule install",
      "  whokilled capture --netlink | whokilled attribute --format table",
      "  whokilled report -f /var/log/audit/audit.log --since 2h",
      "  whokilled why 26880 --since 2h",
      "  whokilled watch --pid 4242",
    ].join("\n"),
  },
  subCommands: listed,
  run() {
    throw usageError(`name a command: ${Object.keys(listed).join(", ")} (see --help)`);
  },
});

export { command };

if (import.meta.main) {
  const [name, ...rest] = process.argv.slice(2);
  const load = name !== undefined && Object.hasOwn(commands, name) ? commands[name] : undefined;
  // Unknown names, no name, --help and --version go to the top-level command (citty names an unknown command).
  await runScript(load ? await load() : command, load ? rest : process.argv.slice(2));
}
