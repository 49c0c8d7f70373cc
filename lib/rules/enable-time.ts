/**
 * When was audit first enabled since boot? That moment splits processes in
 * two: the kernel gives a process an audit context at fork only if audit had
 * ever been enabled by then (kernel/auditsc.c audit_alloc, audit_ever_enabled),
 * and switching audit off (`auditctl -e 0`) never takes that back. So the
 * blind spots are the processes forked before the FIRST enable; an enable
 * after a disable changes nothing for them.
 *
 * The kernel does not tell that time. What can be known:
 * - `audit=1` on the kernel command line: audit was on from boot;
 * - a whokilled install that switched audit on and saw that its own process
 *   had no audit context (probeOwnAuditContext): it was the first enable,
 *   and the time is written down in /run/whokilled for this boot;
 * - upper bounds: audit had been on by some time (a whokilled install saw its
 *   own process had an audit context, or switched audit on without being
 *   able to tell; auditd's start, since auditd switches audit on).
 * Only an exact time lists blind spots. An upper bound says how many
 * processes started before it, and that whokilled cannot tell which of them
 * are audited: listing them would name processes the kernel still audits.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { log } from "../log.ts";
import type { BlindSpotLine, EnableTimeBasis, StatusBlindSpots } from "../schema.ts";
import { AUDIT_FILTER_EXCLUDE, AUDIT_FILTER_EXIT, AUDIT_FILTER_TASK, AUDIT_NEVER, ruleList } from "./audit-rule.ts";
import { findBlindSpots, listProcesses, readTextOrNull, ticksToIso, type ClockInfo } from "./blind-spots.ts";
import type { KernelRule } from "./control.ts";

export const DEFAULT_STATE_DIR = "/run/whokilled";
const RECORD_FILE = "audit-enabled.json";

/** Where the enable-time evidence lives (install.ts RulesEnv adds the kernel's audit to it). */
export interface EnableTimeEnv {
  procRoot?: string;
  /** tmpfs: gone at reboot, as the evidence should be. */
  stateDir?: string;
}

export interface TimeMark {
  /** Clock ticks since boot (CLOCK_BOOTTIME, the unit of /proc/PID/stat starttime). */
  ticks: number;
  /** The same as an ISO time (btime's whole-second precision). */
  time: string;
}

/** What whokilled wrote down this boot (`/run/whokilled/audit-enabled.json`). */
export interface RecordedEnable {
  bootId: string;
  ticksPerSecond: number;
  /** A whokilled install switched audit on for the first time since boot. Written once, never moved. */
  first: TimeMark | null;
  /** Audit had been enabled by this time (an upper bound on the first enable): the earliest known; only ever moved earlier. */
  onBy: (TimeMark & { how: string }) | null;
}

export function bootId(procRoot = "/proc"): string | null {
  return readTextOrNull(join(procRoot, "sys/kernel/random/boot_id"))?.trim() ?? null;
}

const isMark = (value: unknown): value is TimeMark =>
  typeof value === "object" && value !== null && Number.isFinite((value as TimeMark).ticks) && typeof (value as TimeMark).time === "string";

/** The record of this boot, if any. A record in the first format (one time, from an install that could not tell whether it was the first enable) reads as an upper bound. */
export function readRecordedEnable(env: EnableTimeEnv = {}): RecordedEnable | null {
  const id = bootId(env.procRoot);
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(readFileSync(join(env.stateDir ?? DEFAULT_STATE_DIR, RECORD_FILE), "utf8"));
  } catch {
    return null;
  }
  if (id === null || typeof value !== "object" || value === null || value.bootId !== id || !Number.isFinite(value.ticksPerSecond)) return null;
  const ticksPerSecond = value.ticksPerSecond as number;
  if (isMark(value)) {
    const how = "a whokilled install switched audit on then, without telling whether it had been on before";
    return { bootId: id, ticksPerSecond, first: null, onBy: { ticks: value.ticks, time: value.time, how } };
  }
  const first = isMark(value.first) ? { ticks: value.first.ticks, time: value.first.time } : null;
  const onBy = isMark(value.onBy) ? { ticks: value.onBy.ticks, time: value.onBy.time, how: String((value.onBy as { how?: unknown }).how ?? "") } : null;
  return { bootId: id, ticksPerSecond, first, onBy };
}

/**
 * Add evidence to this boot's record: `first` only when none is written yet
 * and nothing shows audit on before it; `onBy` only when earlier than the one
 * written. Returns the record as it now stands (null when there is no boot id).
 */
export function recordEnableEvidence(
  evidence: { first?: TimeMark; onBy?: TimeMark & { how: string } },
  clock: ClockInfo,
  env: EnableTimeEnv = {},
): RecordedEnable | null {
  const id = bootId(env.procRoot);
  if (!id) return null;
  const old = readRecordedEnable(env);
  const sameUnit = old !== null && old.ticksPerSecond === clock.ticksPerSecond;
  const record: RecordedEnable = { bootId: id, ticksPerSecond: clock.ticksPerSecond, first: sameUnit ? old.first : null, onBy: sameUnit ? old.onBy : null };
  if (evidence.onBy && (record.onBy === null || evidence.onBy.ticks < record.onBy.ticks)) record.onBy = evidence.onBy;
  if (evidence.first && record.first === null && (record.onBy === null || record.onBy.ticks >= evidence.first.ticks)) record.first = evidence.first;
  if (sameUnit && JSON.stringify(record) === JSON.stringify(old)) return record;
  const dir = env.stateDir ?? DEFAULT_STATE_DIR;
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `${RECORD_FILE}.tmp-${process.pid}`);
    writeFileSync(tmp, `${JSON.stringify(record)}\n`);
    renameSync(tmp, join(dir, RECORD_FILE));
  } catch (error) {
    log.debug(`could not record the enable time in ${dir}: ${(error as Error).message}`);
  }
  return record;
}

/**
 * Why the loaded rules could make a process that has an audit context look
 * as if it had none (its SYSCALL record suppressed), or null when they cannot.
 * Only then does a probe's "no context" prove audit was never on before.
 */
export function probeNoContextDoubt(rules: readonly KernelRule[]): string | null {
  const list = (r: KernelRule) => ruleList(r.rule);
  if (!rules.some((r) => list(r) === AUDIT_FILTER_EXIT)) return "no syscall rule is loaded, so no SYSCALL record is written for anyone";
  const task = rules.find((r) => r.rule.action === AUDIT_NEVER && list(r) === AUDIT_FILTER_TASK);
  if (task) return `the rule \`${task.line}\` can give a process no audit context`;
  const never = rules.find((r) => r.rule.action === AUDIT_NEVER && list(r) === AUDIT_FILTER_EXIT);
  if (never) return `the rule \`${never.line}\` can suppress SYSCALL records`;
  const exclude = rules.find((r) => list(r) === AUDIT_FILTER_EXCLUDE);
  if (exclude) return `the rule \`${exclude.line}\` can drop records`;
  return null;
}

/** The first enable since boot as far as it can be told. */
export interface FirstEnable {
  /** Exact time (exact true), or the latest it can have been (exact false); null when nothing is known. */
  ticks: number | null;
  basis: EnableTimeBasis;
  exact: boolean;
  detail: string;
}

function bootedWithAudit(procRoot = "/proc"): boolean {
  return /(^|\s)audit=1(\s|$)/.test(readTextOrNull(join(procRoot, "cmdline")) ?? "");
}

/**
 * Weigh the evidence: audit=1 at boot, then an exact first enable written
 * down by an install, then the earliest upper bound (the record's, auditd's
 * start).
 */
export function firstEnableTime(
  clock: ClockInfo,
  env: EnableTimeEnv,
  auditd: { pid: number; startTicks: number } | null,
  record: RecordedEnable | null = readRecordedEnable(env),
): FirstEnable {
  if (bootedWithAudit(env.procRoot)) {
    return { ticks: 0, basis: "boot", exact: true, detail: "booted with audit=1: every process has been audited from the start, there are no blind spots" };
  }
  const usable = record !== null && record.ticksPerSecond === clock.ticksPerSecond ? record : null;
  const where = env.stateDir ?? DEFAULT_STATE_DIR;
  if (usable?.first) {
    return {
      ticks: usable.first.ticks,
      basis: "recorded",
      exact: true,
      detail: `a whokilled install switched audit on for the first time since boot at ${usable.first.time} (recorded in ${where}); processes started before then have no audit context and are never audited`,
    };
  }
  const bounds: FirstEnable[] = [];
  if (usable?.onBy) {
    bounds.push({ ticks: usable.onBy.ticks, basis: "seen", exact: false, detail: `audit had been switched on by ${usable.onBy.time} (${usable.onBy.how}; recorded in ${where})` });
  }
  if (auditd) {
    bounds.push({
      ticks: auditd.startTicks,
      basis: "auditd-start",
      exact: false,
      detail: `audit has been on at least since auditd (pid ${auditd.pid}) started at ${ticksToIso(auditd.startTicks, clock)}, since auditd switches it on`,
    });
  }
  const earliest = bounds.sort((a, b) => (a.ticks ?? 0) - (b.ticks ?? 0))[0];
  if (earliest) {
    return { ...earliest, detail: `the kernel does not say when audit was first switched on; ${earliest.detail}, perhaps earlier` };
  }
  return {
    ticks: null,
    basis: "unknown",
    exact: false,
    detail:
      "unknown: the kernel does not say when audit was first switched on, no audit daemon is registered and no whokilled install recorded it; processes forked before that moment are never audited (booting with audit=1 avoids this)",
  };
}

/**
 * The `blind-spots` status line, and one `blindspot` line per process that
 * is certainly never audited: only when the first enable time is exact.
 * Against an upper bound the processes started before it are counted as
 * `possible`, not listed. This process is left out: it is about to exit.
 */
export function blindSpotReport(
  first: FirstEnable,
  clock: ClockInfo,
  env: EnableTimeEnv,
): { status: StatusBlindSpots; lines: BlindSpotLine[] } {
  if (first.ticks === null) {
    return { status: { kind: "status", topic: "blind-spots", enabledAt: null, basis: first.basis, exact: false, count: null, possible: null, detail: first.detail }, lines: [] };
  }
  const enabledAt = ticksToIso(first.ticks, clock);
  const before = first.ticks === 0 ? [] : findBlindSpots(listProcesses(env.procRoot), first.ticks, clock, [process.pid]);
  if (first.exact) {
    return {
      status: { kind: "status", topic: "blind-spots", enabledAt, basis: first.basis, exact: true, count: before.length, possible: null, detail: first.detail },
      lines: before.map((b) => ({ kind: "blindspot", pid: b.pid, ppid: b.ppid, comm: b.comm, start: b.start, enabledAt, basis: first.basis })),
    };
  }
  const detail =
    `${first.detail}. ${before.length} process(es) started before ${enabledAt}: those forked before the first enable are never audited, the others are, ` +
    "and whokilled cannot tell which is which, so none is listed (restart a process that matters to be sure it is audited)";
  return {
    status: { kind: "status", topic: "blind-spots", enabledAt, basis: first.basis, exact: false, count: null, possible: before.length, detail },
    lines: [],
  };
}
