#!/usr/bin/env bun
/**
 * The floor under any Bun line pipeline: read FILE in 1 MiB chunks into one
 * reused buffer and find every line's end, nothing else; with --strings, also
 * turn every line into a string. bench.ts times both next to our tools, so a
 * goal below these lines is visibly out of reach. (A fresh buffer per chunk
 * would add page faults, ~10 µs a page on this VM, and inflate the floor.)
 * With --native, the line ends are found in C (bench/floor-lines.c, memchr,
 * compiled at start by Bun's TinyCC, the compile included): the floor for a
 * tool that leaves even the line walk to native code.
 *
 *   bun bench/floor.ts FILE [--strings | --native]
 */
import { closeSync, openSync, readSync } from "node:fs";

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: bun bench/floor.ts FILE [--strings | --native]\n");
  process.exit(2);
}
const strings = process.argv.includes("--strings");
const countNative = process.argv.includes("--native") ? nativeCounter() : null;

/** count_lines from bench/floor-lines.c: the lines in buffer[0, end), and where the rest starts. */
function nativeCounter(): (buffer: Buffer, end: number) => { lines: number; rest: number } {
  const { cc } = require("bun:ffi") as typeof import("bun:ffi");
  const { symbols } = cc({ source: `${import.meta.dir}/floor-lines.c`, symbols: { count_lines: { args: ["ptr", "i32", "ptr"], returns: "i32" } } });
  const out = new Int32Array(1);
  return (buffer, end) => ({ lines: symbols.count_lines(buffer, end, out) as number, rest: out[0]! });
}
const fd = openSync(file, "r");
const CHUNK = 1 << 20;
// Room for a carried partial line in front of each chunk.
const buffer = Buffer.allocUnsafe(2 * CHUNK + 1);
let position = 0;
let lines = 0;
let chars = 0;
let carried = 0;
for (;;) {
  const n = readSync(fd, buffer, carried, CHUNK, position);
  if (n <= 0) break;
  position += n;
  const end = carried + n;
  let start = 0;
  if (countNative) {
    const counted = countNative(buffer, end);
    lines += counted.lines;
    start = counted.rest;
  } else {
    buffer[end] = 0x0a; // sentinel: indexOf stops at the data's end
    for (;;) {
      const nl = buffer.indexOf(0x0a, start);
      if (nl >= end) break;
      lines++;
      if (strings) chars += buffer.toString("utf8", start, nl).length;
      start = nl + 1;
    }
  }
  carried = end - start;
  if (carried > CHUNK) throw new Error("a line longer than 1 MiB: not an audit log");
  buffer.copyWithin(0, start, end);
}
if (carried > 0) lines++;
closeSync(fd);
process.stdout.write(`${lines} lines${strings ? `, ${chars} chars` : ""}\n`);
