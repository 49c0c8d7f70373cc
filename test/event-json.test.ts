/**
 * decode's byte writer (lib/audit/bytes/event-writer.ts) against the reference path
 * (JSON.stringify of interpretEvent): the same bytes, line by line, over the
 * golden fixtures, every corpus file, a generated log, hand-made edge cases
 * and the generated log with characters sprinkled in at random.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { DEFAULT_SEED, Rng, generateString } from "../bench/gen-log.ts";
import { IdNames } from "../lib/audit/ids.ts";
import { InputErrors } from "../lib/audit/input-errors.ts";
import { LineWriter } from "../lib/bytes/line-writer.ts";
import { readInputs } from "../lib/sources/inputs.ts";
import { EventJsonSink, EventStage, runDecode, type DecodeSettings } from "../lib/audit/event-stage.ts";
import { SlotReader } from "../lib/sources/slot-reader.ts";
import { corpusDir, fixturesDir, foreignLogIds, localLogIds, oracleIds, testHost, writeRecordLines } from "./helpers/run.ts";

const dir = mkdtempSync(join(tmpdir(), "wk-event-json-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const noLookup: DecodeSettings = { lookup: false };

function errors(): InputErrors {
  return new InputErrors({ strict: false, print: () => {}, printLimit: 0 });
}

/** The reference: every line the stage returns, JSON.stringify'd. */
async function reference(path: string, settings: DecodeSettings): Promise<string> {
  const stage = new EventStage(settings, errors());
  const out: string[] = [];
  for await (const batch of readInputs([path], stage.errors)) for (const line of stage.push(batch)) out.push(JSON.stringify(line));
  for (const line of stage.flush()) out.push(JSON.stringify(line));
  return out.map((line) => `${line}\n`).join("");
}

/**
 * decode's path: the stage writing bytes to a file, fed lines as bytes
 * (decode's reader) or as strings (how `record` lines from capture arrive).
 * The reader's chunks are readInputs' size (both read with a SlotReader), so events close in the same order.
 */
async function fast(path: string, settings: DecodeSettings, input: "bytes" | "strings" = "bytes"): Promise<{ text: string; counts: { fast: number; reference: number } }> {
  const outPath = join(dir, "out.jsonl");
  const fd = openSync(outPath, "w");
  try {
    // A small buffer, so lines also cross flushes.
    const writer = new LineWriter(fd, 4096);
    let counts: { fast: number; reference: number };
    if (input === "bytes") counts = (await runDecode([path], settings, errors(), writer, { reader: new SlotReader() })).counts;
    else {
      const ids = new IdNames(settings);
      const sink = new EventJsonSink(writer, ids);
      const stage = new EventStage(settings, errors(), sink);
      for await (const batch of readInputs([path], stage.errors)) expect(stage.push(batch)).toEqual([]);
      expect(stage.flush()).toEqual([]);
      counts = sink.json.counts;
    }
    writer.flush();
    return { text: readFileSync(outPath, "utf8"), counts };
  } finally {
    closeSync(fd);
  }
}

/** Compares line by line, for both inputs; returns how many events took the fast path and how many the reference one. */
async function expectSame(path: string, settings: DecodeSettings = oracleIds): Promise<{ fast: number; reference: number }> {
  const want = (await reference(path, settings)).split("\n");
  let counts = { fast: 0, reference: 0 };
  for (const input of ["strings", "bytes"] as const) {
    const result = await fast(path, settings, input);
    const got = result.text.split("\n");
    for (let i = 0; i < Math.max(want.length, got.length); i++) {
      if (got[i] !== want[i]) expect({ input, line: i + 1, got: got[i] }).toEqual({ input, line: i + 1, got: want[i] });
    }
    counts = result.counts;
  }
  return counts;
}

function walk(path: string): string[] {
  if (!existsSync(path)) return [];
  return readdirSync(path).flatMap((name) => {
    const full = join(path, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

const ORACLE_OUTPUT = /\.(ausearch-[\w-]+|aureport)\.txt$/;
const NOT_INPUT = new Set(["SOURCES.md", "ORACLE-RUNS.tsv", "README.txt"]);
const corpus = walk(corpusDir)
  .filter((path) => !ORACLE_OUTPUT.test(path) && !NOT_INPUT.has(path.split("/").pop()!))
  .sort();

describe("fixtures", () => {
  for (const name of readdirSync(fixturesDir).filter((n) => n.endsWith(".log")).sort()) {
    test(name, async () => {
      // Names from this host's passwd only for its own log (a node= naming another host is not): both ways agree.
      for (const settings of [localLogIds, foreignLogIds]) await expectSame(join(fixturesDir, name), settings);
      const counts = await expectSame(join(fixturesDir, name));
      // Not vacuous: events were written, unless the fixture holds none (its golden is empty).
      const golden = join(fixturesDir, name.replace(/\.log$/, ".jsonl"));
      const expectsEvents = !existsSync(golden) || readFileSync(golden).length > 0;
      expect(counts.fast + counts.reference > 0).toBe(expectsEvents);
    });
  }
});

describe("corpus", () => {
  test("the corpus is there", () => expect(corpus.length).toBeGreaterThan(50));
  for (const path of corpus) test(relative(corpusDir, path), async () => void (await expectSame(path)));
});

describe("capture's record lines (capture | decode)", () => {
  // Raw text unescaped in place from the JSON, or parsed as JSON where the shape is not capture's.
  const inputs = [...readdirSync(fixturesDir).filter((n) => n.endsWith(".log")).map((n) => join(fixturesDir, n)), ...corpus];
  let n = 0;
  for (const path of inputs) {
    test(relative(join(import.meta.dir, ".."), path), async () => void (await expectSame(writeRecordLines(path, join(dir, `records-${n++}.jsonl`)))));
  }
  test("shapes that are not capture's are parsed as JSON, and give the same events", async () => {
    const raw = 'type=SYSCALL msg=audit(1700000000.001:7): arch=c000003e syscall=62 success=yes exit=0 a0=2a a1=9 a2=0 a3=0 items=0 ppid=1 pid=100 comm="k\\x" exe="/k" key=(null)';
    const record = { kind: "record", type: "SYSCALL", id: "1700000000.001:7", node: null, raw, source: { file: "f", line: 1 } };
    const lines = [
      JSON.stringify(record),
      JSON.stringify({ ...record, source: { file: "f", line: 2, extra: true } }),
      JSON.stringify(record, null, 1).replace(/\n/g, ""),
      JSON.stringify({ ...record, node: "web\"1" }),
      JSON.stringify({ ...record, raw: raw.replace("k\\x", "k\u00e9") }),
      JSON.stringify({ ...record, type: "SIGNAL_GENERATE" }),
      JSON.stringify({ ...record, raw: `audit: ${raw}` }),
      JSON.stringify({ ...record, raw: raw.replace(":7)", ")") }),
    ];
    const path = join(dir, "record-shapes.jsonl");
    writeFileSync(path, lines.join("\n") + "\n");
    await expectSame(path);
  });
});

describe("generated log", () => {
  const { text } = generateString({ seed: DEFAULT_SEED, lines: 20_000 });
  const path = join(dir, "generated.log");
  writeFileSync(path, text);
  // Nearly all of it takes the fast path (AVC records, with words without a value, too).
  const mostlyFast = (counts: { fast: number; reference: number }) => {
    expect(counts.fast).toBeGreaterThan(5000);
    expect(counts.reference).toBeLessThan(counts.fast / 100);
  };
  test("20,000 lines, local names", async () => mostlyFast(await expectSame(path)));
  test("20,000 lines, --no-lookup", async () => mostlyFast(await expectSame(path, noLookup)));
  test("20,000 lines, another host's log: names only from its ENRICHED fields", async () => mostlyFast(await expectSame(path, foreignLogIds)));
  test("20,000 lines, this host's log: its passwd names what the log does not", async () =>
    mostlyFast(await expectSame(path, { lookup: true, thisHost: { ...testHost(true), logDirs: [dir] } })));

  test("with characters sprinkled in", async () => {
    // Every shape the scanner has to get right or hand over: quotes, separators,
    // escapes, non-ASCII, the ENRICHED separator, digits and repeated names.
    const rng = new Rng(7);
    const extras = ['"', "'", "=", " ", "  ", "\x1d", "\\", "\x01", "\x00", "\t", "é", "😀", "\ud800", "0", "uid=1 ", "msg='", "a1=", "=x", "__proto__=1 ", "_text=1 ", "7=x "];
    const lines = text.split("\n").slice(0, 6000);
    const mutated = lines.map((line, i) => {
      if (i % 3 !== 0 || line.length === 0) return line;
      let out = line;
      for (let n = rng.int(1, 3); n > 0; n--) {
        const at = rng.int(20, Math.max(20, out.length));
        out = out.slice(0, at) + rng.pick(extras) + out.slice(at);
      }
      return out;
    });
    const mutatedPath = join(dir, "mutated.log");
    writeFileSync(mutatedPath, mutated.join("\n") + "\n");
    const counts = await expectSame(mutatedPath);
    expect(counts.fast).toBeGreaterThan(1000);
    expect(counts.reference).toBeGreaterThan(100);
  });
});

describe("edge cases", () => {
  const cases: Record<string, string[]> = {
    "names and values": [
      'type=SYSCALL msg=audit(1700000000.001:1): arch=c000003e syscall=62 success=yes exit=0 a0=7b a1=9 a2=0 a3=0 items=0 ppid=1 pid=2 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="kill" exe="/usr/bin/kill" key="a\\b"',
      "type=OBJ_PID msg=audit(1700000000.001:1): opid=123 oauid=-1 ouid=0 oses=-1 obj=unconfined ocomm=736C656570",
      "type=PROCTITLE msg=audit(1700000000.001:1): proctitle=6B696C6C002D39003132330000",
      "type=SYSCALL msg=audit(1700000000.002:2): arch=40000003 syscall=270 success=no exit=-3 a0=1 a1=2 a2=ffffffff a3=0 pid=5 uid=007 auid=4294967295 ses=4294967295 comm=(null) exe=2F7573722F62696E2F74657374 key=6B31016B32",
      "type=PROCTITLE msg=audit(1700000000.002:2): proctitle=(null)",
      "type=PROCTITLE msg=audit(1700000000.002:2): proctitle=\"bash -c\"",
      "type=SYSCALL msg=audit(1700000000.003:3): a1=9 arch=c000003e syscall=62 a0=1 success=maybe exit=12345678901234567890 pid= uid= tty=(none) comm=\"x\" key=(null)",
      "type=SYSCALL msg=audit(1700000000.004:4): syscall=62 arch=c000003e a0=0 a1=0 comm=28 exe=E282AC key=\"k\"",
      "type=PROCTITLE msg=audit(1700000000.004:4): proctitle=00",
      "type=EXECVE msg=audit(1700000000.005:5): argc=4 a0=\"ls\" a1=2D6C a2=E282AC a3=22 a4=5C a5[0]=41 a5_len=2 a10=7F",
      "type=USER_CMD msg=audit(1700000000.006:6): pid=1 uid=0 auid=1000 ses=2 msg='cwd=\"/root\" cmd=6C73 terminal=pts/0 res=success'",
      "type=USER_LOGIN msg=audit(1700000000.007:7): pid=1 uid=0 msg='op=login id=1000 acct=\"x\" res=failed' extra='a'b' c",
      "type=AVC msg=audit(1700000000.008:8): avc:  denied  { read } for  pid=1 comm=\"x\" name=\"y\" scontext=a tcontext=b tclass=file permissive=0",
      "type=ANOM_ABEND msg=audit(1700000000.009:9): auid=1000 uid=1000 gid=1000 ses=1 pid=4 comm=\"a\" exe=\"/b\" sig=11 res=1",
      "type=LOGIN msg=audit(1700000000.010:10): pid=1 uid=0 old-auid=4294967295 auid=1000 tty=(none) old-ses=4294967295 ses=1 res=1\x1dUID=\"root\" OLD-AUID=\"unset\" AUID=\"alice \\\"a\\\"\"",
      "type=SYSCALL msg=audit(1700000000.011:11): arch=c000003e syscall=200 success=yes exit=0 a0=10 a1=9 pid=1 uid=1000 gid=1000 comm=\"a\"\x1dARCH=x86_64 SYSCALL=tkill UID=\"bob\" GID=\"bob\" UID=\"again\"",
      "type=SYSCALL msg=audit(1700000000.012:12): arch=c000003e syscall=424 success=yes exit=0 a0=3 a1=f a2=0 a3=0 pid=1 uid=0 \x1d\x1dUID=root  EUID",
      "node=web1 type=SYSCALL msg=audit(1700000000.013:13): arch=c000003e syscall=62 success=yes exit=0 a0=ffffffff a1=f pid=1 uid=0",
      "type=CWD msg=audit(1700000000.014:14): cwd=\"/tmp\" extra=\"unterminated",
      "type=PATH msg=audit(1700000000.015:15): item=0 name=\"caf\u00e9\" inode=1",
      "type=PATH msg=audit(1700000000.016:16): item=0 name=2F746D702F00 inode=1 ouid=0 ogid=0 constructor=1 toString=2 hasOwnProperty=3",
      "type=UNKNOWN[1334] msg=audit(1700000000.017:17): prog-id=1 op=LOAD",
      "type=1300 audit(1700000000.018:18): arch=c000003e syscall=62 a0=1 a1=0",
      "type=SYSCALL msg=audit(4398046511103.019:19): arch=c000003e syscall=1",
      "type=SYSCALL msg=audit(4398046511104.019:19): arch=c000003e syscall=1",
      "type=SYSCALL msg=audit(1700000000.1234:20): arch=c000003e syscall=1",
      "type=SYSCALL msg=audit(01700000000.021:021): arch=C000003E syscall=0x3e exit=-0x3 a0=1 a1=9 sig=0x9",
      "type=SYSCALL msg=audit(1700000000.022:22): =x = == arch=c000003e syscall=62 a0=1 a1=9 a2= a3 a4",
      "type=SYSCALL msg=audit(1700000000.023:23): arch=c000003e syscall=62 a0=1 a1=zz",
      "type=EOE msg=audit(1700000000.023:23): ",
      "type=EOE msg=audit(1700000000.023:23): ",
      'type=SYSCALL msg=audit(1700000000.024:24): arch=c000003e syscall=62 uid=1 uid=2',
      'type=SYSCALL msg=audit(1700000000.025:25): arch=c000003e syscall=62 __proto__=1',
      'type=SYSCALL msg=audit(1700000000.026:26): arch=c000003e syscall=62 12=x',
      'type=SYSCALL msg=audit(1700000000.027:27): arch=c000003e syscall=62 x="a\tb" y=a\x7fb',
      "type=SYSCALL msg=audit(1700000000.028:28): arch=c000003e syscall=62 success=yes exit=0 a0=1 a1=9 proctitle=41 ses=-1 auid=-1",
      "type=PROCTITLE msg=audit(1700000000.028:28): proctitle=\"\"",
      "type=PROCTITLE msg=audit(1700000000.028:28): proctitle=6100",
      '{"kind":"record","type":"SYSCALL","id":"1700000000.029:29","node":"n","raw":"type=SYSCALL msg=audit(1700000000.029:29): arch=c000003e syscall=62 a0=1 a1=9","source":{"line":9,"file":"x","extra":[1]}}',
      '{"kind":"record","type":"SYSCALL","id":"1700000000.030:30","node":null,"raw":"type=SYSCALL msg=audit(1700000000.030:30): arch=c000003e syscall=62 a0=1 a1=9 comm=\\"\\ud800\\""}',
      '{"kind":"signal","id":"1:2","passed":"through"}',
      "type=SYSCALL msg=audit(1700000000.031:31): arch=c000003e syscall=62 a0=1 a1=9 uid=0 comm=\"\u00e9\"",
      // Repeated EXECVE arguments (a4#2 stays as written, a1#2 is decoded), and a signal argument between syscall and its repeat.
      "type=EXECVE msg=audit(1700000000.042:42): argc=6 a4=41 a4=42 a5[0]=43 a5[0]=44 a1=45 a1=46 a6=\"x\" a7=ZZ",
      "type=SYSCALL msg=audit(1700000000.043:43): arch=c000003e syscall=62 a0=1 a1=9 syscall=37 arch=zz syscall=62 a1=8 uid=0 gid=x ouid=01",
    ],
  };
  for (const [name, lines] of Object.entries(cases)) {
    test(name, async () => {
      const path = join(dir, "edge.log");
      writeFileSync(path, lines.join("\n") + "\n");
      for (const settings of [oracleIds, noLookup, foreignLogIds]) {
        const counts = await expectSame(path, settings);
        expect(counts.fast).toBeGreaterThan(10);
        expect(counts.reference).toBeGreaterThan(5);
      }
    });
  }

  // Records run together on one line, lines cut short: real logs have them (the corpus does),
  // and they take the fast path, warnings and all.
  const realOddities = [
      'type=SYSCALL msg=audit(1700000000.032:32): arch=c000003e syscall=62 success=no exit=-3 a0=1 a1=9 comm=6162 comm="cafe" exe="/x" exe=2F78 a1=f uid=0 uid#2=5 uid=7 uid=8 exit=-1 syscall=1 arch=40000003 syscall=37 key="k" key=(null)',
      "type=USER_START msg=audit(1700000000.033:33): pid=1 uid=0 auid=1000 ses=2 msg='op=login pid=7 pid=8 exe=\"/usr/sbin/sshd\" res=success",
      "type=USER_START msg=audit(1700000000.034:34): pid=1 msg='op=x res=\"succ' msg='again' msg=bare",
      "type=SYSCALL msg=audit(1700000000.035:35): arch=c000003e syscall=62 msg=audit(1.2:3): x=1 msg='a=1 b=\"2\" b=3' uid=0 uid=1000\x1dUID=\"root\" UID=\"alice\" UID=\"bob",
      "type=LOGIN msg=audit(1700000000.036:36): login pid=13015 uid=0 old auid=4294967295 new auid=0",
      "type=LOGIN msg=audit(1700000000.037:37): pid=28281 uid=0 old auid=700 new auid=700 old ses=6793 new ses=12286",
      'type=SYSCALL msg=audit(1700000000.038:38): arch=c000003e syscall=62 success=yes exit=0 a0=1 a1=9 pid=1 comm="bash exe="/bin/bash" key=(null)',
      'type=OBJ_PID msg=audit(1700000000.038:38): opid=5 ouid=0 ocomm="sleep opid=6 ocomm="x"',
      'type=PROCTITLE msg=audit(1700000000.038:38): proctitle="sleep proctitle=41',
      'type=EXECVE msg=audit(1700000000.039:39): argc=2 a0="ls" a1=2D6C a1="-x" a0=6C73',
      "type=SYSCALL msg=audit(1700000000.040:40): arch=c000003e syscall=62 a0=1 a1=9 uid=0 uid=0 type=CWD msg=audit(1700000000.040:40): cwd=\"/\" type=PATH msg=audit(1700000000.040:40): item=0 name=\"/x\" type=PROCTITLE msg=audit(1700000000.040:40): proctitle=6B696C6C",
      'type=SYSCALL msg=audit(1700000000.041:41): arch=c000003e syscall=62 a#2=1 a=2 a=3 a=4 a#3=5',
  ];
  test("repeated names and unterminated quotes", async () => {
    const path = join(dir, "oddities.log");
    writeFileSync(path, realOddities.join("\n") + "\n");
    for (const settings of [oracleIds, noLookup]) expect(await expectSame(path, settings)).toEqual({ fast: 10, reference: 0 });
    const events = (await reference(path, oracleIds)).split("\n").filter(Boolean).map((line) => JSON.parse(line));
    const lines = [32, 33, 34].map((serial) => events.find((event) => event.id.endsWith(`:${serial}`)));
    // Each occurrence keeps its own quoting: comm#2 was quoted, so "cafe" is text, not hex.
    expect(lines[0].records[0].decoded).toMatchObject({ comm: "ab", "exe#2": "/x", a1: "SIGKILL", "a1#2": "0xf", syscall: "kill", "arch#2": "i386", "syscall#3": "kill" });
    expect(lines[0].records[0].decoded["comm#2"]).toBeUndefined();
    expect(lines[0].records[0].fields).toMatchObject({ "uid#2": "5", "uid#3": "7", "uid#4": "8" });
    expect(lines[1].warnings).toEqual(["USER_START: unterminated quote in msg"]);
    expect(lines[1].records[0].msg).toMatchObject({ pid: "7", "pid#2": "8", res: "success" });
    expect(lines[2].records[0].warnings).toEqual(["msg: unterminated quote in res"]);
  });
  test("a name repeated past 64 times goes the reference way, and leaves the name table usable", async () => {
    const path = join(dir, "many-repeats.log");
    const repeats = Array.from({ length: 100 }, (_, i) => `x=${i}`).join(" ");
    writeFileSync(path, [`type=CWD msg=audit(1700000000.050:50): ${repeats}`, ...realOddities].join("\n") + "\n");
    expect(await expectSame(path)).toEqual({ fast: 10, reference: 1 });
  });
});

/** decode's output lines for `input` (file, pipe or .gz) with the reader's chunks this small. */
async function viaReader(input: string, readBytes: number): Promise<string[]> {
  const outPath = join(dir, "reader-out.jsonl");
  const fd = openSync(outPath, "w");
  try {
    const writer = new LineWriter(fd, 4096);
    await runDecode([input], oracleIds, errors(), writer, { reader: new SlotReader({ readBytes }) });
    writer.flush();
  } finally {
    closeSync(fd);
  }
  return readFileSync(outPath, "utf8").split("\n").filter(Boolean);
}

describe("decode's reader (lib/sources/slot-reader.ts)", () => {
  const sortedBytes = async (path: string, readBytes: number) => (await viaReader(path, readBytes)).sort();
  const sortedReference = async (path: string) => (await reference(path, oracleIds)).split("\n").filter(Boolean).sort();

  test("tiny chunks: lines cut anywhere, slots reused while their events are open", async () => {
    const { text } = generateString({ seed: DEFAULT_SEED + 3, lines: 3000 });
    const path = join(dir, "tiny-chunks.log");
    writeFileSync(path, text);
    const want = await sortedReference(path);
    for (const size of [997, 4096]) expect(await sortedBytes(path, size)).toEqual(want);
  });

  test("a UTF-8 byte order mark opening the input is not part of the first line", async () => {
    const text = readFileSync(join(fixturesDir, "live-kill-family.log"));
    const plain = join(dir, "no-bom.log");
    const marked = join(dir, "bom.log");
    writeFileSync(plain, text);
    writeFileSync(marked, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), text]));
    const want = (await sortedBytes(plain, 1 << 20)).map((line) => line.replaceAll("no-bom.log", "bom.log"));
    for (const size of [1, 2, 64, 1 << 20]) expect(await sortedBytes(marked, size)).toEqual(want);
  });

  test("CRLF, a line longer than the carry area, non-ASCII lines, JSON lines, no final newline", async () => {
    const stamp = (n: number) => `msg=audit(1700000000.${String(n).padStart(3, "0")}:${n})`;
    const lines = [
      `type=SYSCALL ${stamp(1)}: arch=c000003e syscall=62 success=yes exit=0 a0=2a a1=9 a2=0 a3=0 items=0 ppid=1 pid=100 auid=0 uid=0 comm="k" exe="/k" key=(null)\r`,
      `type=OBJ_PID ${stamp(1)}: opid=42 oauid=-1 ouid=0 oses=-1 ocomm="v"`,
      `type=USER_CMD ${stamp(2)}: pid=1 uid=0 msg='cwd="/" cmd=${"41".repeat(50_000)} res=success'`,
      `type=PROCTITLE ${stamp(1)}: proctitle=6B`,
      `type=USER_END ${stamp(3)}: pid=1 uid=0 msg='op=PAM:session_close acct="jürgen" res=success'`,
      JSON.stringify({ kind: "record", type: "CWD", id: "1700000000.004:4", node: null, raw: `type=CWD ${stamp(4)}: cwd="/"`, source: { file: "x", line: 1 } }),
      `type=CWD ${stamp(5)}: cwd="/tmp"`,
    ];
    const path = join(dir, "odd-lines.log");
    writeFileSync(path, lines.join("\n"));
    const want = await sortedReference(path);
    expect(want.length).toBe(5);
    for (const size of [64, 1000, 1 << 20]) expect(await sortedBytes(path, size)).toEqual(want);
  });
});

test("decode's reader: a record held in an open event outlives its slot (copied out before reuse)", async () => {
  const stamp = (n: number) => `msg=audit(1700000000.000:${n})`;
  const lines = [`type=SYSCALL ${stamp(1)}: arch=c000003e syscall=62 success=yes exit=0 a0=2a a1=9 a2=0 a3=0 items=0 ppid=1 pid=100 auid=0 uid=0 comm="k" exe="/k" key=(null)`];
  // Standalone records in between: far more bytes than the reader's four slots hold.
  for (let n = 2; n < 200; n++) lines.push(`type=USER_CMD ${stamp(n)}: pid=${n} uid=0 msg='cwd="/" cmd=6C73 res=success'`);
  lines.push(`type=OBJ_PID ${stamp(1)}: opid=42 oauid=-1 ouid=0 oses=-1 ocomm="v"`, `type=PROCTITLE ${stamp(1)}: proctitle=6B`);
  const path = join(dir, "held-across-slots.log");
  writeFileSync(path, lines.join("\n") + "\n");
  const events = (await viaReader(path, 1000)).map((line) => JSON.parse(line));
  const kill = events.find((event) => event.id === "1700000000.000:1");
  expect(kill.records.map((r: { raw: string }) => r.raw)).toEqual([lines[0], lines[lines.length - 2], lines[lines.length - 1]]);
  expect(kill.targets).toEqual([{ pid: 42, comm: "v", uid: 0, user: "root", auid: null, ses: null }]);
  expect(events.length).toBe(199);
});

test("decode's reader from a pipe: small chunks packed into its slots, and from .gz", async () => {
  const { text } = generateString({ seed: DEFAULT_SEED + 5, lines: 6000 });
  const path = join(dir, "piped.log");
  writeFileSync(path, text);
  const want = (await reference(path, oracleIds)).split("\n").filter(Boolean).sort();
  const fifo = join(dir, "piped.fifo");
  expect(Bun.spawnSync(["mkfifo", fifo]).exitCode).toBe(0);
  const gz = `${path}.gz`;
  writeFileSync(gz, Bun.gzipSync(Buffer.from(text)));
  for (const [input, readBytes] of [
    [fifo, 1 << 20],
    [fifo, 100_000],
    [gz, 50_000],
  ] as const) {
    const writer = input === fifo ? Bun.spawn(["sh", "-c", 'cat "$1" > "$2"', "sh", path, fifo]) : null;
    const lines = await viaReader(input, readBytes);
    if (writer) expect(await writer.exited).toBe(0);
    const got = lines.map((line) => line.replaceAll(JSON.stringify(input), JSON.stringify(path))).sort();
    expect(got).toEqual(want);
  }
});
