/**
 * attribute's byte writer for signal lines (lib/signals/signal-json.ts)
 * against the object path it stands in for: for every event of every
 * fixture, corpus file and generated log, read as attribute reads them
 * (ASCII lines as bytes), the writer either declines or writes exactly
 * JSON.stringify(eventToSignal(interpretEvent(event))) and a newline, and
 * drops a probe exactly when the default filter would. It must also take
 * nearly every kill-family event, or it is not worth having.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { DEFAULT_SEED, generateString } from "../bench/gen-log.ts";
import type { AssembledEvent } from "../lib/audit/assemble.ts";
import { Decoder } from "../lib/audit/decoder.ts";
import { IdNames } from "../lib/audit/ids.ts";
import { InputErrors } from "../lib/audit/input-errors.ts";
import { interpretEvent, type InterpretOptions } from "../lib/audit/interpret.ts";
import { isAsciiRange } from "../lib/audit/line-bytes.ts";
import type { LineWriter } from "../lib/jsonl.ts";
import { ByteBuffer } from "../lib/json-bytes.ts";
import { ProcessSightings, StreamAncestry } from "../lib/signals/ancestry.ts";
import { eventToSignal } from "../lib/signals/attribute.ts";
import { SignalJsonWriter } from "../lib/signals/signal-json.ts";
import { ByteArena } from "../lib/byte-arena.ts";
import type { SignalFilterOptions } from "../lib/signals/filter.ts";
import { attributeFiles, attributeStream, auditLogsUnder, corpusDir, fixturesDir, writeRecordLines } from "./helpers/run.ts";

/** Collects what the writer writes, line by line (the LineWriter interface it uses). */
class CapturingWriter {
  private readonly bytes = new ByteBuffer(1 << 16);
  lines = 0;
  reserve(n: number): Buffer {
    return this.bytes.ensure(n);
  }
  get offset(): number {
    return this.bytes.pos;
  }
  commit(end: number, lines = 1): void {
    this.bytes.pos = end;
    this.lines += lines;
  }
  take(): string {
    const text = this.bytes.buf.toString("utf8", 0, this.bytes.pos);
    this.bytes.pos = 0;
    return text;
  }
}

/**
 * Each event of `text` to `each`, its ASCII lines read as bytes (ByteRecords)
 * as attribute reads them, the rest as text. The decoder lets go of the
 * bytes once an event is handed over, so each is looked at then.
 */
function forEachEvent(text: string, file: string, each: (event: AssembledEvent) => void): void {
  const decoder = new Decoder({ errors: new InputErrors({ strict: false, print: () => {} }) }, each);
  const bytes = Buffer.from(text, "utf8");
  let start = 0;
  let line = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    line++;
    if (end > start) {
      if (isAsciiRange(bytes, start, end)) decoder.pushBytes(bytes, start, end, line, file);
      else decoder.pushRaw(bytes.toString("utf8", start, end), { file, line });
    }
    start = end + 1;
  }
  decoder.flush();
}

function compare(text: string, file: string, options: InterpretOptions, probes: boolean) {
  const capture = new CapturingWriter();
  const ancestry = new StreamAncestry(new ProcessSightings(new ByteArena(1 << 20)));
  const writer = new SignalJsonWriter(capture as unknown as LineWriter, { ids: options.ids, ancestry, probes });
  let taken = 0;
  let signals = 0;
  const declined: string[] = [];
  forEachEvent(text, file, (event) => {
    const reference = eventToSignal(interpretEvent(event, options));
    if (reference) signals++;
    const result = writer.write(event);
    if (result === "declined") {
      if (reference) declined.push(event.id);
      return;
    }
    taken++;
    expect(reference).not.toBeNull();
    if (result === "probe") {
      expect({ id: event.id, probe: reference!.probe === true && !probes }).toEqual({ id: event.id, probe: true });
      expect(capture.take()).toBe("");
    } else {
      expect({ id: event.id, probe: reference!.probe === true && !probes }).toEqual({ id: event.id, probe: false });
      expect(capture.take()).toBe(`${JSON.stringify(reference)}\n`);
    }
  });
  return { taken, signals, declined };
}

const noLookup: InterpretOptions = { ids: new IdNames({ lookup: false }) };
const withPasswd: InterpretOptions = {
  ids: new IdNames({ lookup: true, passwdFile: join(fixturesDir, "passwd.minimal"), groupFile: join(fixturesDir, "group.minimal") }),
};

describe("signal lines written from bytes = the object path's", () => {
  const inputs = [...auditLogsUnder(fixturesDir).filter((p) => p.endsWith(".log")), ...auditLogsUnder(corpusDir)];
  let totalTaken = 0;
  let totalSignals = 0;

  for (const path of inputs) {
    const name = path.startsWith(corpusDir) ? `corpus/${relative(corpusDir, path)}` : relative(fixturesDir, path);
    test(name, () => {
      const text = readFileSync(path, "utf8");
      for (const options of [noLookup, withPasswd]) {
        for (const probes of [false, true]) {
          const { taken, signals } = compare(text, path, options, probes);
          expect(taken).toBeLessThanOrEqual(signals);
          if (options === noLookup && probes) {
            totalTaken += taken;
            totalSignals += signals;
          }
        }
      }
    });
  }

  test("generated logs (both ABIs, all six calls, hex and enriched fields, a non-ASCII comm)", () => {
    for (const seed of [DEFAULT_SEED, 7, 99]) {
      const text = generateString({ seed, lines: 20_000 }).text;
      for (const probes of [false, true]) {
        const { taken, signals, declined } = compare(text, `generated-${seed}.log`, noLookup, probes);
        expect(signals).toBeGreaterThan(100);
        expect({ seed, declined: declined.length }).toEqual({ seed, declined: signals - taken });
        // Only the odd event (a non-ASCII line) is left to the object path.
        expect(taken).toBeGreaterThan(signals * 0.95);
      }
    }
  });

  test("across fixtures and corpus it takes most kill-family events", () => {
    console.error(`signal writer took ${totalTaken} of ${totalSignals} kill-family events in the fixtures and corpus`);
    expect(totalSignals).toBeGreaterThan(25);
    expect(totalTaken).toBeGreaterThan(totalSignals * 0.8);
  });
});

describe("attribute's streaming output (byte writer where it can) = the batch path's (objects)", () => {
  const dir = mkdtempSync(join(tmpdir(), "wk-signal-json-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const generated = join(dir, "generated.log");
  // execve events feed the killers' ancestry; both ABIs, hex and enriched fields, probes.
  writeFileSync(generated, generateString({ seed: DEFAULT_SEED, lines: 20_000 }).text);
  const inputs = [...auditLogsUnder(fixturesDir).filter((p) => p.endsWith(".log")), ...auditLogsUnder(corpusDir), generated];

  async function same(paths: string[], filter: SignalFilterOptions) {
    const batch = await attributeFiles(paths, filter);
    const stream = await attributeStream(paths, filter);
    const expected = batch.lines.map((line) => `${JSON.stringify(line)}\n`).join("");
    expect(stream.text).toBe(expected);
    expect(stream.stats).toEqual(batch.stats);
    expect({ errors: stream.errors, messages: stream.messages }).toEqual({ errors: batch.errors, messages: batch.messages });
    return batch.signals.length;
  }

  for (const path of inputs) {
    const name = path.startsWith(corpusDir) ? `corpus/${relative(corpusDir, path)}` : path === generated ? "generated log" : relative(fixturesDir, path);
    test(name, async () => {
      // Default (probes dropped), with probes, and a filter that needs the objects.
      await same([path], {});
      await same([path], { probes: true });
      await same([path], { probes: true, failed: true });
    });
  }

  test("capture's record lines of the generated log and the seed, several inputs in one run", async () => {
    const records = writeRecordLines(generated, join(dir, "generated.jsonl"));
    const seed = join(corpusDir, "seed", "ausearch-grep-kill.log");
    expect(await same([records, seed, generated], { probes: true })).toBeGreaterThan(100);
  });
});
