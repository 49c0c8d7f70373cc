/**
 * JSON text written straight into bytes: the bytes JSON.stringify would give
 * (then UTF-8 encoded), without making the strings first. Used by decode's
 * output path (lib/audit/bytes/event-writer.ts), where building strings and encoding
 * them cost more than parsing the records.
 *
 * JSON.stringify escapes `"`, `\`, the control characters (as \b \t \n \f \r
 * or \u00xx, lower-case hex) and lone surrogates (\udxxx); nothing else: not
 * `/`, not DEL, not U+2028.
 */

/** 1 for the UTF-16 units JSON copies as one byte, unchanged. */
export const PLAIN: Uint8Array = (() => {
  const table = new Uint8Array(65536);
  for (let c = 0x20; c < 0x80; c++) table[c] = 1;
  table[0x22] = 0;
  table[0x5c] = 0;
  return table;
})();

const HEX = [0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66];

/** The units JSON escapes with a letter of their own: each unit, and the letter written after its backslash. */
export const LETTER_ESCAPES = [['"', '"'], ["\\", "\\"], ["\b", "b"], ["\t", "t"], ["\n", "n"], ["\f", "f"], ["\r", "r"]] as const;

/** A unit's escape letter, or 0 (then it is escaped as \u00xx). */
const ESCAPE_LETTER = new Uint8Array(256);
for (const [unit, letter] of LETTER_ESCAPES) ESCAPE_LETTER[unit.charCodeAt(0)] = letter.charCodeAt(0);

/** The escape for an ASCII unit that is not PLAIN (`"`, `\`, a control character). Returns the new position. */
export function escapeAscii(buf: Uint8Array, p: number, c: number): number {
  buf[p++] = 0x5c;
  const letter = ESCAPE_LETTER[c]!;
  if (letter !== 0) {
    buf[p++] = letter;
    return p;
  }
  buf[p++] = 0x75;
  buf[p++] = 0x30;
  buf[p++] = 0x30;
  buf[p++] = HEX[c >> 4]!;
  buf[p++] = HEX[c & 15]!;
  return p;
}

/**
 * `s` as the inside of a JSON string (no quotes), UTF-8. Needs room for 6
 * bytes per unit. Returns the new position.
 */
export function writeString(buf: Uint8Array, p: number, s: string): number {
  const end = s.length;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (PLAIN[c] === 1) {
      buf[p++] = c;
    } else if (c < 0x80) {
      p = escapeAscii(buf, p, c);
    } else if (c < 0x800) {
      buf[p++] = 0xc0 | (c >> 6);
      buf[p++] = 0x80 | (c & 63);
    } else if (c < 0xd800 || c > 0xdfff) {
      buf[p++] = 0xe0 | (c >> 12);
      buf[p++] = 0x80 | ((c >> 6) & 63);
      buf[p++] = 0x80 | (c & 63);
    } else {
      const d = c <= 0xdbff && i + 1 < end ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        buf[p++] = 0xf0 | (cp >> 18);
        buf[p++] = 0x80 | ((cp >> 12) & 63);
        buf[p++] = 0x80 | ((cp >> 6) & 63);
        buf[p++] = 0x80 | (cp & 63);
        i++;
      } else {
        buf[p++] = 0x5c;
        buf[p++] = 0x75;
        buf[p++] = HEX[c >> 12]!;
        buf[p++] = HEX[(c >> 8) & 15]!;
        buf[p++] = HEX[(c >> 4) & 15]!;
        buf[p++] = HEX[c & 15]!;
      }
    }
  }
  return p;
}

const NULL = new Uint8Array([0x6e, 0x75, 0x6c, 0x6c]);

/** A string as a quoted JSON string, or null. Needs room for 6 bytes per unit and 2. */
export function putStringOrNull(buf: Uint8Array, p: number, s: string | null): number {
  if (s === null) return putBytes(buf, p, NULL);
  buf[p++] = 0x22;
  p = writeString(buf, p, s);
  buf[p++] = 0x22;
  return p;
}

/** A safe integer as JSON.stringify writes it (-0 as 0). Needs room for 17 bytes. */
export function writeInt(buf: Uint8Array, p: number, n: number): number {
  if (n < 0) {
    buf[p++] = 0x2d;
    n = -n;
  }
  if (n > 0x7fffffff) {
    const digits = String(n);
    for (let i = 0; i < digits.length; i++) buf[p++] = digits.charCodeAt(i);
    return p;
  }
  // 32-bit arithmetic: the common case (pids, ids, line numbers).
  let v = n | 0;
  let digits = 1;
  for (let t = v; t >= 10; t = (t / 10) | 0) digits++;
  p += digits;
  for (let q = p - 1; q >= p - digits; q--) {
    const next = (v / 10) | 0;
    buf[q] = 0x30 + v - next * 10;
    v = next;
  }
  return p;
}

/** Copy `bytes` (short, so a loop beats a native call). */
export function putBytes(buf: Uint8Array, p: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) buf[p++] = bytes[i]!;
  return p;
}

/** A string known to be ASCII, as bytes. */
export function ascii(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** JSON.stringify(text) as UTF-8 bytes, quotes included. */
export function jsonBytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(text), "utf8"));
}

export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** bytes[start, end) equals `word`. */
export function bytesAre(bytes: Uint8Array, start: number, end: number, word: Uint8Array): boolean {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++) if (bytes[start + k] !== word[k]) return false;
  return true;
}

/**
 * ASCII bytes[start, end) as the inside of a JSON string, each NUL as `nul`
 * when one is given. Needs room for 6 bytes per byte (or nul's length).
 */
export function copyEscaped(bytes: Uint8Array, start: number, end: number, d: Uint8Array, p: number, nul?: Uint8Array): number {
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (PLAIN[c] === 1) d[p++] = c;
    else if (c === 0 && nul !== undefined) p = putBytes(d, p, nul);
    else p = escapeAscii(d, p, c);
  }
  return p;
}

const ARG_SEPARATOR = ascii('","');

/**
 * An argv whose arguments are NUL-separated ASCII bytes[start, end), as
 * the JSON strings `"a","b"` (no brackets). Needs room for 6 bytes per byte.
 */
export function copyEscapedArgs(bytes: Uint8Array, start: number, end: number, d: Uint8Array, p: number): number {
  d[p++] = 0x22;
  p = copyEscaped(bytes, start, end, d, p, ARG_SEPARATOR);
  d[p++] = 0x22;
  return p;
}

/** A whole JSON text (already escaped) as UTF-8. */
export function putJsonText(buf: Buffer, p: number, json: string): number {
  return p + buf.write(json, p, "utf8");
}

/** A number as JSON.stringify writes it. */
export function putNumber(buf: Buffer, p: number, n: number): number {
  return Number.isSafeInteger(n) ? writeInt(buf, p, n) : putJsonText(buf, p, JSON.stringify(n));
}

/** A growable byte buffer for pieces assembled before they are written out. */
export class ByteBuffer {
  buf: Buffer;
  pos = 0;

  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Room for `n` more bytes at `pos` (the buffer may be replaced: reload it). */
  ensure(n: number): Buffer {
    if (this.pos + n > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
      this.buf.copy(bigger, 0, 0, this.pos);
      this.buf = bigger;
    }
    return this.buf;
  }
}
