/**
 * Reading a raw audit line's bytes without making strings: for the fast
 * paths that look at many lines and keep few (lib/signals/prefilter.ts).
 * Values come back as numbers, or as strings only when asked for one.
 */

import { bytesAre } from "./json.ts";

/** A byte's value as a hex digit, or -1. */
export const HEX_DIGIT = (() => {
  const table = new Int8Array(256).fill(-1);
  for (let c = 0; c < 10; c++) table[0x30 + c] = c;
  for (let c = 0; c < 6; c++) table[0x61 + c] = table[0x41 + c] = 10 + c;
  return table;
})();

/** bytes[at, at + prefix.length) === prefix, within stop. */
export function startsWithAt(bytes: Uint8Array, prefix: Uint8Array, at: number, stop: number): boolean {
  return stop >= at + prefix.length && bytesAre(bytes, at, at + prefix.length, prefix);
}

/** What planting a needle covers, kept to be put back (needles are short). */
let planted = new Uint8Array(64);

/**
 * Where `needle` starts in bytes[from, stop), or -1. Buffer.indexOf has no
 * end: on a slot of many lines, a needle that is usually absent (` success=no`)
 * would be searched for to the slot's end from every line, quadratic in the
 * lines per slot. So the needle is planted at `stop` for the call, as the
 * end, and the bytes it covered are put back at once. (A view,
 * bytes.subarray(from, stop), would do the same but makes an object per
 * call, on attribute's hottest path.)
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

/** Up to 8 hex digits at bytes[at…] ending at a space or stop: the value, or -1. */
export function hexAt(bytes: Uint8Array, at: number, stop: number): number {
  let i = at;
  while (i < stop && HEX_DIGIT[bytes[i]!]! >= 0) i++;
  return i < stop && bytes[i] !== 0x20 ? -1 : hexDigitsValue(bytes, at, i);
}

/** No byte of bytes[start, end) is above 0x7f. */
export function isAsciiRange(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}
