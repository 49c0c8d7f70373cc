/**
 * Rule comparisons the tests make, over lib/rules/audit-rule.ts: by meaning,
 * as install compares rules, and by identity, as the kernel does.
 */
import { encodeRule, parseRuleText, ruleMeaning, withoutPrepend, type AuditRule } from "../../lib/rules/audit-rule.ts";

/** Do two rules (auditctl syntax, as a line or argv) mean the same (ruleMeaning)? */
export function sameRule(a: string | readonly string[], b: string | readonly string[]): boolean {
  return ruleMeaning(parseRuleText(a)) === ruleMeaning(parseRuleText(b));
}

/**
 * One string per rule as the kernel tells rules apart (audit_compare_rule):
 * the struct it is sent (list, action, syscall bitmap and the fields in
 * order), without -A (the kernel forgets it once the rule is in place).
 */
export function ruleIdentity(rule: AuditRule): string {
  return Buffer.from(encodeRule(withoutPrepend(rule))).toString("hex");
}
