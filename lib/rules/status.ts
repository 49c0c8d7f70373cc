/**
 * `setup-rule status`: is audit able to see a kill right now? One line per
 * fact group (schema StatusLine), then one `blindspot` line per process that
 * predates the time audit was first switched on.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BlindSpotLine, EnableTimeBasis, StatusLine } from "../schema.ts";
import { auditctl, auditStatus, listRules, requireAuditControl, ruleHasKey, type AuditctlRunner } from "./auditctl.ts";
import { findBlindSpots, listProcesses, readClock, readProcStat, ticksToIso, type ClockInfo } from "./blind-spots.ts";
import { buildRules, type RuleOptions } from "./build.ts";
import { blindSpotLine, readRecordedEnable, type RulesEnv } from "./install.ts";
import { canonicalRule } from "./normalise.ts";

/** Below this, a burst of kills can overflow the kernel's queue (Debian's rules.d uses 8192). */
const SMALL_BACKLOG = 8192;

export function statusReport(options: RuleOptions, env: RulesEnv = {}): (StatusLine | BlindSpotLine)[] {
  let run: AuditctlRunner = auditctl;
  if (env.run) run = env.run;
  else requireAuditControl("setup-rule status");
  const procRoot = env.procRoot ?? "/proc";
  const status = auditStatus(run);
  const clock = readClock(procRoot);
  const lines: (StatusLine | BlindSpotLine)[] = [];

  const enabled = status.enabled ?? 0;
  lines.push({
    kind: "status",
    topic: "audit",
    enabled,
    failure: status.failure ?? 0,
    detail:
      enabled === 0
        ? "audit is off: nothing is audited; setup-rule install switches it on (auditctl -e 1)"
        : enabled === 2
          ? "audit is on and locked (-e 2): rules cannot be added or removed until reboot"
          : "audit is on",
  });

  const daemonPid = status.pid && status.pid > 0 ? status.pid : null;
  const daemon = daemonPid !== null ? readProcStat(daemonPid, procRoot) : null;
  lines.push({
    kind: "status",
    topic: "auditd",
    running: daemon !== null,
    pid: daemonPid,
    comm: daemon?.comm ?? null,
    started: daemon ? ticksToIso(daemon.startTicks, clock) : null,
    detail: daemon
      ? `pid ${daemonPid} (${daemon.comm}) is the registered audit daemon: it receives the records (auditd writes /var/log/audit/audit.log)`
      : "no audit daemon is registered: records go only to netlink listeners and, rate-limited, to the kernel log (dmesg)",
  });

  const installed = listRules(run);
  const expected = buildRules(options).map((r) => ({ line: r.line, canon: canonicalRule(r.args) }));
  const installedCanon = new Set(installed.map((line) => canonicalRule(line)));
  const expectedCanon = new Set(expected.map((e) => e.canon));
  const present = expected.filter((e) => installedCanon.has(e.canon)).map((e) => e.line);
  const missing = expected.filter((e) => !installedCanon.has(e.canon)).map((e) => e.line);
  const other = installed.filter((line) => ruleHasKey(line, options.key) && !expectedCanon.has(canonicalRule(line)));
  lines.push({
    kind: "status",
    topic: "rules",
    key: options.key,
    expected: expected.map((e) => e.line),
    present,
    missing,
    other,
    detail:
      missing.length === 0
        ? `all ${expected.length} rules for key ${options.key} are installed`
        : `${missing.length} of ${expected.length} rules for key ${options.key} are missing: setup-rule install with the same options adds them`,
  });

  const lost = status.lost ?? null;
  const limit = status.backlog_limit ?? null;
  const backlogNotes: string[] = [];
  if (lost !== null && lost > 0) backlogNotes.push(`the kernel has dropped ${lost} record(s) since boot (or since the counter was reset): some kills may be missing`);
  else backlogNotes.push("no record lost so far");
  if (limit !== null && limit > 0 && limit < SMALL_BACKLOG) backlogNotes.push(`backlog_limit ${limit} is small: a burst of signals can overflow it (auditctl -b ${SMALL_BACKLOG} raises it)`);
  lines.push({
    kind: "status",
    topic: "backlog",
    backlog: status.backlog ?? null,
    backlogLimit: limit,
    lost,
    backlogWaitTime: status.backlog_wait_time ?? null,
    rateLimit: status.rate_limit ?? null,
    detail: backlogNotes.join("; "),
  });

  const since = enableTime(procRoot, clock, env, daemon?.startTicks ?? null, daemonPid);
  if (since.ticks === null) {
    lines.push({ kind: "status", topic: "blind-spots", enabledAt: null, basis: "unknown", count: null, detail: since.detail });
    return lines;
  }
  const enabledAt = ticksToIso(since.ticks, clock);
  const blind = findBlindSpots(listProcesses(procRoot), since.ticks, clock, [process.pid]);
  lines.push({
    kind: "status",
    topic: "blind-spots",
    enabledAt,
    basis: since.basis,
    count: blind.length,
    detail: `${since.detail}${enabled === 0 ? "; audit is off now, so nothing at all is audited at the moment" : ""}`,
  });
  lines.push(...blind.map((b) => blindSpotLine(b, enabledAt, since.basis)));
  return lines;
}

interface EnableTime {
  ticks: number | null;
  basis: EnableTimeBasis;
  detail: string;
}

/**
 * The earliest moment audit is known to have been on. The kernel keeps the
 * first-enable time to itself, so this is the earliest of what can be
 * observed; the true time can only be earlier, so the processes listed as
 * blind are a superset of the real blind spots.
 */
export function enableTime(procRoot: string, clock: ClockInfo, env: RulesEnv, auditdStartTicks: number | null, auditdPid: number | null): EnableTime {
  if (bootedWithAudit(procRoot)) {
    return { ticks: 0, basis: "boot", detail: "booted with audit=1: every process has been audited from the start, there are no blind spots" };
  }
  const candidates: EnableTime[] = [];
  const recorded = readRecordedEnable(env);
  if (recorded && recorded.ticksPerSecond === clock.ticksPerSecond) {
    candidates.push({
      ticks: recorded.ticks,
      basis: "recorded",
      detail: `whokilled setup-rule install switched audit on at ${recorded.time} (recorded in ${env.stateDir ?? "/run/whokilled"}); processes started before then are not audited`,
    });
  }
  if (auditdStartTicks !== null) {
    candidates.push({
      ticks: auditdStartTicks,
      basis: "auditd-start",
      detail:
        `heuristic: the kernel does not say when audit was switched on; auditd (pid ${auditdPid}) started at ${ticksToIso(auditdStartTicks, clock)} and audit has been on since at least then. ` +
        "Processes started before that may never be audited; if audit was on earlier (an earlier auditd, auditctl -e 1), some of them are audited after all",
    });
  }
  const earliest = candidates.sort((a, b) => (a.ticks ?? 0) - (b.ticks ?? 0))[0];
  return (
    earliest ?? {
      ticks: null,
      basis: "unknown",
      detail:
        "unknown: the kernel does not say when audit was switched on, no audit daemon is registered and no whokilled install recorded it; processes forked before that moment are never audited (booting with audit=1 avoids this)",
    }
  );
}

function bootedWithAudit(procRoot: string): boolean {
  try {
    return /(^|\s)audit=1(\s|$)/.test(readFileSync(join(procRoot, "cmdline"), "utf8"));
  } catch {
    return false;
  }
}
