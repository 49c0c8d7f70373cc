/**
 * capture's byte path (lib/sources/record-lines.ts RecordLineWriter, fed by the slot
 * reader) against the reference (lineToRecord, then JSON.stringify): the same
 * bytes, the same errors, the same counts, over every fixture, every corpus
 * file, a generated log and hand-made edge cases.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { DEFAULT_SEED, generateString } from "../bench/gen-log.ts";
import { InputErrors } from "../lib/audit/input-errors.ts";
import { lineToRecord } from "../lib/sources/record-lines.ts";
import { OomJoiner } from "../lib/sources/kernel-oom.ts";
import { captureFiles } from "../lib/sources/capture-run.ts";
import { LineWriter } from "../lib/bytes/line-writer.ts";
import { corpusDir, fixturesDir } from "./helpers/run.ts";

const dir = mkdtempSync(join(tmpdir(), "wk-capture-bytes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function walk(path: string): string[] {
  return readdirSync(path).flatMap((name) => {
    const full = join(path, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

/** The reference: every line through lineToRecord and JSON.stringify, as the string path always did. */
function reference(path: string) {
  const messages: string[] = [];
  const errors = new InputErrors({ strict: false, print: (m) => messages.push(m), printLimit: 10_000 });
  const stats = { records: 0, structural: 0 };
  const text = readFileSync(path).toString("utf8");
  const lines = text.split("\n");
  if (lines[lines.length - 1] === "") lines.pop();
  const oom = new OomJoiner();
  const out = lines
    .map((line, i) => lineToRecord(line.endsWith("\r") ? line.slice(0, -1) : line, { file: path, line: i + 1 }, errors, stats, oom))
    .filter((record) => record !== null)
    .map((record) => `${JSON.stringify(record)}\n`)
    .join("");
  return { out, messages, stats: { ...stats, notAudit: errors.notAudit } };
}

async function viaBytes(path: string) {
  const messages: string[] = [];
  const errors = new InputErrors({ strict: false, print: (m) => messages.push(m), printLimit: 10_000 });
  const outPath = join(dir, "out.jsonl");
  const fd = openSync(outPath, "w");
  let stats;
  try {
    const writer = new LineWriter(fd, 4096);
    stats = await captureFiles([path], { rotated: false, errors, writer });
    writer.flush();
  } finally {
    closeSync(fd);
  }
  return { out: readFileSync(outPath, "utf8"), messages, stats: { records: stats.records, structural: stats.structural, notAudit: errors.notAudit } };
}

async function expectSame(path: string) {
  const want = reference(path);
  const got = await viaBytes(path);
  expect(got.out).toBe(want.out);
  expect(got.messages).toEqual(want.messages);
  expect(got.stats).toEqual(want.stats);
}

describe("capture: bytes written straight from the line = JSON.stringify(lineToRecord(line))", () => {
  const inputs = [
    ...readdirSync(fixturesDir)
      .filter((name) => name.endsWith(".log"))
      .map((name) => join(fixturesDir, name)),
    ...walk(corpusDir).filter((path) => !/\.(ausearch-[\w-]+|aureport)\.txt$|SOURCES\.md$|ORACLE-RUNS\.tsv$/.test(path)),
  ];
  for (const path of inputs) test(relative(join(import.meta.dir, ".."), path), async () => expectSame(path));

  test("a generated log", async () => {
    const path = join(dir, "generated.log");
    writeFileSync(path, generateString({ seed: DEFAULT_SEED, lines: 20_000 }).text);
    await expectSame(path);
  });

  test("quotes, backslashes and control characters in node, type and raw; CRLF; non-ASCII; no final newline", async () => {
    const lines = [
      'node=we"b\\1 type=SYSCALL msg=audit(1700000000.001:7): arch=c000003e syscall=62 comm="a\tb" key=(null)\r',
      'type=WEIRD"TYPE msg=audit(1700000000.002:8): x=\u0001\u001f\u007f y="\\" z=\u001dUID="root"',
      'type=USER_END msg=audit(1700000000.003:9): acct="jürgen" res=success',
      "type=1300 audit(1700000000.004:10): arch=c000003e syscall=62",
      "node= type=SYSCALL msg=audit(1.2:3): x=1",
      "type=SYSCALL msg=audit(1700000000.005:11)",
      "garbage",
      "type=PROCTITLE msg=audit(1700000000.006:12): proctitle=6B",
    ];
    const path = join(dir, "edges.log");
    writeFileSync(path, lines.join("\n"));
    await expectSame(path);
  });
});
