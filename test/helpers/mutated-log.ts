/**
 * The seeded mutator (test/mutation.test.ts, test/pipeline-forms.test.ts):
 * real events from the fixtures and the corpus, each under a new stamp, a
 * share of their lines mutated one to three times; and the same lines as
 * capture writes them.
 */
import { readFileSync } from "node:fs";
import { Rng } from "../../bench/gen-log.ts";
import { InputErrors } from "../../lib/audit/input-errors.ts";
import { lineToRecord } from "../../lib/sources/record-lines.ts";
import { OomJoiner } from "../../lib/sources/kernel-oom.ts";
import { fixtureAndCorpusLogs } from "./run.ts";

/**
 * The share of lines mutated. A byte writer takes only events whose lines are
 * all ASCII, so with every line mutated few kill events would reach it; with
 * 40%, most do, and the rest test the object path's fallback.
 */
const MUTATED = 0.4;

/** Lines are handled as latin1 strings: one character per byte, so a mutation may write any byte. */
const latin1OfUtf8 = (text: string) => Buffer.from(text, "utf8").toString("latin1");

/** The real records, as events: runs of lines with one `msg=audit(…)` stamp, each with whether it holds a kill-family call. */
function realEvents(): { events: string[][]; kills: string[][] } {
  const events: string[][] = [];
  for (const { path } of fixtureAndCorpusLogs()) {
    let current: string[] = [];
    let currentId = "";
    for (const line of readFileSync(path, "utf8").split("\n")) {
      const id = /audit\((\d+\.\d+:\d+)\)/.exec(line)?.[1] ?? "";
      if (line === "" || id === "" || id !== currentId) {
        if (current.length > 0) events.push(current);
        current = [];
      }
      currentId = id;
      if (line !== "") current.push(latin1OfUtf8(line));
    }
    if (current.length > 0) events.push(current);
  }
  const kills = events.filter((lines) => lines.some((line) => /type=SYSCALL/.test(line) && / syscall=(62|200|234|424|129|297|kill|tkill|tgkill|pidfd_send_signal) /.test(line)));
  return { events, kills };
}

const ODD_NUMBERS = ["12345678901234567890", "9007199254740993", "-0", "007", "4294967296", "-2147483649", "4294967295", "-1", "", "1e3", "0x10"];
const INSERTS = ['"', "'", "\x1d", "msg='", "__proto__=", "0=", "=", " ", "  "];
const NON_ASCII = ["é", "😀", "\u202e", "\u00a0"].map(latin1OfUtf8);

/** The spaces that start fields: [start of the field's name, end of its value). */
function fieldSpans(line: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  let start = line.indexOf(" ");
  while (start >= 0 && start < line.length) {
    const next = line.indexOf(" ", start + 1);
    const end = next < 0 ? line.length : next;
    if (end > start + 1) spans.push([start + 1, end]);
    start = next;
  }
  return spans;
}

/** One mutation of `line` (bytes as latin1), its kind chosen by rng. */
function mutate(line: string, rng: Rng): string {
  const spans = fieldSpans(line);
  const span = spans.length > 0 ? rng.pick(spans) : null;
  const at = rng.int(0, line.length);
  switch (rng.int(0, 7)) {
    case 0: // truncate
      return line.slice(0, rng.int(1, Math.max(1, line.length - 1)));
    case 1: {
      // flip a bit, never into a newline
      if (line.length === 0) return line;
      const i = rng.int(0, line.length - 1);
      let c = line.charCodeAt(i) ^ (1 << rng.int(0, 7));
      if (c === 0x0a) c ^= 0x80;
      return line.slice(0, i) + String.fromCharCode(c) + line.slice(i + 1);
    }
    case 2: // repeat a field, beside it or at the end
      if (span === null) return line;
      return rng.chance(0.5) ? `${line.slice(0, span[1])} ${line.slice(span[0], span[1])}${line.slice(span[1])}` : `${line} ${line.slice(span[0], span[1])}`;
    case 3: // drop a field
      return span === null ? line : line.slice(0, span[0] - 1) + line.slice(span[1]);
    case 4: {
      // odd hex: odd length, a `g`, lower case, `0x`
      const hex = spans.filter(([s, e]) => /^[\w-]+=[0-9A-Fa-f]{2,}$/.test(line.slice(s, e)));
      if (hex.length === 0) return line;
      const [s, e] = rng.pick(hex);
      const eq = line.indexOf("=", s) + 1;
      const value = line.slice(eq, e);
      const odd = [value.slice(0, -1), value.slice(0, 1) + "g" + value.slice(1), value.toLowerCase(), `0x${value}`, value + "0"];
      return line.slice(0, eq) + rng.pick(odd) + line.slice(e);
    }
    case 5: {
      // huge or odd numbers
      const numbers = spans.filter(([s, e]) => /^[\w-]+=-?\d+$/.test(line.slice(s, e)));
      if (numbers.length === 0) return line;
      const [s, e] = rng.pick(numbers);
      const eq = line.indexOf("=", s) + 1;
      return line.slice(0, eq) + rng.pick(ODD_NUMBERS) + line.slice(e);
    }
    case 6: // quotes, 0x1d, msg=', __proto__=, 0= at a field's start or anywhere
      return span !== null && rng.chance(0.5) ? line.slice(0, span[0]) + rng.pick(INSERTS) + line.slice(span[0]) : line.slice(0, at) + rng.pick(INSERTS) + line.slice(at);
    default: // non-ASCII: UTF-8 text, or a raw byte 0x80-0xff (not UTF-8)
      return line.slice(0, at) + (rng.chance(0.5) ? rng.pick(NON_ASCII) : String.fromCharCode(rng.int(0x80, 0xff))) + line.slice(at);
  }
}

/**
 * About `count` lines of real events, each under a new stamp (so events stay
 * apart and time runs forward), every line mutated one to three times; a kill
 * event one time in three, so attribute has signals to write.
 */
export function mutatedLog(seed: number, count: number): string[] {
  const rng = new Rng(seed);
  const { events, kills } = realEvents();
  const out: string[] = [];
  let seconds = 1_700_000_000;
  let serial = 1;
  while (out.length < count) {
    const event = rng.chance(0.35) ? rng.pick(kills) : rng.pick(events);
    seconds += rng.int(0, 2);
    const stamp = `audit(${seconds}.${String(rng.int(0, 999)).padStart(3, "0")}:${serial++})`;
    for (const original of event) {
      let line = original.replace(/audit\(\d+\.\d+:\d+\)/, stamp);
      if (rng.chance(MUTATED)) for (let n = rng.int(1, 3); n > 0; n--) line = mutate(line, rng);
      out.push(line);
    }
  }
  return out;
}

/** The lines as capture writes them, one `record` line each; now and then a lone surrogate in the raw text (JSON can hold one, a file cannot). */
export function recordLines(lines: string[], file: string, rng: Rng): string[] {
  const errors = new InputErrors({ strict: false, print: () => {}, printLimit: 0 });
  const stats = { records: 0, structural: 0 };
  const oom = new OomJoiner();
  const out: string[] = [];
  lines.forEach((line, i) => {
    const text = Buffer.from(line, "latin1").toString("utf8");
    const record = lineToRecord(text.replace(/\r$/, ""), { file, line: i + 1 }, errors, stats, oom);
    if (record === null) return;
    if (rng.chance(0.02)) {
      const at = rng.int(0, record.raw.length);
      record.raw = `${record.raw.slice(0, at)}\ud800${record.raw.slice(at)}`;
    }
    out.push(JSON.stringify(record));
  });
  return out;
}
