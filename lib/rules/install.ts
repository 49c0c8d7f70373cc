/**
 * Install, remove and list the kill-family rules in the running kernel, and
 * optionally in /etc/audit/rules.d. Everything goes through auditctl with
 * argument arrays (lib/rules/auditctl.ts). Results come back as JSON line
 * objects; the caller decides where they go.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { WhokilledError } from "../errors.ts";
import { log } from "../log.ts";
import { escapeControl } from "../render/escape.ts";
import type { BlindSpotLine, RuleLine, StatusLine } from "../schema.ts";
import {
  addRule,
  auditctl,
  auditctlOrThrow,
  auditStatus,
  deleteRulesWithKey,
  enableAudit,
  listRules,
  requireAuditControl,
  ruleHasKey,
  type AuditctlRunner,
} from "./auditctl.ts";
import { findBlindSpots, listProcesses, readClock, uptimeTicks, ticksToIso, type BlindSpot } from "./blind-spots.ts";
import { buildRules, rulesFileText, type BuiltRule, type RuleOptions } from "./build.ts";
import { canonicalRule, ruleKey } from "./normalise.ts";

export const DEFAULT_RULES_DIR = "/etc/audit/rules.d";
export const DEFAULT_STATE_DIR = "/run/whokilled";

/** Where the functions here touch the system; tests replace parts of it. */
export interface RulesEnv {
  /** Runs auditctl. A custom runner is trusted to handle permissions itself (no CAP check). */
  run?: AuditctlRunner;
  /** /proc, for blind spots. */
  procRoot?: string;
  /** Where install records the time it enabled audit (tmpfs: gone at reboot, as it should be). */
  stateDir?: string;
}

export interface InstallOptions extends RuleOptions {
  /** Also write the rules to `<rulesDir>/<key>.rules`. */
  persist?: boolean;
  rulesDir?: string;
}

export interface InstallReport {
  key: string;
  rules: BuiltRule[];
  /**
   * One per rule (result ok = added, present = was there); when audit was
   * off, an `audit` and a `blind-spots` status line and one `blindspot` line
   * per process that predates the switch; then the persist lines.
   */
  lines: (RuleLine | StatusLine | BlindSpotLine)[];
  added: string[];
  present: string[];
  /** Rules with our key that these options do not generate; left in place. */
  other: string[];
  /** True when audit was off and this call switched it on. */
  enabledAudit: boolean;
  blindSpots: BlindSpot[];
  persistedTo: string | null;
}

function runnerOf(env: RulesEnv, what: string): AuditctlRunner {
  if (env.run) return env.run;
  requireAuditControl(what);
  return auditctl;
}

/**
 * Add the rules `options` describe, skipping ones already there. When audit
 * is off, switch it on (`auditctl -e 1`, never 2) and report the processes
 * that predate it: they stay invisible to audit. If adding a rule fails, the
 * rules added by this call are taken out again before the error is thrown.
 */
export function installRules(options: InstallOptions, env: RulesEnv = {}): InstallReport {
  const run = runnerOf(env, "setup-rule install");
  const rules = buildRules(options);
  const status = auditStatus(run);
  if (status.enabled === 2) {
    throw new WhokilledError(
      "E_KERNEL",
      "audit rules are locked (enabled 2, set by `auditctl -e 2`): no rule can be added until reboot; add the rules to /etc/audit/rules.d before the -e 2 line instead",
    );
  }
  const report: InstallReport = {
    key: options.key,
    rules,
    lines: [],
    added: [],
    present: [],
    other: [],
    enabledAudit: false,
    blindSpots: [],
    persistedTo: null,
  };
  const installed = listRules(run);
  const installedCanon = new Set(installed.map((line) => canonicalRule(line)));
  try {
    for (const rule of rules) {
      let result: RuleLine["result"];
      if (installedCanon.has(canonicalRule(rule.args))) result = "present";
      else result = addRule(rule.args, run) === "added" ? "ok" : "present";
      (result === "ok" ? report.added : report.present).push(rule.line);
      report.lines.push({ kind: "rule", action: "install", rule: rule.line, key: options.key, result, detail: rule.detail });
    }
  } catch (error) {
    rollBack(report.added, rules, run);
    throw error;
  }

  const expected = new Set(rules.map((r) => canonicalRule(r.args)));
  report.other = installed.filter((line) => ruleHasKey(line, options.key) && !expected.has(canonicalRule(line)));
  if (report.other.length > 0) {
    log.warn(
      `${report.other.length} other rule(s) with key ${options.key} are installed and were left in place (setup-rule remove --key ${options.key} clears them):\n  ${report.other.join("\n  ")}`,
    );
  }

  if (status.enabled === 0) {
    const enabled = enableAndFindBlindSpots(run, env);
    report.enabledAudit = true;
    report.blindSpots = enabled.blindSpots;
    report.lines.push(
      { kind: "status", topic: "audit", enabled: 1, failure: status.failure ?? 0, detail: "audit was off: this install switched it on (auditctl -e 1)" },
      {
        kind: "status",
        topic: "blind-spots",
        enabledAt: enabled.enabledAt,
        basis: "install",
        count: enabled.blindSpots.length,
        detail: "processes started before audit was switched on are never audited, whatever the rules; restart the ones that matter",
      },
      ...enabled.blindSpots.map((b) => blindSpotLine(b, enabled.enabledAt, "install")),
    );
  }

  if (options.persist) {
    const file = persistRules(rules, options);
    report.persistedTo = file.path;
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

function rollBack(added: readonly string[], rules: readonly BuiltRule[], run: AuditctlRunner): void {
  for (const line of added) {
    const rule = rules.find((r) => r.line === line);
    if (!rule) continue;
    const args = [...rule.args];
    args[0] = "-d";
    try {
      auditctlOrThrow(args, run);
    } catch (error) {
      log.warn(`could not take back ${line}: ${(error as Error).message}`);
    }
  }
}

function enableAndFindBlindSpots(run: AuditctlRunner, env: RulesEnv): { enabledAt: string; blindSpots: BlindSpot[] } {
  const procRoot = env.procRoot ?? "/proc";
  const clock = readClock(procRoot);
  // Taken before the switch: a process forked in between is counted as blind,
  // which errs on the safe side.
  const ticks = uptimeTicks(clock.ticksPerSecond, procRoot);
  enableAudit(run);
  const enabledAt = ticksToIso(ticks, clock);
  recordEnableTime(ticks, clock.ticksPerSecond, enabledAt, env);
  const blindSpots = findBlindSpots(listProcesses(procRoot), ticks, clock, [process.pid]);
  log.warn(
    `audit was off; enabled it now (auditctl -e 1). Processes started before now are not audited, whatever the rules: ${blindSpots.length} blind spot(s)` +
      (blindSpots.length ? `:\n  ${blindSpots.map((b) => `${b.pid} ${escapeControl(b.comm)} (started ${b.start})`).join("\n  ")}` : ""),
  );
  log.warn("restart those you care about, or boot with audit=1 so that every process is audited");
  return { enabledAt, blindSpots };
}

export function blindSpotLine(b: BlindSpot, enabledAt: string, basis: BlindSpotLine["basis"]): BlindSpotLine {
  return { kind: "blindspot", pid: b.pid, ppid: b.ppid, comm: b.comm, start: b.start, enabledAt, basis };
}

export interface RecordedEnable {
  bootId: string;
  ticks: number;
  ticksPerSecond: number;
  time: string;
}

function bootId(procRoot: string): string | null {
  try {
    return readFileSync(join(procRoot, "sys/kernel/random/boot_id"), "utf8").trim();
  } catch {
    return null;
  }
}

function recordEnableTime(ticks: number, ticksPerSecond: number, time: string, env: RulesEnv): void {
  const dir = env.stateDir ?? DEFAULT_STATE_DIR;
  const id = bootId(env.procRoot ?? "/proc");
  if (!id) return;
  try {
    mkdirSync(dir, { recursive: true });
    const record: RecordedEnable = { bootId: id, ticks, ticksPerSecond, time };
    writeFileSync(join(dir, "audit-enabled.json"), `${JSON.stringify(record)}\n`);
  } catch (error) {
    log.debug(`could not record the enable time in ${dir}: ${(error as Error).message}`);
  }
}

/** The enable time a whokilled install wrote down during this boot, if any. */
export function readRecordedEnable(env: RulesEnv = {}): RecordedEnable | null {
  const id = bootId(env.procRoot ?? "/proc");
  try {
    const record = JSON.parse(readFileSync(join(env.stateDir ?? DEFAULT_STATE_DIR, "audit-enabled.json"), "utf8")) as RecordedEnable;
    return id !== null && record.bootId === id && Number.isFinite(record.ticks) ? record : null;
  } catch {
    return null;
  }
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

export interface RemoveOptions {
  /** Also delete `<rulesDir>/<key>.rules`. */
  persist?: boolean;
  rulesDir?: string;
}

/**
 * Delete every audit rule carrying `key`, and nothing else. With `persist`,
 * also the rules.d file named after the key.
 */
export function removeRules(key: string, options: RemoveOptions = {}, env: RulesEnv = {}): RuleLine[] {
  const run = runnerOf(env, "setup-rule remove");
  const lines: RuleLine[] = deleteRulesWithKey(key, run).map((rule) => ({ kind: "rule", action: "remove", rule, key, result: "removed" }));
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
  const run = runnerOf(env, "setup-rule list");
  return listRules(run)
    .filter((line) => all || ruleHasKey(line, key))
    .map((line): RuleLine => {
      const lineKey = ruleHasKey(line, key) ? key : (ruleKey(line) ?? "");
      return { kind: "rule", action: "list", rule: line, key: lineKey, result: "present" };
    });
}
