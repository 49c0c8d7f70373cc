#!/usr/bin/env bun
/**
 * setup-rule: the audit rules that make the kernel log every kill-family call
 * (kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal).
 * Each verb writes JSON Lines of what it did (docs/SCHEMA.md: rule, status,
 * blindspot); logs go to stderr. The kernel is reached over netlink: no
 * auditctl or auditd package is needed. `--way` chooses how kills are watched
 * (lib/rules/ways.ts): audit rules, the kernel's tracepoints (nothing to
 * install), or both; `status --probe` measures what each costs this host.
 */
import { defineCommand, type ArgsDef } from "citty";
import { repeatedFlag, runScript, wayArgs } from "../lib/cli/args.ts";
import { usageError } from "../lib/errors.ts";
import { LineWriter } from "../lib/bytes/line-writer.ts";
import { log } from "../lib/log.ts";
import { buildRules, DEFAULT_KEY, rulesFileText } from "../lib/rules/build.ts";
import { DEFAULT_RULES_DIR, installRules, listInstalled, removeRules } from "../lib/rules/install.ts";
import { parseKey, ruleOptionsFromFlags } from "../lib/rules/options.ts";
import { readAudit, statusReport } from "../lib/rules/status.ts";
import { stopOnSignals, type SignalStop } from "../lib/cli/script-io.ts";
import { userCommand } from "../lib/cli/stage-command.ts";
import { auditFacts, checkWay, hostFacts, requireWay, wayStatusLine, type HostFacts } from "../lib/rules/way-check.ts";
import { parseWatchWay, WATCH_WAYS, wayUses, type WatchWay } from "../lib/rules/ways.ts";
import { costStatusLines, probeCost, probeSummary } from "../lib/rules/probe.ts";
import { ensureTracefs } from "../lib/sources/tracefs.ts";

const keyArg = {
  key: { type: "string", alias: "k", description: `Rule key (-k); also names the rules.d file`, default: DEFAULT_KEY, valueHint: "KEY" },
} as const satisfies ArgsDef;

const ruleArgs = {
  ...keyArg,
  probes: { type: "boolean", description: "Also log signal-0 existence probes (left out by default: a1!=0 / a2!=0)" },
  pid: {
    type: "string",
    description: "Only calls aimed at this pid (a0); negative = group kill of that process group. pidfd_send_signal stays unfiltered",
    valueHint: "PID",
  },
  signal: { type: "string", description: "Only this signal: name (KILL, SIGTERM, RTMIN+2) or number 0-64", valueHint: "SIG" },
  uid: { type: "string", description: "Only senders with this real uid (number or user name from /etc/passwd)", valueHint: "UID|USER" },
  arch: { type: "string", description: "ABIs to cover: b64, b32 or both (default: both on a 64-bit kernel, b32 on a 32-bit one)", valueHint: "ABI" },
  first: {
    type: "boolean",
    description: "Put the rules at the head of the list (-A): the kernel logs a call under the first matching rule, so an earlier rule would take these events",
  },
  "pidfd-open": {
    type: "boolean",
    description:
      "Also log successful pidfd_open calls, so a pidfd_send_signal that fails with ESRCH still names its target; off by default, since runtimes such as Bun and systemd open a pidfd for every child",
  },
} as const satisfies ArgsDef;

const persistArgs = {
  persist: { type: "boolean", description: `Also write (install) or delete (remove) ${DEFAULT_RULES_DIR}/KEY.rules` },
  "rules-dir": { type: "string", description: `Directory for --persist (default ${DEFAULT_RULES_DIR})`, valueHint: "DIR" },
} as const satisfies ArgsDef;

type RuleArgValues = { key: string; probes?: boolean; first?: boolean; "pidfd-open"?: boolean; pid?: string; signal?: string; uid?: string; arch?: string };

/** citty keeps the last of a repeated flag; a filter given twice is more likely a mistake than an override. */
function onlyOnce(rawArgs: readonly string[], names: readonly string[]): void {
  for (const name of names) {
    const values = repeatedFlag(rawArgs, name, name === "key" ? "k" : undefined);
    if (values.length > 1) throw usageError(`--${name} was given ${values.length} times; a rule takes one value (install twice for two)`);
  }
}

function optionsFrom(args: RuleArgValues, rawArgs: readonly string[]) {
  onlyOnce(rawArgs, ["key", "pid", "signal", "uid", "arch"]);
  return ruleOptionsFromFlags({ ...args, pidfdOpen: args["pidfd-open"] });
}

/** The live pipeline that watches this way. */
function captureCommand(way: WatchWay): string {
  const sources = { audit: "--netlink", tracepoints: "--tracepoints", both: "--netlink --tracepoints" }[way];
  return `${userCommand("capture")} ${sources} | ${userCommand("attribute")} --format table`;
}

/** SIGINT/SIGTERM while a verb runs (setup): status --probe stops between its visits and takes down what it loaded. */
let stop: SignalStop | null = null;

function examples(lines: string[]): string {
  return ["", "", "Examples:", ...lines.map((l) => `  ${l}`)].join("\n");
}

function emit(lines: readonly unknown[]): void {
  const writer = new LineWriter();
  try {
    for (const line of lines) writer.write(line);
  } finally {
    writer.flush();
  }
}

const print = defineCommand({
  meta: {
    name: "print",
    description:
      "Print the rules without touching the kernel (no root needed): JSON lines, or rules.d text with --format rules." +
      examples([
        "bun scripts/setup-rule.ts print",
        "bun scripts/setup-rule.ts print --format rules > /etc/audit/rules.d/whokilled.rules",
        "bun scripts/setup-rule.ts print --pid 1234 --signal KILL",
        "bun scripts/setup-rule.ts print --probes --uid www-data --arch b64",
      ]),
  },
  args: {
    ...ruleArgs,
    format: { type: "string", description: "jsonl (default) or rules (plain rules.d text, as --persist writes)", default: "jsonl", valueHint: "FORMAT" },
  },
  run({ args, rawArgs }) {
    const options = optionsFrom(args, rawArgs);
    const rules = buildRules(options);
    if (args.format === "rules") {
      process.stdout.write(rulesFileText(rules, options));
      return;
    }
    if (args.format !== "jsonl") throw usageError(`--format must be jsonl or rules, got ${JSON.stringify(args.format)}`);
    emit(rules.map((r) => ({ kind: "rule", action: "print", rule: r.line, key: r.key, result: "ok", detail: r.detail })));
  },
});

const install = defineCommand({
  meta: {
    name: "install",
    description:
      "Add the rules to the running kernel over netlink (root; no auditctl needed). Rules already there are reported as present. " +
      "If audit is off it is switched on (enabled 1, as auditctl -e 1) and the processes started before that are listed: audit never sees them. " +
      "--way tracepoints installs nothing (capture's private tracefs instance lives only while it runs): it checks that this kernel has tracefs and the tracepoints, and prints the capture command; --way both does both." +
      examples([
        "bun scripts/setup-rule.ts install",
        "bun scripts/setup-rule.ts install --persist            # also /etc/audit/rules.d/whokilled.rules",
        "bun scripts/setup-rule.ts install --pid 1234 --key watch-1234",
        "bun scripts/setup-rule.ts install --signal KILL --uid 1000",
        "bun scripts/setup-rule.ts install --way tracepoints    # light: nothing installed, checks the kernel",
      ]),
  },
  args: { ...ruleArgs, ...persistArgs, ...wayArgs },
  run({ args, rawArgs }) {
    onlyOnce(rawArgs, ["way"]);
    const way = parseWatchWay(args.way);
    const options = optionsFrom(args, rawArgs);
    const uses = wayUses(way);
    if (!uses.audit && (args.persist || args["rules-dir"] !== undefined)) throw usageError("--persist writes audit rules, and --way tracepoints installs none");
    // The tracepoints are checked first: a host that cannot watch this way gets no rule either.
    // The tracefs side is read once; the audit side only when the way uses it, after the install (it changes it).
    let facts: HostFacts | null = null;
    if (uses.tracepoints) {
      ensureTracefs(); // as capture would: mounted at /sys/kernel/tracing when it is not
      facts = hostFacts(options, "unread");
      requireWay(checkWay("tracepoints", facts));
    }
    const lines: unknown[] = [];
    if (uses.audit) {
      const report = installRules({ ...options, persist: args.persist === true, rulesDir: args["rules-dir"] });
      lines.push(...report.lines);
      log.info(`${report.added.length} rule(s) added, ${report.present.length} already present (key ${report.key})`);
    }
    if (facts) {
      lines.push(wayStatusLine(checkWay(way, uses.audit ? { ...facts, audit: auditFacts(options) } : facts)));
      log.info(
        `--way ${way}: ${uses.audit ? "the audit rules are loaded;" : "nothing to install:"} capture enables the tracepoints in a private tracefs instance that lives only while it runs. To watch: ${captureCommand(way)}`,
      );
    }
    emit(lines);
  },
});

const remove = defineCommand({
  meta: {
    name: "remove",
    description:
      "Delete every audit rule carrying the key, and no other rule (root)." +
      examples([
        "bun scripts/setup-rule.ts remove",
        "bun scripts/setup-rule.ts remove --key watch-1234",
        "bun scripts/setup-rule.ts remove --persist   # also deletes /etc/audit/rules.d/whokilled.rules",
      ]),
  },
  args: { ...keyArg, ...persistArgs },
  run({ args, rawArgs }) {
    onlyOnce(rawArgs, ["key"]);
    const key = parseKey(args.key);
    const lines = removeRules(key, { persist: args.persist === true, rulesDir: args["rules-dir"] });
    emit(lines);
    log.info(`${lines.filter((l) => l.action === "remove" && l.result === "removed").length} rule(s) with key ${key} removed`);
  },
});

const list = defineCommand({
  meta: {
    name: "list",
    description:
      "Show our rules as the kernel holds them (auditctl -l syntax); --all shows every rule (root)." +
      examples(["bun scripts/setup-rule.ts list", "bun scripts/setup-rule.ts list --all | jq -r .rule"]),
  },
  args: { ...keyArg, all: { type: "boolean", description: "Every installed rule, not only ours" } },
  run({ args, rawArgs }) {
    onlyOnce(rawArgs, ["key"]);
    emit(listInstalled(parseKey(args.key), args.all === true));
  },
});

const status = defineCommand({
  meta: {
    name: "status",
    description:
      "Can audit see a kill right now? One JSON line per fact: audit switch, auditd, our rules (missing ones named), " +
      "backlog and lost records, and the processes started before audit was switched on (blind spots; the enable time is a heuristic, the output says which); " +
      "then one line per way of watching (audit, tracepoints, both): what it needs and whether this host has it. " +
      "--probe also measures, in about a second, what each way costs this host: ns per unrelated syscall with nothing, with the audit rules, with the tracepoints (all removed after). " +
      "Takes the same rule options as install to know which rules to expect (root)." +
      examples([
        "bun scripts/setup-rule.ts status",
        "bun scripts/setup-rule.ts status --pid 1234 --key watch-1234",
        "bun scripts/setup-rule.ts status | jq 'select(.kind==\"status\")'",
        "bun scripts/setup-rule.ts status --probe | jq -c 'select(.topic==\"cost\")'",
      ]),
  },
  args: {
    ...ruleArgs,
    probe: {
      type: "boolean",
      description:
        "Also measure what each way costs this host (about a second; noisy): getppid() timed with nothing, with the audit rules install would add, with the tracepoints; leaves nothing behind. Audit off or locked: its row is skipped, never switched on",
    },
  },
  async run({ args, rawArgs }) {
    const options = optionsFrom(args, rawArgs);
    // Audit's status and rule list read once, for the status lines and the ways' checks.
    const read = readAudit();
    const facts = hostFacts(options, read);
    emit([...statusReport(options, {}, read), ...WATCH_WAYS.map((way) => wayStatusLine(checkWay(way, facts)))]);
    if (!args.probe) return;
    // The probe loads these rules under a key of its own.
    const result = await probeCost({ rules: options, signal: stop?.signal });
    if (result.stopped) {
      stop?.finish("setup-rule status --probe", `probe stopped; its rules (key ${result.key}) and tracefs instance removed`);
      return;
    }
    emit(costStatusLines(result, buildRules(options).length));
    log.info(probeSummary(result));
  },
});

const command = defineCommand({
  meta: {
    name: "setup-rule",
    description:
      "Manage the audit rules that log who sends signals (kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal; 64- and 32-bit callers), or check the tracepoints that watch them without rules (--way)." +
      examples([
        "bun scripts/setup-rule.ts print --format rules",
        "bun scripts/setup-rule.ts install && bun scripts/setup-rule.ts status",
        "bun scripts/setup-rule.ts status --probe   # what each way costs this host",
        "bun scripts/setup-rule.ts remove",
      ]),
  },
  // A signal lets a verb's synchronous work finish (no rule half added), then exits 128+n; status --probe stops between its visits.
  setup: () => {
    stop = stopOnSignals();
  },
  subCommands: { print, install, remove, list, status },
});

export { command };

// Imported by scripts/whokilled.ts (the single binary) it only provides its command.
if (import.meta.main) await runScript(command);
