/**
 * What each way of watching (ways.ts) needs from this host, and whether it
 * has it, read without changing a thing (status mounts nothing, adds no
 * rule); and the tracepoints the tracepoint way enables.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { WhokilledError } from "../errors.ts";
import type { StatusWay } from "../schema.ts";
import { DEFAULT_TRACEFS_MOUNT, findTracefs } from "../sources/tracefs.ts";
import { TRACEPOINT_SIGNAL_FILTER, TRACEPOINT_SYSCALL_EVENTS } from "../sources/tracepoint-live.ts";
import { TRACEPOINT_TASK_EVENTS } from "../sources/trace-tasks.ts";
import { readTextOrNull } from "./blind-spots.ts";
import { buildRules, type RuleOptions } from "./build.ts";
import { hasAuditControl, kernelAuditControl, type AuditStatus, type KernelRule } from "./control.ts";
import { matchInstalled } from "./install.ts";
import { WAY_GIVES, wayUses, type WatchWay } from "./ways.ts";

/** A tracepoint (SYSTEM/EVENT under events/) and the filter it is enabled with. */
export interface Tracepoint {
  path: string;
  filter?: string;
}

/** The tracepoints the tracepoint way enables, as capture --tracepoints does (lib/sources/tracepoint-live.ts), by what each group costs. */
export const WAY_TRACEPOINTS = {
  syscalls: TRACEPOINT_SYSCALL_EVENTS.map(({ path }): Tracepoint => ({ path })),
  signalGenerate: [{ path: "signal/signal_generate", filter: TRACEPOINT_SIGNAL_FILTER }] as readonly Tracepoint[],
  tasks: TRACEPOINT_TASK_EVENTS.map(({ path }): Tracepoint => ({ path })),
} as const;

/** Every tracepoint of the tracepoint way, in the order they are enabled. */
export function wayTracepoints(): Tracepoint[] {
  return [...WAY_TRACEPOINTS.syscalls, ...WAY_TRACEPOINTS.signalGenerate, ...WAY_TRACEPOINTS.tasks];
}

/** One thing a way needs, and whether this host has it now. */
export interface WayCheckItem {
  /** audit-control, audit, audit-unlocked, rules, tracefs, tracepoints */
  need: string;
  ok: boolean;
  detail: string;
}

export interface WayCheck {
  way: WatchWay;
  /** This host can watch this way (audit: rules can be added, or are there; tracepoints: tracefs and every tracepoint exist, or tracefs can be mounted). */
  possible: boolean;
  /** Set up now: audit's rules are loaded with audit on; tracepoints need nothing loaded, so possible is ready. */
  ready: boolean;
  checks: WayCheckItem[];
  gives: string;
}

/** The audit side of the host, read once (no change made). */
export interface AuditFacts {
  control: boolean;
  status: AuditStatus | null;
  /** Why the status could not be read. */
  error: string | null;
  /** Every rule these options generate is loaded. */
  rulesPresent: boolean;
  rulesMissing: number;
  rulesExpected: number;
  key: string;
}

/** The tracefs side of the host, read once. */
export interface TracefsFacts {
  /** Where tracefs is mounted, or null. */
  mount: string | null;
  /** Not mounted, but the mount point exists (capture mounts it there). */
  mountable: boolean;
  /** Tracepoints of the way missing under the mount (empty when not mounted: unknown). */
  missing: string[];
}

export interface HostFacts {
  audit: AuditFacts;
  tracefs: TracefsFacts;
}

/** The kernel's audit status and rule list, as read once (status.ts readAudit) and shared, so that they are not read again. */
export interface AuditRead {
  status: AuditStatus;
  installed: readonly KernelRule[];
}

/**
 * What this host has for each way; nothing is changed (tracefs is not mounted, no rule added). `audit`: what was
 * read already (AuditRead), or "unread" for a caller whose way does not use audit: its facts are then not read.
 */
export function hostFacts(rules: RuleOptions, audit?: AuditRead | "unread"): HostFacts {
  return { audit: auditFacts(rules, audit), tracefs: tracefsFacts(findTracefs()) };
}

/** The audit side of the host: from `read` when given, else read now (errors said in `error`); "unread": not read at all. */
export function auditFacts(rules: RuleOptions, read?: AuditRead | "unread"): AuditFacts {
  const expected = buildRules(rules);
  const facts: AuditFacts = { control: true, status: null, error: null, rulesPresent: false, rulesMissing: expected.length, rulesExpected: expected.length, key: rules.key };
  if (read === "unread") return { ...facts, control: hasAuditControl(), error: "not read: this way does not use audit" };
  if (!read && !hasAuditControl()) return { ...facts, control: false, error: "needs root (CAP_AUDIT_CONTROL)" };
  try {
    facts.status = read?.status ?? kernelAuditControl.status();
    const { held } = matchInstalled(expected, read?.installed ?? kernelAuditControl.listRules(), rules.key);
    facts.rulesMissing = held.filter((h) => !h).length;
    facts.rulesPresent = facts.rulesMissing === 0;
  } catch (error) {
    facts.error = (error as Error).message;
  }
  return facts;
}

/** The ways' tracepoints that do not exist under this tracefs mount. */
export function missingTracepoints(root: string): string[] {
  return wayTracepoints().filter((t) => !existsSync(join(root, "events", t.path, "enable"))).map((t) => t.path);
}

function tracefsFacts(root: string | null): TracefsFacts {
  if (root === null) return { mount: null, mountable: existsSync(DEFAULT_TRACEFS_MOUNT) && kernelHasTracefs(), missing: [] };
  return { mount: root, mountable: false, missing: missingTracepoints(root) };
}

function kernelHasTracefs(): boolean {
  return /\ttracefs$/m.test(readTextOrNull("/proc/filesystems") ?? "");
}

function auditChecks(audit: AuditFacts): { possible: boolean; ready: boolean; checks: WayCheckItem[] } {
  if (!audit.control) return { possible: false, ready: false, checks: [{ need: "audit-control", ok: false, detail: "reading and loading audit rules needs root (CAP_AUDIT_CONTROL)" }] };
  if (!audit.status) return { possible: false, ready: false, checks: [{ need: "audit", ok: false, detail: `no kernel audit: ${audit.error ?? "status unreadable"}` }] };
  const enabled = audit.status.enabled;
  const locked = enabled === 2;
  const checks: WayCheckItem[] = [
    {
      need: "audit",
      ok: enabled !== 0,
      detail: enabled === 0 ? "audit is off (enabled 0): setup-rule install switches it on (enabled 1)" : `audit is on (enabled ${enabled})`,
    },
    {
      need: "audit-unlocked",
      ok: !locked,
      detail: locked ? "audit is locked (enabled 2): no rule can be added or removed until reboot" : "audit is not locked: rules can be added and removed",
    },
    {
      need: "rules",
      ok: audit.rulesPresent,
      detail: audit.rulesPresent
        ? `all ${audit.rulesExpected} kill-family rules with key ${audit.key} are loaded`
        : `${audit.rulesMissing} of ${audit.rulesExpected} kill-family rules with key ${audit.key} are missing${locked ? "" : ": setup-rule install adds them"}`,
    },
  ];
  return { possible: !locked || audit.rulesPresent, ready: enabled !== 0 && audit.rulesPresent, checks };
}

function tracepointChecks(tracefs: TracefsFacts): { possible: boolean; checks: WayCheckItem[] } {
  if (tracefs.mount === null) {
    const detail = tracefs.mountable
      ? `tracefs is not mounted: capture mounts it at ${DEFAULT_TRACEFS_MOUNT} (then the tracepoints can be checked)`
      : "this kernel has no tracefs to mount (CONFIG_TRACING)";
    return { possible: tracefs.mountable, checks: [{ need: "tracefs", ok: false, detail }] };
  }
  const all = wayTracepoints().length;
  const checks: WayCheckItem[] = [
    { need: "tracefs", ok: true, detail: `tracefs is mounted at ${tracefs.mount}` },
    {
      need: "tracepoints",
      ok: tracefs.missing.length === 0,
      detail:
        tracefs.missing.length === 0
          ? `all ${all} tracepoints exist (the kill family's and pidfd_open's sys_enter/sys_exit, signal_generate, sched_process_exec, task_newtask and task_rename)`
          : `this kernel lacks ${tracefs.missing.join(", ")}${tracefs.missing.some((p) => p.startsWith("syscalls/")) ? " (syscall tracepoints need CONFIG_FTRACE_SYSCALLS)" : ""}`,
    },
  ];
  return { possible: tracefs.missing.length === 0, checks };
}

/** Whether this host can watch `way`, and what it needs, from facts read once (hostFacts). */
export function checkWay(way: WatchWay, facts: HostFacts): WayCheck {
  const uses = wayUses(way);
  const audit = uses.audit ? auditChecks(facts.audit) : null;
  const tracepoints = uses.tracepoints ? tracepointChecks(facts.tracefs) : null;
  const possible = (audit?.possible ?? true) && (tracepoints?.possible ?? true);
  return {
    way,
    possible,
    ready: (audit?.ready ?? true) && possible,
    checks: [...(audit?.checks ?? []), ...(tracepoints?.checks ?? [])],
    gives: WAY_GIVES[way],
  };
}

/** Throw E_KERNEL (E_PERM without the privilege) saying what is missing when this host cannot watch `way`. */
export function requireWay(check: WayCheck): void {
  if (check.possible) return;
  const failed = check.checks.filter((c) => !c.ok && !(c.need === "rules" || c.need === "audit"));
  const why = (failed.length > 0 ? failed : check.checks.filter((c) => !c.ok)).map((c) => c.detail).join("; ");
  const perm = check.checks.some((c) => c.need === "audit-control" && !c.ok);
  throw new WhokilledError(perm ? "E_PERM" : "E_KERNEL", `--way ${check.way}: this host cannot watch that way: ${why}`);
}

/** A way's check as a `status` line (topic way). */
export function wayStatusLine(check: WayCheck): StatusWay {
  return { kind: "status", topic: "way", way: check.way, possible: check.possible, ready: check.ready, checks: check.checks, gives: check.gives, detail: wayDetail(check) };
}

function wayDetail(check: WayCheck): string {
  const uses = wayUses(check.way);
  if (!check.possible) return `not possible on this host: ${check.checks.filter((c) => !c.ok).map((c) => c.detail).join("; ")}`;
  const tracepoints = "the tracepoints need nothing installed: capture --tracepoints enables them in a private instance while it runs";
  if (check.ready) return uses.audit ? `ready: the audit rules are loaded${uses.tracepoints ? `; ${tracepoints}` : ""}` : `ready: ${tracepoints}`;
  return `possible: setup-rule install --way ${check.way} adds the audit rules${check.checks.some((c) => c.need === "audit" && !c.ok) ? " (and switches audit on, enabled 1)" : ""}`;
}
