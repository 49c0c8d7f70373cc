/**
 * decode and attribute run in-process exactly as their scripts run them:
 * the streaming stage reading files as bytes, writing through a LineWriter
 * (lines from the records' bytes where the byte writers take them) into a
 * temporary file read back as text. The golden and mutation tests hold these
 * to the object path (helpers/run.ts decodeFiles, attributeFiles), so they
 * must stay the scripts' own calls: change them with scripts/decode.ts and
 * scripts/attribute.ts.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputErrors } from "../../lib/audit/input-errors.ts";
import { LineWriter } from "../../lib/bytes/line-writer.ts";
import { runDecode, type DecodeSettings } from "../../lib/audit/event-stage.ts";
import type { SignalFilterOptions } from "../../lib/signals/filter.ts";
import { runAttribute } from "../../lib/signals/signal-stage.ts";
import { oracleIds } from "./run.ts";

/** Error messages kept (as helpers/run.ts keeps them); more are only counted. */
export const PRINT_LIMIT = 10_000;

/**
 * A LineWriter that tells lines made as objects (write: JSON.stringify of
 * the object path's line) from lines a byte writer made (reserve/commit).
 */
class CountingLineWriter extends LineWriter {
  objects = 0;
  override write(value: unknown): void {
    this.objects++;
    super.write(value);
  }
}

/** What a streaming run wrote: its stdout, its error messages, and how many lines the byte writers made. */
export interface StreamRun {
  text: string;
  messages: string[];
  /** Errors counted (messages beyond the print limit are counted, not kept). */
  errors: number;
  /** Lines written, and of them, lines written from bytes (not as objects). */
  lines: number;
  fromBytes: number;
}

/** Runs `body` with a LineWriter to a temporary file; returns what it wrote. */
async function intoFile(body: (writer: CountingLineWriter, errors: InputErrors) => Promise<void>): Promise<StreamRun> {
  const messages: string[] = [];
  const errors = new InputErrors({ strict: false, print: (m) => messages.push(m), printLimit: PRINT_LIMIT });
  const dir = mkdtempSync(join(tmpdir(), "wk-stream-"));
  const out = join(dir, "out.jsonl");
  const fd = openSync(out, "w");
  try {
    // A small buffer, so lines also cross flushes.
    const writer = new CountingLineWriter(fd, 1 << 16);
    await body(writer, errors);
    writer.flush();
    return { text: readFileSync(out, "utf8"), messages, errors: errors.count, lines: writer.lines, fromBytes: writer.lines - writer.objects };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** As scripts/decode.ts runs. */
export function decodeScript(paths: string[], settings: DecodeSettings = oracleIds): Promise<StreamRun> {
  return intoFile(async (writer, errors) => {
    await runDecode(paths, settings, errors, writer);
  });
}

/** As scripts/attribute.ts runs with JSON output (not the table). */
export function attributeScript(paths: string[], filter: SignalFilterOptions = {}, settings: DecodeSettings = oracleIds): Promise<StreamRun> {
  return intoFile(async (writer, errors) => {
    await runAttribute(paths, { ...settings, filter }, errors, writer);
  });
}

/** As scripts/attribute.ts runs for `--format table`: the same reader, every signal made as an object (the byte writer unused), written as JSON. */
export function attributeObjectsScript(paths: string[], filter: SignalFilterOptions = {}, settings: DecodeSettings = oracleIds): Promise<StreamRun> {
  return intoFile(async (writer, errors) => {
    await runAttribute(paths, { ...settings, filter }, errors, writer, { emit: (line) => writer.write(line) });
  });
}
