/**
 * What setup-rule needs from the kernel's audit subsystem, behind one small
 * interface: the kernel itself over netlink (lib/rules/audit-netlink.ts), or
 * a fake in tests, which can take paths the live kernel must not (audit off,
 * audit locked).
 */
import { WhokilledError } from "../errors.ts";
import { EEXIST, EINVAL, ENOENT } from "../sources/libc.ts";
import {
  AUDIT_ADD_RULE,
  AUDIT_DEL_RULE,
  AUDIT_GET,
  AUDIT_LIST_RULES,
  AUDIT_SET,
  AuditRequestError,
  auditRequest,
  decodeStatus,
  encodeEnable,
  type AuditStatus,
} from "./audit-netlink.ts";
import { probeOwnAuditContext, type OwnAuditContext } from "../sources/netlink.ts";
import { decodeRule, encodeRule, formatRule, ruleKeys, withoutPrepend, type AuditRule } from "./audit-rule.ts";
import { readTextOrNull } from "./blind-spots.ts";

export type { AuditStatus } from "./audit-netlink.ts";
export type { OwnAuditContext } from "../sources/netlink.ts";

/** A rule as the kernel holds it. */
export interface KernelRule {
  rule: AuditRule;
  /** As `auditctl -l` prints it. */
  line: string;
  keys: string[];
}

export interface AuditControl {
  status(): AuditStatus;
  /** Switch audit on (enabled 1). Never 2, which locks the rules until reboot, and never 0. */
  enable(): void;
  listRules(): KernelRule[];
  /** "exists" when the kernel already holds the same rule (EEXIST). */
  addRule(rule: AuditRule): "added" | "exists";
  /** "absent" when the kernel holds no such rule (ENOENT: someone else removed it first). */
  deleteRule(rule: AuditRule): "deleted" | "absent";
  /**
   * Does this very process have an audit context, i.e. had audit been enabled
   * since boot when it was forked? Asked with audit on and a rule loaded
   * (lib/sources/netlink.ts probeOwnAuditContext). Absent: cannot tell.
   */
  ownAuditContext?(): OwnAuditContext;
}

export function kernelRule(rule: AuditRule): KernelRule {
  return { rule, line: formatRule(rule), keys: ruleKeys(rule) };
}

/** Add or delete a rule: false when the kernel answers `done` (EEXIST, ENOENT: nothing to do); an EINVAL names the rule. */
function ruleRequest(type: number, rule: AuditRule, done: number, what: string): boolean {
  try {
    auditRequest(type, encodeRule(rule), "ack");
    return true;
  } catch (error) {
    if (error instanceof AuditRequestError && error.errno === done) return false;
    if (error instanceof AuditRequestError && error.errno === EINVAL) {
      throw new WhokilledError("E_KERNEL", `the kernel rejected ${what} as invalid (EINVAL): ${formatRule(rule)}`, { cause: error });
    }
    throw error;
  }
}

/** The running kernel, over NETLINK_AUDIT. Each call opens and closes its own socket. */
export const kernelAuditControl: AuditControl = {
  status() {
    const [reply] = auditRequest(AUDIT_GET, new Uint8Array(0), "reply");
    return decodeStatus(reply ?? new Uint8Array(0));
  },
  enable() {
    auditRequest(AUDIT_SET, encodeEnable(), "ack");
  },
  listRules() {
    return auditRequest(AUDIT_LIST_RULES, new Uint8Array(0), "list").map((bytes) => kernelRule(decodeRule(bytes)));
  },
  addRule(rule) {
    return ruleRequest(AUDIT_ADD_RULE, rule, EEXIST, "the rule") ? "added" : "exists";
  },
  deleteRule(rule) {
    // The kernel forgets -A's prepend flag once a rule is in place, and compares it when deleting.
    return ruleRequest(AUDIT_DEL_RULE, withoutPrepend(rule), ENOENT, "deleting the rule") ? "deleted" : "absent";
  },
  ownAuditContext() {
    try {
      return probeOwnAuditContext();
    } catch (error) {
      return { context: null, detail: (error as Error).message };
    }
  },
};

/**
 * Delete every rule carrying `key` (alone or among several keys), and
 * nothing else; returns the deleted rules as `auditctl -l` lines. Each rule
 * is sent back to the kernel exactly as listed, so any shape, watches
 * included, is deleted.
 */
export function deleteRulesWithKey(key: string, control: AuditControl = kernelAuditControl): string[] {
  const removed: string[] = [];
  for (const rule of control.listRules()) {
    if (!rule.keys.includes(key)) continue;
    if (control.deleteRule(rule.rule) === "deleted") removed.push(rule.line);
  }
  return removed;
}

/** CAP_AUDIT_CONTROL: needed to list, add or delete rules and to read or change the status. */
const CAP_AUDIT_CONTROL = 30n;

/** Does this process hold CAP_AUDIT_CONTROL (root normally does)? */
export function hasAuditControl(): boolean {
  const match = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(readTextOrNull("/proc/self/status") ?? "");
  if (match) return ((BigInt(`0x${match[1]}`) >> CAP_AUDIT_CONTROL) & 1n) === 1n;
  // No /proc: fall back to the uid.
  return process.geteuid?.() === 0;
}
