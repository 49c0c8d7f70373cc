/**
 * attribute's byte prefilter (lib/signals/prefilter.ts) must not change what
 * attribute says: over every fixture, every corpus file and a generated log,
 * the signal lines with it are the ones without it (every line decoded). Its
 * own line splitting must not depend on where chunks end, or on CRLF, a
 * missing last newline, or a line longer than its carry area.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { DEFAULT_SEED, generateString } from "../bench/gen-log.ts";
import { RecordLineReader } from "../lib/audit/bytes/record-line.ts";
import { isAsciiRange } from "../lib/bytes/read.ts";
import type { RecordLine } from "../lib/schema.ts";
import { cursorExecvePid, execvePid, SignalLinePrefilter } from "../lib/signals/prefilter.ts";
import { SlotReader } from "../lib/sources/slot-reader.ts";
import { attributeFiles, auditLogsUnder, corpusDir, fixturesDir, writeRecordLines } from "./helpers/run.ts";

const dir = mkdtempSync(join(tmpdir(), "wk-prefilter-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const generated = join(dir, "generated.log");
writeFileSync(generated, generateString({ seed: DEFAULT_SEED, lines: 20_000 }).text);

/** What the prefilter keeps, with line numbers, and its counters, for these chunks of one input (split as attribute does). */
async function keptLines(chunks: Buffer[], readBytes?: number) {
  const prefilter = new SignalLinePrefilter();
  const kept: Array<[string, number]> = [];
  // Kept lines come as bytes, valid only during the call: their text is taken at once.
  const take = (bytes: Buffer, start: number, end: number, number: number) => void kept.push([bytes.toString("utf8", start, end), number]);
  const inputError = (line: number, problem: string) => {
    throw new Error(`no input here is bad: line ${line}: ${problem}`);
  };
  for await (const _ of new SlotReader({ readBytes }).batchesOf(chunks, { ...prefilter.sink(take, () => {}), inputError }));
  prefilter.finish();
  return { kept, skipped: prefilter.skipped, sighted: prefilter.sighted };
}

function chunked(bytes: Buffer, size: (i: number) => number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = Math.max(1, size(i));
    // Fresh copies: the prefilter must not rely on a chunk outliving the call.
    chunks.push(Buffer.from(bytes.subarray(at, at + n)));
    at += n;
  }
  return chunks;
}

describe("an execve sighting's pid", () => {
  test("the plain-line scan reads what the field cursor reads, on plain and awkward lines alike", () => {
    const head = "msg=audit(1700000000.100:7): arch=c000003e syscall=59";
    const pieces = [" success=yes", " success=no", " success=\"no\"", " success", " pid=42", " pid=4x2", " pid", " pid=\"43\"", " ppid=1", " comm=\"a pid=9\"", " msg='pid=8 '", " a0=\u001d", "\u001dpid=6", "\x1dpid=5", " exit=0", " x=\\", "  ", " pid=44\x1d", " pid=45\\u001d", " a1=\\u001d"];
    let state = 12345;
    const random = (n: number) => ((state = (state * 1103515245 + 12345) % 2147483648) % n);
    for (let round = 0; round < 4000; round++) {
      let line = head;
      for (let k = random(9); k >= 0; k--) line += pieces[random(pieces.length)];
      const bytes = Buffer.from(line, "latin1");
      for (const escaped of [false, true]) expect(execvePid(bytes, 0, bytes.length, escaped)).toBe(cursorExecvePid(bytes, 0, bytes.length, escaped));
    }
  });
});

describe("prefilter line splitting", () => {
  const sample = readFileSync(generated);
  const whole = keptLines([sample]);
  const lineCount = sample.toString("latin1").split("\n").length - 1;

  test("keeps few lines, and accounts for every line", async () => {
    const { kept, skipped, sighted } = await whole;
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(lineCount / 5);
    expect(kept.length + skipped + sighted).toBe(lineCount);
  });

  for (const [name, size] of [
    ["1-byte chunks", () => 1],
    ["7-byte chunks", () => 7],
    ["uneven chunks", (i: number) => ((i * 7919) % 4093) + 1],
    ["64 KiB chunks", () => 65536],
  ] as const) {
    test(`same lines from ${name}`, async () => {
      // 1-byte chunks over the whole sample would be slow; the first 300 KB has every kind of line.
      const bytes = name === "1-byte chunks" ? sample.subarray(0, sample.indexOf(0x0a, 300_000) + 1) : sample;
      const expected = await (name === "1-byte chunks" ? keptLines([bytes]) : whole);
      expect(await keptLines(chunked(bytes, size))).toEqual(expected);
    });
  }

  test("CRLF, no final newline, and a line longer than the carry area", async () => {
    const syscall =
      'type=SYSCALL msg=audit(1700000000.001:7): arch=c000003e syscall=62 success=yes exit=0 a0=2a a1=9 a2=0 a3=0 items=0 ppid=1 pid=100 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="k" exe="/k" key=(null)';
    const objPid = "type=OBJ_PID msg=audit(1700000000.001:7): opid=42 oauid=-1 ouid=0 oses=-1 ocomm=\"v\"";
    const proctitle = "type=PROCTITLE msg=audit(1700000000.001:7): proctitle=6B";
    // Past the 64 KiB carry area, within the 1 MiB a line may have (lines past it are skipped: long-lines.test.ts).
    const long = "x".repeat(900_000);
    const other = "type=CWD msg=audit(1700000000.002:8): cwd=\"/\"";
    const text = [syscall, long, objPid, other, proctitle].join("\r\n");
    const expected: Array<[string, number]> = [
      [syscall, 1],
      [long, 2],
      [objPid, 3],
      [proctitle, 5],
    ];
    for (const size of [text.length, 1 << 20, 100_000, 4099]) {
      const result = await keptLines(chunked(Buffer.from(text), () => size));
      expect(result.kept).toEqual(expected);
      expect(result.skipped).toBe(1);
    }
  });

  test("PROCTITLE before its SYSCALL (ausearch pastes) is held and released", async () => {
    const lines = [
      "type=PROCTITLE msg=audit(1700000000.001:7): proctitle=6B",
      "type=CWD msg=audit(1700000000.001:7): cwd=\"/\"",
      "type=SYSCALL msg=audit(1700000000.001:7): arch=c000003e syscall=62 success=yes exit=0 a0=2a a1=9 a2=0 a3=0 items=0 ppid=1 pid=100 comm=\"k\" exe=\"/k\"",
      "type=PROCTITLE msg=audit(1700000000.005:9): proctitle=6B",
    ];
    const result = await keptLines(chunked(Buffer.from(lines.join("\n") + "\n"), () => 30));
    expect(result.kept).toEqual([
      [lines[0]!, 1],
      [lines[2]!, 3],
    ]);
    expect(result.skipped).toBe(2);
    // Held while the reader's four slots go round several times: the line is kept as text before its slot is reused.
    const between = Array.from({ length: 40 }, (_, i) => `type=CWD msg=audit(1700000000.00${i % 10}:${100 + i}): cwd="/tmp/${i}"`);
    const far = [lines[0]!, ...between, lines[2]!];
    const farResult = await keptLines(chunked(Buffer.from(far.join("\n") + "\n"), () => 30), 100);
    expect(farResult.kept).toEqual([
      [lines[0]!, 1],
      [lines[2]!, 42],
    ]);
    expect(farResult.skipped).toBe(40);
  });
});

describe("record lines read from bytes (RecordLineReader)", () => {
  /** Each line as the decoder reads it: the object JSON.parse makes of it, or null where the reader declines it. */
  function readLines(text: string): Array<RecordLine | null> {
    const reader = new RecordLineReader();
    return text.split("\n").filter(Boolean).map((line) => {
      const bytes = Buffer.from(line);
      return reader.read(bytes, 0, bytes.length) && isAsciiRange(bytes, 0, bytes.length) && reader.unescape() ? reader.toRecordLine() : null;
    });
  }

  test("a record line is the object JSON.parse makes of it, or declined when its shape is unusual", () => {
    const text = readFileSync(writeRecordLines(generated, join(dir, "kept-records.jsonl")), "utf8");
    const lines = text.split("\n").filter(Boolean);
    const read = readLines(text);
    expect(read.filter((line) => line !== null).length).toBeGreaterThan(100);
    read.forEach((line, i) => line === null || expect(line).toEqual(JSON.parse(lines[i]!)));
    // Escapes that are not ASCII, another key order, a node: read the same or declined.
    const odd = [
      { kind: "record", type: "SYSCALL", id: "1.000:1", node: "h", raw: 'type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=62 success=yes exit=0 a0=1 a1=9 a2=0 a3=0 items=0 ppid=1 pid=2 comm="x" exe="/x"', source: { file: "/tmp/a.log", line: 3 } },
      { kind: "record", type: "SYSCALL", id: "1.000:2", node: null, raw: "type=SYSCALL msg=audit(1.000:2): arch=c000003e syscall=62 success=yes exit=0 a0=1 a1=9 a2=0 a3=0 items=0 ppid=1 pid=2 comm=\"x\u001dy\" exe=\"/x\"\u001dUID=\"root\"", source: { file: "f", line: 4 } },
    ].map((record) => JSON.stringify(record));
    odd.push(odd[1]!.replace('"node":null,', "").replace('"source":', '"node":null,"source":'));
    // An escape JSON.stringify never writes: \u00e9 for é (refused by the byte reader, so parsed as text).
    odd.push(String.raw`{"kind":"record","type":"SYSCALL","id":"1.000:5","node":null,"raw":"type=SYSCALL msg=audit(1.000:5): arch=c000003e syscall=62 success=yes exit=0 a0=1 a1=9 a2=0 a3=0 items=0 ppid=1 pid=2 comm=\u00e9","source":{"file":"f","line":5}}`);
    const oddRead = readLines(odd.join("\n"));
    expect(oddRead.map((line) => line !== null)).toEqual([true, true, false, false]);
    oddRead.forEach((line, i) => line === null || expect(line).toEqual(JSON.parse(odd[i]!)));
  });
});

let recordFiles = 0;

describe("attribute: the prefilter changes nothing", () => {
  const inputs = [
    ...readdirSync(fixturesDir)
      .filter((name) => name.endsWith(".log"))
      .map((name) => join(fixturesDir, name)),
    ...auditLogsUnder(corpusDir),
    generated,
  ];
  test("there are inputs", () => expect(inputs.length).toBeGreaterThan(10));
  for (const path of inputs) {
    test(relative(join(import.meta.dir, ".."), path), async () => {
      const fast = await attributeFiles([path], { probes: true });
      const full = await attributeFiles([path], { probes: true }, undefined, { prefilter: false });
      expect(fast.lines).toEqual(full.lines);
      expect(fast.messages).toEqual(full.messages);
      // The same input as capture's `record` lines (`capture | attribute`), judged inside the JSON.
      const records = writeRecordLines(path, join(dir, `records-${recordFiles++}.jsonl`));
      const fastRecords = await attributeFiles([records], { probes: true });
      const fullRecords = await attributeFiles([records], { probes: true }, undefined, { prefilter: false });
      expect(fastRecords.lines).toEqual(fullRecords.lines);
      expect(fastRecords.messages).toEqual(fullRecords.messages);
      expect(fastRecords.signals.length).toBe(fast.signals.length);
    });
  }
});

describe("attribute --since/--until: kills outside the window are left unread, and nothing else changes", () => {
  // The seed puts an OBJ_PID before its SYSCALL (an ausearch paste); multi-node has hosts, and
  // in multi-node-same-stamp a kill left unread and one read share serial and milliseconds.
  const inputs = ["live-kill-family.log", "seed.log", "multi-node.log", "multi-node-same-stamp.log"].map((name) => join(fixturesDir, name)).concat(generated);
  for (const path of inputs) {
    test(relative(join(import.meta.dir, ".."), path), async () => {
      const all = await attributeFiles([path], { probes: true }, undefined, { prefilter: false });
      const times = [...new Set(all.signals.map((s) => Date.parse(s.time!)))].sort((a, b) => a - b);
      expect(times.length).toBeGreaterThan(1);
      // From the second signal's time to the last one's (excluded, where there are three or more): some inside, some out.
      const until = times.length > 2 ? { until: String(times.at(-1)! / 1000) } : {};
      const window = { probes: true, since: String(times[1]! / 1000), ...until };
      const fast = await attributeFiles([path], window);
      const full = await attributeFiles([path], window, undefined, { prefilter: false });
      expect(fast.lines).toEqual(full.lines);
      expect(fast.messages).toEqual(full.messages);
      expect(fast.stats.filtered).toBe(full.stats.filtered);
      expect(fast.stats.filtered).toBeGreaterThan(0);
      expect(fast.signals.length).toBeGreaterThan(0);
      const records = writeRecordLines(path, join(dir, `window-${recordFiles++}.jsonl`));
      const fromRecords = await attributeFiles([records], window);
      expect(fromRecords.signals).toEqual(fast.signals);
      expect(fromRecords.stats.filtered).toBe(full.stats.filtered);
    });
  }
});
