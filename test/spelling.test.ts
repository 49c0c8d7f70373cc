/**
 * lib/audit/spelling.ts: each rule's string form and byte form say the same
 * thing, and both say what the rule's plain definition says, on chosen and
 * seeded random values.
 */
import { describe, expect, test } from "bun:test";
import { Rng } from "../bench/gen-log.ts";
import {
  argvEnd,
  decodeEscaped,
  decodeProctitle,
  idAt,
  idOrNull,
  isKeySeparator,
  isNullishAt,
  isoOfMs,
  IsoClock,
  isUserNameAt,
  KEY_JOIN_BYTE,
  keysText,
  NOT_ASCII,
  NOT_HEX,
  nullish,
  num,
  numAt,
  signed32At,
  success,
  successAt,
  toSigned32,
  unhexInto,
  userName,
} from "../lib/audit/spelling.ts";

const rng = new Rng(0x5be11);
/** A string's UTF-8 bytes, as the byte paths see a line. */
const utf8 = (text: string) => new Uint8Array(Buffer.from(text, "utf8"));
/** A string of n characters from `alphabet`. */
const randomText = (alphabet: string, n: number) => Array.from({ length: n }, () => alphabet[rng.int(0, alphabet.length - 1)]).join("");
/** A value compared as JSON would write it (NaN and null both null, -0 as 0), the way the two paths' outputs are compared. */
const numberOrNull = (n: number) => (Number.isNaN(n) ? null : n);

describe("numbers", () => {
  const chosen = ["", "-", "0", "-0", "007", "42", "-42", "4294967295", "-1", "-2147483649", "4294967296", "9007199254740993", "12345678901234567890", "1e3", "0x10", " 1", "1 ", "+1", "١", "é", "12é"];
  const random = Array.from({ length: 5_000 }, () => randomText("0123456789-+ex ", rng.int(0, 22)));

  test("num and numAt agree with the definition: -?[0-9]+ as Number() reads it", () => {
    for (const text of [...chosen, ...random]) {
      const definition = /^-?[0-9]+$/.test(text) ? Number(text) : null;
      const bytes = utf8(text);
      expect({ text, s: num(text), b: numberOrNull(numAt(bytes, 0, bytes.length)) }).toEqual({ text, s: definition, b: definition });
    }
    expect(num(undefined)).toBeNull();
  });

  test("idOrNull and idAt: unset ids are null", () => {
    for (const text of [...chosen, ...random]) {
      const definition = text === "4294967295" || text === "-1" || !/^-?[0-9]+$/.test(text) ? null : Number(text);
      const bytes = utf8(text);
      expect({ text, s: idOrNull(text), b: numberOrNull(idAt(bytes, 0, bytes.length)) }).toEqual({ text, s: definition, b: definition });
    }
  });

  test("toSigned32 and signed32At: the low 32 bits of 1–16 hex digits", () => {
    const hex = [...Array.from({ length: 5_000 }, () => randomText("0123456789abcdefABCDEFgx", rng.int(0, 18))), "ffffffffffffffff", "ffffffff", "80000000", "7fffffff", "0", "é", "fé"];
    for (const text of hex) {
      const definition = /^[0-9a-fA-F]{1,16}$/.test(text) ? Number.parseInt(text.length > 8 ? text.slice(-8) : text, 16) | 0 : null;
      const bytes = utf8(text);
      expect({ text, s: numberOrNull(toSigned32(text)), b: numberOrNull(signed32At(bytes, 0, bytes.length)) }).toEqual({ text, s: definition, b: definition });
    }
  });
});

describe("words", () => {
  const words = ["", "(null)", "(none)", "?", "??", "(null", "unset", "unsetx", "unknown(", "unknown(5)", "unknown", "root", "yes", "no", "YES", "ye", "noo", "é", "4294967295", "-1"];

  test("nullish, userName, success: string and byte forms agree", () => {
    for (const text of words) {
      const bytes = utf8(text);
      expect({ text, nullAt: isNullishAt(bytes, 0, bytes.length) }).toEqual({ text, nullAt: nullish(text) === null });
      expect({ text, nameAt: isUserNameAt(bytes, 0, bytes.length) }).toEqual({ text, nameAt: userName(text) !== null });
      expect({ text, successAt: successAt(bytes, 0, bytes.length) }).toEqual({ text, successAt: success(text) });
    }
    expect([nullish(undefined), userName(undefined), success(undefined)]).toEqual([null, null, null]);
  });

  test("keysText joins keys with ','; the byte form writes KEY_JOIN_BYTE for each separator", () => {
    for (const key of ["", "a", "a\u0001b", "\u0001", "a\u0001\u0001b", "é\u0001x"]) {
      const bytes = utf8(key);
      const shown = Buffer.from(bytes.map((c) => (isKeySeparator(c) ? KEY_JOIN_BYTE : c))).toString("utf8");
      expect({ key, shown }).toEqual({ key, shown: keysText(key) });
      expect(keysText(key)).toBe(key.split("\u0001").join(","));
    }
  });
});

describe("untrusted strings", () => {
  // The definition: hex-shaped and unquoted → the bytes as UTF-8 (U+FFFD for bad sequences); else as written.
  const reference = (value: string, quoted: boolean) =>
    quoted || value.length % 2 !== 0 || value.length === 0 || !/^[0-9A-Fa-f]+$/.test(value) ? value : new TextDecoder().decode(Buffer.from(value, "hex"));
  const chosen = ["", "A", "6869", "2F62696E2F7368002D63", "c3a9", "C3A9", "ff", "C3", "e282ac41", "F09F9880", "EDA080", "00", "7f80", "6g", "0x41", "(null)", "é9", "\u0669\u0669"];

  test("decodeEscaped agrees with Buffer.from(hex) + TextDecoder on chosen and random values", () => {
    let seed = 26880;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const random = Array.from({ length: 20_000 }, () => Array.from({ length: Math.floor(next() * 24) * 2 }, () => "0123456789ABCDEFabcdefg"[Math.floor(next() * 23)]).join(""));
    const long = "41".repeat(5000) + "C3A9";
    for (const value of [...chosen, ...random, long]) {
      for (const quoted of [false, true]) expect({ value, quoted, out: decodeEscaped(value, quoted) }).toEqual({ value, quoted, out: reference(value, quoted) });
    }
  });

  test("unhexInto, the byte form, decodes to what decodeEscaped shows", () => {
    const random = Array.from({ length: 5_000 }, () => randomText("0123456789ABCDEFabcdefg", rng.int(0, 12) * 2 + (rng.chance(0.1) ? 1 : 0)));
    const into = new Uint8Array(8192);
    for (const value of [...chosen, ...random]) {
      const bytes = utf8(value);
      const n = unhexInto(bytes, 0, bytes.length, into);
      const shown = n === NOT_HEX ? value : n === NOT_ASCII ? new TextDecoder().decode(into.subarray(0, bytes.length / 2)) : Buffer.from(into.subarray(0, n)).toString("latin1");
      expect({ value, shown }).toEqual({ value, shown: decodeEscaped(value, false) });
      if (n >= 0) expect(into.subarray(0, n).every((c) => c < 0x80)).toBe(true);
    }
  });

  test("decodeProctitle splits as argvEnd bounds the bytes: one trailing NUL dropped", () => {
    const pop = (text: string) => {
      const argv = text.split("\u0000");
      if (argv.length > 1 && argv[argv.length - 1] === "") argv.pop();
      return argv;
    };
    const titles = ["2F62696E2F736800", "2F62696E2F7368002D6300", "00", "0000", "41", "4100", "410000", "C3A900", "00C3", "plain text", "7069640000"];
    const random = Array.from({ length: 2_000 }, () => Array.from({ length: rng.int(1, 8) }, () => rng.pick(["00", "41", "42", "C3", "A9", "FF"])).join(""));
    const into = new Uint8Array(256);
    for (const value of [...titles, ...random]) {
      const argv = decodeProctitle(value, false);
      expect({ value, argv }).toEqual({ value, argv: pop(decodeEscaped(value, false)) });
      const bytes = utf8(value);
      const n = unhexInto(bytes, 0, bytes.length, into);
      const count = n === NOT_ASCII ? bytes.length / 2 : n;
      if (count < 0) continue;
      const end = argvEnd(into, 0, count);
      const fromBytes = new TextDecoder().decode(into.subarray(0, end)).split("\u0000");
      expect({ value, fromBytes }).toEqual({ value, fromBytes: argv! });
    }
    expect([decodeProctitle("(null)", false), decodeProctitle("", true)]).toEqual([null, null]);
  });
});

describe("IsoClock", () => {
  test("text and put write what Date.toISOString writes, across seconds, years and Date's range", () => {
    const clock = new IsoClock();
    const out = new Uint8Array(64);
    const seconds = [0, 1, 59, 1285245427, 1_700_000_000, -1, -62_135_596_800, 253_402_300_799, 253_402_300_800, 8.64e12 - 1, -8.64e12, ...Array.from({ length: 3_000 }, () => rng.int(-2e9, 4e9))];
    for (const s of seconds) {
      for (const ms of [0, 7, 99, 433, 999, rng.int(0, 999)]) {
        const definition = new Date(s * 1000 + ms).toISOString();
        expect({ s, ms, text: clock.text(s, ms) }).toEqual({ s, ms, text: definition });
        const p = clock.put(out, 0, s, ms);
        expect({ s, ms, put: Buffer.from(out.subarray(0, p)).toString("latin1") }).toEqual({ s, ms, put: definition });
        expect(isoOfMs(s * 1000 + ms)).toBe(definition);
      }
    }
  });

  test("outside a whole second plus 0–999 ms, or Date's range, it answers as Date does", () => {
    const clock = new IsoClock();
    expect(clock.text(1, 1000)).toBe(new Date(2000).toISOString());
    expect(clock.text(1.5, 0)).toBe(new Date(1500).toISOString());
    expect(clock.text(8.64e12, 0)).toBe(new Date(8.64e15).toISOString());
    expect(() => clock.text(8.64e12, 1)).toThrow(RangeError);
    expect(() => isoOfMs(Number.NaN)).toThrow(RangeError);
    expect(isoOfMs(-1)).toBe(new Date(-1).toISOString());
  });
});
