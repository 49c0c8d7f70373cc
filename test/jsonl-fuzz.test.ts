/**
 * Every field path of every JSON line kind, given wrong values (issue 17):
 * decode, attribute and report, run in-process the way the scripts run them,
 * never stop with an internal error; every line that does not fit its kind
 * (lib/schema-check.ts) is reported once, naming its file, line and field,
 * and counted; the valid lines around it are still read. The paths come from
 * valid lines: the goldens, the docs' examples and capture's record lines of
 * the fixtures. One subprocess run per script over the same file at the end.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isUtf8 } from "node:buffer";
import { InputErrors } from "../lib/audit/input-errors.ts";
import { LineWriter } from "../lib/bytes/line-writer.ts";
import { runDecode } from "../lib/audit/event-stage.ts";
import { analyze } from "../lib/signals/findings.ts";
import { signalsFrom } from "../lib/signals/signal-stage.ts";
import { renderReport, REPORT_FORMATS } from "../lib/render/formats.ts";
import { isLineKind, lineProblem, MAX_JSON_DEPTH, MAX_JSON_VALUES } from "../lib/schema-check.ts";
import { MAX_JSON_LINE_BYTES } from "../lib/sources/lines.ts";
import type { AnyLine } from "../lib/schema.ts";
import { attributeFiles, attributeStream, decodeFiles, fixturesDir, runScriptProcess, writeRecordLines } from "./helpers/run.ts";

const dir = mkdtempSync(join(tmpdir(), "wk-jsonl-fuzz-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const docs = readFileSync(join(import.meta.dir, "..", "docs", "SCHEMA.md"), "utf8");

/** Valid lines of every kind: goldens, the docs' one-line examples, record lines of fixture logs, and a few written here. */
async function exampleLines(): Promise<Array<Record<string, unknown>>> {
  const texts: string[] = [];
  for (const name of readdirSync(fixturesDir).sort()) if (name.endsWith(".jsonl")) texts.push(...readFileSync(join(fixturesDir, name), "utf8").split("\n"));
  texts.push(...docs.split("\n"));
  for (const log of ["seed.log", "dmesg.log", "node-and-msg.log", "ancestry.log"]) {
    texts.push(...readFileSync(writeRecordLines(join(fixturesDir, log), join(dir, `${log}.records.jsonl`)), "utf8").split("\n"));
  }
  const tracefs = {
    kind: "record", type: "SIGNAL_GENERATE", id: "1796603772.100:1", node: null,
    raw: "hog-26140 [001] d..1. 440.103000: signal_generate: sig=9 errno=0 code=128 comm=hog pid=26140 grp=1 res=0",
    source: { file: "tracefs", line: 1 }, time: "2026-12-07T00:36:12.100Z",
  };
  texts.push(JSON.stringify(tracefs));
  // Its event (with `origin`), as decode writes it.
  const tracefsPath = join(dir, "tracefs.jsonl");
  writeFileSync(tracefsPath, `${JSON.stringify(tracefs)}\n`);
  texts.push(...(await decodeFiles([tracefsPath])).lines.map((line) => JSON.stringify(line)));
  const status = { kind: "status", detail: "d" };
  texts.push(
    JSON.stringify({ ...status, topic: "audit", enabled: 1, failure: 1 }),
    JSON.stringify({ ...status, topic: "auditd", running: true, pid: 812, comm: "auditd", started: "2026-11-29T06:54:28.200Z" }),
    JSON.stringify({ ...status, topic: "rules", key: "whokilled", expected: ["a"], present: ["a"], missing: ["b"], other: ["c"] }),
    JSON.stringify({ ...status, topic: "backlog", backlog: 0, backlogLimit: 8192, lost: 0, backlogWaitTime: 60000, rateLimit: 0 }),
    JSON.stringify({ ...status, topic: "blind-spots", enabledAt: "2026-11-29T06:55:54.090Z", basis: "recorded", exact: true, count: 3, possible: null }),
    JSON.stringify({ ...status, topic: "way", way: "tracepoints", possible: true, ready: true, checks: [{ need: "tracefs", ok: true, detail: "d" }], gives: "g" }),
    JSON.stringify({ ...status, topic: "cost", state: "audit", nsPerCall: 412.5, ratio: 1.8, calls: 100000, skipped: null }),
    JSON.stringify({ kind: "rule", action: "persist", rule: "", key: "whokilled", result: "absent", file: "/etc/audit/rules.d/whokilled.rules" }),
  );
  const lines: Array<Record<string, unknown>> = [];
  for (const text of texts) {
    if (!text.startsWith("{")) continue;
    let value: Record<string, unknown>;
    try {
      value = JSON.parse(text);
    } catch {
      continue; // the docs' event example spans lines
    }
    if (isLineKind(value.kind)) lines.push(value);
  }
  return lines;
}

type Step = string | number;

/** How the checker names a path: `.name`, `["odd name"]`, `[0]`. */
function pathText(steps: readonly Step[]): string {
  return steps
    .map((s) => (typeof s === "number" ? `[${s}]` : /^[A-Za-z_$#][\w$#]*$/.test(s) && s.length <= 40 ? `.${s}` : `[${JSON.stringify(s)}]`))
    .join("")
    .replace(/^\./, "");
}

/** Every path in a value: each key of each object, and the first element of each array. */
function pathsOf(value: unknown, prefix: Step[] = [], out: Step[][] = []): Step[][] {
  if (Array.isArray(value)) {
    if (value.length > 0) {
      out.push([...prefix, 0]);
      pathsOf(value[0], [...prefix, 0], out);
    }
  } else if (typeof value === "object" && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      out.push([...prefix, key]);
      pathsOf(item, [...prefix, key], out);
    }
  }
  return out;
}

function valueAt(root: unknown, steps: readonly Step[]): unknown {
  let at = root as Record<Step, unknown>;
  for (const step of steps) at = at[step] as Record<Step, unknown>;
  return at;
}

/** A placeholder replaced by raw JSON text (or bytes) once the line is written. */
const RAW = "@@wk-raw-4e1f@@";

interface Wrong {
  label: string;
  /** The value put there (undefined: the field removed). */
  value?: unknown;
  /** Or raw JSON text put there instead, as bytes. */
  raw?: Buffer;
}

const deep = (n: number) => Buffer.from(`${"[".repeat(n)}${"]".repeat(n)}`);
const WRONG: Wrong[] = [
  { label: "null", value: null },
  { label: "number", value: 7 },
  { label: "fraction", value: -1.5 },
  { label: "string", value: "x" },
  { label: "empty string", value: "" },
  { label: "bool", value: true },
  { label: "array", value: [] },
  { label: "array of numbers", value: [1, 2] },
  { label: "object", value: {} },
  { label: "missing" },
  { label: "huge string", value: "A\u001b[2J".repeat(10_000) },
  { label: "nested 5,000 deep", raw: deep(5000) },
  { label: "invalid UTF-8", raw: Buffer.from([0x22, 0x61, 0xff, 0xc3, 0x28, 0x62, 0x22]) },
  { label: "NaN", raw: Buffer.from("NaN") },
  { label: "1e999", raw: Buffer.from("1e999") },
  { label: "-0", raw: Buffer.from("-0") },
];

/** Would the checker's types allow no value of this JSON type where the example had `original`? Independent of the checker. */
function surelyWrong(original: unknown, wrong: Wrong): boolean {
  // A number in raw text: wrong where the example had no number (and no null: the field may be a nullable number).
  if (wrong.raw !== undefined) return wrong.label !== "-0" && wrong.label !== "1e999" ? true : original !== null && typeof original !== "number";
  if (!("value" in wrong) || wrong.value === null) return false; // optional or nullable: the example cannot tell
  const type = (v: unknown) => (Array.isArray(v) ? "array" : v === null ? "null" : typeof v);
  if (type(original) === "null") return false;
  return type(original) !== type(wrong.value);
}

interface Case {
  line: number;
  kind: string;
  path: string;
  wrong: string;
  /** Does the line fit? (The checker's verdict, with JSON and UTF-8.) */
  fits: boolean;
  surelyWrong: boolean;
}

/** One file of every case, a valid sentinel signal line after every 40. */
function buildCases(examples: Array<Record<string, unknown>>): { bytes: Buffer; cases: Case[]; sentinels: string[] } {
  const seen = new Set<string>();
  const parts: Buffer[] = [];
  const cases: Case[] = [];
  const sentinels: string[] = [];
  const sentinel = examples.find((e) => e.kind === "signal" && e.source === "audit")!;
  let line = 0;
  const add = (bytes: Buffer) => {
    parts.push(bytes, Buffer.from("\n"));
    line++;
  };
  for (const example of examples) {
    for (const steps of pathsOf(example)) {
      // One case per path of a kind: array elements as [0], map keys as they are.
      const key = `${example.kind}:${pathText(steps.map((s) => (typeof s === "number" ? 0 : s)))}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const original = valueAt(example, steps);
      for (const wrong of WRONG) {
        if (wrong.label === "missing" && typeof steps[steps.length - 1] === "number") continue;
        const copy = structuredClone(example);
        const parent = valueAt(copy, steps.slice(0, -1)) as Record<Step, unknown>;
        const last = steps[steps.length - 1]!;
        if (!("value" in wrong) && wrong.raw === undefined) delete parent[last];
        else parent[last] = wrong.raw !== undefined ? RAW : wrong.value;
        const text = JSON.stringify(copy);
        const at = text.indexOf(JSON.stringify(RAW));
        const bytes = at < 0 ? Buffer.from(text) : Buffer.concat([Buffer.from(text.slice(0, at)), wrong.raw!, Buffer.from(text.slice(at + RAW.length + 2))]);
        let fits = isUtf8(bytes);
        if (fits) {
          try {
            const value = JSON.parse(bytes.toString("utf8"));
            fits = isLineKind(value.kind) && lineProblem(value) === null;
          } catch {
            fits = false;
          }
        }
        add(bytes);
        cases.push({ line, kind: example.kind as string, path: pathText(steps), wrong: wrong.label, fits, surelyWrong: surelyWrong(original, wrong) });
        if (cases.length % 40 === 0) {
          const id = `sentinel-${sentinels.length}`;
          sentinels.push(id);
          add(Buffer.from(JSON.stringify({ ...sentinel, id })));
        }
      }
    }
  }
  return { bytes: Buffer.concat(parts), cases, sentinels };
}

function collector() {
  const messages: string[] = [];
  return { messages, errors: new InputErrors({ strict: false, print: (m) => messages.push(m), printLimit: 1_000_000 }) };
}

/** Messages by the line they name. */
function byLine(messages: readonly string[], path: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  const prefix = `${path}:`;
  for (const message of messages) {
    if (!message.startsWith(prefix)) continue;
    const n = Number(/^(\d+):/.exec(message.slice(prefix.length))?.[1]);
    out.set(n, [...(out.get(n) ?? []), message]);
  }
  return out;
}

describe("JSON lines with wrong values in every field", async () => {
  const examples = await exampleLines();
  const { bytes, cases, sentinels } = buildCases(examples);
  const path = join(dir, "cases.jsonl");
  writeFileSync(path, bytes);
  const bad = cases.filter((c) => !c.fits);

  test("the cases cover every kind, many paths, and the independent verdict agrees", () => {
    const kinds = new Set(cases.map((c) => c.kind));
    expect([...kinds].sort()).toEqual(["bait", "blindspot", "coverage", "event", "gap", "record", "rule", "signal", "status"]);
    expect(new Set(cases.map((c) => `${c.kind}:${c.path}`)).size).toBeGreaterThan(300);
    // What is surely of the wrong JSON type is never taken.
    expect(cases.filter((c) => c.surelyWrong && c.fits)).toEqual([]);
    expect(bad.length).toBeGreaterThan(cases.length / 2);
  });

  /** Every bad line named once, by file, line and (for a type problem) its field; the sentinels read. */
  function expectNamed(messages: string[], errorCount: number, runName: string) {
    const named = byLine(messages, path);
    const missed: string[] = [];
    for (const c of bad) {
      const said = named.get(c.line) ?? [];
      if (said.length !== 1) missed.push(`${runName} line ${c.line} (${c.kind} ${c.path} = ${c.wrong}): ${said.length} messages`);
      // The field named is the one given the wrong value, or one inside it (an empty object's first field).
      else if (/: field /.test(said[0]!) && !/^[:.[]/.test(said[0]!.slice(`${path}:${c.line}: field ${c.path}`.length)) || !said[0]!.startsWith(`${path}:${c.line}: `)) {
        missed.push(`${runName} line ${c.line} (${c.kind} ${c.path} = ${c.wrong}): ${said[0]!.slice(0, 200)}`);
      }
    }
    expect(missed).toEqual([]);
    // Every message that names a field is about a line that does not fit.
    const badLines = new Set(bad.map((c) => c.line));
    expect(messages.filter((m) => / field /.test(m) && !badLines.has(Number(/:(\d+): field /.exec(m)?.[1])))).toEqual([]);
    // Counted as printed (a record line's raw text that is no audit record is named by its own source, the log it came from).
    expect(errorCount).toBeGreaterThanOrEqual(bad.length);
    expect(errorCount).toBe(messages.length);
  }

  test("decode, its text path (readInputs)", async () => {
    const { lines, messages, errors } = await decodeFiles([path], { lookup: false });
    expectNamed(messages, errors, "decode");
    const ids = lines.filter((l) => l.kind === "signal").map((l) => (l as { id: string }).id);
    expect(ids.filter((id) => id.startsWith("sentinel-"))).toEqual(sentinels);
  }, 60_000);

  test("decode, its byte path (runDecode, as the script)", async () => {
    const { messages, errors } = collector();
    const out = join(dir, "decode.jsonl");
    const fd = openSync(out, "w");
    try {
      const writer = new LineWriter(fd);
      await runDecode([path], { lookup: false }, errors, writer);
      writer.flush();
    } finally {
      closeSync(fd);
    }
    expectNamed(messages, errors.count, "decode bytes");
    const written = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as AnyLine);
    // Everything decode writes fits its kind, and every sentinel is there.
    expect(written.map((l) => lineProblem(l)).filter((p) => p !== null)).toEqual([]);
    expect(written.filter((l) => l.kind === "signal" && l.id.startsWith("sentinel-")).map((l) => (l as { id: string }).id)).toEqual(sentinels);
  }, 60_000);

  test("attribute, with its prefilter over text (readInputs) and as the script (bytes)", async () => {
    const text = await attributeFiles([path], {}, { lookup: false });
    expectNamed(text.messages, text.errors, "attribute");
    expect(text.signals.map((s) => s.id).filter((id) => id.startsWith("sentinel-"))).toEqual(sentinels);
    const stream = await attributeStream([path], {}, { lookup: false });
    expectNamed(stream.messages, stream.errors, "attribute bytes");
    const written = stream.text.trim().split("\n").map((l) => JSON.parse(l) as AnyLine);
    expect(written.map((l) => lineProblem(l)).filter((p) => p !== null)).toEqual([]);
    expect(written.filter((l) => l.kind === "signal" && l.id.startsWith("sentinel-")).length).toBe(sentinels.length);
  }, 60_000);

  test("report, every format", async () => {
    const { messages, errors } = collector();
    const report = await analyze(signalsFrom([path], { errors, lookup: false, filter: {} }), {});
    expectNamed(messages, errors.count, "report");
    expect(report.summary.totals.signals).toBeGreaterThanOrEqual(sentinels.length);
    for (const format of REPORT_FORMATS) expect(renderReport(report, format).length).toBeGreaterThan(0);
  }, 60_000);

  test("the scripts, one run each over the whole file: no internal error, every bad line counted", async () => {
    const runs = await Promise.all([
      runScriptProcess("decode", ["--no-lookup", path]),
      runScriptProcess("attribute", ["--no-lookup", path]),
      runScriptProcess("report", ["--no-lookup", "--format", "json", path]),
    ]);
    for (const run of runs) {
      expect(run.stderr).not.toContain("internal");
      expect(run.code).toBe(0);
      const count = Number(/(\d+) (?:input )?errors?\b/.exec(run.stderr.split("\n").filter((l) => /errors?\b/.test(l)).pop() ?? "")?.[1]);
      expect(count).toBeGreaterThanOrEqual(bad.length);
    }
    expect(JSON.parse(runs[2]!.stdout).summary.totals.signals).toBeGreaterThanOrEqual(sentinels.length);
  }, 60_000);
});

describe("depth, size and --strict", () => {
  const signal = readFileSync(join(fixturesDir, "seed.signals.jsonl"), "utf8").split("\n")[0]!;
  const gap = '{"kind":"gap","source":"netlink","time":"2026-11-29T07:20:01.123Z","reason":"ENOBUFS","lost":null';

  test("nesting: 100,000 deep in a known field and in an unknown one is refused; 64 levels are read", async () => {
    const lines = [
      `{"kind":"record","type":"SYSCALL","id":"1.0:1","node":${deep(100_000)},"raw":"x","source":{"file":"f","line":1}}`,
      `${gap},"extra":${deep(100_000)}}`,
      `${gap},"extra":${deep(MAX_JSON_DEPTH - 1)}}`,
      `${gap},"extra":${deep(MAX_JSON_DEPTH)}}`,
      signal,
    ];
    const file = join(dir, "deep.jsonl");
    writeFileSync(file, lines.join("\n") + "\n");
    for (const run of [await decodeFiles([file], { lookup: false }), await attributeFiles([file], {}, { lookup: false })]) {
      expect(run.messages.map((m) => m.slice(0, m.indexOf(": \"{")))).toEqual([
        `${file}:1: field node: expected a string or null, got an array`,
        `${file}:2: field extra: nested deeper than ${MAX_JSON_DEPTH} levels`,
        `${file}:4: field extra: nested deeper than ${MAX_JSON_DEPTH} levels`,
      ]);
      expect(run.lines.filter((l) => l.kind === "gap")).toHaveLength(1);
      expect(run.lines.filter((l) => l.kind === "signal")).toHaveLength(1);
    }
  });

  test(`a JSON line past ${MAX_JSON_LINE_BYTES} bytes is skipped as it streams by, named and counted; the lines around it are read`, async () => {
    const file = join(dir, "long.jsonl");
    const long = `${gap},"pad":"${"p".repeat(MAX_JSON_LINE_BYTES)}"}`;
    const atLimit = `${gap},"pad":"${"q".repeat(MAX_JSON_LINE_BYTES - gap.length - 10)}"}`;
    writeFileSync(file, [signal, long, atLimit, signal].join("\n") + "\n");
    const run = await attributeStream([file], {}, { lookup: false });
    expect(run.messages).toEqual([`${file}:2: a JSON line of ${long.length} bytes, longer than any whokilled line (at most ${MAX_JSON_LINE_BYTES} are read as one line): skipped`]);
    expect(run.text.trim().split("\n").map((l) => JSON.parse(l).kind)).toEqual(["signal", "gap", "signal"]);
  });

  test(`a JSON line of more than ${MAX_JSON_VALUES} values is skipped before it is parsed; one of 250,000 is read`, async () => {
    const file = join(dir, "values.jsonl");
    const many = `${gap},"x":[${"{},".repeat(MAX_JSON_VALUES / 2)}{}]}`;
    const enough = `${gap},"x":[${"0,".repeat(250_000)}0]}`;
    writeFileSync(file, [signal, many, enough, signal].join("\n") + "\n");
    const run = await decodeFiles([file], { lookup: false });
    expect(run.messages.map((m) => m.slice(0, m.indexOf(": \"{")))).toEqual([
      `${file}:2: a JSON line of ${many.length} characters with more than ${MAX_JSON_VALUES} values (counting every {, [ and ,), more than any whokilled line holds: skipped`,
    ]);
    expect(run.lines.map((l) => l.kind)).toEqual(["signal", "gap", "signal"]);
  });

  test("--strict stops at the first line that does not fit, naming it", async () => {
    const file = join(dir, "strict.jsonl");
    writeFileSync(file, [signal, signal.replace(/"victims":\[[^\]]*\]/, '"victims":0'), signal].join("\n") + "\n");
    for (const script of ["decode", "attribute", "report"]) {
      const run = await runScriptProcess(script, ["--no-lookup", "--strict", file]);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(`${file}:2: field victims: expected an array, got number 0`);
    }
  });

  test("the issue's reproducers: each named, the run goes on", async () => {
    const event = readFileSync(join(fixturesDir, "seed.jsonl"), "utf8").split("\n")[0]!;
    const file = join(dir, "issue.jsonl");
    writeFileSync(
      file,
      [
        '{"kind":"signal"}',
        signal.replace(/"victims":\[[^\]]*\]/, '"victims":0'),
        '{"kind":"record","type":"SYSCALL","id":"1.0:1","node":null,"raw":0,"source":{"file":"f","line":1}}',
        event.replace(/"targets":\[[^\]]*\]/, '"targets":0'),
        signal.replace(/"time":"[^"]*",/, ""),
        signal.replace(/"comm":"roxen"/, '"comm":{"a":1}'),
        signal.replace(/"time":"[^"]*"/, '"time":"x"'),
        signal.replace(/"time":"[^"]*"/, '"time":"2010-02-31T12:37:07.433Z"'),
        signal,
      ].join("\n") + "\n",
    );
    const { messages, errors } = collector();
    const report = await analyze(signalsFrom([file], { errors, lookup: false, filter: {} }), {});
    expect(messages.map((m) => m.slice(0, m.indexOf(", got") + 1 || undefined))).toEqual([
      `${file}:1: field id: expected a string,`,
      `${file}:2: field victims: expected an array,`,
      `${file}:3: field raw: expected a string,`,
      `${file}:4: field targets: expected an array,`,
      `${file}:5: field time: expected an ISO 8601 UTC time (2010-09-23T12:37:07.433Z) or null,`,
      `${file}:6: field killer.comm: expected a string or null,`,
      `${file}:7: field time: expected an ISO 8601 UTC time (2010-09-23T12:37:07.433Z) or null,`,
      `${file}:8: field time: expected an ISO 8601 UTC time (2010-09-23T12:37:07.433Z) or null,`,
    ]);
    expect(report.summary.totals.signals).toBe(1);
  });
});

describe("the checker's messages", () => {
  const signal = JSON.parse(readFileSync(join(fixturesDir, "seed.signals.jsonl"), "utf8").split("\n")[0]!);
  const problem = (change: (line: any) => void) => {
    const line = structuredClone(signal);
    change(line);
    return lineProblem(line);
  };

  test("each names the path, what was expected and what came, cut and quoted", () => {
    expect(problem(() => {})).toBeNull();
    expect(problem((l) => (l.victims[0].comm = 5))).toBe("field victims[0].comm: expected a string or null, got number 5");
    expect(problem((l) => (l.target.scope = "everyone"))).toBe('field target.scope: expected "process" or "group" or "all" or "thread" or "pidfd", got string "everyone"');
    expect(problem((l) => delete l.killer.argv)).toBe("field killer.argv: expected an array, got nothing (the field is missing)");
    expect(problem((l) => (l.time = "2010-09-23T12:37:07.433+02:00"))).toStartWith("field time: expected an ISO 8601 UTC time");
    expect(problem((l) => (l.time = "2010-13-23T12:37:07.433Z"))).toStartWith("field time: expected an ISO 8601 UTC time");
    expect(problem((l) => (l.time = "2010-09-23T12:37:07Z"))).toBeNull();
    expect(problem((l) => (l.signal.nr = 1.5))).toBe("field signal.nr: expected an integer or null, got number 1.5");
    expect(problem((l) => (l.signal.nr = "x".repeat(1000)))).toBe(`field signal.nr: expected an integer or null, got string "${"x".repeat(40)}…"`);
  });

  test("unknown fields pass, at any name, within the depth limit; odd names are quoted", () => {
    expect(problem((l) => (l.futureField = { a: [1, { b: "c" }] }))).toBeNull();
    expect(problem((l) => (l.killer["we ird\u001b"] = JSON.parse(`${"[".repeat(70)}${"]".repeat(70)}`)))).toBe(
      'field killer["we ird\\u001b"]: nested deeper than 64 levels',
    );
  });

  test("a status line is checked by its topic", () => {
    const status = { kind: "status", topic: "audit", enabled: 1, failure: 1, detail: "d" };
    expect(lineProblem(status as never)).toBeNull();
    expect(lineProblem({ ...status, topic: "weather" } as never)).toBe(
      'field topic: expected "audit" or "auditd" or "rules" or "backlog" or "blind-spots" or "way" or "cost", got string "weather"',
    );
    expect(lineProblem({ ...status, enabled: "1" } as never)).toBe('field enabled: expected an integer, got string "1"');
  });
});
