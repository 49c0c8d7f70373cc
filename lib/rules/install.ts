/**
 * Install, remove and list the kill-family rules in the running kernel, and
 * optionally in /etc/audit/rules.d. The kernel is reached through an
 * AuditControl (lib/rules/control.ts: netlink, no auditctl needed). Results
 * come back as JSON line objects; the caller decides where they go.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WhokilledError } from "../errors.ts";
import { log } from "../log.ts";
import { escapeControl } from "../render/escape.ts";
import type { BlindSpotLine, RuleLine, StatusLine } from "../schema.ts";
import { parseRuleText, ruleMeaning, type AuditRule } from "./audit-rule.ts";
import { readClock, readProcStat, uptimeTicks, ticksToIso } from "./blind-spots.ts";
import { buildRules, rulesFileText, type BuiltRule, type RuleOptions } from "./build.ts";
import { deleteRulesWithKey, hasAuditControl, kernelAuditControl, type AuditControl, type AuditStatus, type KernelRule, type OwnAuditContext } from "./control.ts";
import { blindSpotReport, firstEnableTime, probeNoContextDoubt, recordEnableEvidence, type EnableTimeEnv } from "./enable-time.ts";
import { removeLeftInstances } from "../sources/tracefs.ts";
import { removeLeftRunRules } from "./run-keys.ts";

export const DEFAULT_RULES_DIR = "/etc/audit/rules.d";

/** Where the functions here touch the system (/proc and the state directory as for enable-time.ts); tests replace parts of it. */
export interface RulesEnv extends EnableTimeEnv {
  /** The kernel's audit subsystem. A custom one is trusted to handle permissions itself (no CAP check). */
  control?: AuditControl;
}

export interface PersistOptions {
  /** Also write (install) or delete (remove) `<rulesDir>/<key>.rules`. */
  persist?: boolean;
  rulesDir?: string;
}

export type InstallOptions = RuleOptions & PersistOptions;

export interface InstallReport {
  key: string;
  /**
   * One per rule (result ok = added, present = was there); when audit was
   * off, an `audit` and a `blind-spots` status line and one `blindspot` line
   * per process that predates the switch; then the persist lines.
   */
  lines: (RuleLine | StatusLine | BlindSpotLine)[];
  added: string[];
  present: string[];
  /** True when audit was off and this call switched it on. */
  enabledAudit: boolean;
  /**
   * When it switched audit on: whether this process had an audit context
   * (true: audit had been on before since boot, so this was not the first
   * enable; false: it was the first; null: could not tell). Else undefined.
   */
  ownContext?: OwnAuditContext;
}

/** env's audit control, else the kernel's; E_PERM (exit 2) naming `what` when this process lacks the privilege. */
export function controlOf(env: RulesEnv, what: string): AuditControl {
  if (env.control) return env.control;
  if (!hasAuditControl()) {
    throw new WhokilledError("E_PERM", `${what} needs root (CAP_AUDIT_CONTROL) to talk to the kernel's audit subsystem: run it with sudo`);
  }
  return kernelAuditControl;
}

/** The kernel's status, refusing to go on when audit is locked: then no rule can change until reboot. */
function unlockedStatus(control: AuditControl, what: string): AuditStatus {
  const status = control.status();
  if (status.enabled === 2) {
    throw new WhokilledError(
      "E_KERNEL",
      `${what}: audit is locked (enabled 2, e.g. by \`auditctl -e 2\`): nothing can change until reboot; put the rules in /etc/audit/rules.d before the -e 2 line instead`,
    );
  }
  return status;
}

/**
 * Our rules against the kernel's list, by meaning (audit-rule.ts
 * ruleMeaning): each of ours parsed, whether the kernel holds it, and the
 * rules with our key that it holds and we would not write.
 */
export function matchInstalled(rules: readonly BuiltRule[], installed: readonly KernelRule[], key: string): { parsed: AuditRule[]; held: boolean[]; other: string[] } {
  const installedMeanings = new Set(installed.map((r) => ruleMeaning(r.rule)));
  const parsed = rules.map((r) => parseRuleText(r.args));
  const meanings = parsed.map(ruleMeaning);
  const ours = new Set(meanings);
  const other = installed.filter((r) => r.keys.includes(key) && !ours.has(ruleMeaning(r.rule))).map((r) => r.line);
  return { parsed, held: meanings.map((meaning) => installedMeanings.has(meaning)), other };
}

/**
 * Add the rules `options` describe, skipping ones already there. When audit
 * is off, switch it on (enabled 1, never 2) and report the processes that
 * predate it: they stay invisible to audit. If adding a rule fails, the
 * rules added by this call are taken out again before the error is thrown.
 */
export function installRules(options: InstallOptions, env: RulesEnv = {}): InstallReport {
  const control = controlOf(env, "setup-rule install");
  const rules = buildRules(options);
  const status = unlockedStatus(control, "setup-rule install");
  const { parsed, held, other } = matchInstalled(rules, control.listRules(), options.key);
  const report: InstallReport = {
    key: options.key,
    lines: [],
    added: [],
    present: [],
    enabledAudit: false,
  };
  try {
    for (const [i, rule] of rules.entries()) {
      const result = held[i] || control.addRule(parsed[i]!) === "exists" ? "present" : "ok";
      (result === "ok" ? report.added : report.present).push(rule.line);
      report.lines.push({ kind: "rule", action: "install", rule: rule.line, key: options.key, result, detail: rule.detail });
    }
  } catch (error) {
    rollBack(report.added, rules, control);
    throw error;
  }

  if (other.length > 0) {
    log.warn(
      `${other.length} other rule(s) with key ${options.key} are installed and were left in place (setup-rule remove --key ${options.key} clears them):\n  ${other.map(escapeControl).join("\n  ")}`,
    );
  }

  if (status.enabled === 0) {
    const enabled = enableAndFindBlindSpots(control, env, status.pid);
    report.enabledAudit = true;
    report.ownContext = enabled.ownContext;
    report.lines.push(
      { kind: "status", topic: "audit", enabled: 1, failure: status.failure, detail: "audit was off: this install switched it on (enabled 1)" },
      enabled.blindSpots.status,
      ...enabled.blindSpots.lines,
    );
  }

  if (options.persist) {
    const file = persistRules(rules, options);
    for (const rule of rules) {
      report.lines.push({
        kind: "rule",
        action: "persist",
        rule: rule.line,
        key: options.key,
        result: file.changed ? "ok" : "present",
        file: file.path,
      });
    }
    log.info(
      `${file.changed ? "rules written to" : "rules already up to date in"} ${file.path}: they are active now; run \`augenrules --load\` to load the rules.d set (read at boot too); note it replaces every loaded rule with that set (Debian's audit.rules starts with -D)`,
    );
  }
  return report;
}

function rollBack(added: readonly string[], rules: readonly BuiltRule[], control: AuditControl): void {
  for (const line of added) {
    const rule = rules.find((r) => r.line === line);
    if (!rule) continue;
    try {
      control.deleteRule(parseRuleText(rule.args));
    } catch (error) {
      log.warn(`could not take back ${line}: ${(error as Error).message}`);
    }
  }
}

/**
 * Switch audit on, then work out whether this was its first enable since
 * boot: only then are the processes that predate it blind. An enable after
 * `auditctl -e 0` is not, and must not move the recorded first enable later.
 * This process's own audit context tells (lib/sources/netlink.ts
 * probeOwnAuditContext): with one, audit had been on before it started.
 */
function enableAndFindBlindSpots(control: AuditControl, env: RulesEnv, auditdPid: number) {
  const clock = readClock(env.procRoot);
  // Taken before the switch: a process forked in between is counted as blind, which errs on the safe side.
  const ticks = uptimeTicks(clock.ticksPerSecond, env.procRoot);
  control.enable();
  const now = { ticks, time: ticksToIso(ticks, clock) };
  const probe = control.ownAuditContext?.() ?? { context: null, detail: "this audit control cannot tell" };
  const doubt = probe.context === false ? probeNoContextDoubt(control.listRules()) : null;
  let ownContext: OwnAuditContext = doubt ? { context: null, detail: `${probe.detail}, but ${doubt}` } : probe;
  let record;
  if (ownContext.context === false) {
    record = recordEnableEvidence({ first: now, onBy: { ...now, how: "a whokilled install switched audit on for the first time since boot" } }, clock, env);
    // Earlier evidence of audit on (written this boot) outweighs the probe: then this was not the first enable.
    if (record?.first && record.first.ticks !== ticks) ownContext = { context: null, detail: `${probe.detail}, but audit was first switched on at ${record.first.time}` };
    else if (record && !record.first) ownContext = { context: null, detail: `${probe.detail}, but audit had been on by ${record.onBy?.time ?? "an earlier time"}` };
  } else if (ownContext.context === true) {
    const how = `a whokilled install (pid ${process.pid}) found its own process had an audit context, so audit had been on before it started`;
    const started = Math.min(readProcStat(process.pid, env.procRoot)?.startTicks ?? ticks, ticks);
    record = recordEnableEvidence({ onBy: { ticks: started, time: ticksToIso(started, clock), how } }, clock, env);
  } else {
    const how = `a whokilled install switched audit on then and could not tell whether it had been on before (${ownContext.detail})`;
    record = recordEnableEvidence({ onBy: { ...now, how } }, clock, env);
  }
  const daemon = auditdPid > 0 ? readProcStat(auditdPid, env.procRoot) : null;
  let first = firstEnableTime(clock, env, daemon ? { pid: auditdPid, startTicks: daemon.startTicks } : null, record);
  // This run's own proof reads as "install", not as the record it just wrote.
  if (ownContext.context === false && first.basis === "recorded" && first.ticks === ticks) {
    first = { ...first, basis: "install", detail: "this install switched audit on for the first time since boot (its own process had no audit context): processes started before now are never audited, whatever the rules; restart the ones that matter" };
  }
  const blindSpots = blindSpotReport(first, clock, env);
  const listed = blindSpots.lines;
  const names = listed.length ? `:\n  ${listed.map((b) => `${b.pid} ${escapeControl(b.comm)} (started ${b.start})`).join("\n  ")}` : "";
  if (ownContext.context === true) {
    log.warn(
      "audit was off; enabled it again (enabled 1). It had been on before since boot (this process has an audit context), so processes forked since then are audited again" +
        (first.exact ? `; audit was first switched on at ${blindSpots.status.enabledAt}: ${listed.length} blind spot(s)${names}` : `; when it was first switched on is unknown (not after ${blindSpots.status.enabledAt ?? "?"})`),
    );
  } else {
    log.warn(
      `audit was off; enabled it now (enabled 1)${ownContext.context === false ? ", for the first time since boot" : ""}. ` +
        (first.exact
          ? `Processes started before ${blindSpots.status.enabledAt} are never audited, whatever the rules: ${listed.length} blind spot(s)${names}`
          : `Whether it had been on before could not be told (${escapeControl(ownContext.detail)}): ${blindSpots.status.possible ?? 0} process(es) started before now may never be audited`),
    );
  }
  if (listed.length || blindSpots.status.possible) log.warn("restart those you care about, or boot with audit=1 so that every process is audited");
  return { ownContext, blindSpots };
}

export function rulesFilePath(key: string, rulesDir = DEFAULT_RULES_DIR): string {
  return join(rulesDir, `${key}.rules`);
}

/** Write the rules.d file atomically; `changed` false when it already held exactly this text. */
export function persistRules(rules: readonly BuiltRule[], options: InstallOptions): { path: string; changed: boolean } {
  const dir = options.rulesDir ?? DEFAULT_RULES_DIR;
  const path = rulesFilePath(options.key, dir);
  const text = rulesFileText(rules, options);
  try {
    if (existsSync(path) && readFileSync(path, "utf8") === text) return { path, changed: false };
    mkdirSync(dir, { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    // augenrules reads rules.d as root only; 0640 matches Debian's own files.
    writeFileSync(tmp, text, { mode: 0o640 });
    renameSync(tmp, path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new WhokilledError(code === "EACCES" || code === "EPERM" ? "E_PERM" : "E_IO", `cannot write ${path}: ${(error as Error).message}`);
  }
  return { path, changed: true };
}

/**
 * Delete every audit rule carrying `key`, and nothing else. With `persist`,
 * also the rules.d file named after the key.
 */
export function removeRules(key: string, options: PersistOptions = {}, env: RulesEnv = {}): RuleLine[] {
  const control = controlOf(env, "setup-rule remove");
  // What a capture --tracefs killed by kill -9 left goes too (said on stderr), locked audit or not; a fake kernel has no tracefs.
  if (env.control === undefined) removeLeftInstances();
  unlockedStatus(control, "setup-rule remove");
  // So do the temporary rules of a watch killed by kill -9 (only keys whose run is gone).
  removeLeftRunRules(control);
  const lines: RuleLine[] = deleteRulesWithKey(key, control).map((rule) => ({ kind: "rule", action: "remove", rule, key, result: "removed" }));
  if (lines.length === 0) lines.push({ kind: "rule", action: "remove", rule: "", key, result: "absent", detail: `no rule with key ${key} is installed` });
  if (options.persist) {
    const path = rulesFilePath(key, options.rulesDir);
    if (!existsSync(path)) {
      lines.push({ kind: "rule", action: "persist", rule: "", key, result: "absent", file: path, detail: "no persisted rules file" });
    } else {
      const persisted = readFileSync(path, "utf8")
        .split("\n")
        .filter((line) => line.startsWith("-"));
      try {
        unlinkSync(path);
      } catch (error) {
        throw new WhokilledError("E_IO", `cannot delete ${path}: ${(error as Error).message}`);
      }
      for (const rule of persisted) lines.push({ kind: "rule", action: "persist", rule, key, result: "removed", file: path });
      log.info(`deleted ${path}; \`augenrules --load\` would now reload the remaining rules.d files`);
    }
  }
  return lines;
}

/** Rules as the kernel holds them: ours (this key), or with `all` every rule. */
export function listInstalled(key: string, all = false, env: RulesEnv = {}): RuleLine[] {
  const control = controlOf(env, "setup-rule list");
  return control
    .listRules()
    .filter((r) => all || r.keys.includes(key))
    .map((r): RuleLine => {
      const lineKey = r.keys.includes(key) ? key : (r.keys[0] ?? "");
      return { kind: "rule", action: "list", rule: r.line, key: lineKey, result: "present" };
    });
}
