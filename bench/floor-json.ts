#!/usr/bin/env bun
/**
 * The floor under decode's output: the least work that writes what every
 * decoded record must carry, and nothing more. Reads FILE as floor.ts does
 * (1 MiB chunks, one reused buffer) and writes, for every line, one JSON line
 * into a reused 1 MiB output buffer flushed with writeSync:
 *
 *   --raw      {"raw":"…"}: the line as a JSON string (escaped: `"`, `\`,
 *              control characters), what `raw` costs;
 *   --fields   {"fields":{"name":"value",…},"raw":"…"}: also the line split
 *              into name=value pairs, double-quoted values unquoted, in the
 *              same pass, what `fields` and `raw` together cost.
 *
 * Left out, all of which decode does too: events (grouping by stamp), the
 * type and stamp read apart, field names checked and numbered, msg='…' and
 * the ENRICHED tail as their own maps, every decoded value, the summary
 * (syscall, process, targets), times, source positions, hex values decoded,
 * a non-ASCII line read as UTF-8 (here each byte past ASCII is escaped alone:
 * not the right text, but the generated log has none). bench.ts times this
 * next to decode: what a decode goal leaves above it is the time all of
 * those must fit in. The loops are written as our writer's are (a PLAIN
 * table, indexed stores, small functions that JSC compiles quickly).
 *
 *   bun bench/floor-json.ts FILE --raw | --fields
 */
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { escapeAscii, PLAIN } from "../lib/bytes/json.ts";

const file = process.argv[2];
const withFields = process.argv.includes("--fields");
if (!file || (!withFields && !process.argv.includes("--raw"))) {
  process.stderr.write("usage: bun bench/floor-json.ts FILE --raw | --fields\n");
  process.exit(2);
}

const QUOTE = 0x22;
const SPACE = 0x20;
const EQ = 0x3d;
const NL = 0x0a;
const enc = new TextEncoder();
const OPEN_RAW = enc.encode('{"raw":"');
const OPEN_FIELDS = enc.encode('{"fields":{');
const MID_RAW = enc.encode('},"raw":"');
const CLOSE = enc.encode('"}\n');

const CHUNK = 1 << 20;
const input = Buffer.allocUnsafe(2 * CHUNK + 1);
// A line is at most 1 MiB; its JSON at most 6 bytes a byte, twice.
const output = Buffer.allocUnsafe(CHUNK + 12 * CHUNK + 64);
let op = 0;

function put(bytes: Uint8Array, p: number): number {
  for (let k = 0; k < bytes.length; k++) output[p++] = bytes[k]!;
  return p;
}

/** line[start, end) as the inside of a JSON string at p. */
function escapeRange(line: Uint8Array, start: number, end: number, p: number): number {
  const out = output;
  for (let i = start; i < end; i++) {
    const c = line[i]!;
    if (PLAIN[c] === 1) out[p++] = c;
    else p = escapeAscii(out, p, c);
  }
  return p;
}

function rawLine(line: Uint8Array, start: number, end: number): void {
  let p = put(OPEN_RAW, op);
  p = escapeRange(line, start, end, p);
  op = put(CLOSE, p);
}

// The raw text goes to a scratch buffer while the fields go out, as decode's one pass does.
const raw = Buffer.allocUnsafe(6 * CHUNK + 16);

/** Where fieldsAndRaw left off: [output position, end of the raw text in `raw`]. */
const ends = new Int32Array(2);

/** The fields of line[start, end) as JSON members at p, and the line escaped into `raw`. */
function fieldsAndRaw(line: Uint8Array, start: number, end: number, p: number): void {
  const out = output;
  const r = raw;
  let rp = 0;
  let comma = false;
  let i = start;
  while (i < end) {
    let c = line[i]!;
    if (c === SPACE) {
      r[rp++] = c;
      i++;
      continue;
    }
    const mark = p;
    if (comma) out[p++] = 0x2c;
    out[p++] = QUOTE;
    while (i < end) {
      c = line[i]!;
      if (c === EQ || c === SPACE) break;
      if (PLAIN[c] === 1) {
        out[p++] = c;
        r[rp++] = c;
      } else {
        p = escapeAscii(out, p, c);
        rp = escapeAscii(r, rp, c);
      }
      i++;
    }
    if (i >= end || c === SPACE) {
      // A word without a value: in the raw text only.
      p = mark;
      continue;
    }
    out[p++] = QUOTE;
    out[p++] = 0x3a;
    out[p++] = QUOTE;
    r[rp++] = EQ;
    i++;
    if (i < end && line[i] === QUOTE) {
      r[rp++] = 0x5c;
      r[rp++] = QUOTE;
      i++;
      while (i < end) {
        c = line[i]!;
        if (c === QUOTE) break;
        if (PLAIN[c] === 1) {
          out[p++] = c;
          r[rp++] = c;
        } else {
          p = escapeAscii(out, p, c);
          rp = escapeAscii(r, rp, c);
        }
        i++;
      }
      if (i < end) {
        r[rp++] = 0x5c;
        r[rp++] = QUOTE;
        i++;
      }
    } else {
      while (i < end) {
        c = line[i]!;
        if (c === SPACE) break;
        if (PLAIN[c] === 1) {
          out[p++] = c;
          r[rp++] = c;
        } else {
          p = escapeAscii(out, p, c);
          rp = escapeAscii(r, rp, c);
        }
        i++;
      }
    }
    out[p++] = QUOTE;
    comma = true;
  }
  ends[0] = p;
  ends[1] = rp;
}

function fieldsLine(line: Uint8Array, start: number, end: number): void {
  fieldsAndRaw(line, start, end, put(OPEN_FIELDS, op));
  let p = put(MID_RAW, ends[0]!);
  const rawEnd = ends[1]!;
  for (let k = 0; k < rawEnd; k++) output[p++] = raw[k]!;
  op = put(CLOSE, p);
}

function flush(): void {
  let done = 0;
  while (done < op) done += writeSync(1, output, done, op - done);
  op = 0;
}

const fd = openSync(file, "r");
let position = 0;
let lines = 0;
let carried = 0;
for (;;) {
  const n = readSync(fd, input, carried, CHUNK, position);
  if (n <= 0) break;
  position += n;
  const end = carried + n;
  let start = 0;
  input[end] = NL; // sentinel: indexOf stops at the data's end
  for (;;) {
    const nl = input.indexOf(NL, start);
    if (nl >= end) break;
    lines++;
    if (withFields) fieldsLine(input, start, nl);
    else rawLine(input, start, nl);
    if (op >= CHUNK) flush();
    start = nl + 1;
  }
  carried = end - start;
  if (carried > CHUNK) throw new Error("a line longer than 1 MiB: not an audit log");
  input.copyWithin(0, start, end);
}
if (carried > 0) {
  lines++;
  if (withFields) fieldsLine(input, 0, carried);
  else rawLine(input, 0, carried);
}
flush();
closeSync(fd);
process.stderr.write(`${lines} lines\n`);
