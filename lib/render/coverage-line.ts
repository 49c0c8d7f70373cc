/**
 * The wording of a coverage verdict (can audit see kill calls?), one place
 * for the report's every format and for attribute's table. Strings come back
 * unescaped: reason, missing and fix may come from an input line, so each
 * format escapes them its own way.
 */
import type { CoverageProblem, Report } from "../signals/findings.ts";
import type { CoverageLine, CoverageState } from "../schema.ts";
import { plural } from "../signals/describe.ts";
import { formatTime } from "./format.ts";

const HEADLINE: Record<Exclude<CoverageState, "full">, string> = {
  none: "Audit could not see kill calls",
  partial: "Audit saw kill calls only partly",
  unknown: "Whether audit could see kill calls could not be checked",
};

const CONSEQUENCE: Record<Exclude<CoverageState, "full">, string> = {
  none: "Kill calls made then are missing from this report; only signals tracefs saw (if it ran) are here.",
  partial: "Kill calls outside what the rules cover are missing from this report, unless tracefs saw them.",
  unknown: "Kill calls may be missing from this report.",
};

function fixText(state: CoverageState, fix: string | null): string {
  if (!fix) return "";
  return state === "unknown" ? ` To check: ${fix}` : ` To fix: ${fix}`;
}

/** One line for stderr (capture, attribute --format table), e.g. "Audit could not see kill calls: no rule covers… To fix: …". */
export function coverageLineText(line: Pick<CoverageLine, "state" | "reason" | "fix">): string {
  if (line.state === "full") return `Audit can see kill calls: ${line.reason}`;
  const state = Object.hasOwn(HEADLINE, line.state) ? line.state : "unknown";
  return `${HEADLINE[state]}: ${line.reason}.${fixText(state, line.fix)}`;
}

function problemText(problem: CoverageProblem): string {
  const until = problem.until === null ? "to the end of the capture" : `to ${formatTime(problem.until)}`;
  return `${HEADLINE[problem.state]} from ${formatTime(problem.since)} ${until}: ${problem.reason}. ${CONSEQUENCE[problem.state]}${fixText(problem.state, problem.fix)}`;
}

/** One sentence per stretch of time the capture knew audit was blind, partly blind or unchecked; [] when none. */
export function coverageTexts(report: Pick<Report, "coverage">): string[] {
  const { problems, problemsNotKept } = report.coverage;
  const texts = problems.map(problemText);
  if (problemsNotKept > 0) texts.push(`…and ${plural(problemsNotKept, "more change")} of what audit could see.`);
  return texts;
}

/** "Nothing suspicious found", unless audit could not see everything: then say that nothing was seen, not that nothing happened. */
export function noFindingsText(report: Pick<Report, "coverage">): string {
  return report.coverage.problems.length > 0 || report.coverage.problemsNotKept > 0
    ? "Nothing suspicious found in what was seen, but audit could not see every kill call (see the warning above)."
    : "Nothing suspicious found.";
}
