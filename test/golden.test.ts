/**
 * Golden fixtures: every test/fixtures/*.log is decoded (and attributed) and
 * compared with the *.jsonl (and *.signals.jsonl) beside it. Host lookups are
 * off (a fixed passwd/group), so output is the same on every machine.
 * Regenerate with WHOKILLED_UPDATE_GOLDEN=1 bun test test/golden.test.ts, then
 * review with git diff.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { attributeFiles, decodeFiles, fixturesDir } from "./helpers/run.ts";

const update = process.env.WHOKILLED_UPDATE_GOLDEN === "1";
const logs = readdirSync(fixturesDir).filter((name) => name.endsWith(".log")).sort();
const toJsonl = (lines: unknown[]) => lines.map((line) => JSON.stringify(line)).join("\n") + (lines.length ? "\n" : "");

function compareGolden(goldenPath: string, actual: string) {
  if (update || !existsSync(goldenPath)) {
    writeFileSync(goldenPath, actual);
    return;
  }
  expect(actual).toBe(readFileSync(goldenPath, "utf8"));
}

describe("golden fixtures", () => {
  test("there are fixtures", () => expect(logs.length).toBeGreaterThanOrEqual(8));
  for (const name of logs) {
    // Paths relative to the repo root, so source refs in the output do not depend on the checkout's location.
    const path = relative(process.cwd(), join(fixturesDir, name));
    test(`decode ${name}`, async () => {
      const { lines, messages } = await decodeFiles([path]);
      compareGolden(join(fixturesDir, name.replace(/\.log$/, ".jsonl")), toJsonl(lines));
      compareGolden(join(fixturesDir, name.replace(/\.log$/, ".errors.txt")), messages.join("\n") + (messages.length ? "\n" : ""));
    });
    test(`attribute ${name}`, async () => {
      const { lines } = await attributeFiles([path], { probes: true });
      compareGolden(join(fixturesDir, name.replace(/\.log$/, ".signals.jsonl")), toJsonl(lines));
    });
  }
});

test("a field named __proto__ is kept as data, not as a prototype", async () => {
  const { parseFields } = await import("../lib/audit/fields.ts");
  const parsed = parseFields('__proto__=evil toString=x uid=1 uid=2');
  expect(Object.getPrototypeOf(parsed.fields)).toBe(Object.prototype);
  expect(JSON.parse(JSON.stringify(parsed.fields))).toEqual({ ["__proto__"]: "evil", toString: "x", uid: "1", "uid#2": "2" });
});

test("repeated names are numbered in order, past names that already look numbered", async () => {
  const { parseFields } = await import("../lib/audit/fields.ts");
  const parsed = parseFields("a=1 a#2=x a=2 a=3 a#4=y a=4");
  expect(Object.entries(parsed.fields)).toEqual([
    ["a", "1"],
    ["a#2", "x"],
    ["a#3", "2"],
    ["a#4", "3"],
    ["a#4#2", "y"],
    ["a#5", "4"],
  ]);
  // Thousands of repeats (a crafted user-space record) keep every value, numbered in turn.
  const many = parseFields(Array.from({ length: 5000 }, (_, i) => `x=${i}`).join(" "));
  const keys = Object.keys(many.fields);
  expect(keys.length).toBe(5000);
  expect(keys[4999]).toBe("x#5000");
  expect(many.fields["x#5000"]).toBe("4999");
});
