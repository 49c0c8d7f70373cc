/**
 * JSON Lines in and out.
 *
 * In: every stage accepts whatever comes from upstream, line by line: raw
 * audit text, or a JSON object with a `kind` (record, event, signal, gap…).
 * Out: a buffered writer that writes whole lines with writeSync, so output
 * stays ordered and cheap, and a closed pipe (`| head`) ends the run quietly.
 */
import { isUtf8 } from "node:buffer";
import type { AnyLine, RecordLine, SourceRef } from "../schema.ts";
import type { InputErrors } from "../audit/input-errors.ts";
import { SlotReader, type SlotLineSink } from "./slot-reader.ts";
import { journalRecordOf } from "../audit/journal.ts";
import { journalRecord } from "./journal-systemd.ts";
import { isLineKind, lineProblem, unparsedProblem } from "../schema-check.ts";

/**
 * Drops raw lines a stage does not need before they become strings (see
 * lib/signals/prefilter.ts). Fed one input's lines as bytes by a SlotReader,
 * it calls `takeBytes` with the bytes and line number of each line to keep,
 * in order; it may hold a line and give it later.
 */
export interface LinePrefilter {
  /** `takeBytes` gets the kept lines as bytes (so a JSON line's UTF-8 is checked on them); `pass` hears of each record left unread. */
  sink(takeBytes: SlotLineSink["line"], pass: PassRecord): Omit<SlotLineSink, "inputError">;
  /** Tell `pass` now of the records left unread that it has not heard of yet (it hears of them in runs): at each chunk's end, before the stage may settle. */
  flushPassed(): void;
}

/**
 * Records a prefilter leaves unread, told in order with the lines it keeps:
 * their stamp's seconds, what they were, and how many in a row (`count`).
 * The assembler still counts each and moves audit time (lib/audit/assemble.ts
 * pass); `syscall-before` says the
 * SYSCALL about to be kept follows one under its stamp left unread, and
 * `counted` that the PROCTITLE about to be kept was held and told already.
 */
export type PassRecord = (seconds: number, kind: PassKind, count: number) => void;
export type PassKind = "record" | "eoe" | "syscall-before" | "counted";

export type InputItem =
  | { form: "raw"; text: string; source: SourceRef }
  | { form: "json"; value: AnyLine; source: SourceRef }
  | { form: "pass"; seconds: number; kind: PassKind; count: number };

/**
 * Classify one input line. Returns null (and reports) for a JSON line we
 * cannot use: not JSON, no known kind, or not of its kind's type
 * (lib/schema-check.ts), so no stage ever sees a line that does not fit.
 */
export function classifyLine(text: string, source: SourceRef, errors: InputErrors): InputItem | null {
  if (text.charCodeAt(0) !== 0x7b /* { */) return { form: "raw", text, source };
  const read = readJsonLine(text, source, errors);
  if (read === null) return null;
  switch (read.is) {
    case "audit":
      return { form: "raw", text: read.text, source };
    case "systemd":
      return { form: "json", value: read.record, source };
    case "structure":
      return { form: "raw", text: "", source }; // counted as structure
    case "invalid":
      errors.report(source, `invalid JSON (${read.error.message})`, text);
      return null;
  }
  const value = read.value;
  if (typeof value !== "object" || value === null || Array.isArray(value) || !isLineKind((value as { kind?: unknown }).kind)) {
    errors.report(source, "JSON line without a known \"kind\"", text);
    return null;
  }
  const problem = lineProblem(value as { kind: AnyLine["kind"] });
  if (problem !== null) {
    errors.report(source, problem, text);
    return null;
  }
  return { form: "json", value: value as AnyLine, source };
}

/** A `{` line read as far as a journal entry goes (readJsonLine). */
export type JsonLine =
  /** `journalctl -o json`: an audit record journald kept, as auditd would have written it (or a kernel message as its kern.log line). */
  | { is: "audit"; text: string }
  /** A systemd message: a record of the journal source (lib/sources/journal-systemd.ts). */
  | { is: "systemd"; record: RecordLine }
  /** An entry of another transport, or a kernel message the entry lacks: structure. */
  | { is: "structure" }
  /** JSON that is no journal entry: some other JSON line. */
  | { is: "json"; value: unknown }
  /** No JSON. */
  | { is: "invalid"; error: Error };

/**
 * A `{` line as classifyLine and capture's lineToRecord both read it: bounded
 * first, as every JSON line is, then parsed, then read as a journal entry.
 * null when it is none of use, reported here (too long or deep, or a journal
 * audit entry missing a part); each caller has its own way with a line that
 * is no journal entry (`json`, `invalid`).
 */
export function readJsonLine(text: string, source: SourceRef, errors: InputErrors): JsonLine | null {
  const unparsed = unparsedProblem(text);
  if (unparsed !== null) {
    errors.report(source, unparsed, text);
    return null;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { is: "invalid", error: error as Error };
  }
  const journal = journalRecordOf(value);
  if (journal === undefined) return { is: "json", value };
  if (journal === null) return { is: "structure" };
  if ("error" in journal) {
    errors.report(source, journal.error, text);
    return null;
  }
  if ("text" in journal) return { is: "audit", text: journal.text };
  // Another transport's entry: a record only when it is one of systemd's messages.
  const record = journalRecord(journal.entry, text, source);
  return record === null ? { is: "structure" } : { is: "systemd", record };
}

/**
 * classifyLine of the line bytes[start, end) (`ascii`: known to be ASCII).
 * JSON text is UTF-8 (RFC 8259), and whokilled writes nothing else: a JSON
 * line that is not is damaged, reported here on its bytes, before decoding
 * would quietly turn the bad bytes into U+FFFD.
 */
export function classifyBytes(bytes: Buffer, start: number, end: number, source: SourceRef, errors: InputErrors, ascii = false): InputItem | null {
  if (!ascii && bytes[start] === 0x7b /* { */ && !isUtf8(bytes.subarray(start, end))) {
    errors.report(source, "JSON line that is not valid UTF-8", bytes.toString("utf8", start, Math.min(end, start + 200)));
    return null;
  }
  return classifyLine(bytes.toString("utf8", start, end), source, errors);
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
    const keep = (item: InputItem | null) => void (item && items.push(item));
    const takeBytes = (bytes: Buffer, start: number, end: number, line: number, _slot: number, ascii: boolean) => keep(classifyBytes(bytes, start, end, { file: path, line }, errors, ascii));
    const inputError = (line: number, problem: string) => errors.report({ file: path, line }, problem);
    return options.prefilter
      ? { ...options.prefilter.sink(takeBytes, (seconds, kind, count) => items.push({ form: "pass", seconds, kind, count })), inputError }
      : { line: takeBytes, reuse: () => {}, inputError };
  };
  // One reader for all inputs: lines a prefilter holds stay valid across them (it hears of every reuse).
  for await (const _ of new SlotReader({ gcHints: true }).batchesOfPaths(paths, sinkFor, options.signal)) {
    options.prefilter?.flushPassed();
    if (items.length > 0) {
      yield items;
      items = [];
    }
  }
}
