/**
 * `setup-rule status`: is audit able to see a kill right now? One line per
 * fact group (schema StatusLine), then one `blindspot` line per process that
 * predates the time audit was first switched on since boot, when that time
 * is known exactly (lib/rules/enable-time.ts).
 */
import type { BlindSpotLine, StatusLine } from "../schema.ts";
import { readClock, readProcStat, ticksToIso } from "./blind-spots.ts";
import { buildRules, type RuleOptions } from "./build.ts";
import { blindSpotReport, firstEnableTime } from "./enable-time.ts";
import { controlOf, matchInstalled, type RulesEnv } from "./install.ts";
import { log } from "../log.ts";
import { leftInstances } from "../sources/tracefs.ts";
import { escapeControl } from "../render/escape.ts";
import { leftRunKeys } from "./run-keys.ts";
import type { AuditRead } from "./way-check.ts";

/** Below this, a burst of kills can overflow the kernel's queue (Debian's rules.d uses 8192). */
const SMALL_BACKLOG = 8192;

/** The kernel's audit status and rule list, read once for statusReport and the ways' checks (way-check.ts hostFacts). */
export function readAudit(env: RulesEnv = {}): AuditRead {
  const control = controlOf(env, "setup-rule status");
  return { status: control.status(), installed: control.listRules() };
}

/** The status lines; `read`: the status and rule list already read (readAudit), else read now. */
export function statusReport(options: RuleOptions, env: RulesEnv = {}, read: AuditRead = readAudit(env)): (StatusLine | BlindSpotLine)[] {
  const { status, installed } = read;
  const clock = readClock(env.procRoot);
  const lines: (StatusLine | BlindSpotLine)[] = [];

  const enabled = status.enabled;
  lines.push({
    kind: "status",
    topic: "audit",
    enabled,
    failure: status.failure,
    detail:
      enabled === 0
        ? "audit is off: nothing is audited; setup-rule install switches it on (enabled 1)"
        : enabled === 2
          ? "audit is on and locked (enabled 2): nothing can change until reboot, rules cannot be added or removed"
          : "audit is on",
  });

  const daemonPid = status.pid > 0 ? status.pid : null;
  const daemon = daemonPid !== null ? readProcStat(daemonPid, env.procRoot) : null;
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

  const expected = buildRules(options);
  const { held, other } = matchInstalled(expected, installed, options.key);
  const present = expected.filter((_, i) => held[i]).map((r) => r.line);
  const missing = expected.filter((_, i) => !held[i]).map((r) => r.line);
  lines.push({
    kind: "status",
    topic: "rules",
    key: options.key,
    expected: expected.map((r) => r.line),
    present,
    missing,
    other,
    detail:
      missing.length === 0
        ? `all ${expected.length} rules for key ${options.key} are installed`
        : `${missing.length} of ${expected.length} rules for key ${options.key} are missing: setup-rule install with the same options adds them`,
  });

  const lost = status.lost;
  const limit = status.backlog_limit;
  const backlogNotes = [lost > 0 ? `the kernel has dropped ${lost} record(s) since boot (or since the counter was reset): some kills may be missing` : "no record lost so far"];
  if (limit > 0 && limit < SMALL_BACKLOG) backlogNotes.push(`backlog_limit ${limit} is small: a burst of signals can overflow it (auditctl -b ${SMALL_BACKLOG} raises it)`);
  lines.push({
    kind: "status",
    topic: "backlog",
    backlog: status.backlog,
    backlogLimit: limit,
    lost,
    backlogWaitTime: status.backlog_wait_time,
    rateLimit: status.rate_limit,
    detail: backlogNotes.join("; "),
  });

  const first = firstEnableTime(clock, env, daemon && daemonPid !== null ? { pid: daemonPid, startTicks: daemon.startTicks } : null);
  const blind = blindSpotReport(first, clock, env);
  if (enabled === 0) blind.status.detail += "; audit is off now, so nothing at all is audited at the moment";
  lines.push(blind.status, ...blind.lines);
  // A tracing instance a killed capture --tracefs left keeps signal_generate on: said on stderr (the status lines' schema is unchanged).
  if (env.control === undefined) {
    for (const left of leftInstances()) log.warn(`tracefs: instance ${left.dir} was left by a killed run (${left.why}); setup-rule remove or the next capture --tracefs removes it`);
  }
  for (const key of leftRunKeys(installed.flatMap((rule) => rule.keys))) {
    log.warn(`audit rules with key ${escapeControl(key)} were left by a run that was killed; setup-rule remove or the next watch removes them`);
  }
  return lines;
}
