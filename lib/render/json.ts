/**
 * The report as one JSON object: `{"kind":"report","version":1,"summary":…,
 * "findings":[…],"crossCheck":…,"gaps":…}`. Values are NOT escaped beyond JSON's own
 * rules (JSON.stringify writes control characters as \uXXXX), so a consumer
 * gets comm/exe back byte for byte.
 *
 * Key order is fixed: objects are rebuilt here field by field, and count
 * maps are already ranked (most first, then by name), so two runs over the
 * same input give identical output.
 */
import type { Report } from "../signals/findings.ts";
import type { Finding } from "../signals/findings/types.ts";
import type { KillerSummary, Summary, VictimSummary } from "../signals/summary.ts";

export const REPORT_JSON_VERSION = 1;

export interface JsonOptions {
  /** Indent with two spaces (default: one line, so the output is also a JSON Line). */
  pretty?: boolean;
}

function killer(k: KillerSummary) {
  return {
    key: k.key,
    comm: k.comm,
    exe: k.exe,
    uid: k.uid,
    user: k.user,
    pids: k.pids,
    argv: k.argv,
    total: k.total,
    success: k.success,
    failure: k.failure,
    unknown: k.unknown,
    signals: k.signals,
    errnos: k.errnos,
    first: k.first,
    last: k.last,
    targetPidCount: k.targetPidCount,
    targetPidsTruncated: k.targetPidsTruncated,
    targetPids: k.targetPids,
    sources: { audit: k.sources.audit, tracefs: k.sources.tracefs },
    examples: k.examples,
  };
}

function victim(v: VictimSummary) {
  return {
    key: v.key,
    pid: v.pid,
    comm: v.comm,
    uid: v.uid,
    user: v.user,
    total: v.total,
    signals: v.signals,
    killers: v.killers.map((k) => ({ key: k.key, comm: k.comm, exe: k.exe, uid: k.uid, count: k.count })),
    otherKillers: v.otherKillers,
    first: v.first,
    last: v.last,
    examples: v.examples,
  };
}

function summary(s: Summary) {
  const t = s.totals;
  return {
    totals: {
      signals: t.signals,
      success: t.success,
      failure: t.failure,
      unknown: t.unknown,
      probes: t.probes,
      killers: t.killers,
      victims: t.victims,
      untimed: t.untimed,
      sources: { audit: t.sources.audit, tracefs: t.sources.tracefs },
      errnos: t.errnos,
      first: t.first,
      last: t.last,
    },
    killers: s.killers.map(killer),
    victims: s.victims.map(victim),
    signals: s.signals,
    timeline: {
      unit: s.timeline.unit,
      sparse: s.timeline.sparse,
      buckets: s.timeline.buckets.map((b) => ({ start: b.start, count: b.count, failed: b.failed })),
    },
  };
}

function finding(f: Finding) {
  return {
    id: f.id,
    severity: f.severity,
    title: f.title,
    headline: f.headline,
    explanation: f.explanation,
    advice: f.advice,
    killer: f.killer && {
      key: f.killer.key,
      pids: f.killer.pids,
      comm: f.killer.comm,
      exe: f.killer.exe,
      uid: f.killer.uid,
      user: f.killer.user,
    },
    target: f.target && { pid: f.target.pid },
    evidence: {
      count: f.evidence.count,
      first: f.evidence.first,
      last: f.evidence.last,
      examples: f.evidence.examples,
      counts: f.evidence.counts,
      notes: f.evidence.notes,
    },
  };
}

/** The object `renderJson` prints (exported for callers that embed it). */
export function reportObject(report: Report) {
  const g = report.gaps;
  return {
    kind: "report" as const,
    version: REPORT_JSON_VERSION,
    summary: summary(report.summary),
    findings: report.findings.map(finding),
    crossCheck: { merged: report.crossCheck.merged, unmatched: report.crossCheck.unmatched, noAudit: report.crossCheck.noAudit },
    gaps: { count: g.count, lost: g.lost, lostUnknown: g.lostUnknown, first: g.first, last: g.last },
  };
}

export function renderJson(report: Report, options: JsonOptions = {}): string {
  return `${JSON.stringify(reportObject(report), null, options.pretty ? 2 : undefined)}\n`;
}
