/**
 * The times `--since` and `--until` take, as a cron user or someone used to
 * `ausearch -ts` would write them:
 *
 *   1285245427.433              epoch seconds
 *   2010-09-23                  a day (midnight)
 *   2010-09-23 12:37[:07[.433]] a time; `T` may stand for the space
 *   …Z, …+02:00, …-0500         with a zone; without one the time is local,
 *                               like `date`, `ausearch -ts` and `journalctl`
 *   now, recent, this-hour, today, yesterday, week-ago, this-month,
 *   this-year                   ausearch's keywords (recent: 10 minutes ago)
 *   2h, -2h, 2h ago             a duration back from now (s, m, h, d, w)
 *
 * Strict where Date.parse is lenient: `Date.parse("1")` is a date in 2001,
 * and it reads "2010-09-23" as UTC but "2010-09-23T12:00" as local time.
 * Anything else is refused; TIME_FORMS says what is accepted.
 */

export const TIME_FORMS =
  "ISO 8601 (2010-09-23, 2010-09-23 12:37:07, 2010-09-23T12:37:07Z; local time without a zone), epoch seconds, " +
  "now, recent, this-hour, today, yesterday, week-ago, this-month, this-year, or a duration back from now (2h, -30m, 1d ago)";

const UNIT_MS: Record<string, number> = {
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const EPOCH = /^\d+(\.\d+)?$/;
const DURATION = /^-?(\d+)(s|sec|m|min|h|d|w)(?: ago)?$/;
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))?$/i;

/** Midnight, local time, `days` after the day of `now`. */
function localMidnight(now: Date, days = 0): number {
  return new Date(now.getFullYear(), now.getMonth(), now.getDate() + days).getTime();
}

function keyword(word: string, now: Date): number | null {
  switch (word) {
    case "now":
      return now.getTime();
    case "recent":
      return now.getTime() - 10 * 60_000;
    case "this-hour":
      return new Date(now.getFullYear(), now.getMonth(), now.getDate(), now.getHours()).getTime();
    case "today":
      return localMidnight(now);
    case "yesterday":
      return localMidnight(now, -1);
    case "week-ago":
      return localMidnight(now, -7);
    case "this-month":
      return new Date(now.getFullYear(), now.getMonth(), 1).getTime();
    case "this-year":
      return new Date(now.getFullYear(), 0, 1).getTime();
    default:
      return null;
  }
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function iso(match: RegExpExecArray): number | null {
  const [, y, mo, d, h, mi, s, fraction, zulu, sign, offsetHours, offsetMinutes] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = h === undefined ? 0 : Number(h);
  const minute = mi === undefined ? 0 : Number(mi);
  const second = s === undefined ? 0 : Number(s);
  const ms = fraction === undefined ? 0 : Math.floor(Number(`0.${fraction}`) * 1000);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59) return null;
  if (zulu === undefined && sign === undefined) {
    // Local time, built from parts: new Date(y, …) maps years below 100 to 19xx, setFullYear does not.
    const local = new Date(2000, 0, 1, hour, minute, second, ms);
    local.setFullYear(year, month - 1, day);
    return local.getTime();
  }
  const utc = new Date(Date.UTC(2000, 0, 1, hour, minute, second, ms));
  utc.setUTCFullYear(year, month - 1, day);
  if (sign === undefined) return utc.getTime();
  const offsetH = Number(offsetHours);
  const offsetM = Number(offsetMinutes);
  if (offsetH > 23 || offsetM > 59) return null;
  const offset = (offsetH * 60 + offsetM) * 60_000;
  return utc.getTime() - (sign === "-" ? -offset : offset);
}

/** A time as milliseconds since the epoch, or null when `value` is none of TIME_FORMS. */
export function parseTimeSpec(value: string, now: Date = new Date()): number | null {
  const text = value.trim();
  let ms: number | null = null;
  // Rounded to the millisecond audit stamps have: 1795933581.06 * 1000 is not exactly 1795933581060 in floating point.
  if (EPOCH.test(text)) ms = Math.round(Number(text) * 1000);
  else {
    const lower = text.toLowerCase();
    ms = keyword(lower, now);
    if (ms === null) {
      const duration = DURATION.exec(lower);
      if (duration) ms = now.getTime() - Number(duration[1]) * UNIT_MS[duration[2]!]!;
    }
    if (ms === null) {
      const match = ISO.exec(text);
      if (match) ms = iso(match);
    }
  }
  // JS dates end at ±8.64e15 ms.
  return ms === null || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15 ? null : ms;
}

let isoSecond = "";
let isoSecondMs = Number.NaN;

/**
 * Date.parse for the times our lines carry (`2010-09-23T12:37:07.433Z`,
 * stampToIso's form), cheaply: a stream's signals share their second, so
 * only the milliseconds are read after the first. Any other form is
 * Date.parse's: on a kill storm every line is a signal, and a Date.parse
 * for each showed in attribute's profile.
 */
export function isoMs(iso: string): number {
  if (iso.length === 24 && iso.charCodeAt(19) === 0x2e && iso.charCodeAt(23) === 0x5a) {
    const a = iso.charCodeAt(20) - 0x30;
    const b = iso.charCodeAt(21) - 0x30;
    const c = iso.charCodeAt(22) - 0x30;
    if (a >= 0 && a <= 9 && b >= 0 && b <= 9 && c >= 0 && c <= 9) {
      if (isoSecond === "" || !iso.startsWith(isoSecond)) {
        isoSecond = iso.slice(0, 19);
        isoSecondMs = Date.parse(`${isoSecond}Z`);
      }
      return isoSecondMs + a * 100 + b * 10 + c;
    }
  }
  return Date.parse(iso);
}
