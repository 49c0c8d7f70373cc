/**
 * JSON Lines in and out.
 *
 * In: every stage accepts whatever comes from upstream, line by line: raw
 * audit text, or a JSON object with a `kind` (record, event, signal, gap…).
 * Out: a buffered writer that writes whole lines with writeSync, so output
 * stays ordered and cheap, and a closed pipe (`| head`) ends the run quietly.
 */
import { writeSync } from "node:fs";
import { WhokilledError } from "./errors.ts";
import type { AnyLine, SourceRef } from "./schema.ts";
import type { InputErrors } from "./audit/input-errors.ts";
import { closeSource, openSource, rawChunks, type OpenSource } from "./sources/file.ts";
import { SlotReader, type SlotLineSink } from "./sources/slot-reader.ts";

/**
 * Drops raw lines a stage does not need before they become strings (see
 * lib/signals/prefilter.ts). Fed one input's lines as bytes by a SlotReader,
 * it calls `take` with the text and line number of each line to keep, in
 * order; it may hold a line and give it later.
 */
export interface LinePrefilter {
  sink(take: (text: string, line: number) => void): SlotLineSink;
}

export type InputItem =
  | { form: "raw"; text: string; source: SourceRef }
  | { form: "json"; value: AnyLine; source: SourceRef };

const KINDS = new Set(["record", "gap", "event", "signal", "bait", "rule", "status", "blindspot"]);

/** Classify one input line. Returns null (and reports) for a JSON line we cannot use. */
export function classifyLine(text: string, source: SourceRef, errors: InputErrors): InputItem | null {
  if (text.charCodeAt(0) !== 0x7b /* { */) return { form: "raw", text, source };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    errors.report(source, `invalid JSON (${(error as Error).message})`, text);
    return null;
  }
  if (typeof value !== "object" || value === null || !KINDS.has((value as { kind?: string }).kind ?? "")) {
    errors.report(source, "JSON line without a known \"kind\"", text);
    return null;
  }
  return { form: "json", value: value as AnyLine, source };
}

/**
 * Buffered line writer to a file descriptor (stdout by default). Lines are
 * encoded straight into one reused buffer and written with writeSync: no
 * intermediate joined string, no per-line allocation of bytes.
 */
export class LineWriter {
  private buffer: Buffer;
  private used = 0;
  lines = 0;

  constructor(
    private readonly fd = 1,
    size = 1 << 20,
  ) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  writeLine(text: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit; +1 for the newline.
    const worst = text.length * 3 + 1;
    if (this.used + worst > this.buffer.length) {
      this.flush();
      if (worst > this.buffer.length) this.buffer = Buffer.allocUnsafe(worst);
    }
    this.used += this.buffer.write(text, this.used, "utf8");
    this.buffer[this.used++] = 0x0a;
    this.lines++;
  }

  write(value: unknown): void {
    this.writeLine(JSON.stringify(value));
  }

  /**
   * For serializers that encode straight into the buffer: room for `n` more
   * bytes from `offset`. Write there, then `commit` the end of what you wrote
   * (whole lines, each with its newline). The buffer may change between calls.
   */
  reserve(n: number): Buffer {
    if (this.used + n > this.buffer.length) {
      this.flush();
      if (n > this.buffer.length) this.buffer = Buffer.allocUnsafe(n);
    }
    return this.buffer;
  }

  get offset(): number {
    return this.used;
  }

  commit(end: number, lines = 1): void {
    this.used = end;
    this.lines += lines;
  }

  flush(): void {
    let offset = 0;
    while (offset < this.used) {
      try {
        offset += writeSync(this.fd, this.buffer, offset, this.used - offset);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") {
          Bun.sleepSync(1);
          continue;
        }
        this.used = 0;
        if (code === "EPIPE") throw new WhokilledError("E_PIPE", "output closed by reader");
        throw new WhokilledError("E_IO", `cannot write output: ${(error as Error).message}`);
      }
    }
    this.used = 0;
  }
}

/**
 * Every input (`-` = stdin; `.gz` gunzipped) as batches of classified items,
 * one batch per chunk read, files one after another in the order given.
 *
 * Without a prefilter each chunk is decoded to text once and split in JS:
 * per-line Buffer views or per-line decoding cost more than everything else
 * on a 1M-line log. A line is then a slice of its chunk's text, so state
 * kept for a whole run must hold copies (lib/strings.ts `detach`), or it
 * pins whole chunks. With a prefilter, lines are judged on their bytes and
 * only the kept ones become (independent) strings.
 */
export async function* readInputs(
  paths: readonly string[],
  errors: InputErrors,
  options: { signal?: AbortSignal; prefilter?: LinePrefilter } = {},
): AsyncGenerator<InputItem[]> {
  // One reader for all inputs: lines a prefilter holds stay valid across them (it hears of every reuse).
  const reader = options.prefilter ? new SlotReader() : null;
  for (const path of paths) {
    const source = openSource(path);
    try {
      yield* options.prefilter && reader
        ? filteredLines(source, path, errors, options.prefilter, reader, options.signal)
        : textLines(source, path, errors, options.signal);
    } finally {
      closeSource(source);
    }
  }
}

async function* textLines(source: OpenSource, file: string, errors: InputErrors, signal?: AbortSignal): AsyncGenerator<InputItem[]> {
  // stream: true keeps a multi-byte character split across chunks intact.
  const decoder = new TextDecoder("utf-8");
  let carry = "";
  let lineNumber = 0;
  let items: InputItem[] = [];
  const take = (text: string, start: number, end: number) => {
    lineNumber++;
    if (end > start && text.charCodeAt(end - 1) === 0x0d) end--;
    const item = classifyLine(text.slice(start, end), { file, line: lineNumber }, errors);
    if (item) items.push(item);
  };
  for await (const chunk of rawChunks(source, 0, undefined, signal, true)) {
    const text = carry + decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let newline = text.indexOf("\n"); newline >= 0; newline = text.indexOf("\n", start)) {
      take(text, start, newline);
      start = newline + 1;
    }
    carry = text.slice(start);
    if (items.length > 0) {
      yield items;
      items = [];
    }
  }
  const rest = carry + decoder.decode();
  if (rest.length > 0) take(rest, 0, rest.length);
  if (items.length > 0) yield items;
}

async function* filteredLines(
  source: OpenSource,
  file: string,
  errors: InputErrors,
  prefilter: LinePrefilter,
  reader: SlotReader,
  signal?: AbortSignal,
): AsyncGenerator<InputItem[]> {
  let items: InputItem[] = [];
  const sink = prefilter.sink((text, line) => {
    const item = classifyLine(text, { file, line }, errors);
    if (item) items.push(item);
  });
  for await (const _ of reader.batches(source, sink, signal)) {
    if (items.length > 0) {
      yield items;
      items = [];
    }
  }
}
