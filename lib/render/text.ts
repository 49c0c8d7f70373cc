/**
 * The terminal report: findings first (what to do), then who signalled whom
 * in aligned columns, then a bar-chart timeline. Colour is the caller's
 * decision (`shouldColor` in format.ts): only on a TTY without NO_COLOR.
 */
import type { Report } from "../signals/findings.ts";
import type { Finding } from "../signals/findings/types.ts";
import type { Timeline } from "../signals/report-summary.ts";
import { MAX_CAUSE_GROUPS } from "../signals/findings/cause-groups.ts";
import { describeAncestry, plural } from "../signals/describe.ts";
import { coverageTexts, noFindingsText } from "./coverage-line.ts";
import { escapeControl, escapeOr } from "./escape.ts";
import { bucketLabel, countsText, formatTime, hasNodes, num, padEnd, padStart, painter, truncate, uidLabel, withNodeCell, wrap, type Style } from "./format.ts";

export interface TextOptions {
  color?: boolean;
  /** Line width for wrapping and the timeline bars (default 100). */
  width?: number;
}

/** Rows shown in the killer, victim and workload tables. */
const MAX_ROWS = 20;

type Paint = ReturnType<typeof painter>;

const SEVERITY_STYLE: Record<Finding["severity"], Style[]> = {
  critical: ["bold", "red"],
  warning: ["bold", "yellow"],
  info: ["bold", "blue"],
};

/**
 * Columns padded to their widest cell. `right` marks numeric columns. The
 * last column is not padded, so long paths do not push trailing spaces.
 */
export function formatColumns(
  headers: string[],
  rows: string[][],
  { right, paint, styles }: { right: boolean[]; paint: Paint; styles: Array<Style | null> },
): string[] {
  const widths = headers.map((h, i) => Math.max(Bun.stringWidth(h), ...rows.map((r) => Bun.stringWidth(r[i] ?? ""))));
  const line = (cells: string[], header: boolean) =>
    "  " +
    cells
      .map((cell, i) => {
        const last = i === cells.length - 1;
        const padded = right[i] ? padStart(cell, widths[i]!) : last ? cell : padEnd(cell, widths[i]!);
        const style = styles[i];
        return header ? paint(padded, "bold") : style ? paint(padded, style) : padded;
      })
      .join("  ")
      .trimEnd();
  return [line(headers, true), ...rows.map((r) => line(r, false))];
}

/**
 * `30 audit, 2 tracefs; 2 duplicates (one signal seen by two sources) counted
 * once`: the signals each source gave (tracepoints only when it gave any), or
 * null when audit was the only one (every renderer's "Sources").
 */
export function sourcesText(report: Report): string | null {
  const { sources } = report.summary.totals;
  const merged = report.crossCheck.merged;
  if (sources.tracefs === 0 && !sources.tracepoints && merged === 0) return null;
  const counts = `${sources.audit} audit, ${sources.tracefs} tracefs${sources.tracepoints ? `, ${sources.tracepoints} tracepoints` : ""}`;
  return merged > 0 ? `${counts}; ${merged} duplicates (one signal seen by two sources) counted once` : counts;
}

/** One sentence about capture gaps, or null when there were none. */
export function gapText(report: Report): string | null {
  const g = report.gaps;
  if (g.count === 0) return null;
  const lost = g.lost > 0 ? `, ${g.lost}${g.lostUnknown ? "+" : ""} records lost` : g.lostUnknown ? ", an unknown number of records lost" : "";
  const when = g.first ? ` (${formatTime(g.first)}${g.last !== g.first ? ` → ${formatTime(g.last)}` : ""})` : "";
  return `the capture had ${plural(g.count, "gap")}${lost}${when}: signals may be missing from this report.`;
}

/** One sentence when users are shown as bare uids because no passwd was right for the log, or null. */
export function namesText(report: Report): string | null {
  const n = report.summary.totals.namesUnknown ?? 0;
  if (n === 0) return null;
  return (
    `${n} signal${n === 1 ? " shows" : "s show"} users as bare uids: the log does not name them, and it is not this host's own log, ` +
    "so this machine's passwd could name someone else. Pass --passwd FILE (the passwd of the log's host), or --local-names if the log is this host's."
  );
}

/** One sentence about what was let go to bound memory, or null when nothing was. */
export function limitsText(report: Report): string | null {
  const killers = report.summary.totals.killersNotKept;
  const victims = report.summary.totals.victimsNotKept;
  const pairs = report.limits.pairsNotKept;
  const storm = report.limits.stormKillersNotKept;
  const ungrouped = report.limits.causeSignalsNotGrouped;
  const unpaired = report.limits.parentDeathSignalsNotKept;
  if (killers === 0 && victims === 0 && pairs === 0 && storm === 0 && ungrouped === 0 && unpaired === 0) return null;
  const parts: string[] = [];
  if (killers > 0) parts.push(`${plural(killers, "killer")} that sent one signal ${killers === 1 ? "is" : "are"} counted but not listed`);
  if (victims > 0) parts.push(`${plural(victims, "victim")} hit once ${victims === 1 ? "is" : "are"} counted but not listed`);
  if (pairs > 0) parts.push(`${plural(pairs, "PID")} a killer aimed at once ${pairs === 1 ? "was" : "were"} forgotten, so a stale PID its killer came back to only much later could be missed`);
  if (storm > 0) parts.push(`the storm check let go of ${plural(storm, "killer")} that had sent one signal, so a storm that began with one of them could be counted a signal short`);
  if (ungrouped > 0) parts.push(`${plural(ungrouped, "signal")} the kernel or the process itself sent, past ${MAX_CAUSE_GROUPS} groups of one cause, ${ungrouped === 1 ? "is" : "are"} counted but in no finding`);
  if (unpaired > 0) parts.push(`the parent-death check let go of ${plural(unpaired, "signal")} it could not yet pair with its sender's exit, so a parent-death signal could be missed`);
  return `to bound memory, ${parts.join("; ")}.`;
}

/** What markdown and html say below the counts, as [label, text]: the gaps warning, then the limits and names notes, those that apply. */
export function noticesOf(report: Report): Array<[label: string, text: string]> {
  const notices: Array<[string, string | null]> = [["Warning", gapText(report)], ["Note", limitsText(report)], ["Note", namesText(report)]];
  return notices.filter((notice): notice is [string, string] => notice[1] !== null);
}

function findingLines(f: Finding, index: number, paint: Paint, width: number): string[] {
  const out: string[] = [];
  const sev = paint(f.severity.toUpperCase(), ...SEVERITY_STYLE[f.severity]);
  out.push(`  ${index}. ${sev} ${paint(f.id, "bold")}: ${escapeControl(f.title)}`);
  out.push(...wrap(escapeControl(f.headline), width, "     "));
  const e = f.evidence;
  const counts = Object.entries(e.counts)
    .map(([k, v]) => `${escapeControl(k)} ${v}`)
    .join(", ");
  out.push(...wrap(`Evidence: ${counts}; ${formatTime(e.first)} → ${formatTime(e.last)}`, width, "     "));
  if (e.examples.length > 0) out.push(...wrap(`Example events: ${e.examples.map(escapeControl).join(", ")}`, width, "     "));
  for (const note of e.notes) out.push(...wrap(escapeControl(note), width, "     "));
  out.push(...wrap(`${paint("Why:", "bold")} ${escapeControl(f.explanation)}`, width, "     "));
  out.push(...wrap(`${paint("What to do:", "bold")} ${escapeControl(f.advice)}`, width, "     "));
  return out;
}

/** Bars for each bucket; runs of 3+ empty buckets fold into one line. */
export function timelineLines(timeline: Timeline, options: { paint?: Paint; width?: number } = {}): string[] {
  const paint = options.paint ?? ((t: string) => t);
  const buckets = timeline.buckets;
  if (buckets.length === 0) return ["  (no signals with a time)"];
  const max = Math.max(...buckets.map((b) => b.count));
  const labelWidth = 16;
  const countWidth = String(max).length;
  const barWidth = Math.max(10, (options.width ?? 100) - labelWidth - countWidth - 22);
  const unit = timeline.unit;
  const out: string[] = [];
  let i = 0;
  while (i < buckets.length) {
    const b = buckets[i]!;
    if (b.count === 0) {
      let j = i;
      while (j < buckets.length && buckets[j]!.count === 0) j++;
      if (j - i >= 3) {
        out.push(`  ${padEnd(bucketLabel(b.start), labelWidth)} ${paint(`┆ ${j - i} quiet ${unit}s`, "dim")}`);
        i = j;
        continue;
      }
    }
    const cells = Math.round((b.count / max) * barWidth);
    const failedCells = b.count === 0 ? 0 : Math.round((b.failed / b.count) * cells);
    const ok = "█".repeat(Math.max(0, cells - failedCells));
    const failed = "▒".repeat(failedCells);
    const bar = b.count > 0 && cells === 0 ? "▏" : paint(ok, "green") + paint(failed, "red");
    const failedNote = b.failed > 0 ? paint(` (${b.failed} failed)`, "dim") : "";
    out.push(`  ${padEnd(bucketLabel(b.start), labelWidth)} │${bar} ${padStart(String(b.count), countWidth)}${failedNote}`.trimEnd());
    i++;
  }
  return out;
}

export function renderText(report: Report, options: TextOptions = {}): string {
  const paint = painter(options.color === true);
  const width = options.width ?? 100;
  const { summary, findings } = report;
  const t = summary.totals;
  const out: string[] = [];

  out.push(paint("whokilled report", "bold"));
  // First, before any count: the counts mean little if audit could not see the kills.
  for (const text of coverageTexts(report)) out.push(...wrap(`${paint("Warning:", "bold", "red")} ${escapeControl(text)}`, width, "  "));
  const range = t.first ? `, ${formatTime(t.first)} → ${formatTime(t.last)}` : "";
  out.push(
    `  ${plural(t.signals, "signal")} (${t.success} ok, ${t.failure} failed${t.unknown ? `, ${t.unknown} result unknown` : ""}) ` +
      `from ${plural(t.killers, "killer")} to ${plural(t.victims, "victim")}${range}`,
  );
  if (Object.keys(summary.signals).length > 0) out.push(`  Signals: ${escapeControl(countsText(summary.signals))}`);
  if (Object.keys(t.errnos).length > 0) out.push(`  Errors: ${escapeControl(countsText(t.errnos))}`);
  const sources = sourcesText(report);
  if (sources !== null) out.push(`  Sources: ${sources}`);
  const gaps = gapText(report);
  if (gaps) out.push(`  ${paint("Warning:", "bold", "yellow")} ${gaps}`);
  const limits = limitsText(report);
  if (limits) out.push(`  ${paint("Note:", "bold")} ${limits}`);
  const names = namesText(report);
  if (names) out.push(...wrap(`${paint("Note:", "bold")} ${names}`, width, "  "));
  out.push("");

  out.push(paint(`Findings: ${findings.length}`, "bold"));
  if (findings.length === 0) out.push(...wrap(noFindingsText(report), width, "  "));
  findings.forEach((f, i) => out.push(...findingLines(f, i + 1, paint, width), ""));
  if (findings.length === 0) out.push("");

  out.push(paint("Killers", "bold"));
  if (summary.killers.length === 0) out.push("  (none)");
  else {
    const nodes = hasNodes(summary.killers);
    const rows = summary.killers.slice(0, MAX_ROWS).map((k, i) => withNodeCell([
      String(i + 1),
      truncate(escapeOr(k.comm), 20),
      k.pids.length > 0 ? k.pids.slice(0, 3).map(num).join(",") + (k.pids.length > 3 ? ",…" : "") : "?",
      uidLabel(k.uid, k.user),
      String(k.total),
      String(k.success),
      String(k.failure),
      truncate(escapeControl(countsText(k.errnos, ",")), 24) || "-",
      truncate(escapeControl(countsText(k.signals, ",")), 28),
      `${k.targetPidCount}${k.targetPidsTruncated ? "+" : ""}`,
      formatTime(k.last),
      escapeOr(k.exe, "-"),
    ], 1, truncate(escapeOr(k.node, "-"), 24), nodes));
    out.push(
      ...formatColumns(withNodeCell(["#", "COMM", "PID", "UID", "SIGNALS", "OK", "FAILED", "ERRNO", "SIGNAL", "PIDS HIT", "LAST", "EXE"], 1, "NODE", nodes), rows, {
        right: withNodeCell([true, false, false, false, true, true, true, false, false, true], 1, false, nodes),
        paint,
        styles: withNodeCell<Style | null>([null, "bold", null, null, null, "green", "red", null, "yellow", null, null, null], 1, null, nodes),
      }),
    );
    if (summary.killers.length > MAX_ROWS) out.push(`  … ${summary.killers.length - MAX_ROWS} more`);
    summary.killers.slice(0, MAX_ROWS).forEach((k, i) => {
      if (k.ancestry.length > 0) out.push(...wrap(escapeControl(`#${i + 1} started by ${describeAncestry(k.ancestry)}`), width, "  "));
    });
  }
  out.push("");

  out.push(paint("Victims", "bold"));
  if (summary.victims.length === 0) out.push("  (none)");
  else {
    const nodes = hasNodes(summary.victims);
    const rows = summary.victims.slice(0, MAX_ROWS).map((v) => withNodeCell([
      num(v.pid),
      truncate(escapeOr(v.comm), 20),
      uidLabel(v.uid, v.user),
      String(v.total),
      escapeControl(countsText(v.signals, ",")),
      formatTime(v.last),
      v.killers
        .slice(0, 3)
        .map((k) => `${escapeOr(k.comm)}${k.count !== v.total ? `×${k.count}` : ""}`)
        .join(", ") + (v.killers.length > 3 || v.otherKillers ? ", …" : ""),
    ], 0, truncate(escapeOr(v.node, "-"), 24), nodes));
    out.push(
      ...formatColumns(withNodeCell(["PID", "COMM", "UID", "HITS", "SIGNAL", "LAST", "BY"], 0, "NODE", nodes), rows, {
        right: withNodeCell([true, false, false, true], 0, false, nodes),
        paint,
        styles: withNodeCell<Style | null>([null, "cyan", null, null, "yellow", null, null], 0, null, nodes),
      }),
    );
    if (summary.victims.length > MAX_ROWS) out.push(`  … ${summary.victims.length - MAX_ROWS} more`);
  }
  out.push("");

  if (summary.workloads) {
    out.push(paint("Units and containers", "bold"));
    for (const w of summary.workloads.slice(0, MAX_ROWS)) out.push(`  ${escapeControl(w.label)}: ${w.sent} sent, ${w.received} received`);
    if (summary.workloads.length > MAX_ROWS) out.push(`  … ${summary.workloads.length - MAX_ROWS} more`);
    out.push("");
  }

  out.push(paint(`Timeline (per ${summary.timeline.unit}, UTC)`, "bold"));
  out.push(...timelineLines(summary.timeline, { paint, width }));
  return `${out.join("\n")}\n`;
}
