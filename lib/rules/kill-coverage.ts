/**
 * Can audit see kill calls right now? Judged from the kernel's own state:
 * the audit switch and the loaded rules of every key, read the way the
 * kernel applies them (kernel/auditsc.c, kernel/auditfilter.c):
 * - the exit list decides which syscalls are logged; the first rule that
 *   matches a call wins, so a `never` rule hides the calls it matches from
 *   every rule after it;
 * - a `never` rule on the task list gives new processes no audit context;
 * - any rule of the exclude list drops the record types it matches;
 * - OBJ_PID records (the target) are written only while some exit rule names
 *   kill, tkill or tgkill.
 * A filter on a call's own signal (`a1!=0`) only leaves out signal-0 probes,
 * which kill nobody; every other filter means the rule sees part of the calls.
 */
import type { CoverageLine } from "../schema.ts";
import { abortableSleep } from "../sources/abortable-sleep.ts";
import { userCommand } from "../cli/stage-command.ts";
import { archName } from "../tables/arch.ts";
import { KILL_FAMILY, KILL_SYSCALLS, type KillSyscall } from "../tables/kill-family.ts";
import { syscallNumber } from "../tables/syscalls.ts";
import {
  AUDIT_ALWAYS,
  AUDIT_ARCH,
  AUDIT_ARG0,
  AUDIT_BIT_MASK,
  AUDIT_BIT_TEST,
  AUDIT_EQUAL,
  AUDIT_FILTER_EXCLUDE,
  AUDIT_FILTER_EXIT,
  AUDIT_FILTER_TASK,
  AUDIT_FILTERKEY,
  AUDIT_GREATER_THAN,
  AUDIT_GREATER_THAN_OR_EQUAL,
  AUDIT_LESS_THAN,
  AUDIT_LESS_THAN_OR_EQUAL,
  AUDIT_MSGTYPE,
  AUDIT_NEVER,
  AUDIT_NOT_EQUAL,
  archValue,
  formatRuleField,
  hasSyscall,
  hostMachine,
  ruleList,
  type AuditRule,
  type RuleField,
} from "./audit-rule.ts";
import { kernelArches, type Arch } from "./build.ts";
import { kernelAuditControl, type AuditControl, type AuditStatus, type KernelRule } from "./control.ts";

/** What `assessKillCoverage` found: a CoverageLine without kind, source and time. */
export type KillCoverage = Omit<CoverageLine, "kind" | "source" | "time">;

const RECORD_SYSCALL = 1300;
const RECORD_OBJ_PID = 1318;
/** Fields about files, devices and sockets: a kill call has none of these objects, so a rule testing them never matches one. */
const OBJECT_FIELDS = new Set([19, 20, 21, 22, 23, 100, 101, 102, 105, 106, 107, 108, 109, 110, 113]);
/** OBJ_PID needs an exit rule on one of these (audit_match_signal). */
const SIGNAL_CLASS: readonly KillSyscall[] = ["kill", "tkill", "tgkill"];

/** How to run setup-rule, as the user started whokilled. */
export function setupRuleCommand(args: string): string {
  return `${userCommand("setup-rule", "bun")} ${args}`;
}

interface Abi {
  value: number;
  machine: string;
  label: string;
}

function abisOf(arches: readonly Arch[], host: string): Abi[] {
  const abis: Abi[] = [];
  for (const arch of arches) {
    try {
      const value = archValue(arch, host);
      const name = archName(value.toString(16));
      if (name) abis.push({ value, machine: name, label: `${arch === "b64" ? "64" : "32"}-bit` });
    } catch {
      // A compat ABI this table does not know (riscv64's b32): nothing to judge.
    }
  }
  return abis;
}

/** The kernel's comparisons of one value with a rule field (audit_comparator), unsigned as arch and msgtype are. */
const COMPARATORS = new Map<number, (actual: number, value: number) => boolean>([
  [AUDIT_EQUAL, (a, v) => a === v],
  [AUDIT_NOT_EQUAL, (a, v) => a !== v],
  [AUDIT_LESS_THAN, (a, v) => a < v],
  [AUDIT_LESS_THAN_OR_EQUAL, (a, v) => a <= v],
  [AUDIT_GREATER_THAN, (a, v) => a > v],
  [AUDIT_GREATER_THAN_OR_EQUAL, (a, v) => a >= v],
  [AUDIT_BIT_MASK, (a, v) => (a & v) !== 0],
  [AUDIT_BIT_TEST, (a, v) => (a & v) >>> 0 === v],
]);

function compare(op: number, actual: number, value: number): boolean {
  return COMPARATORS.get(op)?.(actual >>> 0, value >>> 0) ?? false;
}

/** The filters of an exit rule that narrow which calls of `syscall` it matches; null when it can never match one. */
function narrowingFilters(rule: AuditRule, syscall: KillSyscall): RuleField[] | null {
  const spec = KILL_FAMILY[syscall];
  const filters: RuleField[] = [];
  for (const f of rule.fields) {
    if (f.field === AUDIT_ARCH || f.field === AUDIT_FILTERKEY) continue;
    if (OBJECT_FIELDS.has(f.field)) return null;
    // signal != 0 drops only existence probes; a thread id of 0 is refused by the kernel anyway.
    const neutralArg = f.field === AUDIT_ARG0 + spec.signalArg || (spec.tidArg !== null && spec.tidArg !== spec.targetArg && f.field === AUDIT_ARG0 + spec.tidArg);
    if (neutralArg && f.op === AUDIT_NOT_EQUAL && f.value === 0) continue;
    filters.push(f);
  }
  return filters;
}

const archAllows = (rule: AuditRule, abi: Abi) => rule.fields.every((f) => f.field !== AUDIT_ARCH || compare(f.op, abi.value, f.value));

type CallCoverage = { level: "full" } | { level: "partial" | "none"; why: string };

/** One call of one ABI against the exit list, walked in order as the kernel does. */
function callCoverage(exitRules: readonly KernelRule[], syscall: KillSyscall, abi: Abi): CallCoverage {
  const nr = syscallNumber(abi.machine, syscall);
  if (nr === null) return { level: "full" }; // the ABI has no such call: nothing to miss
  // Calls a filtered `always` rule logs; calls a filtered `never` rule hides from every later rule.
  const logged: string[] = [];
  const hidden: string[] = [];
  const verdict = (full: boolean): CallCoverage => {
    if (full && hidden.length === 0) return { level: "full" };
    const why = [...(full ? [] : logged.map((w) => `only where ${w}`)), ...hidden.map((h) => `calls where ${h}`)].join("; ");
    return { level: !full && logged.length === 0 ? "none" : "partial", why };
  };
  for (const { rule, line } of exitRules) {
    if (!hasSyscall(rule, nr) || !archAllows(rule, abi)) continue;
    const filters = narrowingFilters(rule, syscall);
    if (filters === null) continue;
    const where = filters.map(formatRuleField).join(" ");
    if (rule.action === AUDIT_NEVER) {
      if (filters.length === 0) {
        if (logged.length === 0 && hidden.length === 0) return { level: "none", why: `hidden by \`${line}\`` };
        hidden.push(`not matched above, hidden by \`${line}\``);
        return verdict(false);
      }
      hidden.push(`${where} hidden by \`${line}\``);
    } else if (rule.action === AUDIT_ALWAYS) {
      if (filters.length === 0) return verdict(true);
      logged.push(where);
    }
  }
  return logged.length === 0 && hidden.length === 0 ? { level: "none", why: "no rule" } : verdict(false);
}

/** Does this exclude rule drop records of `type`: "all", "some" (other fields narrow it) or "none"? */
function excludes(rule: AuditRule, type: number): "all" | "some" | "none" {
  if (rule.fields.length === 0) return "none";
  let narrowed = false;
  for (const f of rule.fields) {
    if (f.field === AUDIT_MSGTYPE) {
      if (!compare(f.op, type, f.value)) return "none";
    } else if (f.field !== AUDIT_FILTERKEY) narrowed = true;
  }
  return narrowed ? "some" : "all";
}

/** A verdict, as the coverage line holds it; `missing`: [] when none or not known. */
function coverage(state: KillCoverage["state"], enabled: number | null, reason: string, fix: string | null, missing: string[] = []): KillCoverage {
  return { state, enabled, reason, missing, fix };
}

/**
 * Judge the kill family's coverage from the audit switch and the loaded
 * rules. `arches`: the ABIs to cover (default: every one this kernel runs).
 */
export function assessKillCoverage(
  status: Pick<AuditStatus, "enabled">,
  rules: readonly KernelRule[],
  options: { arches?: readonly Arch[]; host?: string } = {},
): KillCoverage {
  const host = options.host ?? hostMachine();
  const abis = abisOf(options.arches ?? kernelArches(options.host), host);
  const enabled = status.enabled;
  const install = setupRuleCommand("install");
  const none = (reason: string, fix: string | null = install) => coverage("none", enabled, reason, fix);
  if (enabled === 0) return none("audit is off (enabled 0): the kernel logs no syscall at all");

  const missing: string[] = [];
  let fix: string | null = null;
  const locked = enabled === 2;
  const lockedFix = `none until reboot: audit is locked (enabled 2); put the rules in /etc/audit/rules.d (${setupRuleCommand("print --format rules")}) before its -e 2 line`;
  const deleteFix = (line: string) => (locked ? lockedFix : `auditctl ${line.replace(/^-[aA] /, "-d ")}`);

  // The task list decides at fork whether a process gets an audit context; its first matching rule wins.
  for (const { rule, line } of rules) {
    if (ruleList(rule) !== AUDIT_FILTER_TASK) continue;
    const unconditional = rule.fields.every((f) => f.field === AUDIT_FILTERKEY);
    if (rule.action !== AUDIT_NEVER) {
      if (unconditional) break;
      continue;
    }
    if (unconditional) {
      return none(`the rule \`${line}\` gives every process started since it was loaded no audit context: their kill calls are never logged`, deleteFix(line));
    }
    missing.push(`processes matching \`${line}\`: no audit context`);
    fix ??= deleteFix(line);
  }
  for (const { rule, line } of rules) {
    if (ruleList(rule) !== AUDIT_FILTER_EXCLUDE) continue;
    const syscalls = excludes(rule, RECORD_SYSCALL);
    if (syscalls === "all") return none(`the rule \`${line}\` drops every SYSCALL record`, deleteFix(line));
    if (syscalls === "some") missing.push(`SYSCALL records dropped by \`${line}\` where it matches`);
    const targets = excludes(rule, RECORD_OBJ_PID);
    if (targets !== "none") missing.push(`OBJ_PID records (the targets) dropped by \`${line}\`${targets === "some" ? " where it matches" : ""}`);
    if (syscalls !== "none" || targets !== "none") fix ??= deleteFix(line);
  }

  const exitRules = rules.filter((r) => ruleList(r.rule) === AUDIT_FILTER_EXIT);
  let anyCovered = false;
  let hidden = false;
  for (const abi of abis) {
    // Calls with the same verdict share one item: "kill, tkill (64-bit): no rule".
    const groups = new Map<string, KillSyscall[]>();
    for (const syscall of KILL_SYSCALLS) {
      const verdict = callCoverage(exitRules, syscall, abi);
      if (verdict.level !== "none") anyCovered = true;
      if (verdict.level === "full") continue;
      if (verdict.why.includes("hidden by")) hidden = true;
      groups.set(verdict.why, [...(groups.get(verdict.why) ?? []), syscall]);
    }
    for (const [why, syscalls] of groups) missing.push(`${syscalls.join(", ")} (${abi.label}): ${why}`);
  }
  const namesSignals = exitRules.some(({ rule }) =>
    abis.some((abi) => SIGNAL_CLASS.some((syscall) => {
      const nr = syscallNumber(abi.machine, syscall);
      return nr !== null && hasSyscall(rule, nr);
    })),
  );
  if (anyCovered && !namesSignals) missing.push("no exit rule names kill, tkill or tgkill, so the kernel writes no OBJ_PID record: the targets of the calls it logs stay unknown");

  if (!anyCovered) {
    const reason = hidden ? `a never rule hides the kill family: ${missing.join("; ")}` : "no rule covers the kill family (kill, tkill, tgkill and the rest)";
    return none(reason, locked ? lockedFix : hidden ? setupRuleCommand("install --first") : install);
  }
  if (missing.length === 0) return coverage("full", enabled, "audit is on and loaded rules cover every call of the kill family", null);
  fix ??= locked ? lockedFix : hidden ? setupRuleCommand("install --first") : install;
  const shown = missing.slice(0, 2).join("; ");
  return coverage("partial", enabled, `not all of the kill family is covered: ${shown}${missing.length > 2 ? `; and ${missing.length - 2} more` : ""}`, fix, missing);
}

/** Read the kernel's state and judge it; "unknown" when it cannot be read (no CAP_AUDIT_CONTROL). */
export function checkKillCoverage(control: AuditControl = kernelAuditControl): KillCoverage {
  try {
    return assessKillCoverage(control.status(), control.listRules());
  } catch (error) {
    return coverage("unknown", null, `reading the kernel's audit status and rules failed: ${(error as Error).message}`, `sudo ${setupRuleCommand("status")}`);
  }
}

export function coverageLine(coverage: KillCoverage, time: Date = new Date()): CoverageLine {
  return { kind: "coverage", source: "audit", time: time.toISOString(), ...coverage };
}

/** Re-checked this often while a capture runs: rules can be removed under it. Two kernel requests each time. */
export const COVERAGE_CHECK_INTERVAL_MS = 2000;

/**
 * A coverage line at once, then one each time the verdict changes, checked
 * every `intervalMs` until `signal` aborts.
 */
export async function* coverageLines(
  options: { signal?: AbortSignal; intervalMs?: number; check?: () => KillCoverage } = {},
): AsyncGenerator<CoverageLine> {
  const { signal, intervalMs = COVERAGE_CHECK_INTERVAL_MS, check = () => checkKillCoverage() } = options;
  let last: string | null = null;
  while (!signal?.aborted) {
    const coverage = check();
    const verdict = JSON.stringify(coverage);
    if (verdict !== last) {
      last = verdict;
      yield coverageLine(coverage);
    }
    await abortableSleep(intervalMs, signal);
  }
}
