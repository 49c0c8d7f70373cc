/**
 * Escaping for text people read. comm, exe, argv, even user names and ids
 * come from the audited processes (or from whoever wrote the input file), so
 * they may hold terminal escape sequences, newlines that forge extra report
 * lines, or bidi overrides that reorder what is shown.
 *
 * One convention everywhere: `\xHH` for C0 controls, DEL and C1 controls
 * (ESC → `\x1b`, newline → `\x0a`), `\u{HHHH}` for Unicode line separators
 * and what is drawn as nothing, and `\\` for a backslash, so an escaped string
 * can never pass for another one.
 */

// What JSON.stringify leaves raw and no one should see raw: DEL and C1; U+2028/2029 line/paragraph separators;
// the interlinear annotation marks; and every code point Unicode draws as nothing (Default_Ignorable_Code_Point:
// bidi marks and overrides, zero-width characters, the soft hyphen, fillers, variation selectors, tags), by
// which `ss\u200bhd` would read as sshd. Written once, for both classes below.
const INVISIBLE = String.raw`\x7f-\x9f\u2028\u2029\ufff9-\ufffb\p{Default_Ignorable_Code_Point}`;
// Those, C0 and the backslash.
const UNSAFE = new RegExp(String.raw`[\x00-\x1f\\${INVISIBLE}]`, "gu");
// Those alone: for text already JSON-escaped (JSON.stringify escapes C0 and the backslash itself).
const UNSAFE_AFTER_JSON = new RegExp(`[${INVISIBLE}]`, "gu");
// Those and C0, newline included: for a message meant as one line, whose parts may be escaped already.
const UNSAFE_IN_LINE = new RegExp(String.raw`[\x00-\x1f${INVISIBLE}]`, "gu");

function escapeChar(ch: string): string {
  if (ch === "\\") return "\\\\";
  const code = ch.codePointAt(0)!;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
}

/** Make a string safe to print on a terminal or in a one-line field. */
export function escapeControl(s: string): string {
  // String(): a JSON input line may hold a number or worse where a string belongs.
  return String(s).replace(UNSAFE, escapeChar);
}

/** A JSON.stringify result made safe to print: what JSON leaves raw (C1, bidi, zero-width) as `\u{HHHH}`/`\xHH`. */
export function escapeJsonText(json: string): string {
  return json.replace(UNSAFE_AFTER_JSON, escapeChar);
}

/**
 * A one-line message whose parts may already be escaped (a script's closing
 * error): whatever could still move the cursor, forge a second line or hide
 * text is escaped, and backslashes are left as they are (escaping them again
 * would double what escapeControl wrote).
 */
export function escapeLine(message: string): string {
  return message.replace(UNSAFE_IN_LINE, escapeChar);
}

/** escapeControl for possibly-missing values: null/undefined → `fallback`. */
export function escapeOr(s: string | null | undefined, fallback = "?"): string {
  return s === null || s === undefined ? fallback : escapeControl(s);
}

const HTML: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** HTML text and attribute values. Apply to already control-escaped text. */
export function escapeHtml(s: string): string {
  return String(s).replace(/[&<>"']/g, (ch) => HTML[ch]!);
}

/**
 * Markdown inline text (table cells included): control-escape, then
 * backslash-escape what Markdown or GFM could read as inline syntax (emphasis,
 * code, links, table pipes, strikethrough, raw HTML, entities), and break
 * what GFM turns into a link by itself: a scheme's `://` (`http://x`),
 * `mailto:` and `xmpp:`, `www.`, and an `@` (an e-mail address, a GitHub
 * mention), each by escaping its punctuation, so it reads the same. With
 * `lineStart`, also a block marker (`#`, `>`, `-`, `+`, `=`, `1.`) at the
 * start, for text that begins a line. Paths keep their dots and dashes, so
 * the raw text stays readable in a mail.
 */
export function escapeMarkdown(s: string, options: { lineStart?: boolean } = {}): string {
  const inline = escapeControl(s)
    .replace(/[\\`*_[\]<>|~&@]/g, (ch) => `\\${ch}`)
    .replace(/:(?=\/\/)|(?<=\b(?:mailto|xmpp)):/gi, "\\:")
    .replace(/(?<![^\s*_~(]|\\)(www)\./gi, "$1\\.");
  return options.lineStart ? inline.replace(/^([#+=-])/, "\\$1").replace(/^(\d+)([.)])/, "$1\\$2") : inline;
}
