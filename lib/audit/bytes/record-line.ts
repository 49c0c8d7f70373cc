/**
 * capture's `record` lines read as bytes, without JSON.parse: the fast paths
 * of `capture | decode` and `capture | attribute`. Only the exact shape our
 * own writers produce (capture, netlink, tracefs, all through
 * JSON.stringify) is taken:
 *
 *   {"kind":"record","type":"T","id":"ID","node":null|"N","raw":"…","source":{"file":"F","line":N}}
 *
 * with no escapes in type, id, node or file. Anything else (other key order,
 * spaces, a `time` key, escapes there) is left to JSON.parse by the caller,
 * and so is anything that is not JSON (a control byte or a bare quote inside
 * a string): what is taken here is valid by construction, of the schema's
 * types (lib/schema-check.ts), and what is not is checked there.
 */
import type { RecordLine } from "../../schema.ts";
import { isOwnRecordTypeAt } from "../../sources/registry.ts";
import { LastText } from "./header.ts";
import { ascii, LETTER_ESCAPES } from "../../bytes/json.ts";
import { canonicalDigitsValue, HEX_DIGIT, isAsciiRange, startsWithAt } from "../../bytes/read.ts";

const RECORD_OPEN = ascii('{"kind":"record","type":"');
const ID_KEY = ascii('","id":"');
const NODE_KEY = ascii('","node":');
const NULL = ascii("null");
const RAW_KEY = ascii(',"raw":"');
const SOURCE_KEY = ascii('","source":{');
const FILE_SOURCE = ascii('","source":{"file":"');
const LINE_KEY = ascii('","line":');

/** Ranges in the line: the type, id and node strings' contents, and the raw text (still JSON-escaped). */
export interface RecordLineShape {
  typeStart: number;
  typeEnd: number;
  idStart: number;
  idEnd: number;
  /** -1 for null. */
  nodeStart: number;
  nodeEnd: number;
  rawStart: number;
  rawEnd: number;
}

/** The closing quote of a JSON string without escapes (or control bytes, which JSON does not allow) starting at `from`, or -1. */
function plainStringEnd(bytes: Uint8Array, from: number, stop: number): number {
  for (let i = from; i < stop; i++) {
    const c = bytes[i]!;
    if (c === 0x22 /* " */) return i;
    if (c === 0x5c /* \ */ || c < 0x20) return -1;
  }
  return -1;
}

/**
 * The last `needle` in bytes[from, stop), or -1. Buffer.lastIndexOf has no
 * lower bound: on a line without the needle it would search back through
 * the lines before it.
 */
function lastIndexWithin(bytes: Uint8Array, needle: Uint8Array, from: number, stop: number): number {
  const lastByte = needle[needle.length - 1]!;
  for (let i = stop - 1; i >= from + needle.length - 1; i--) {
    if (bytes[i] !== lastByte) continue;
    let j = needle.length - 2;
    let k = i - 1;
    while (j >= 0 && bytes[k] === needle[j]) {
      j--;
      k--;
    }
    if (j < 0) return k + 1;
  }
  return -1;
}

/** Does bytes[start, stop) have the record line shape? Fills `out` if so. */
export function matchRecordLine(bytes: Buffer, start: number, stop: number, out: RecordLineShape): boolean {
  if (!startsWithAt(bytes, RECORD_OPEN, start, stop)) return false;
  out.typeStart = start + RECORD_OPEN.length;
  let at = plainStringEnd(bytes, out.typeStart, stop);
  if (at < 0 || !startsWithAt(bytes, ID_KEY, at, stop)) return false;
  out.typeEnd = at;
  out.idStart = at + ID_KEY.length;
  at = plainStringEnd(bytes, out.idStart, stop);
  if (at < 0 || !startsWithAt(bytes, NODE_KEY, at, stop)) return false;
  out.idEnd = at;
  at += NODE_KEY.length;
  if (startsWithAt(bytes, NULL, at, stop)) {
    out.nodeStart = out.nodeEnd = -1;
    at += NULL.length;
  } else if (bytes[at] === 0x22 /* " */) {
    out.nodeStart = at + 1;
    at = plainStringEnd(bytes, at + 1, stop);
    if (at < 0) return false;
    out.nodeEnd = at++;
  } else return false;
  if (!startsWithAt(bytes, RAW_KEY, at, stop)) return false;
  out.rawStart = at + RAW_KEY.length;
  // Inside a JSON string every quote is escaped, so the last `","source":{` is the key after raw.
  const sourceAt = lastIndexWithin(bytes, SOURCE_KEY, out.rawStart, stop);
  if (sourceAt < 0) return false;
  out.rawEnd = sourceAt;
  return true;
}

/**
 * The source after the raw text, when it is exactly `{"file":"F","line":N}}`
 * to the line's end: F's range and N in `out`, else false.
 */
export function matchFileLineSource(bytes: Buffer, rawEnd: number, stop: number, out: { fileStart: number; fileEnd: number; line: number }): boolean {
  if (!startsWithAt(bytes, FILE_SOURCE, rawEnd, stop)) return false;
  const fileStart = rawEnd + FILE_SOURCE.length;
  const fileEnd = plainStringEnd(bytes, fileStart, stop);
  if (fileEnd < 0 || !startsWithAt(bytes, LINE_KEY, fileEnd, stop)) return false;
  // A canonical number (no leading zero), then the two closing braces and nothing else.
  const line = canonicalDigitsValue(bytes, fileEnd + LINE_KEY.length, stop - 2);
  if (line < 0 || bytes[stop - 2] !== 0x7d || bytes[stop - 1] !== 0x7d) return false;
  out.fileStart = fileStart;
  out.fileEnd = fileEnd;
  out.line = line;
  return true;
}

/** The byte each escape letter stands for (JSON's letter escapes, and `\/`), or -1. */
const SIMPLE_ESCAPES = new Int16Array(128).fill(-1);
for (const [unit, letter] of LETTER_ESCAPES) SIMPLE_ESCAPES[letter.charCodeAt(0)] = unit.charCodeAt(0);
SIMPLE_ESCAPES[0x2f] = 0x2f;

/** The ASCII byte a `\u00XX` escape at bytes[at] stands for, or -1 (not ASCII, or not an escape we take). */
function unicodeEscape(bytes: Uint8Array, at: number, end: number): number {
  if (at + 6 > end || bytes[at + 2] !== 0x30 || bytes[at + 3] !== 0x30) return -1;
  const high = HEX_DIGIT[bytes[at + 4]!]!;
  const low = HEX_DIGIT[bytes[at + 5]!]!;
  if (high < 0 || low < 0 || high > 7) return -1;
  return high * 16 + low;
}

/**
 * Unescape the JSON string body bytes[start, end) in place, when every
 * escape in it stands for an ASCII byte: the new end, or -1 with the bytes
 * untouched, also when the body is no JSON string (a bare quote or a
 * control byte). (Unescaping only ever shortens, so it fits where it was.)
 * Plain loops bounded by `end`: a native search per escape cost more in
 * calls than it saved, and Buffer.indexOf cannot stop at `end`.
 */
export function unescapeAsciiInPlace(bytes: Buffer, start: number, end: number): number {
  // Check every escape first, so a refusal leaves the line as it was.
  let first = -1;
  for (let i = start; i < end; i++) {
    const b = bytes[i]!;
    if (b !== 0x5c /* \ */) {
      if (b === 0x22 /* " */ || b < 0x20) return -1;
      continue;
    }
    if (first < 0) first = i;
    const c = i + 1 < end ? bytes[i + 1]! : 0x80;
    if (c === 0x75 /* u */) {
      if (unicodeEscape(bytes, i, end) < 0) return -1;
      i += 5;
    } else if (c >= 128 || SIMPLE_ESCAPES[c]! < 0) return -1;
    else i++;
  }
  if (first < 0) return end;
  let write = first;
  let read = first;
  while (read < end) {
    const c = bytes[read]!;
    if (c !== 0x5c) {
      bytes[write++] = c;
      read++;
    } else if (bytes[read + 1] === 0x75) {
      bytes[write++] = unicodeEscape(bytes, read, end);
      read += 6;
    } else {
      bytes[write++] = SIMPLE_ESCAPES[bytes[read + 1]!]!;
      read += 2;
    }
  }
  return write;
}

/**
 * One `record` line read from its bytes: the one reader of capture's lines,
 * for the decoder and the prefilter alike. `read` finds the ranges,
 * `unescape` makes the raw text plain, `toRecordLine` is what JSON.parse
 * would have made of the line.
 */
export class RecordLineReader {
  readonly shape: RecordLineShape = { typeStart: 0, typeEnd: 0, idStart: 0, idEnd: 0, nodeStart: -1, nodeEnd: -1, rawStart: 0, rawEnd: 0 };
  readonly source = { fileStart: 0, fileEnd: 0, line: 0 };
  /** The unescaped raw text, after `unescape`: [rawStart, rawEnd) of the line's bytes. */
  rawStart = 0;
  rawEnd = 0;
  private bytes: Buffer = Buffer.alloc(0);
  private readonly fileNames = new LastText();
  private readonly nodeNames = new LastText();

  /** Is bytes[start, end) a record line in our writers' shape, with a source of exactly {file, line}? Fills `shape` and `source`. */
  read(bytes: Buffer, start: number, end: number): boolean {
    this.bytes = bytes;
    return matchRecordLine(bytes, start, end, this.shape) && matchFileLineSource(bytes, this.shape.rawEnd, end, this.source);
  }

  /** Is the matched line a source's own record type (lib/sources/registry.ts), whose raw text is not audit text? */
  isOwnType(): boolean {
    return isOwnRecordTypeAt(this.bytes, this.shape.typeStart, this.shape.typeEnd);
  }

  /** Unescape the raw text in place; false, nothing changed, when an escape is not ASCII (the caller parses the line as JSON). */
  unescape(): boolean {
    this.rawStart = this.shape.rawStart;
    this.rawEnd = unescapeAsciiInPlace(this.bytes, this.shape.rawStart, this.shape.rawEnd);
    return this.rawEnd >= 0;
  }

  get file(): string {
    return this.text(this.fileNames, this.source.fileStart, this.source.fileEnd);
  }

  get node(): string | null {
    return this.shape.nodeStart < 0 ? null : this.text(this.nodeNames, this.shape.nodeStart, this.shape.nodeEnd);
  }

  /** The line (read and unescaped) as JSON.parse would make it. */
  toRecordLine(): RecordLine {
    const { bytes, shape } = this;
    return {
      kind: "record",
      type: bytes.toString("utf8", shape.typeStart, shape.typeEnd),
      id: bytes.toString("utf8", shape.idStart, shape.idEnd),
      node: this.node,
      raw: bytes.toString("utf8", this.rawStart, this.rawEnd),
      source: { file: this.file, line: this.source.line },
    };
  }

  /** A plain string of the line: repeated names (file, node) made once. */
  private text(last: LastText, start: number, end: number): string {
    return isAsciiRange(this.bytes, start, end) ? last.of(this.bytes, start, end) : this.bytes.toString("utf8", start, end);
  }
}
