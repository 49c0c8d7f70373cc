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
import type { AnyLine, RecordLine, SourceRef } from "./schema.ts";
import type { InputErrors } from "./audit/input-errors.ts";
import { SlotReader, type SlotLineSink } from "./sources/slot-reader.ts";
import { journalRecordOf } from "./audit/journal.ts";

/**
 * Drops raw lines a stage does not need before they become strings (see
 * lib/signals/prefilter.ts). Fed one input's lines as bytes by a SlotReader,
 * it calls `take` with the text and line number of each line to keep, in
 * order; it may hold a line and give it later.
 */
export interface LinePrefilter {
  sink(take: (kept: KeptLine, line: number) => void): Omit<SlotLineSink, "inputError">;
}

/** A line a prefilter keeps: its text, or a `record` line it has read already (what JSON.parse would make of it). */
export type KeptLine = string | RecordLine;

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
  // `journalctl -o json`: an audit record journald kept, as auditd would have written it.
  const journal = journalRecordOf(value);
  if (journal === null) return { form: "raw", text: "", source }; // another transport: counted as structure
  if (journal !== undefined) {
    if ("error" in journal) {
      errors.report(source, journal.error, text);
      return null;
    }
    return { form: "raw", text: journal.text, source };
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

/** A line a prefilter kept, as an input item: its text classified (null: reported, as classifyLine), or the record it read already. */
export function keptItem(kept: KeptLine, source: SourceRef, errors: InputErrors): InputItem | null {
  return typeof kept === "string" ? classifyLine(kept, source, errors) : { form: "json", value: kept, source };
}

/**
 * Every input (`-` = stdin; `.gz` gunzipped) as batches of classified items,
 * one batch per chunk read, files one after another in the order given.
 * Lines are split on their bytes by a SlotReader; each becomes a string of
 * its own, or, with a prefilter, only the lines it keeps do.
 */
export async function* readInputs(
  paths: readonly string[],
  errors: InputErrors,
  options: { signal?: AbortSignal; prefilter?: LinePrefilter } = {},
): AsyncGenerator<InputItem[]> {
  let items: InputItem[] = [];
  const sinkFor = (path: string): SlotLineSink => {
    const take = (kept: KeptLine, line: number) => {
      const item = keptItem(kept, { file: path, line }, errors);
      if (item) items.push(item);
    };
    const inputError = (line: number, problem: string) => errors.report({ file: path, line }, problem);
    return options.prefilter
      ? { ...options.prefilter.sink(take), inputError }
      : { line: (bytes, start, end, line) => take(bytes.toString("utf8", start, end), line), reuse: () => {}, inputError };
  };
  // One reader for all inputs: lines a prefilter holds stay valid across them (it hears of every reuse).
  for await (const _ of new SlotReader({ gcHints: true }).batchesOfPaths(paths, sinkFor, options.signal)) {
    if (items.length > 0) {
      yield items;
      items = [];
    }
  }
}
