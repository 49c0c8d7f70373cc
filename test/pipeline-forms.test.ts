/**
 * One answer whatever the pipeline (issue 17 §6): `attribute LOG`,
 * `capture LOG | attribute -`, `decode LOG | attribute -` and
 * `capture LOG | decode - | attribute -` write the same signal lines, byte
 * for byte, on the fixtures, the test corpus and seeded mutated logs
 * (test/helpers/mutated-log.ts, the mutation test's mutator). Nothing is
 * removed before comparing: no signal line says which form made it.
 *
 * The stages run in-process through the calls their scripts make
 * (captureFiles, runDecode, runAttribute), each writing through a LineWriter
 * into a file the next one reads; a few real subprocess pipelines check that
 * the scripts and stdin add nothing. decode's own lines are held to the same:
 * decode of capture's record lines writes what decode of the log writes (a
 * record line keeps its source), and how the input is cut into chunks (a
 * pipe cuts it differently each run) changes no line and no order.
 *
 *   WHOKILLED_FORMS_SEEDS=a,b   other seeds (a failure names its seed)
 *   WHOKILLED_FORMS_LINES=N     lines per mutated log
 */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputErrors } from "../lib/audit/input-errors.ts";
import { runDecode } from "../lib/audit/event-stage.ts";
import { LineWriter } from "../lib/bytes/line-writer.ts";
import { runAttribute } from "../lib/signals/signal-stage.ts";
import { captureFiles } from "../lib/sources/capture-run.ts";
import { SlotReader } from "../lib/sources/slot-reader.ts";
import { mutatedLog } from "./helpers/mutated-log.ts";
import { fixtureAndCorpusLogs, oracleIds } from "./helpers/run.ts";

const SEEDS = (process.env.WHOKILLED_FORMS_SEEDS ?? "0x16a7e,0x5eed17").split(",").map(Number);
const LINES = Number(process.env.WHOKILLED_FORMS_LINES ?? 20_000);
const root = join(import.meta.dir, "..");

const dir = mkdtempSync(join(tmpdir(), "wk-forms-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;

/** What `body` writes through a LineWriter, as a file of its own: its path. */
async function into(body: (writer: LineWriter, errors: InputErrors) => Promise<unknown>): Promise<string> {
  const path = join(dir, `out-${files++}.jsonl`);
  const fd = openSync(path, "w");
  try {
    const writer = new LineWriter(fd);
    await body(writer, new InputErrors({ strict: false, print: () => {}, printLimit: 0 }));
    writer.flush();
  } finally {
    closeSync(fd);
  }
  return path;
}

const capture = (path: string) => into((writer, errors) => captureFiles([path], { rotated: false, errors, writer }));
const decode = (path: string, reader?: SlotReader) => into((writer, errors) => runDecode([path], oracleIds, errors, writer, { reader }));
const attribute = async (path: string) => readFileSync(await into((writer, errors) => runAttribute([path], { ...oracleIds, filter: { probes: true } }, errors, writer)), "utf8");

/** The first line where `got` differs from `want`, with the form and input named (empty when equal). */
function firstDifference(what: string, want: string, got: string): string {
  if (want === got) return "";
  const a = want.split("\n");
  const b = got.split("\n");
  let i = 0;
  while (a[i] === b[i]) i++;
  return `${what}: ${a.length - 1} lines against ${b.length - 1}; line ${i + 1} differs:\n  want ${(a[i] ?? "(none)").slice(0, 400)}\n  got  ${(b[i] ?? "(none)").slice(0, 400)}`;
}

/** The four forms on one log, and decode's lines both ways and in small chunks. */
async function expectOneAnswer(log: string, name: string): Promise<number> {
  const records = await capture(log);
  const events = await decode(log);
  const eventsOfRecords = await decode(records);
  // 4 KiB reads: lines and events cut across chunks everywhere.
  const eventsInSmallChunks = await decode(log, new SlotReader({ readBytes: 1 << 12 }));
  const raw = await attribute(log);
  const problems = [
    firstDifference(`${name}: capture | attribute`, raw, await attribute(records)),
    firstDifference(`${name}: decode | attribute`, raw, await attribute(events)),
    firstDifference(`${name}: capture | decode | attribute`, raw, await attribute(eventsOfRecords)),
    firstDifference(`${name}: capture | decode, against decode`, readFileSync(events, "utf8"), readFileSync(eventsOfRecords, "utf8")),
    firstDifference(`${name}: decode in 4 KiB chunks, against decode`, readFileSync(events, "utf8"), readFileSync(eventsInSmallChunks, "utf8")),
  ].filter((p) => p !== "");
  expect(problems).toEqual([]);
  return raw.split("\n").filter((line) => line.startsWith('{"kind":"signal"')).length;
}

/** A seeded mutated log written as its bytes (the mutator's lines are latin1 strings). */
function writeMutatedLog(seed: number, lines: number): string {
  const path = join(dir, `mutated-${seed.toString(16)}.log`);
  writeFileSync(path, Buffer.from(mutatedLog(seed, lines).join("\n") + "\n", "latin1"));
  return path;
}

describe("one answer whatever the pipeline: the four forms in-process", () => {
  test("the fixtures and the corpus, each file alone", async () => {
    let signals = 0;
    for (const { path, name } of fixtureAndCorpusLogs()) signals += await expectOneAnswer(path, name);
    // Not vacuous: the fixtures and corpus hold many kills.
    expect(signals).toBeGreaterThan(50);
  });

  test("an ancestor's comm and exe that say no value ((none), a quoted (null), hex of ?) are null in every form", async () => {
    // The raw path reads ancestry from its kept lines, decode from its fields: both go by spelling.ts's one rule.
    const spellings = ["comm=(none)", 'exe="(null)"', "comm=3F"];
    let execs = 0;
    const log = readFileSync(join(root, "test/fixtures/ancestry.log"), "utf8").replace(/^(type=SYSCALL .* syscall=59 .*?)comm="[^"]*" exe="[^"]*"/gm, (_, head: string) => {
      const spelling = spellings[execs++ % spellings.length]!;
      return `${head}${spelling.startsWith("comm") ? `${spelling} exe="/usr/bin/x"` : `comm="x" ${spelling}`}`;
    });
    expect(execs).toBeGreaterThan(2);
    const path = join(dir, "ancestry-nullish.log");
    writeFileSync(path, log);
    expect(await expectOneAnswer(path, "ancestry with no-value spellings")).toBeGreaterThan(0);
  });

  for (const seed of SEEDS) {
    test(`a seeded mutated log (seed ${seed.toString(16)}, ${LINES} lines)`, async () => {
      const signals = await expectOneAnswer(writeMutatedLog(seed, LINES), `mutated log, seed 0x${seed.toString(16)}`);
      expect(signals).toBeGreaterThan(LINES / 50);
    });
  }
});

/** `command` run by bash in the repository (the scripts by path, bun as this test runs): its stdout. */
async function shell(command: string): Promise<string> {
  const child = Bun.spawn(["bash", "-c", `set -o pipefail; ${command}`], {
    cwd: root,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1", BUN: process.execPath },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  if (code !== 0) throw new Error(`${command}: exit ${code}\n${stderr}`);
  return stdout;
}

describe("one answer whatever the pipeline: real pipelines", () => {
  const script = (name: string, args: string) => `"$BUN" scripts/${name}.ts ${args}`;
  // Host lookups off: every form names users the same way (none).
  const attr = (input: string) => script("attribute", `--no-lookup --probes ${input}`);
  const dec = (input: string) => script("decode", `--no-lookup ${input}`);
  const cap = (input: string) => script("capture", input);

  for (const [name, path] of [
    ["interleaved.log (records out of order)", () => join(root, "test", "fixtures", "interleaved.log")],
    ["a mutated log", () => writeMutatedLog(SEEDS[0]!, 2_000)],
  ] as const) {
    test(`${name}: the four forms write the same bytes, and capture | decode writes decode's`, async () => {
      const log = `'${path()}'`;
      const [raw, viaCapture, viaDecode, viaBoth, decoded, capturedDecoded] = await Promise.all([
        shell(attr(log)),
        shell(`${cap(log)} | ${attr("-")}`),
        shell(`${dec(log)} | ${attr("-")}`),
        shell(`${cap(log)} | ${dec("-")} | ${attr("-")}`),
        shell(dec(log)),
        shell(`${cap(log)} | ${dec("-")}`),
      ]);
      expect(raw).toContain('"kind":"signal"');
      expect(firstDifference("capture | attribute", raw, viaCapture)).toBe("");
      expect(firstDifference("decode | attribute", raw, viaDecode)).toBe("");
      expect(firstDifference("capture | decode | attribute", raw, viaBoth)).toBe("");
      expect(firstDifference("capture | decode", decoded, capturedDecoded)).toBe("");
    });
  }
});
