/**
 * A line past MAX_LINE_BYTES (a run of NUL bytes a crash left, a file that is
 * not a log) is skipped as it streams by and reported with its line number;
 * the lines around it are read as if it were any other bad line. Both line
 * readers: SlotReader (decode, attribute, report, capture FILE) and
 * LineSplitter (capture --follow, --checkpoint).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LineSplitter, MAX_JSON_LINE_BYTES, MAX_LINE_BYTES } from "../lib/sources/lines.ts";
import { SlotReader } from "../lib/sources/slot-reader.ts";
import { runScriptProcess as runScript } from "./helpers/run.ts";

const dir = mkdtempSync(join(tmpdir(), "wk-long-lines-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = (serial: number) => `type=USER_CMD msg=audit(1700000000.${String(serial).padStart(3, "0")}:${serial}): pid=${serial} uid=0`;

/** Lines as written, and what a reader must make of them: the line's text, or its length when too long. */
const LINES: string[] = [
  record(1),
  "\0".repeat(3 * MAX_LINE_BYTES),
  record(2),
  "x".repeat(MAX_LINE_BYTES),
  "y".repeat(MAX_LINE_BYTES + 1),
  record(3),
  "z".repeat(MAX_LINE_BYTES + 5000),
  record(4),
  // JSON (an upstream stage's line: decode's event lines can be megabytes) is read whole, however long.
  `{"kind":"note","pad":"${"p".repeat(3 * MAX_LINE_BYTES)}"}`,
];
const TEXT = Buffer.from(LINES.join("\n") + "\n" + "w".repeat(2 * MAX_LINE_BYTES));
const EXPECTED = [...LINES, "w".repeat(2 * MAX_LINE_BYTES)].map((line) => (line.length > MAX_LINE_BYTES && !line.startsWith("{") ? { tooLong: line.length } : { text: line }));

function chunks(size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < TEXT.length; at += size) out.push(Buffer.from(TEXT.subarray(at, at + size)));
  return out;
}

describe("lines past MAX_LINE_BYTES", () => {
  for (const size of [4096, 65_536, 1_000_003, 8 << 20]) {
    test(`SlotReader, chunks of ${size} bytes`, async () => {
      const got: Array<{ line: number; text?: string; tooLong?: number }> = [];
      const sink = {
        line: (bytes: Buffer, start: number, end: number, line: number) => void got.push({ line, text: bytes.toString("latin1", start, end) }),
        reuse: () => {},
        inputError: (line: number, problem: string) => void got.push({ line, tooLong: Number(/a line of (\d+) bytes/.exec(problem)![1]) }),
      };
      for await (const _ of new SlotReader({ readBytes: 1 << 20 }).batchesOf(chunks(size), sink));
      expect(got).toEqual(EXPECTED.map((e, i) => ({ line: i + 1, ...e })));
    });

    test(`LineSplitter, chunks of ${size} bytes: offsets run on past a skipped line`, () => {
      const splitter = new LineSplitter();
      const got: Array<{ line: number; offset: number; end: number; text?: string; tooLong?: number }> = [];
      const emit = (l: { line: number; offset: number; end: number; bytes: Buffer; tooLong?: number }) =>
        void got.push(l.tooLong === undefined ? { line: l.line, offset: l.offset, end: l.end, text: l.bytes.toString("latin1") } : { line: l.line, offset: l.offset, end: l.end, tooLong: l.tooLong });
      for (const chunk of chunks(size)) splitter.push(chunk, emit);
      const last = splitter.flush();
      if (last) emit(last);
      let offset = 0;
      const want = EXPECTED.map((e, i) => {
        const length = "text" in e ? e.text!.length : e.tooLong!;
        const row = { line: i + 1, offset, end: offset + length + (i < LINES.length ? 1 : 0), ...e };
        offset = row.end;
        return row;
      });
      expect(got).toEqual(want);
    });
  }

  test("LineSplitter names the limit each skipped line passed: a JSON line's own, whole or across chunks", () => {
    const json = `{"pad":"${"p".repeat(MAX_JSON_LINE_BYTES)}"}`;
    const text = Buffer.from(`${json}\n${"r".repeat(MAX_LINE_BYTES + 1)}\n${json}`);
    for (const size of [1 << 20, 32 << 20]) {
      const splitter = new LineSplitter();
      const got: Array<{ tooLong?: number; limit?: number }> = [];
      for (let at = 0; at < text.length; at += size) splitter.push(text.subarray(at, at + size), (l) => void got.push({ tooLong: l.tooLong, limit: l.limit }));
      const last = splitter.flush();
      got.push({ tooLong: last?.tooLong, limit: last?.limit });
      expect(got).toEqual([
        { tooLong: json.length, limit: MAX_JSON_LINE_BYTES },
        { tooLong: MAX_LINE_BYTES + 1, limit: MAX_LINE_BYTES },
        { tooLong: json.length, limit: MAX_JSON_LINE_BYTES },
      ]);
    }
  });

  test("decode and capture report the line and read on; nothing is held whole", async () => {
    const path = join(dir, "damaged.log");
    writeFileSync(path, TEXT);
    const decode = await runScript("decode", ["--no-lookup", path]);
    const events = decode.stdout.trim().split("\n").map((l) => JSON.parse(l) as { id: string });
    expect(events.map((e) => e.id)).toEqual(["1700000000.001:1", "1700000000.002:2", "1700000000.003:3", "1700000000.004:4"]);
    for (const [line, length] of [[2, 3 * MAX_LINE_BYTES], [5, MAX_LINE_BYTES + 1], [7, MAX_LINE_BYTES + 5000], [10, 2 * MAX_LINE_BYTES]] as const) {
      expect(decode.stderr).toContain(`${path}:${line}: a line of ${length} bytes, longer than any audit record`);
    }
    // Line 4 is exactly the limit: read, and reported as what it is.
    expect(decode.stderr).toContain(`${path}:4: not an audit record`);
    expect(decode.stderr).toContain(`${path}:9: `);
    expect(decode.stderr).not.toContain(`${path}:9: a line of`);
    expect(decode.stderr).toContain("6 errors");
    const capture = await runScript("capture", ["--file", path]);
    expect(capture.stdout.trim().split("\n")).toHaveLength(4);
    expect(capture.stderr).toContain(`${path}:10: a line of ${2 * MAX_LINE_BYTES} bytes`);
  });

  test("under --strict the message says the run stops, not that the line was skipped (every reader: decode, attribute, capture FILE, capture --checkpoint)", async () => {
    const path = join(dir, "strict.log");
    writeFileSync(path, `${record(1)}\n${"x".repeat(MAX_LINE_BYTES + 1)}\n${record(2)}\n`);
    const runs = [
      ["decode", ["--strict", "--no-lookup", path]],
      ["attribute", ["--strict", "--no-lookup", path]],
      ["capture", ["--strict", path]],
      ["capture", ["--strict", "--checkpoint", join(dir, "strict.checkpoint"), path]],
    ] as const;
    for (const [script, args] of runs) {
      const r = await runScript(script, [...args]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${path}:2: a line of ${MAX_LINE_BYTES + 1} bytes, longer than any audit record (at most ${MAX_LINE_BYTES} are read as one line): --strict stops the run here`);
      expect(r.stderr).not.toContain("skipped");
    }
  });

  test("decode's event line of a group kill of 8,000 processes (megabytes) goes on to attribute whole", async () => {
    const stamp = "msg=audit(1700000000.100:50): ";
    const lines = [
      `type=SYSCALL ${stamp}arch=c000003e syscall=62 success=yes exit=0 a0=ffffff00 a1=f a2=0 a3=0 items=0 ppid=1 pid=7 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="sh" exe="/bin/sh" key=(null)`,
      ...Array.from({ length: 8000 }, (_, i) => `type=OBJ_PID ${stamp}opid=${1000 + i} oauid=0 ouid=0 oses=1 obj=unconfined ocomm="worker"`),
    ];
    const raw = join(dir, "group-kill.log");
    writeFileSync(raw, lines.join("\n") + "\n");
    const decode = await runScript("decode", ["--no-lookup", raw]);
    expect(decode.stdout.length).toBeGreaterThan(MAX_LINE_BYTES);
    const events = join(dir, "group-kill.jsonl");
    writeFileSync(events, decode.stdout);
    const attribute = await runScript("attribute", ["--no-lookup", events]);
    const signals = attribute.stdout.trim().split("\n").map((l) => JSON.parse(l) as { victims: unknown[]; target: { scope: string } });
    expect(signals).toHaveLength(1);
    expect(signals[0]!.target.scope).toBe("group");
    expect(signals[0]!.victims).toHaveLength(8000);
    expect(attribute.stderr).toContain("0 errors");
  });
});
