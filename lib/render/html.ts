/**
 * The report as one self-contained HTML page: inline CSS, an inline SVG
 * timeline, tables and findings. No scripts, no fonts, no images, nothing
 * fetched: a Content-Security-Policy forbids every network load, so the file
 * can be mailed or opened offline. Every input value is control-escaped and
 * then HTML-escaped.
 */
import type { Report } from "../signals/findings.ts";
import type { Finding } from "../signals/findings/types.ts";
import type { Timeline } from "../signals/report-summary.ts";
import { plural } from "../signals/describe.ts";
import { coverageTexts, noFindingsText } from "./coverage-line.ts";
import { escapeHtml, escapeOr } from "./escape.ts";
import { bucketLabel, formatTime, hasNodes, killerCells, victimCells, withNodeCell, type Escape } from "./format.ts";
import { noticesOf, sourcesText } from "./text.ts";

/** Escape for HTML: control characters first (shown as `\x1b`), then markup. */
const h: Escape = (s, fallback) => escapeHtml(escapeOr(s, fallback));

const CSS = `
:root { color-scheme: light; --fg: #1d2330; --muted: #5b6475; --line: #d9dde5; --bg: #f6f7f9; --card: #fff;
  --ok: #2e7d32; --fail: #c62828; --critical: #b3261e; --warning: #a35c00; --info: #1f5fa8; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1160px; margin: 0 auto; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.lead { color: var(--muted); margin: 0 0 12px; }
.stats { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
.stat { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.stat b { display: block; font-size: 22px; }
.stat span { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.finding { background: var(--card); border: 1px solid var(--line); border-left: 6px solid var(--info); border-radius: 6px; padding: 12px 16px; margin: 0 0 12px; }
.finding.critical { border-left-color: var(--critical); }
.finding.warning { border-left-color: var(--warning); }
.finding h3 { margin: 0 0 6px; font-size: 16px; }
.sev { display: inline-block; font-size: 11px; font-weight: 700; color: #fff; background: var(--info); border-radius: 3px; padding: 1px 6px; margin-right: 6px; vertical-align: 2px; }
.critical .sev { background: var(--critical); }
.warning .sev { background: var(--warning); }
.finding .id { color: var(--muted); font-weight: 400; font-size: 13px; }
.headline { font-weight: 600; margin: 4px 0 8px; }
.finding dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 0; }
.finding dt { color: var(--muted); }
.finding dd { margin: 0; }
code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; word-break: break-all; }
table { border-collapse: collapse; width: 100%; background: var(--card); border: 1px solid var(--line); }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef0f4; font-weight: 600; white-space: nowrap; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.ok { color: var(--ok); } td.fail { color: var(--fail); }
.clean { background: var(--card); border: 1px solid var(--line); border-left: 6px solid var(--ok); border-radius: 6px; padding: 12px 16px; }
.timeline { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px; }
.timeline svg { display: block; width: 100%; height: auto; }
.legend { color: var(--muted); font-size: 12px; margin: 6px 0 0 8px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; vertical-align: -1px; }
.gap { background: #fff7e0; border: 1px solid #f0d48a; border-radius: 6px; padding: 8px 14px; }
.gap.blind { background: #fdecea; border-color: #e6a19a; }
footer { color: var(--muted); font-size: 12px; margin-top: 32px; }
`;

/** Bars per bucket (ok part and failed part stacked), y-axis ticks, a few x labels. */
export function timelineSvg(timeline: Timeline): string {
  const width = 1100;
  const height = 260;
  const m = { top: 14, right: 16, bottom: 46, left: 52 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const buckets = timeline.buckets;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="timeline-chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="Signals per ${timeline.unit}">`,
  ];
  if (buckets.length === 0) {
    parts.push(`<text x="${width / 2}" y="${height / 2}" text-anchor="middle" fill="#5b6475" font-size="14">No signals with a time</text></svg>`);
    return parts.join("");
  }
  const max = Math.max(1, ...buckets.map((b) => b.count));
  // Round the axis up to a tidy number so tick labels are whole.
  const step = niceStep(max / 4);
  const top = Math.ceil(max / step) * step;
  const y = (v: number) => m.top + plotH - (v / top) * plotH;

  for (let v = 0; v <= top; v += step) {
    const yy = y(v).toFixed(1);
    parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${yy}" y2="${yy}" stroke="#e3e6ec" stroke-width="1"/>`);
    parts.push(`<text x="${m.left - 8}" y="${yy}" dy="4" text-anchor="end" font-size="11" fill="#5b6475">${v}</text>`);
  }

  const slot = plotW / buckets.length;
  const gap = slot > 6 ? Math.min(4, slot * 0.2) : 0;
  const barW = Math.max(0.5, slot - gap);
  buckets.forEach((b, i) => {
    const x = m.left + i * slot + gap / 2;
    const okCount = b.count - b.failed;
    const tip = `${bucketLabel(b.start)} UTC: ${plural(b.count, "signal")}${b.failed ? `, ${b.failed} failed` : ""}`;
    if (b.count === 0) return;
    parts.push(`<g class="bucket"><title>${escapeHtml(tip)}</title>`);
    if (okCount > 0) {
      parts.push(`<rect class="bar ok" x="${x.toFixed(2)}" y="${y(okCount).toFixed(2)}" width="${barW.toFixed(2)}" height="${(y(0) - y(okCount)).toFixed(2)}" fill="#4c8bf5"/>`);
    }
    if (b.failed > 0) {
      parts.push(`<rect class="bar failed" x="${x.toFixed(2)}" y="${y(b.count).toFixed(2)}" width="${barW.toFixed(2)}" height="${(y(okCount) - y(b.count)).toFixed(2)}" fill="#e0524a"/>`);
    }
    parts.push(`</g>`);
  });

  // Axis and at most ~8 x labels, evenly spread, always the first and last bucket.
  parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${y(0)}" y2="${y(0)}" stroke="#8a93a3" stroke-width="1"/>`);
  const labelCount = buckets.length <= 12 ? buckets.length : 8;
  const labelled = new Set<number>();
  for (let k = 0; k < labelCount; k++) labelled.add(labelCount === 1 ? 0 : Math.round((k * (buckets.length - 1)) / (labelCount - 1)));
  for (const i of [...labelled].sort((a, b) => a - b)) {
    const b = buckets[i]!;
    const cx = m.left + i * slot + slot / 2;
    const label = bucketLabel(b.start);
    parts.push(`<line x1="${cx.toFixed(1)}" x2="${cx.toFixed(1)}" y1="${y(0)}" y2="${y(0) + 4}" stroke="#8a93a3"/>`);
    parts.push(`<text x="${cx.toFixed(1)}" y="${y(0) + 17}" text-anchor="middle" font-size="11" fill="#5b6475">${escapeHtml(label.slice(11))}</text>`);
    parts.push(`<text x="${cx.toFixed(1)}" y="${y(0) + 31}" text-anchor="middle" font-size="10" fill="#8a93a3">${escapeHtml(label.slice(0, 10))}</text>`);
  }
  parts.push(`<text x="14" y="${m.top + plotH / 2}" transform="rotate(-90 14 ${m.top + plotH / 2})" text-anchor="middle" font-size="11" fill="#5b6475">signals per ${timeline.unit}</text>`);
  parts.push("</svg>");
  return parts.join("");
}

function niceStep(raw: number): number {
  if (raw <= 1) return 1;
  const pow = 10 ** Math.floor(Math.log10(raw));
  for (const f of [1, 2, 2.5, 5, 10]) {
    const step = f * pow;
    if (step >= raw && Number.isInteger(step)) return step;
  }
  return 10 * pow;
}

function findingHtml(f: Finding): string {
  const e = f.evidence;
  const counts = Object.entries(e.counts)
    .map(([k, v]) => `${h(k)} <b>${v}</b>`)
    .join(", ");
  const rows: string[] = [
    `<dt>Evidence</dt><dd>${counts}</dd>`,
    `<dt>When</dt><dd>${h(formatTime(e.first))} → ${h(formatTime(e.last))}</dd>`,
  ];
  if (e.examples.length > 0) rows.push(`<dt>Example events</dt><dd><code>${e.examples.map((id) => h(id)).join("</code>, <code>")}</code></dd>`);
  if (e.notes.length > 0) rows.push(`<dt>Details</dt><dd>${e.notes.map((n) => h(n)).join("<br>")}</dd>`);
  rows.push(`<dt>Why</dt><dd>${h(f.explanation)}</dd>`);
  rows.push(`<dt>What to do</dt><dd>${h(f.advice)}</dd>`);
  return (
    `<section class="finding ${f.severity}">` +
    `<h3><span class="sev">${f.severity.toUpperCase()}</span>${h(f.title)} <span class="id">${h(f.id)}</span></h3>` +
    `<p class="headline">${h(f.headline)}</p><dl>${rows.join("")}</dl></section>`
  );
}

/** A table: numeric columns (class `n…`) right-aligned, each cell with its column's class. */
function tableHtml(headers: string[], classes: string[], rows: string[][]): string[] {
  const th = headers.map((label, i) => `<th${classes[i]!.startsWith("n") ? ' class="n"' : ""}>${label}</th>`).join("");
  const td = (cell: string, i: number) => `<td${classes[i] ? ` class="${classes[i]}"` : ""}>${cell}</td>`;
  return [`<table><thead><tr>${th}</tr></thead><tbody>`, ...rows.map((cells) => `<tr>${cells.map(td).join("")}</tr>`), "</tbody></table>"];
}

const TITLE = "whokilled report";
/** Rows in the killer and victim tables. */
const MAX_ROWS = 100;

export function renderHtml(report: Report): string {
  const { summary, findings } = report;
  const t = summary.totals;
  const body: string[] = [];

  const sources = sourcesText(report);
  body.push(`<h1>${TITLE}</h1>`);
  for (const text of coverageTexts(report)) body.push(`<p class="gap blind"><b>Warning:</b> ${escapeHtml(text)}</p>`);
  body.push(
    `<p class="lead">${t.first ? `${h(formatTime(t.first))} → ${h(formatTime(t.last))} (UTC)` : "No timed signals"}` +
      (sources !== null ? ` · sources: ${h(sources)}` : "") +
      `</p>`,
  );
  const stat = (n: number, label: string) => `<div class="stat"><b>${n}</b><span>${label}</span></div>`;
  body.push(
    `<div class="stats">${stat(t.signals, "signals")}${stat(t.success, "succeeded")}${stat(t.failure, "failed")}` +
      `${stat(t.killers, "killers")}${stat(t.victims, "victims")}${stat(findings.length, "findings")}</div>`,
  );

  for (const [label, text] of noticesOf(report)) body.push(`<p class="gap"><b>${label}:</b> ${escapeHtml(text)}</p>`);

  body.push(`<h2>Timeline <small class="id">per ${summary.timeline.unit}, UTC</small></h2>`);
  body.push(
    `<div class="timeline">${timelineSvg(summary.timeline)}` +
      `<div class="legend"><i style="background:#4c8bf5"></i>succeeded or unknown<i style="background:#e0524a"></i>failed</div></div>`,
  );

  body.push(`<h2>Findings</h2>`);
  if (findings.length === 0) body.push(`<p class="clean">${escapeHtml(noFindingsText(report))}</p>`);
  else body.push(...findings.map(findingHtml));

  body.push(`<h2>Killers</h2>`);
  if (summary.killers.length === 0) body.push("<p>None.</p>");
  else {
    const nodes = hasNodes(summary.killers);
    const started = summary.killers.some((k) => k.ancestry.length > 0);
    body.push(
      ...tableHtml(
        withNodeCell(["#", "Comm", "PID", "UID", "Exe", "Signals", "OK", "Failed", "Errno", "PIDs hit", "First", "Last", ...(started ? ["Started by"] : [])], 1, "Node", nodes),
        withNodeCell(["n", "mono", "", "", "mono", "", "n ok", "n fail", "", "n", "", "", "mono"], 1, "mono", nodes),
        summary.killers.slice(0, MAX_ROWS).map((k, i) => killerCells(k, i, h, nodes, started)),
      ),
    );
    if (summary.killers.length > MAX_ROWS) body.push(`<p>…and ${summary.killers.length - MAX_ROWS} more.</p>`);
  }

  body.push(`<h2>Victims</h2>`);
  if (summary.victims.length === 0) body.push("<p>None.</p>");
  else {
    const nodes = hasNodes(summary.victims);
    body.push(
      ...tableHtml(
        withNodeCell(["PID", "Comm", "UID", "Hits", "Signals", "By", "First", "Last"], 0, "Node", nodes),
        withNodeCell(["n", "mono", "", "n", "", "", "", ""], 0, "mono", nodes),
        summary.victims.slice(0, MAX_ROWS).map((v) => victimCells(v, h, nodes)),
      ),
    );
    if (summary.victims.length > MAX_ROWS) body.push(`<p>…and ${summary.victims.length - MAX_ROWS} more.</p>`);
  }

  body.push(`<h2>Signals</h2>`);
  const sigRows = Object.entries(summary.signals);
  if (sigRows.length === 0) body.push("<p>None.</p>");
  else body.push(...tableHtml(["Signal", "Count"], ["", "n"], sigRows.map(([name, n]) => [h(name), String(n)])));

  body.push(`<footer>Generated by whokilled. Names and paths come from the audited processes; control characters are shown escaped (\\x1b).</footer>`);

  return [
    "<!DOCTYPE html>",
    `<html lang="en"><head><meta charset="utf-8">`,
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<title>${TITLE}</title><style>${CSS}</style></head>`,
    `<body><main>${body.join("\n")}</main></body></html>`,
    "",
  ].join("\n");
}
