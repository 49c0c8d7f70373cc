/**
 * How audit spells a value, each rule written once: the object path reads
 * strings, the byte writers read bytes, and both must say the same thing.
 * Each rule is data shared by both forms, or a byte function that the string
 * form runs over the string's units (anything above 0x7f is 0x80 there, which
 * no rule accepts as a digit or a word). test/spelling.test.ts holds each pair
 * to agree.
 *
 * Apart from bytes/json.ts (which imports nothing), what it imports is used
 * only inside functions, never at load, so those modules may import it back.
 */

import { ascii, bytesAre, putBytes } from "../bytes/json.ts";
import { errnoName } from "../tables/errno.ts";
import { UnitScratch, unitsOf } from "./bytes/field-cursor.ts";
import { digitsValue, HEX_DIGIT, startsWithAt } from "../bytes/read.ts";

// ------------------------------------------------------------ units

/** Reused for running a byte rule over a string (bytes/field-cursor.ts unitsOf: valid until the next call). */
let scratch: UnitScratch | null = null;
const unitsOfText = (text: string): Uint8Array => unitsOf(text, (scratch ??= new UnitScratch()));
const utf8 = new TextDecoder("utf-8");

// ------------------------------------------------------------ the key

/** Several keys on one rule share one key field, joined with this byte by auditctl and the kernel. */
export const KEY_SEPARATOR = "\u0001";
/** What a key's separators are shown as. */
export const KEY_JOIN = ",";
export const KEY_JOIN_BYTE = KEY_JOIN.charCodeAt(0);

/** A byte (or UTF-16 unit) that separates keys. */
export function isKeySeparator(c: number): boolean {
  return c === 0x01;
}

/** A key field's text as shown: its keys joined with ",". */
export function keysText(key: string): string {
  return key.split(KEY_SEPARATOR).join(KEY_JOIN);
}

// ------------------------------------------------------------ numbers

/**
 * An audit argument's hex digits (no 0x, up to 64 bits) as a signed 32-bit
 * number: pids and signals are ints, and a 64-bit caller's -1 is
 * ffffffffffffffff while a 32-bit caller's is ffffffff, so only the low 32
 * bits count. NaN unless 1–16 hex digits in any case.
 */
export function signed32At(bytes: Uint8Array, start: number, end: number): number {
  if (end - start < 1 || end - start > 16) return Number.NaN;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = HEX_DIGIT[bytes[i]!]!;
    if (digit < 0) return Number.NaN;
    // Only the last 8 digits count; earlier ones shift out.
    value = ((value << 4) | digit) | 0;
  }
  return value;
}

/** signed32At of a string. */
export function toSigned32(hex: string): number {
  return signed32At(unitsOfText(hex), 0, hex.length);
}

/** A decimal integer field (`-?[0-9]+`) as Number() reads it; NaN for anything else. */
export function numAt(bytes: Uint8Array, start: number, end: number): number {
  const negative = end > start && bytes[start] === 0x2d;
  const digits = negative ? start + 1 : start;
  if (digits === end) return Number.NaN;
  for (let i = digits; i < end; i++) if (bytes[i]! < 0x30 || bytes[i]! > 0x39) return Number.NaN;
  let value = digitsValue(bytes, digits, end);
  // Over 15 digits: Number() of the text rounds as a double does.
  if (value < 0) value = Number(utf8.decode(bytes.subarray(digits, end)));
  return negative ? -value : value;
}

/** numAt of a field's text: the number, or null (absent or not a decimal integer). */
export function num(value: string | undefined): number | null {
  if (value === undefined) return null;
  const n = numAt(unitsOfText(value), 0, value.length);
  return Number.isNaN(n) ? null : n;
}

// ------------------------------------------------------------ ids

/** audit's "unset" id: (uid_t)-1, written as 4294967295 or -1. */
export const UNSET_ID_WORDS: readonly string[] = ["4294967295", "-1"];
const UNSET_ID_BYTES = UNSET_ID_WORDS.map(ascii);

export function isUnsetIdAt(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = 0; i < UNSET_ID_BYTES.length; i++) if (bytesAre(bytes, start, end, UNSET_ID_BYTES[i]!)) return true;
  return false;
}

/** An id field (uid, auid…) as a number: NaN when unset or not a decimal integer. */
export function idAt(bytes: Uint8Array, start: number, end: number): number {
  return isUnsetIdAt(bytes, start, end) ? Number.NaN : numAt(bytes, start, end);
}

/** idAt of a field's text: null when absent, unset or not a number. */
export function idOrNull(value: string | undefined): number | null {
  if (value === undefined || UNSET_ID_WORDS.includes(value)) return null;
  return num(value);
}

/** What an id's decoded value is when it has no name: "unset", or "unknown(N)". */
export const UNSET_NAME = "unset";
export const UNKNOWN_NAME_PREFIX = "unknown(";
const UNSET_NAME_BYTES = ascii(UNSET_NAME);
const UNKNOWN_PREFIX_BYTES = ascii(UNKNOWN_NAME_PREFIX);

/** A name for a uid, or null when its decoded value is none ("unknown(N)", "unset"). */
export function userName(decoded: string | undefined): string | null {
  if (decoded === undefined || decoded === UNSET_NAME || decoded.startsWith(UNKNOWN_NAME_PREFIX)) return null;
  return decoded;
}

/** bytes[start, end) is a name by userName's rule. */
export function isUserNameAt(bytes: Uint8Array, start: number, end: number): boolean {
  return !bytesAre(bytes, start, end, UNSET_NAME_BYTES) && !startsWithAt(bytes, UNKNOWN_PREFIX_BYTES, start, end);
}

// ------------------------------------------------------------ words

/** The words audit writes for "no value": shown as null. */
export const NULLISH_WORDS: readonly string[] = ["(null)", "(none)", "?"];
const NULLISH_BYTES = NULLISH_WORDS.map(ascii);

export function nullish(value: string | undefined): string | null {
  return value === undefined || NULLISH_WORDS.includes(value) ? null : value;
}

export function isNullishAt(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = 0; i < NULLISH_BYTES.length; i++) if (bytesAre(bytes, start, end, NULLISH_BYTES[i]!)) return true;
  return false;
}

/** A SYSCALL record's success field: `yes`, `no`, anything else unknown. */
export const SUCCESS_YES = "yes";
export const SUCCESS_NO = "no";
const YES_BYTES = ascii(SUCCESS_YES);
const NO_BYTES = ascii(SUCCESS_NO);

export function success(value: string | undefined): boolean | null {
  return value === SUCCESS_YES ? true : value === SUCCESS_NO ? false : null;
}

export function successAt(bytes: Uint8Array, start: number, end: number): boolean | null {
  return bytesAre(bytes, start, end, YES_BYTES) ? true : bytesAre(bytes, start, end, NO_BYTES) ? false : null;
}

/** A syscall's errno from its exit: a negative exit is -errno (null/NaN and others: none). */
export function errnoOfExit(exit: number | null): string | null {
  return exit !== null && exit < 0 ? errnoName(-exit) : null;
}

// ------------------------------------------------------------ untrusted strings

/** unhexInto's answers besides a count. */
export const NOT_HEX = -1;
export const NOT_ASCII = -2;

/**
 * An untrusted-string field (comm, exe, key, proctitle…) is hex when it is
 * unquoted and hex-shaped: bytes[start, end) decoded into `into` (room for
 * half the length), and the count; NOT_HEX when the text is not hex-shaped
 * (empty, odd, another character: it stands as written), NOT_ASCII when a
 * decoded byte is above 0x7f (to be read as UTF-8, see decodeEscaped).
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

/** Reused for decoding: a Buffer per value (Buffer.from(value, "hex")) cost more than the rest of attribute's summary. */
let hexBytes = Buffer.allocUnsafe(4096);

/** Decode an untrusted-string field by unhexInto's rule: hex when unquoted and hex-shaped, else as written. */
export function decodeEscaped(value: string, quoted: boolean): string {
  const length = value.length;
  if (quoted || length % 2 !== 0 || length === 0) return value;
  const n = length / 2;
  if (hexBytes.length < n) hexBytes = Buffer.allocUnsafe(2 * n);
  const count = unhexInto(unitsOfText(value), 0, length, hexBytes);
  if (count === NOT_HEX) return value;
  // ASCII reads the same in every decoding; anything else goes through the UTF-8 decoder (U+FFFD for bad sequences).
  return count === NOT_ASCII ? utf8.decode(hexBytes.subarray(0, n)) : hexBytes.toString("latin1", 0, n);
}

/** Where decoded proctitle bytes[from, to) end as argv: the kernel cuts proctitle at 128 bytes, so a trailing NUL may or may not be there. */
export function argvEnd(bytes: Uint8Array, from: number, to: number): number {
  return to > from && bytes[to - 1] === 0 ? to - 1 : to;
}

/** A proctitle with no argv: empty or `(null)`. */
const NO_PROCTITLE = "(null)";
const NO_PROCTITLE_BYTES = ascii(NO_PROCTITLE);

export function isNoProctitleAt(bytes: Uint8Array, start: number, end: number): boolean {
  return start === end || bytesAre(bytes, start, end, NO_PROCTITLE_BYTES);
}

/** proctitle → argv: hex-encoded NUL-separated bytes, or a quoted single string; null for `(null)` or empty. */
export function decodeProctitle(value: string, quoted: boolean): string[] | null {
  if (value === NO_PROCTITLE || value === "") return null;
  const text = decodeEscaped(value, quoted);
  return text.slice(0, argvEnd(unitsOfText(text), 0, text.length)).split("\u0000");
}

// ------------------------------------------------------------ time

const MILLIS = Array.from({ length: 1000 }, (_, ms) => String(ms).padStart(3, "0"));
/** Date's range in seconds (±8.64e15 ms): a stamp past it is damage, not a time. A second at its end may hold only its first millisecond. */
export const MAX_STAMP_SECONDS = 8.64e12;

/** A journal's µs timestamp (`__REALTIME_TIMESTAMP`, up to 19 digits) as ms since the epoch; null for other text or past a date's range. */
export function journalMicrosToMs(micros: string | null): number | null {
  if (micros === null || !/^\d{1,19}$/.test(micros)) return null;
  const ms = Number(BigInt(micros) / 1000n);
  return ms <= MAX_STAMP_SECONDS * 1000 ? ms : null;
}

/**
 * An audit stamp's time in ISO 8601 UTC with milliseconds, as
 * `new Date(seconds * 1000 + millis).toISOString()` writes it
 * (`2010-09-23T12:37:07.433Z`), with one toISOString per second of audit
 * time shared by the string and the byte form.
 */
export class IsoClock {
  private seconds = Number.NaN;
  private prefixText = "";
  private prefixBytes: Uint8Array = new Uint8Array(0);

  /** The time as a string. */
  text(seconds: number, millis: number): string {
    if (!this.cached(seconds, millis)) return new Date(seconds * 1000 + millis).toISOString();
    return `${this.prefixText}${MILLIS[millis]}Z`;
  }

  /** The time's ASCII into d at p (room for 27 bytes), no quotes: the new p. */
  put(d: Uint8Array, p: number, seconds: number, millis: number): number {
    if (!this.cached(seconds, millis)) return putBytes(d, p, ascii(new Date(seconds * 1000 + millis).toISOString()));
    p = putBytes(d, p, this.prefixBytes);
    d[p++] = 0x30 + Math.floor(millis / 100);
    d[p++] = 0x30 + (Math.floor(millis / 10) % 10);
    d[p++] = 0x30 + (millis % 10);
    d[p++] = 0x5a; // Z
    return p;
  }

  /** Whether the time is a whole second in range plus 0–999 ms, with that second's prefix now cached. */
  private cached(seconds: number, millis: number): boolean {
    if (!Number.isInteger(seconds) || !Number.isInteger(millis) || millis < 0 || millis > 999) return false;
    if (seconds >= MAX_STAMP_SECONDS || seconds < -MAX_STAMP_SECONDS) return false;
    if (seconds !== this.seconds) {
      this.seconds = seconds;
      this.prefixText = new Date(seconds * 1000).toISOString().slice(0, -4);
      this.prefixBytes = ascii(this.prefixText);
    }
    return true;
  }
}

/** A clock for the string form, shared by callers that keep none of their own. */
export const isoClock = new IsoClock();

/** A time in ms as an ISO string (new Date(ms).toISOString()), through isoClock. */
export function isoOfMs(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  return isoClock.text(seconds, ms - seconds * 1000);
}
