/**
 * The report as one JSON object: `{"kind":"report","version":1,"summary":…,
 * "findings":[…],"crossCheck":…,"gaps":…,"coverage":…,"limits":…}`. Values are NOT escaped beyond JSON's own
 * rules (JSON.stringify writes control characters as \uXXXX), so a consumer
 * gets comm/exe back byte for byte.
 *
 * Key order is fixed: the summary is built in its public order, findings
 * (from several detectors) are rebuilt here field by field, and count maps
 * are already ranked (most first, then by name), so two runs over the same
 * input give identical output.
 */
import type { Report } from "../signals/findings.ts";
import type { Finding } from "../signals/findings/types.ts";

export const REPORT_JSON_VERSION = 1;

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
      node: f.killer.node,
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
  const c = report.coverage;
  return {
    kind: "report" as const,
    version: REPORT_JSON_VERSION,
    // Built in this key order by the summary itself (lib/signals/report-summary.ts), which every renderer reads.
    summary: report.summary,
    findings: report.findings.map(finding),
    crossCheck: { merged: report.crossCheck.merged, unmatched: report.crossCheck.unmatched, noAudit: report.crossCheck.noAudit },
    gaps: { count: g.count, lost: g.lost, lostUnknown: g.lostUnknown, first: g.first, last: g.last },
    coverage: {
      checks: c.checks,
      problems: c.problems.map((p) => ({ state: p.state, since: p.since, until: p.until, reason: p.reason, missing: p.missing, fix: p.fix })),
      problemsNotKept: c.problemsNotKept,
      last: c.last && { state: c.last.state, time: c.last.time },
    },
    limits: { pairsNotKept: report.limits.pairsNotKept, stormKillersNotKept: report.limits.stormKillersNotKept },
  };
}

/** One line, so the output is also a JSON Line. */
export function renderJson(report: Report): string {
  return `${JSON.stringify(reportObject(report))}\n`;
}
