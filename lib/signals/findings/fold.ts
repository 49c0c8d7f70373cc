/**
 * Fold a killer's many findings of one kind into a few and a summary. A
 * program that kills in a loop over many PIDs raises stale-pid once per PID:
 * tens of thousands of paragraphs nobody reads, and a renderer that needs a
 * gigabyte. The best `keep` stay as they are; the rest become one finding
 * that counts them, sums their evidence and lists some of their PIDs. The
 * signal lines (`attribute`) still hold every call.
 */
import { describeProcess, plural } from "../describe.ts";
import { SEVERITY_ORDER, type Finding } from "./types.ts";

export const KEEP_PER_KILLER = 5;
/** PIDs named in the folded finding (of its best-evidenced ones), in numeric order. */
const LISTED_PIDS = 20;
const EXAMPLES = 5;

function groupKey(finding: Finding): string {
  return `${finding.id}\n${finding.killer?.key ?? ""}`;
}

/** `sorted` (best first) with each (kind, killer) group cut to `keep`, its rest folded right after them. */
export function foldFindings(sorted: readonly Finding[], keep = KEEP_PER_KILLER): Finding[] {
  const groups = new Map<string, Finding[]>();
  for (const finding of sorted) {
    const key = groupKey(finding);
    const group = groups.get(key);
    if (group) group.push(finding);
    else groups.set(key, [finding]);
  }
  const out: Finding[] = [];
  const shown = new Map<string, number>();
  for (const finding of sorted) {
    const key = groupKey(finding);
    const n = shown.get(key) ?? 0;
    if (n >= keep) continue;
    out.push(finding);
    shown.set(key, n + 1);
    const group = groups.get(key)!;
    if (n + 1 === keep && group.length > keep) out.push(foldedFinding(group.slice(keep), keep));
  }
  return out;
}

function foldedFinding(rest: readonly Finding[], kept: number): Finding {
  const model = rest[0]!;
  let severity = model.severity;
  let count = 0;
  let first: string | null = null;
  let last: string | null = null;
  const counts: Record<string, number> = { findings: rest.length };
  const pids: number[] = [];
  const examples: string[] = [];
  for (const finding of rest) {
    if (SEVERITY_ORDER[finding.severity] < SEVERITY_ORDER[severity]) severity = finding.severity;
    const evidence = finding.evidence;
    count += evidence.count;
    if (evidence.first !== null && (first === null || evidence.first < first)) first = evidence.first;
    if (evidence.last !== null && (last === null || evidence.last > last)) last = evidence.last;
    for (const [name, n] of Object.entries(evidence.counts)) counts[name] = (counts[name] ?? 0) + n;
    const pid = finding.target?.pid;
    if (typeof pid === "number" && pids.length < LISTED_PIDS) pids.push(pid);
    const example = evidence.examples[0];
    if (example !== undefined && examples.length < EXAMPLES) examples.push(example);
  }
  const who = model.killer ? describeProcess(model.killer) : "senders audit did not see";
  pids.sort((a, b) => a - b);
  const pidText = pids.length > 0 ? `, on PID${pids.length > 1 ? "s" : ""} ${pids.join(", ")}${rest.length > pids.length ? ", …" : ""}` : "";
  return {
    id: model.id,
    title: model.title,
    severity,
    headline: `…and ${plural(rest.length, "more finding")} of this kind for ${who}${pidText}: ${plural(count, "signal")} in all`,
    explanation:
      `The same pattern as the findings above, for the same sender, ${plural(rest.length, "time")} more. ` +
      `They are folded into this one so the report stays readable; the ${kept} above have the most evidence.`,
    advice: "As for the findings above. `attribute` with --killer (and --pid for one PID) lists every signal behind them.",
    killer: model.killer,
    target: null,
    evidence: { count, first, last, examples, counts, notes: [] },
  };
}
