/**
 * The report as Markdown (GFM tables), for tickets, wikis and mail. Every
 * value from the input goes through escapeMarkdown (control characters and
 * Markdown syntax), so a comm cannot forge a heading, a link or raw HTML.
 */
import type { Report } from "../signals/findings.ts";
import { plural } from "../signals/describe.ts";
import { coverageTexts, noFindingsText } from "./coverage-line.ts";
import { escapeMarkdown } from "./escape.ts";
import { countsText, formatTime, hasNodes, killerCells, victimCells, withNodeCell } from "./format.ts";
import { noticesOf, sourcesText, timelineLines } from "./text.ts";

/** Rows in the killer and victim tables. */
const MAX_ROWS = 50;

const md = (s: string | null | undefined, fallback = "?") => (s === null || s === undefined ? fallback : escapeMarkdown(s));

function table(headers: string[], rows: string[][], right: boolean[] = []): string[] {
  return [
    `| ${headers.join(" | ")} |`,
    `|${headers.map((_, i) => (right[i] ? " ---: " : " --- ")).join("|")}|`,
    ...rows.map((r) => `| ${r.map((c) => c || " ").join(" | ")} |`),
  ];
}

export function renderMarkdown(report: Report): string {
  const { summary, findings } = report;
  const t = summary.totals;
  const out: string[] = ["# whokilled report", ""];
  // First, before any count: the counts mean little if audit could not see the kills.
  for (const text of coverageTexts(report)) out.push(`**Warning:** ${md(text)}`, "");

  out.push(
    `**${plural(t.signals, "signal")}** (${t.success} succeeded, ${t.failure} failed${t.unknown ? `, ${t.unknown} unknown` : ""}) ` +
      `from ${plural(t.killers, "killer")} to ${plural(t.victims, "victim")}` +
      (t.first ? `, ${formatTime(t.first)} to ${formatTime(t.last)} (UTC).` : "."),
  );
  out.push("");
  if (Object.keys(summary.signals).length > 0) out.push(`Signals: ${md(countsText(summary.signals, ", "))}  `);
  if (Object.keys(t.errnos).length > 0) out.push(`Errors: ${md(countsText(t.errnos, ", "))}  `);
  const sources = sourcesText(report);
  if (sources !== null) out.push(`Sources: ${sources}  `);
  for (const [label, text] of noticesOf(report)) out.push(`**${label}:** ${text}  `);
  out.push("");

  out.push(`## Findings (${findings.length})`, "");
  if (findings.length === 0) out.push(md(noFindingsText(report)), "");
  findings.forEach((f, i) => {
    out.push(`### ${i + 1}. ${f.severity.toUpperCase()}: ${md(f.title)} (${md(f.id)})`, "");
    out.push(escapeMarkdown(f.headline, { lineStart: true }), "");
    const e = f.evidence;
    out.push(
      `- **Evidence:** ${Object.entries(e.counts)
        .map(([k, v]) => `${md(k)} ${v}`)
        .join(", ")}; ${formatTime(e.first)} → ${formatTime(e.last)}`,
    );
    if (e.examples.length > 0) out.push(`- **Example events:** ${e.examples.map((id) => md(id)).join(", ")}`);
    for (const note of e.notes) out.push(`- ${md(note)}`);
    out.push(`- **Why:** ${md(f.explanation)}`);
    out.push(`- **What to do:** ${md(f.advice)}`);
    out.push("");
  });

  out.push("## Killers", "");
  if (summary.killers.length === 0) out.push("None.", "");
  else {
    const nodes = hasNodes(summary.killers);
    const started = summary.killers.some((k) => k.ancestry.length > 0);
    out.push(
      ...table(
        withNodeCell(
          ["#", "Killer", "PID", "UID", "Exe", "Signals", "OK", "Failed", "Errno", "PIDs hit", "First", "Last", ...(started ? ["Started by"] : [])],
          1,
          "Node",
          nodes,
        ),
        summary.killers.slice(0, MAX_ROWS).map((k, i) => killerCells(k, i, md, nodes, started)),
        withNodeCell([true, false, false, false, false, false, true, true, false, true], 1, false, nodes),
      ),
    );
    if (summary.killers.length > MAX_ROWS) out.push("", `…and ${summary.killers.length - MAX_ROWS} more.`);
    out.push("");
  }

  out.push("## Victims", "");
  if (summary.victims.length === 0) out.push("None.", "");
  else {
    const nodes = hasNodes(summary.victims);
    out.push(
      ...table(
        withNodeCell(["PID", "Comm", "UID", "Hits", "Signals", "By", "First", "Last"], 0, "Node", nodes),
        summary.victims.slice(0, MAX_ROWS).map((v) => victimCells(v, md, nodes)),
        withNodeCell([true, false, false, true], 0, false, nodes),
      ),
    );
    if (summary.victims.length > MAX_ROWS) out.push("", `…and ${summary.victims.length - MAX_ROWS} more.`);
    out.push("");
  }

  if (summary.workloads) {
    out.push("## Units and containers", "");
    for (const w of summary.workloads) out.push(`- ${md(w.label)}: ${w.sent} sent, ${w.received} received`);
    out.push("");
  }

  out.push(`## Timeline (per ${summary.timeline.unit}, UTC)`, "");
  // Labels and counts only: nothing from the input reaches the code block.
  out.push("```", ...timelineLines(summary.timeline, { width: 80 }), "```", "");
  return out.join("\n");
}
