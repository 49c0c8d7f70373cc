/**
 * The only place that runs auditctl. Always with an argument array, never a
 * shell, so a key or path can never be read as shell syntax.
 */
import { readFileSync } from "node:fs";
import { WhokilledError } from "../errors.ts";

export interface AuditctlResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function auditctlPath(): string {
  const path = Bun.which("auditctl", { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` });
  if (!path) {
    throw new WhokilledError(
      "E_MISSING_TOOL",
      "auditctl not found: install Debian's auditd package (apt-get install -y auditd)",
    );
  }
  return path;
}

/**
 * Something that runs auditctl. The real one is `auditctl`; tests pass a fake
 * to drive paths the live kernel must not take (enabling audit from off).
 */
export type AuditctlRunner = (args: readonly string[]) => AuditctlResult;

/** Run auditctl with these arguments; never throws on a non-zero exit. */
export function auditctl(args: readonly string[]): AuditctlResult {
  const result = Bun.spawnSync([auditctlPath(), ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  return {
    exitCode: result.exitCode ?? 1,
    stdout: result.stdout.toString(),
    stderr: result.stderr.toString(),
  };
}

/** Run auditctl and throw E_KERNEL with its own message when it fails. */
export function auditctlOrThrow(args: readonly string[], run: AuditctlRunner = auditctl): AuditctlResult {
  const result = run(args);
  if (result.exitCode !== 0) {
    const message = (result.stderr || result.stdout).trim().split("\n")[0] ?? "";
    const code = /permission|not permitted|must be root/i.test(message) ? "E_PERM" : "E_KERNEL";
    throw new WhokilledError(code, `auditctl ${args.join(" ")}: ${message || `exit ${result.exitCode}`}`);
  }
  return result;
}

/** The rules the kernel holds now, one auditctl -l line each. */
export function listRules(run: AuditctlRunner = auditctl): string[] {
  const { stdout } = auditctlOrThrow(["-l"], run);
  return stdout
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && line !== "No rules");
}

/** The kernel's audit status (`auditctl -s`) as a name → number map. */
export function auditStatus(run: AuditctlRunner = auditctl): Record<string, number> {
  const { stdout } = auditctlOrThrow(["-s"], run);
  const status: Record<string, number> = {};
  for (const line of stdout.split("\n")) {
    const match = /^(\w+) (\d+)/.exec(line.trim());
    if (match) status[match[1]!] = Number(match[2]);
  }
  return status;
}

/** Does this `auditctl -l` line carry exactly this key? */
export function ruleHasKey(line: string, key: string): boolean {
  // auditctl -l prints `-k KEY` or `-F key=KEY`; several keys join with 0x01.
  const match = / -(?:k |F key=)(\S+)/.exec(line);
  return match !== null && match[1]!.split("\u0001").includes(key);
}

/**
 * Delete every rule carrying `key`, and nothing else. auditctl -D -k would
 * do the same but deletes nothing when one line fails; doing it rule by rule
 * reports exactly what was removed.
 */
export function deleteRulesWithKey(key: string, run: AuditctlRunner = auditctl): string[] {
  const removed: string[] = [];
  for (const line of listRules(run)) {
    if (!ruleHasKey(line, key) || !line.startsWith("-a ")) continue;
    // `-a always,exit …` → `-d always,exit …`: the same rule, deleted.
    const args = splitRuleLine(line);
    args[0] = "-d";
    auditctlOrThrow(args, run);
    removed.push(line);
  }
  return removed;
}

/** Split an `auditctl -l` line into argv. Its fields hold no spaces except inside keys we never write. */
export function splitRuleLine(line: string): string[] {
  return line.split(/\s+/).filter(Boolean);
}

/**
 * Add one rule. "exists" when the kernel already holds the same rule
 * (auditctl exits non-zero with "Rule exists"); other failures throw.
 */
export function addRule(args: readonly string[], run: AuditctlRunner = auditctl): "added" | "exists" {
  const result = run(args);
  if (result.exitCode === 0) return "added";
  if (/rule exists/i.test(result.stderr + result.stdout)) return "exists";
  auditctlOrThrow(args, () => result);
  return "added";
}

/**
 * Switch audit on. Only ever `-e 1`: `-e 2` locks the configuration until
 * reboot and `-e 0` would blind everyone else using audit on this machine.
 */
export function enableAudit(run: AuditctlRunner = auditctl): void {
  auditctlOrThrow(["-e", "1"], run);
}

/** CAP_AUDIT_CONTROL: needed to list, add or delete rules and to read or change the status. */
const CAP_AUDIT_CONTROL = 30n;

/** Does this process hold CAP_AUDIT_CONTROL (root normally does)? */
export function hasAuditControl(statusFile = "/proc/self/status"): boolean {
  try {
    const match = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(readFileSync(statusFile, "utf8"));
    if (match) return ((BigInt(`0x${match[1]}`) >> CAP_AUDIT_CONTROL) & 1n) === 1n;
  } catch {
    // No /proc: fall back to the uid.
  }
  return process.geteuid?.() === 0;
}

/** Throw E_PERM (exit 2) naming what needed the privilege. */
export function requireAuditControl(what: string): void {
  if (!hasAuditControl()) {
    throw new WhokilledError(
      "E_PERM",
      `${what} needs root (CAP_AUDIT_CONTROL) to talk to the kernel's audit subsystem: run it with sudo`,
    );
  }
}
