/**
 * Reading a raw audit line's bytes without making strings: for the fast
 * paths that look at many lines and keep few (lib/signals/prefilter.ts).
 * Values come back as numbers, or as strings only when asked for one.
 */

import { ascii, bytesAre } from "../json-bytes.ts";
import { MAX_STAMP_SECONDS } from "./line.ts";

export { ascii };

/** A byte's value as a hex digit, or -1. */
export const HEX_DIGIT = (() => {
  const table = new Int8Array(256).fill(-1);
  for (let c = 0; c < 10; c++) table[0x30 + c] = c;
  for (let c = 0; c < 6; c++) table[0x61 + c] = table[0x41 + c] = 10 + c;
  return table;
})();

/** bytes[at, at + prefix.length) === prefix, within stop. */
export function startsWithAt(bytes: Uint8Array, prefix: Uint8Array, at: number, stop: number): boolean {
  if (stop < at + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}

/** What planting a needle covers, kept to be put back (needles are short). */
let planted = new Uint8Array(64);

/**
 * Where `needle` starts in bytes[from, stop), or -1. Buffer.indexOf has no
 * end: on a slot of many lines, a needle that is usually absent (` success=no`)
 * would be searched for to the slot's end from every line, quadratic in the
 * lines per slot. So the needle is planted at `stop` for the call, as the
 * end, and the bytes it covered are put back at once. (A view,
 * bytes.subarray(from, stop), did the same at the cost of an object per
 * call: 5 % of attribute on real records.)
 */
export function indexWithin(bytes: Buffer, needle: Uint8Array, from: number, stop: number): number {
  const length = needle.length;
  if (stop - from < length) return -1;
  if (stop + length > bytes.length) {
    const at = bytes.subarray(from, stop).indexOf(needle);
    return at < 0 ? -1 : from + at;
  }
  if (planted.length < length) planted = new Uint8Array(2 * length);
  const saved = planted;
  for (let i = 0; i < length; i++) {
    saved[i] = bytes[stop + i]!;
    bytes[stop + i] = needle[i]!;
  }
  const at = bytes.indexOf(needle, from);
  for (let i = 0; i < length; i++) bytes[stop + i] = saved[i]!;
  // The first match is the real one when there is one; else the planted needle, or one running into it.
  return at < 0 || at + length > stop ? -1 : at;
}

/** bytes[start, end) as 1–15 plain decimal digits (exact in a double): Number() of them; -1 for anything else. */
export function digitsValue(bytes: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length < 1 || length > 15) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = bytes[i]! - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + digit;
  }
  return value;
}

/**
 * digitsValue for a number spelled as String() spells it (no leading zero):
 * where text and value may stand for each other, as an id's cache key does
 * (idName writes `unknown(007)` with the text); -1 for any other spelling.
 */
export function canonicalDigitsValue(bytes: Uint8Array, start: number, end: number): number {
  return bytes[start] === 0x30 && end - start > 1 ? -1 : digitsValue(bytes, start, end);
}

/** bytes[start, end) as 1–8 hex digits in any case: parseInt(…, 16) of them; -1 for anything else. */
export function hexDigitsValue(bytes: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length < 1 || length > 8) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = HEX_DIGIT[bytes[i]!]!;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

/** interpret.ts num() of bytes[start, end): an optional minus and decimal digits, else NaN (num's null). */
export function numAt(bytes: Uint8Array, start: number, end: number): number {
  const negative = end > start && bytes[start] === 0x2d;
  const digits = negative ? start + 1 : start;
  if (digits === end) return Number.NaN;
  for (let i = digits; i < end; i++) if (bytes[i]! < 0x30 || bytes[i]! > 0x39) return Number.NaN;
  let value = digitsValue(bytes, digits, end);
  if (value < 0) {
    // Over 15 digits: Number() of the text rounds as interpret.ts does.
    let text = "";
    for (let i = digits; i < end; i++) text += String.fromCharCode(bytes[i]!);
    value = Number(text);
  }
  return negative ? -value : value;
}

const UNSET_ID = ascii("4294967295");
const MINUS_ONE = ascii("-1");

/** audit's unset id, `4294967295` or `-1`, as ids.ts isUnsetId reads it. */
export function isUnsetIdAt(bytes: Uint8Array, start: number, end: number): boolean {
  return bytesAre(bytes, start, end, UNSET_ID) || bytesAre(bytes, start, end, MINUS_ONE);
}

const UNSET_NAME = ascii("unset");
const UNKNOWN_PREFIX = ascii("unknown(");

/** bytes[start, end) is a name by interpret.ts userName's rule: not `unset`, not `unknown(…)`. */
export function isUserNameAt(bytes: Uint8Array, start: number, end: number): boolean {
  if (bytesAre(bytes, start, end, UNSET_NAME)) return false;
  return !(end - start >= UNKNOWN_PREFIX.length && bytesAre(bytes, start, start + UNKNOWN_PREFIX.length, UNKNOWN_PREFIX));
}

const NULLISH = [ascii("(null)"), ascii("(none)"), ascii("?")];

/** bytes[start, end) is `(null)`, `(none)` or `?`: interpret.ts nullish's no-value words. */
export function isNullishAt(bytes: Uint8Array, start: number, end: number): boolean {
  for (const word of NULLISH) if (bytesAre(bytes, start, end, word)) return true;
  return false;
}

/** unhexInto's answers besides a count. */
export const NOT_HEX = -1;
export const NOT_ASCII = -2;

/**
 * interpret.ts decodeEscaped's hex case: bytes[start, end) decoded into
 * `into` (room for half the length), and the count; NOT_HEX when the text
 * is not hex-shaped (empty, odd, another character: it stands as written),
 * NOT_ASCII when a decoded byte is above 0x7f (UTF-8, for decodeEscaped).
 */
export function unhexInto(bytes: Uint8Array, start: number, end: number, into: Uint8Array): number {
  const length = end - start;
  if (length === 0 || (length & 1) !== 0) return NOT_HEX;
  let n = 0;
  let high = 0;
  for (let i = start; i < end; i += 2) {
    const hi = HEX_DIGIT[bytes[i]!]!;
    const lo = HEX_DIGIT[bytes[i + 1]!]!;
    if (hi < 0 || lo < 0) return NOT_HEX;
    const byte = (hi << 4) | lo;
    high |= byte;
    into[n++] = byte;
  }
  return high >= 0x80 ? NOT_ASCII : n;
}

/** Unsigned decimal digits at bytes[at…]: the value, or -1 when there are none (or over 15). */
export function decimalAt(bytes: Uint8Array, at: number, stop: number): number {
  let value = 0;
  let i = at;
  for (; i < stop && i - at < 15; i++) {
    const c = bytes[i]!;
    if (c < 0x30 || c > 0x39) break;
    value = value * 10 + c - 0x30;
  }
  return i === at ? -1 : value;
}

/** The unsigned decimal after `name` (e.g. ` pid=`) in bytes[from, stop), or -1. */
export function decimalIn(bytes: Buffer, name: Uint8Array, from: number, stop: number): number {
  const at = indexWithin(bytes, name, from, stop);
  if (at < 0) return -1;
  return decimalAt(bytes, at + name.length, stop);
}

/** Up to 8 hex digits at bytes[at…] ending at a space or stop: the value, or -1. */
export function hexAt(bytes: Uint8Array, at: number, stop: number): number {
  let value = 0;
  let i = at;
  for (; i < stop; i++) {
    const digit = HEX_DIGIT[bytes[i]!]!;
    if (digit < 0) break;
    value = value * 16 + digit;
  }
  if (i === at || i - at > 8 || (i < stop && bytes[i] !== 0x20)) return -1;
  return value;
}

/** The hex value after `name` (e.g. ` arch=`) in bytes[from, stop), or -1. */
export function hexIn(bytes: Buffer, name: Uint8Array, from: number, stop: number): number {
  const at = indexWithin(bytes, name, from, stop);
  if (at < 0) return -1;
  return hexAt(bytes, at + name.length, stop);
}

/**
 * A field's value as written: hex, or `"text"` with its quotes (so the
 * caller can tell the two apart), or null when the field is not there.
 */
export function rawValueIn(bytes: Buffer, name: Uint8Array, from: number, stop: number): string | null {
  const at = indexWithin(bytes, name, from, stop);
  if (at < 0) return null;
  const start = at + name.length;
  if (bytes[start] === 0x22 /* " */) {
    let close = start + 1;
    while (close < stop && bytes[close] !== 0x22) close++;
    return close >= stop ? null : `"${bytes.toString("utf8", start + 1, close)}"`;
  }
  let end = start;
  while (end < stop && bytes[end] !== 0x20) end++;
  return bytes.toString("latin1", start, end);
}

/** An audit stamp's parts; `close` is the index of its `)`. */
export interface Stamp {
  seconds: number;
  millis: number;
  serial: number;
  close: number;
}

/**
 * `SEC.MS:SERIAL)` at bytes[at…], by parseRecordAt's rules (lib/audit/line.ts):
 * digits, `.`, digits, `:`, digits, then `)`, seconds in range. False where
 * it would not take the stamp as it is.
 */
export function readStamp(bytes: Uint8Array, at: number, stop: number, out: Stamp): boolean {
  // Three tight loops: this runs on nearly every line of a log, and is
  // measurably faster than one loop with a state variable.
  let i = at;
  let seconds = 0;
  for (; i < stop; i++) {
    const digit = bytes[i]! - 0x30;
    if (digit < 0 || digit > 9) break;
    seconds = seconds * 10 + digit;
  }
  if (i === at || i >= stop || bytes[i] !== 0x2e /* . */) return false;
  const millisAt = ++i;
  let millis = 0;
  for (; i < stop; i++) {
    const digit = bytes[i]! - 0x30;
    if (digit < 0 || digit > 9) break;
    millis = millis * 10 + digit;
  }
  if (i === millisAt || i >= stop || bytes[i] !== 0x3a /* : */) return false;
  const serialAt = ++i;
  let serial = 0;
  for (; i < stop; i++) {
    const digit = bytes[i]! - 0x30;
    if (digit < 0 || digit > 9) break;
    serial = serial * 10 + digit;
  }
  if (i === serialAt || i >= stop || bytes[i] !== 0x29 /* ) */ || seconds > MAX_STAMP_SECONDS) return false;
  out.seconds = seconds;
  out.millis = millis;
  out.serial = serial;
  out.close = i;
  return true;
}

const scratch: Stamp = { seconds: 0, millis: 0, serial: 0, close: 0 };

/**
 * The stamp at bytes[at…] as one number, serial × 1000 + ms, or -1 where
 * readStamp says no (or the serial is over 32 bits). Two events can share it
 * only if their serials and milliseconds both match (other seconds or
 * nodes): callers use it to keep lines, so a clash keeps an extra line for
 * the decoder, never drops one. `cursor.end` is then the index after `)`,
 * `cursor.ms` the stamp's time (epoch milliseconds).
 */
export function stampKeyAt(bytes: Uint8Array, at: number, stop: number, cursor: { end: number; ms: number }): number {
  if (!readStamp(bytes, at, stop, scratch) || scratch.serial > 0xffffffff) return -1;
  cursor.end = scratch.close + 1;
  cursor.ms = scratch.seconds * 1000 + scratch.millis;
  return scratch.serial * 1000 + scratch.millis;
}

/** No byte of bytes[start, end) is above 0x7f. */
export function isAsciiRange(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}
