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

/** `value`'s `keys`, in that order: the output's key order, whatever order the value was built in. */
function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.map((key) => [key, value[key]])) as Pick<T, K>;
}

function finding(f: Finding) {
  return {
    ...pick(f, ["id", "severity", "title", "headline", "explanation", "advice"]),
    killer: f.killer && pick(f.killer, ["key", "node", "pids", "comm", "exe", "uid", "user"]),
    target: f.target && { pid: f.target.pid },
    evidence: pick(f.evidence, ["count", "first", "last", "examples", "counts", "notes"]),
  };
}

/** One line, so the output is also a JSON Line. */
export function renderJson(report: Report): string {
  const c = report.coverage;
  const object = {
    kind: "report",
    version: REPORT_JSON_VERSION,
    // Built in this key order by the summary itself (lib/signals/report-summary.ts), which every renderer reads.
    summary: report.summary,
    findings: report.findings.map(finding),
    crossCheck: pick(report.crossCheck, ["merged", "unmatched", "noAudit"]),
    gaps: pick(report.gaps, ["count", "lost", "lostUnknown", "first", "last"]),
    coverage: {
      checks: c.checks,
      problems: c.problems.map((p) => pick(p, ["state", "since", "until", "reason", "missing", "fix"])),
      problemsNotKept: c.problemsNotKept,
      last: c.last && pick(c.last, ["state", "time"]),
    },
    limits: pick(report.limits, ["pairsNotKept", "stormKillersNotKept", "causeSignalsNotGrouped", "parentDeathSignalsNotKept"]),
  };
  return `${JSON.stringify(object)}\n`;
}
