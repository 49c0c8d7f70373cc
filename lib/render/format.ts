/**
 * Small formatting pieces every renderer shares: times, counts, ANSI colour,
 * display width (Bun.stringWidth: wide CJK counts 2, ANSI sequences 0). Apart from the fallbacks
 * noted below, nothing here escapes: callers escape attacker-controlled text before handing it to these helpers.
 */
import { describeAncestry } from "../signals/describe.ts";
import type { KillerSummary, VictimSummary } from "../signals/report-summary.ts";
import { escapeControl } from "./escape.ts";

/** `2010-09-23 12:37:07Z` (UTC, whole seconds) or `-`. */
export function formatTime(iso: string | null, withMs = false): string {
  if (!iso) return "-";
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) return escapeControl(iso);
  const text = new Date(ms).toISOString();
  return `${text.slice(0, 10)} ${text.slice(11, withMs ? 23 : 19)}Z`;
}

/**
 * A pid/uid for display. Input lines are JSON written by anyone, so a
 * "number" may be a string carrying escape sequences: only real numbers pass.
 */
export function num(value: unknown): string {
  return typeof value === "number" && Number.isFinite(value) ? String(value) : "?";
}

/** Label of a timeline bucket: `2010-09-23 12:37` or `2010-09-23 12:00`. */
export function bucketLabel(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** `SIGKILL×3 SIGTERM×1` from a ranked record. */
export function countsText(record: Record<string, number>, sep = " "): string {
  return Object.entries(record)
    .map(([name, n]) => `${name}×${n}`)
    .join(sep);
}

/** `0(root)`, `1010`, `?`; the user name is escaped here. */
export function uidLabel(uid: number | null, user: string | null): string {
  const name = typeof user === "string" && user !== "" ? escapeControl(user) : null;
  if (typeof uid !== "number") return name ?? "?";
  return name && name !== String(uid) ? `${uid}(${name})` : String(uid);
}

/** `s` padded with spaces to `width` display columns (never cut). */
export function padEnd(s: string, width: number): string {
  return s + " ".repeat(Math.max(0, width - Bun.stringWidth(s)));
}

export function padStart(s: string, width: number): string {
  return " ".repeat(Math.max(0, width - Bun.stringWidth(s))) + s;
}

/** Cut to `max` display columns with an ellipsis (for already-escaped text). */
export function truncate(s: string, max: number): string {
  if (Bun.stringWidth(s) <= max) return s;
  let out = "";
  for (const ch of s) {
    if (Bun.stringWidth(out + ch) > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}

export type Style = "bold" | "dim" | "red" | "green" | "yellow" | "blue" | "cyan";

const ANSI: Record<Style, [number, number]> = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  cyan: [36, 39],
};

/** A colouring function that is the identity when colour is off. */
export function painter(color: boolean): (text: string, ...styles: Style[]) => string {
  if (!color) return (text) => text;
  return (text, ...styles) => {
    let out = text;
    for (const style of styles) {
      const [on, off] = ANSI[style];
      out = `\x1b[${on}m${out}\x1b[${off}m`;
    }
    return out;
  };
}

/**
 * Should text output be coloured? Only on a terminal, and never when
 * NO_COLOR is set to a non-empty value (https://no-color.org), nor when
 * writing to a file.
 */
export function shouldColor(options: { isTTY: boolean | undefined; env?: Record<string, string | undefined>; toFile?: boolean }): boolean {
  if (options.toFile) return false;
  const noColor = (options.env ?? process.env).NO_COLOR;
  if (noColor !== undefined && noColor !== "") return false;
  return options.isTTY === true;
}

/** Greedy word wrap to `width` columns, every line prefixed with `indent`. */
export function wrap(text: string, width: number, indent = ""): string[] {
  const lines: string[] = [];
  // Widths add up word by word: measuring each candidate line again made a big report's findings cost 10 MB of copies.
  const room = width - Bun.stringWidth(indent);
  let line = "";
  let lineWidth = 0;
  for (const word of text.split(/\s+/)) {
    if (!word) continue;
    const wordWidth = Bun.stringWidth(word);
    if (line && lineWidth + 1 + wordWidth > room) {
      lines.push(indent + line);
      line = word;
      lineWidth = wordWidth;
    } else if (line) {
      line = `${line} ${word}`;
      lineWidth += 1 + wordWidth;
    } else {
      line = word;
      lineWidth = wordWidth;
    }
  }
  if (line) lines.push(indent + line);
  return lines;
}

/**
 * A table's cells with a NODE cell put in at `at`, but only for a log gathered
 * from several hosts (`withNode`): a single host's report keeps its columns.
 */
export function withNodeCell<T>(cells: T[], at: number, cell: T, withNode: boolean): T[] {
  return withNode ? [...cells.slice(0, at), cell, ...cells.slice(at)] : cells;
}

/** One format's escaping of a value from the input: null or undefined gives `fallback` (default `?`). */
export type Escape = (s: string | null | undefined, fallback?: string) => string;

/** A killer's cells in the markdown and html tables: the node second (a gathered log's), the parents last when `started`. */
export function killerCells(k: KillerSummary, index: number, esc: Escape, nodes: boolean, started: boolean): string[] {
  const cells = [
    String(index + 1),
    esc(k.comm),
    k.pids.map(num).join(", ") || "?",
    esc(uidLabel(k.uid, k.user)),
    esc(k.exe, "-"),
    esc(countsText(k.signals, ", ")),
    String(k.success),
    String(k.failure),
    esc(countsText(k.errnos, ", ")) || "-",
    `${k.targetPidCount}${k.targetPidsTruncated ? "+" : ""}`,
    esc(formatTime(k.first)),
    esc(formatTime(k.last)),
    ...(started ? [k.ancestry.length > 0 ? esc(describeAncestry(k.ancestry)) : "-"] : []),
  ];
  return withNodeCell(cells, 1, esc(k.node, "-"), nodes);
}

/** A victim's cells in the markdown and html tables: the node first (a gathered log's). */
export function victimCells(v: VictimSummary, esc: Escape, nodes: boolean): string[] {
  const by = v.killers.map((k) => `${esc(k.comm)} ×${k.count}`).join(", ") + (v.otherKillers ? `, +${v.otherKillers}` : "");
  const cells = [num(v.pid), esc(v.comm), esc(uidLabel(v.uid, v.user)), String(v.total), esc(countsText(v.signals, ", ")), by, esc(formatTime(v.first)), esc(formatTime(v.last))];
  return withNodeCell(cells, 0, esc(v.node, "-"), nodes);
}

/** Does any killer or victim of the summary come from a named host? */
export function hasNodes(rows: ReadonlyArray<{ node: string | null }>): boolean {
  return rows.some((row) => row.node !== null);
}
