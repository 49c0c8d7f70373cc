import { describe, expect, test } from "bun:test";
import { enrichedTailAt, FieldCursor, UnitScratch, unitsOf } from "../lib/audit/bytes/field-cursor.ts";

/** Each field as [name, value | null (a word), quote, closed], sliced from the string by the cursor's offsets. */
function walk(text: string): [string, string | null, number, boolean][] {
  const bytes = unitsOf(text, new UnitScratch());
  const c = new FieldCursor().reset(bytes, 0, text.length);
  const out: [string, string | null, number, boolean][] = [];
  while (c.next()) out.push([text.slice(c.nameStart, c.nameEnd), c.hasValue ? text.slice(c.valueStart, c.valueEnd) : null, c.quote, c.closed]);
  return out;
}

describe("FieldCursor", () => {
  test("bare, double and single quoted values, words", () => {
    expect(walk(`arch=c000003e syscall=62 comm="a b" avc:  denied  { read } msg='op=x res=1' tty=(none)`)).toEqual([
      ["arch", "c000003e", 0, true],
      ["syscall", "62", 0, true],
      ["comm", "a b", 0x22, true],
      ["avc:", null, 0, true],
      ["denied", null, 0, true],
      ["{", null, 0, true],
      ["read", null, 0, true],
      ["}", null, 0, true],
      ["msg", "op=x res=1", 0x27, true],
      ["tty", "(none)", 0, true],
    ]);
  });
  test("a single quote ends only before a space, 0x1d or the end", () => {
    expect(walk(`msg='it's ok'\u001dUID="root"`)).toEqual([
      ["msg", "it's ok", 0x27, true],
      ["UID", "root", 0x22, true],
    ]);
  });
  test("unterminated quotes run to the end", () => {
    expect(walk(`a=1 comm="x y`)).toEqual([["a", "1", 0, true], ["comm", "x y", 0x22, false]]);
    expect(walk(`msg='x'y`)).toEqual([["msg", "x'y", 0x27, false]]);
  });
  test("empty values and a trailing word", () => {
    expect(walk(`a= b="" c`)).toEqual([["a", "", 0, true], ["b", "", 0x22, true], ["c", null, 0, true]]);
    expect(walk(`  `)).toEqual([]);
  });
  test("non-ASCII keeps string offsets and never makes a delimiter", () => {
    // U+0120 and U+0122 would be a space and a quote in latin1.
    expect(walk(`comm="é\u0120x" k=\u0122v \ud800=1`)).toEqual([["comm", "é\u0120x", 0x22, true], ["k", "\u0122v", 0, true], ["\ud800", "1", 0, true]]);
  });
  test("bounded by the range given", () => {
    const bytes = Buffer.from(`xx a=1 b="2" yy`);
    const c = new FieldCursor().reset(bytes, 3, 12);
    const names: string[] = [];
    while (c.next()) names.push(bytes.toString("latin1", c.nameStart, c.nameEnd) + "=" + bytes.toString("latin1", c.valueStart, c.valueEnd));
    expect(names).toEqual(["a=1", "b=2"]);
    expect(enrichedTailAt(Buffer.from("a=1\u001db=2"), 0, 5)).toBe(3);
    expect(enrichedTailAt(Buffer.from("a=1 b\u001d=2"), 0, 5)).toBe(-1);
  });
});
