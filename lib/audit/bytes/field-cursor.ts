/**
 * The one field grammar of a record's body (`arch=c000003e syscall=62 …
 * comm="bash" msg='op=… res=1'`), over bytes: every reader of fields, on
 * strings (through unitsOf) or on a line's bytes, walks it with this cursor.
 * Policy (repeats, msg nesting, which fields to keep) stays with each reader.
 *
 * - Spaces and 0x1d are skipped between fields.
 * - A name runs to `=` or a space; with no `=` it is a word (`hasValue` false:
 *   AVC's `avc:  denied  { read } for`).
 * - A value is double quoted (ends at the next `"`; the kernel hex-encodes any
 *   value that would need an escape), single quoted (user-space `msg='…'`:
 *   ends at a `'` followed by a space, 0x1d or the end), or bare (ends at a
 *   space). An unterminated quote runs to the end with `closed` false.
 */

const SPACE = 0x20;
const GS = 0x1d;
const EQ = 0x3d;
const DQ = 0x22;
const SQ = 0x27;

export class FieldCursor {
  nameStart = 0;
  nameEnd = 0;
  /** The value without its quotes. */
  valueStart = 0;
  valueEnd = 0;
  /** False for a word without `=`. */
  hasValue = false;
  /** 0 (bare), 0x22 or 0x27. */
  quote = 0;
  /** False when a quote ran to the end unterminated. */
  closed = true;
  private line: Uint8Array = new Uint8Array(0);
  private at = 0;
  private end = 0;

  reset(line: Uint8Array, start: number, end: number): this {
    this.line = line;
    this.at = start;
    this.end = end;
    return this;
  }

  /** Moves to the next field or word; false at the end. */
  next(): boolean {
    const line = this.line;
    const end = this.end;
    let i = this.at;
    let c = 0;
    while (i < end && ((c = line[i]!) === SPACE || c === GS)) i++;
    if (i >= end) {
      this.at = end;
      return false;
    }
    this.nameStart = i;
    let j = i;
    while (j < end && (c = line[j]!) !== EQ && c !== SPACE) j++;
    this.nameEnd = j;
    this.closed = true;
    this.quote = 0;
    if (j >= end || c === SPACE) {
      this.hasValue = false;
      this.valueStart = this.valueEnd = j;
      this.at = j;
      return true;
    }
    this.hasValue = true;
    let v = j + 1;
    const q = v < end ? line[v]! : 0;
    if (q === DQ || q === SQ) {
      this.quote = q;
      this.valueStart = ++v;
      if (q === DQ) while (v < end && line[v] !== DQ) v++;
      else {
        const close = singleQuoteEnd(line, v, end);
        v = close < 0 ? end : close;
      }
      this.valueEnd = v;
      this.closed = v < end;
      this.at = v < end ? v + 1 : end;
      return true;
    }
    this.valueStart = v;
    while (v < end && line[v] !== SPACE) v++;
    this.valueEnd = v;
    this.at = v;
    return true;
  }
}

/** The `'` that ends a msg='…' value begun at from: the first one followed by a space, 0x1d or the end; -1 for none. */
export function singleQuoteEnd(line: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) {
    if (line[i] !== SQ) continue;
    if (i + 1 >= end) return i;
    const next = line[i + 1];
    if (next === SPACE || next === GS) return i;
  }
  return -1;
}

/**
 * Where auditd's ENRICHED tail begins: the first 0x1d in line[start, end), or
 * -1. Never searches past end (a line may sit in a slot of many): a 0x1d is
 * planted at end for the native search and put back at once.
 */
export function enrichedTailAt(line: Uint8Array, start: number, end: number): number {
  if (end >= line.length) {
    for (let i = start; i < end; i++) if (line[i] === GS) return i;
    return -1;
  }
  const saved = line[end]!;
  line[end] = GS;
  const at = line.indexOf(GS, start);
  line[end] = saved;
  return at < end ? at : -1;
}

/** A growing buffer for unitsOf, kept by its caller. */
export class UnitScratch {
  bytes = Buffer.alloc(256);
}

/**
 * `text` as bytes the cursor can walk, in scratch.bytes[0, text.length) (the
 * buffer returned; it may be longer): its latin1 bytes when it is ASCII,
 * otherwise one byte per UTF-16 unit with anything at or above 0x80 written
 * as 0x80. Every delimiter is ASCII, so offsets equal string indices and the
 * caller slices its own string: non-ASCII text comes out exactly as given.
 */
export function unitsOf(text: string, scratch: UnitScratch): Buffer {
  const length = text.length;
  if (scratch.bytes.length < length) scratch.bytes = Buffer.alloc(Math.max(length, 2 * scratch.bytes.length));
  const bytes = scratch.bytes;
  if (Buffer.byteLength(text, "utf8") === length) {
    bytes.write(text, 0, length, "latin1");
    return bytes;
  }
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    bytes[i] = c < 0x80 ? c : 0x80;
  }
  return bytes;
}
