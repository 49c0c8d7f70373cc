/**
 * Golden fixtures: every test/fixtures/*.log is decoded (and attributed) and
 * compared with the *.jsonl (and *.signals.jsonl) beside it. Host lookups are
 * off (a fixed passwd/group), so output is the same on every machine.
 * Goldens are written only under WHOKILLED_UPDATE_GOLDEN=1:
 *   WHOKILLED_UPDATE_GOLDEN=1 bun test test/golden.test.ts   (then review with git diff)
 * Without it a missing golden fails its test, so a fixture added without its
 * goldens, or a golden lost, cannot pass by writing what the code says today.
 * Each golden is checked twice: through the object path (readInputs + push)
 * and through the streaming byte path the scripts run (helpers/streams.ts).
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { attributeFiles, decodeFiles, fixturesDir } from "./helpers/run.ts";
import { attributeScript, decodeScript } from "./helpers/streams.ts";

const update = process.env.WHOKILLED_UPDATE_GOLDEN === "1";
const logs = readdirSync(fixturesDir).filter((name) => name.endsWith(".log")).sort();
const toJsonl = (lines: unknown[]) => lines.map((line) => JSON.stringify(line)).join("\n") + (lines.length ? "\n" : "");

/** Longest first, so x.signals.jsonl is not taken for a golden of "x.signals". */
const GOLDEN_SUFFIXES = [".signals.jsonl", ".errors.txt", ".jsonl"];

function compareGolden(goldenPath: string, actual: string) {
  if (update) {
    writeFileSync(goldenPath, actual);
    return;
  }
  if (!existsSync(goldenPath)) {
    throw new Error(`golden ${relative(process.cwd(), goldenPath)} is missing: make it with WHOKILLED_UPDATE_GOLDEN=1 bun test test/golden.test.ts and review it`);
  }
  expect(actual).toBe(readFileSync(goldenPath, "utf8"));
}

describe("golden fixtures", () => {
  test("there are fixtures", () => expect(logs.length).toBeGreaterThanOrEqual(8));
  test("every golden belongs to a fixture log (none left over)", () => {
    const stems = new Set(logs.map((name) => name.replace(/\.log$/, "")));
    const orphans = readdirSync(fixturesDir).filter((name) => {
      const suffix = GOLDEN_SUFFIXES.find((s) => name.endsWith(s));
      return suffix !== undefined && !stems.has(name.slice(0, -suffix.length));
    });
    expect(orphans).toEqual([]);
  });
  test("every fixture log has its three goldens", () => {
    const lacking = update ? [] : logs.flatMap((name) =>
      [".jsonl", ".signals.jsonl", ".errors.txt"].map((suffix) => name.replace(/\.log$/, suffix)).filter((golden) => !existsSync(join(fixturesDir, golden))),
    );
    expect(lacking).toEqual([]);
  });
  for (const name of logs) {
    // Paths relative to the repo root, so source refs in the output do not depend on the checkout's location.
    const path = relative(process.cwd(), join(fixturesDir, name));
    test(`decode ${name}`, async () => {
      const { lines, messages } = await decodeFiles([path]);
      compareGolden(join(fixturesDir, name.replace(/\.log$/, ".jsonl")), toJsonl(lines));
      compareGolden(join(fixturesDir, name.replace(/\.log$/, ".errors.txt")), messages.join("\n") + (messages.length ? "\n" : ""));
    });
    test(`decode ${name}, as scripts/decode.ts streams it`, async () => {
      const { text, messages } = await decodeScript([path]);
      if (update) return;
      expect(text).toBe(readFileSync(join(fixturesDir, name.replace(/\.log$/, ".jsonl")), "utf8"));
      expect(messages.join("\n") + (messages.length ? "\n" : "")).toBe(readFileSync(join(fixturesDir, name.replace(/\.log$/, ".errors.txt")), "utf8"));
    });
    test(`attribute ${name}`, async () => {
      const { lines } = await attributeFiles([path], { probes: true });
      compareGolden(join(fixturesDir, name.replace(/\.log$/, ".signals.jsonl")), toJsonl(lines));
    });
    test(`attribute ${name}, as scripts/attribute.ts streams it`, async () => {
      const { text } = await attributeScript([path], { probes: true });
      if (update) return;
      expect(text).toBe(readFileSync(join(fixturesDir, name.replace(/\.log$/, ".signals.jsonl")), "utf8"));
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
