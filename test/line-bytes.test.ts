/**
 * The byte readers the fast paths share (lib/bytes/read.ts,
 * lib/audit/bytes/record-line.ts), on their own: a search must stop at its
 * line's end even where the buffer holds more lines, and the in-place
 * unescape must agree with JSON.parse or refuse without touching the bytes.
 */
import { describe, expect, test } from "bun:test";
import { ascii } from "../lib/bytes/json.ts";
import { canonicalDigitsValue, indexWithin } from "../lib/bytes/read.ts";
import { matchRecordLine, unescapeAsciiInPlace, type RecordLineShape } from "../lib/audit/bytes/record-line.ts";

/** Several lines in one buffer, as a reader slot holds them; the ranges of each. */
function slot(lines: string[]): { bytes: Buffer; ranges: [number, number][] } {
  const bytes = Buffer.from(lines.join("\n") + "\n", "latin1");
  const ranges: [number, number][] = [];
  let start = 0;
  for (const line of lines) {
    ranges.push([start, start + line.length]);
    start += line.length + 1;
  }
  return { bytes, ranges };
}

describe("searches stop at the line's end", () => {
  const { bytes, ranges } = slot([
    "type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 success=yes pid=10 comm=\"sh",
    "type=SYSCALL msg=audit(1.000:2): arch=c000003e syscall=59 success=no exit=-2 ppid=4 pid=11 comm=\"x\" exe=/bin/x",
  ]);
  const [first, second] = ranges as [[number, number], [number, number]];

  test("indexWithin finds a needle inside the range only", () => {
    expect(indexWithin(bytes, ascii(" success=no"), first[0], first[1])).toBe(-1);
    expect(indexWithin(bytes, ascii(" success=no"), second[0], second[1])).toBe(bytes.indexOf(" success=no"));
    expect(indexWithin(bytes, ascii(" success=no"), first[0], first[0] + 5)).toBe(-1);
    expect(indexWithin(bytes, ascii("type="), second[0], second[1])).toBe(second[0]);
  });

  test("indexWithin leaves the buffer as it was, near its end too, and never reports a match running past the range", () => {
    const before = Buffer.from(bytes);
    for (const needle of [" success=no", " pid=", "type=", "\"", "x"]) {
      for (const [start, end] of ranges) expect(indexWithin(bytes, ascii(needle), start, end)).toBe(bytes.subarray(start, end).indexOf(needle) < 0 ? -1 : start + bytes.subarray(start, end).indexOf(needle));
    }
    // The last line's end is the buffer's: no room to plant the needle there.
    expect(indexWithin(bytes, ascii("/bin/x"), second[0], bytes.length - 1)).toBe(bytes.lastIndexOf("/bin/x"));
    expect(indexWithin(bytes, ascii("/bin/xy"), second[0], bytes.length - 1)).toBe(-1);
    expect(bytes.equals(before)).toBe(true);
    // A needle whose start repeats its end ("aba"): a range ending in "ab" does not match the planted one.
    const text = Buffer.from("xxab\nabaxx", "latin1");
    expect(indexWithin(text, ascii("aba"), 0, 4)).toBe(-1);
    expect(indexWithin(text, ascii("aba"), 0, 8)).toBe(5);
    expect(text.toString("latin1")).toBe("xxab\nabaxx");
    // Random buffers and ranges against the plain search of the range.
    let seed = 26880;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let round = 0; round < 2000; round++) {
      const buffer = Buffer.from(Array.from({ length: 1 + Math.floor(next() * 40) }, () => "ab "[Math.floor(next() * 3)]).join(""), "latin1");
      const copy = Buffer.from(buffer);
      const needle = ascii(Array.from({ length: 1 + Math.floor(next() * 4) }, () => "ab "[Math.floor(next() * 3)]).join(""));
      const from = Math.floor(next() * buffer.length);
      const stop = from + Math.floor(next() * (buffer.length - from + 1));
      const plain = stop - from < needle.length ? -1 : buffer.subarray(from, stop).indexOf(needle);
      expect(indexWithin(buffer, needle, from, stop)).toBe(plain < 0 ? -1 : from + plain);
      expect(buffer.equals(copy)).toBe(true);
    }
  });

  test("a record line without a source key is not taken, whatever the line before it holds", () => {
    const good = JSON.stringify({ kind: "record", type: "EOE", id: "1.000:1", node: null, raw: "type=EOE msg=audit(1.000:1): ", source: { file: "a", line: 1 } });
    const bare = JSON.stringify({ kind: "record", type: "EOE", id: "1.000:2", node: null, raw: "type=EOE msg=audit(1.000:2): " });
    const { bytes: lines, ranges: at } = slot([good, bare]);
    const shape: RecordLineShape = { typeStart: 0, typeEnd: 0, idStart: 0, idEnd: 0, nodeStart: -1, nodeEnd: -1, rawStart: 0, rawEnd: 0 };
    expect(matchRecordLine(lines, at[0]![0], at[0]![1], shape)).toBe(true);
    expect(lines.toString("latin1", shape.rawStart, shape.rawEnd)).toBe("type=EOE msg=audit(1.000:1): ");
    expect(matchRecordLine(lines, at[1]![0], at[1]![1], shape)).toBe(false);
  });
});

describe("unescapeAsciiInPlace", () => {
  /** The JSON string body of `text`, unescaped in place inside a larger buffer. */
  function unescape(body: string): { end: number; text: string; untouched: boolean } {
    const bytes = Buffer.from(`xx${body}yy`, "latin1");
    const before = Buffer.from(bytes);
    const end = unescapeAsciiInPlace(bytes, 2, 2 + body.length);
    return { end, text: end < 0 ? "" : bytes.toString("latin1", 2, end), untouched: bytes.equals(before) };
  }

  test("every escape JSON.stringify writes for ASCII text comes back as JSON.parse reads it", () => {
    const samples = [
      "",
      "plain text, no escapes",
      'comm="bash" exe="/usr/bin/bash"',
      "back\\slash and / slash",
      "tab\there, newline\nthere, cr\r, bell\u0007, nul\u0000, gs\u001dUID=\"root\"",
      "\b\f\u001f\u007f",
    ];
    for (const sample of samples) {
      const body = JSON.stringify(sample).slice(1, -1);
      const { end, text } = unescape(body);
      expect({ sample, text }).toEqual({ sample, text: sample });
      expect(end).toBe(2 + sample.length);
    }
    // Escapes JSON.stringify does not write but JSON allows: \/ and \u00XX in any case.
    expect(unescape("a\\/b\\u0041\\u004a\\u004A").text).toBe("a/bAJJ");
  });

  test("an escape that is not ASCII, or not JSON, is refused and leaves the bytes as they were", () => {
    for (const body of ["caf\\u00e9", "\\ud83d\\ude00", "ok\\", "\\x41", "\\u00", "\\u12", "a\\u0zzz", "a\\\\b\\q"]) {
      const result = unescape(body);
      expect({ body, end: result.end, untouched: result.untouched }).toEqual({ body, end: -1, untouched: true });
    }
  });

  test("bytes outside the range are never touched", () => {
    const bytes = Buffer.from('\\"before\\" \\"inside\\" \\"after\\"', "latin1");
    const start = bytes.indexOf(" ") + 1;
    const stop = bytes.lastIndexOf(" ");
    const end = unescapeAsciiInPlace(bytes, start, stop);
    expect(bytes.toString("latin1", start, end)).toBe('"inside"');
    expect(bytes.toString("latin1", 0, start)).toBe('\\"before\\" ');
    expect(bytes.toString("latin1", stop)).toBe(' \\"after\\"');
  });
});

describe("canonicalDigitsValue", () => {
  test("a number only where String() of it gives the text back", () => {
    for (const text of ["0", "7", "1010", "4294967295", "999999999999999", "007", "00", "-1", "+1", "1e3", "", "1 ", "1234567890123456"]) {
      const bytes = ascii(`x ${text} y`);
      const value = canonicalDigitsValue(bytes, 2, 2 + text.length);
      const canonical = /^\d{1,15}$/.test(text) && String(Number(text)) === text;
      expect(value).toBe(canonical ? Number(text) : -1);
    }
  });
});
