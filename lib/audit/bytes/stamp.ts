/** An audit line's `audit(SECONDS.MILLIS:SERIAL)` stamp read from its bytes, without making strings. */
import { MAX_STAMP_SECONDS } from "../spelling.ts";

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
 * `cursor.ms` the stamp's time (epoch milliseconds), `cursor.seconds` its seconds.
 */
export function stampKeyAt(bytes: Uint8Array, at: number, stop: number, cursor: { end: number; ms: number; seconds?: number }): number {
  if (!readStamp(bytes, at, stop, scratch) || scratch.serial > 0xffffffff) return -1;
  cursor.end = scratch.close + 1;
  cursor.ms = scratch.seconds * 1000 + scratch.millis;
  cursor.seconds = scratch.seconds;
  return scratch.serial * 1000 + scratch.millis;
}
