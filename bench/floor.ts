#!/usr/bin/env bun
/**
 * The floor under any Bun line pipeline: read FILE in 1 MiB chunks, split at
 * "\n" and turn every line into a string, nothing else. bench.ts times it
 * next to our tools so a goal below this line is visibly out of reach.
 *
 *   bun bench/floor.ts FILE [--bytes]   (--bytes: split only, no strings)
 */
import { closeSync, openSync, readSync } from "node:fs";

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: bun bench/floor.ts FILE [--bytes]\n");
  process.exit(2);
}
const strings = !process.argv.includes("--bytes");
const fd = openSync(file, "r");
const CHUNK = 1 << 20;
let position = 0;
let lines = 0;
let chars = 0;
let carry: Buffer | null = null;
for (;;) {
  const chunk = Buffer.allocUnsafe(CHUNK);
  const n = readSync(fd, chunk, 0, CHUNK, position);
  if (n <= 0) break;
  position += n;
  let buf = chunk.subarray(0, n);
  if (carry) {
    buf = Buffer.concat([carry, buf]);
    carry = null;
  }
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) break;
    lines++;
    if (strings) chars += buf.toString("utf8", start, nl).length;
    start = nl + 1;
  }
  if (start < buf.length) carry = Buffer.from(buf.subarray(start));
}
if (carry) lines++;
closeSync(fd);
process.stdout.write(`${lines} lines${strings ? `, ${chars} chars` : ""}\n`);
