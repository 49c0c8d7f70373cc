/**
 * The seeded mutation test: real records (the fixtures and the corpus),
 * each line mutated one to three times (truncated, a bit flipped, fields
 * repeated or dropped, odd hex, huge or odd numbers, quotes, 0x1d, `msg='`,
 * `__proto__=`, non-ASCII), about 100,000 lines, as raw text and as capture's
 * record lines (50,000 of each by default). decode and attribute each run both ways, the object path and
 * the byte path the scripts run (helpers/streams.ts), and must write the same
 * lines. The byte writers must have made most of them, so the test cannot pass
 * by their declining. attribute is also held to report's reader
 * (helpers/run.ts attributeFiles: readInputs + push).
 *   WHOKILLED_MUTATION_SEED=N   another seed (a failure prints its seed)
 *   WHOKILLED_MUTATION_LINES=N  another size
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Rng } from "../bench/gen-log.ts";
import { mutatedLog, recordLines } from "./helpers/mutated-log.ts";
import { attributeFiles, decodeFiles } from "./helpers/run.ts";
import { attributeObjectsScript, attributeScript, decodeScript, PRINT_LIMIT, type StreamRun } from "./helpers/streams.ts";

const SEED = Number(process.env.WHOKILLED_MUTATION_SEED ?? 0x16a7e);
/** Lines in each form. */
const LINES = Number(process.env.WHOKILLED_MUTATION_LINES ?? 50_000);

const dir = mkdtempSync(join(tmpdir(), "wk-mutation-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const toJsonl = (lines: unknown[]) => lines.map((line) => `${JSON.stringify(line)}\n`).join("");

/** Line by line: the first few differences, each with the seed, the output line, and the first differing byte. */
function differences(what: string, want: string, got: string): string[] {
  const a = want.split("\n");
  const b = got.split("\n");
  const out: string[] = [];
  for (let i = 0; i < Math.max(a.length, b.length) && out.length < 5; i++) {
    if (a[i] === b[i]) continue;
    const x = a[i] ?? "";
    const y = b[i] ?? "";
    let k = 0;
    while (k < x.length && x[k] === y[k]) k++;
    out.push(`${what}, seed ${SEED}, output line ${i + 1}, first difference at character ${k}:\n  object path: …${JSON.stringify(x.slice(Math.max(0, k - 80), k + 80))}\n  byte path:   …${JSON.stringify(y.slice(Math.max(0, k - 80), k + 80))}`);
  }
  return out;
}

/**
 * The same errors, counted and (while all are kept) as a set: readInputs
 * reports a journal line's errors as it reads its batch, the byte reader when
 * it reaches the line, so their order differs, and past the print limit so
 * does which ones are kept.
 */
function expectSameErrors(stream: StreamRun, reference: { messages: string[]; errors: number }): void {
  expect(stream.errors).toBe(reference.errors);
  if (reference.errors < PRINT_LIMIT) expect([...stream.messages].sort()).toEqual([...reference.messages].sort());
}

/**
 * KNOWN DIFFERENCE, skipped by name (issue 16): a process sighted by an
 * execve event the readers cannot judge (a bad arch or syscall field), and
 * again by a readable execve of the same pid after the kill. report's reader
 * (readInputs + push) gives the killer's ancestor the later execve's comm,
 * exe and argv; attribute's byte reader the first one's (no argv). Four
 * lines show it (from seed 0x16a7e):
 *   SYSCALL arch=c000003 syscall=59 … pid=300 comm="sh"   (unknown arch)
 *   SYSCALL arch=c000003e syscall=62 … ppid=300 pid=310    (the kill)
 *   SYSCALL arch=c000003e syscall=59 … pid=300 comm="sh" + PROCTITLE 7368002D63
 * It goes when report reads through the same driver (issue 16 §4.3); until
 * then lines that differ are compared without the killer's ancestry and the
 * victims' ppid (the same sightings).
 */
function withoutKnownDifferences(want: string, got: string): [string, string] {
  const a = want.split("\n");
  const b = got.split("\n");
  const strip = (line: string) => {
    const value = JSON.parse(line) as { killer?: { ancestry?: unknown }; victims?: Array<{ ppid?: unknown }> };
    if (value.killer) delete value.killer.ancestry;
    for (const victim of value.victims ?? []) delete victim.ppid;
    return JSON.stringify(value);
  };
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i] && a[i] !== "" && b[i] !== "") {
      a[i] = strip(a[i]!);
      b[i] = strip(b[i]!);
    }
  }
  return [a.join("\n"), b.join("\n")];
}

/** Lines the byte writers made, out of all lines written. */
function share(run: StreamRun): number {
  return run.lines === 0 ? 0 : run.fromBytes / run.lines;
}

describe(`seeded mutation (seed ${SEED}, ${LINES} lines)`, () => {
  const rng = new Rng(SEED ^ 0x5eed);
  const raw = mutatedLog(SEED, LINES);
  const rawPath = join(dir, "mutated.log");
  writeFileSync(rawPath, Buffer.from(raw.join("\n") + "\n", "latin1"));
  const recordPath = join(dir, "mutated.records.jsonl");
  writeFileSync(recordPath, recordLines(raw, rawPath, rng).join("\n") + "\n");
  // attribute's byte path on each form, run once and compared by the two attribute tests below.
  const attributed = new Map<string, ReturnType<typeof attributeScript>>();
  const attributeOnce = (path: string) => {
    if (!attributed.has(path)) attributed.set(path, attributeScript([path], { probes: true }));
    return attributed.get(path)!;
  };

  for (const [form, path] of [
    ["raw text", rawPath],
    ["record lines", recordPath],
  ] as const) {
    test(`decode, ${form}: the byte path writes the object path's lines`, async () => {
      const reference = await decodeFiles([path]);
      const stream = await decodeScript([path]);
      expect(differences(`decode ${form}`, toJsonl(reference.lines), stream.text)).toEqual([]);
      expectSameErrors(stream, reference);
      // Not vacuous: many events, most of them written from bytes.
      expect(reference.lines.length).toBeGreaterThan(LINES / 10);
      expect(share(stream)).toBeGreaterThan(0.5);
    });

    test(`attribute, ${form}: the byte writer writes the object path's signals`, async () => {
      const reference = await attributeObjectsScript([path], { probes: true });
      const stream = await attributeOnce(path);
      expect(differences(`attribute ${form}`, reference.text, stream.text)).toEqual([]);
      expect(stream.messages).toEqual(reference.messages);
      expect(stream.errors).toBe(reference.errors);
      expect(reference.lines).toBeGreaterThan(LINES / 50);
      expect(share(stream)).toBeGreaterThan(0.5);
    });

    test(`attribute, ${form}: report's reader (readInputs + push) makes the same signals`, async () => {
      const reference = await attributeFiles([path], { probes: true });
      const stream = await attributeOnce(path);
      const [want, got] = withoutKnownDifferences(toJsonl(reference.lines), stream.text);
      expect(differences(`attribute ${form}, report's reader`, want, got)).toEqual([]);
      expectSameErrors(stream, reference);
    });
  }
});
