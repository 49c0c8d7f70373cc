/**
 * capture's core: raw lines → `record` lines, kept cheap (only the prefix is
 * parsed; fields are decoded downstream).
 */
import { PlainHeader } from "../audit/bytes/header.ts";
import { isAsciiRange } from "../bytes/read.ts";
import { parseLine } from "../audit/line.ts";
import type { InputErrors } from "../audit/input-errors.ts";
import { ascii, copyEscaped, jsonBytes, putBytes, writeInt } from "../bytes/json.ts";
import type { LineWriter } from "../bytes/line-writer.ts";
import type { RecordLine, SourceRef } from "../schema.ts";
import { OomJoiner } from "./kernel-oom.ts";
import { readJsonLine, type JsonLine } from "./inputs.ts";

export interface CaptureStats {
  records: number;
  structural: number;
}

/**
 * One raw line → a record line, or null for structure (blank, `----`, `time->`, comments), a kernel log's other lines and errors.
 * `oom` is the stream's OOM joiner: the caller holds one per stream it reads.
 */
export function lineToRecord(text: string, source: SourceRef, errors: InputErrors, stats: CaptureStats, oom: OomJoiner): RecordLine | null {
  if (text.charCodeAt(0) === 0x7b /* { */) {
    let read: JsonLine | null;
    try {
      read = readJsonLine(text, source, errors);
    } catch {
      read = { is: "invalid", error: new Error() }; // a journal entry that cannot be read (a time out of range): parseLine reports it
    }
    if (read === null) return null;
    if (read.is === "structure") {
      stats.structural++; // a journal entry of another transport
      return null;
    }
    if (read.is === "systemd") {
      stats.records++;
      return read.record;
    }
    if (read.is === "audit") text = read.text;
    // Else no journal entry (not JSON, or other JSON): parseLine reports it.
  }
  const parsed = parseLine(text);
  if (parsed.kind === "record") {
    stats.records++;
    return { kind: "record", type: parsed.type!, id: parsed.id!, node: parsed.node ?? null, raw: text, source };
  }
  if (parsed.kind === "not-audit") {
    // The OOM killer's report becomes a KERNEL_OOM record (lib/sources/kernel-oom.ts); the kernel's other lines are skipped.
    const killed = oom.line(text, source);
    if (killed !== null) {
      stats.records++;
      return killed;
    }
  }
  if (parsed.kind === "invalid" || parsed.kind === "not-audit") errors.skipOrReport(source, parsed, text);
  else stats.structural++;
  return null;
}

const OPEN = ascii('{"kind":"record","type":"');
const ID = ascii('","id":"');
const NODE_NULL = ascii('","node":null,"raw":"');
const NODE = ascii('","node":"');
const RAW = ascii('","raw":"');
const FILE = ascii('","source":{"file":');
const LINE = ascii(',"line":');

/**
 * lineToRecord and the writer's JSON.stringify in one, for a raw line read
 * as ASCII bytes: a plain record line is written as its `record` line
 * straight from the bytes, the same bytes JSON.stringify would give
 * (test/capture-bytes.test.ts holds the two side by side). Any other line
 * goes through lineToRecord.
 */
export class RecordLineWriter {
  private readonly header = new PlainHeader();
  private readonly oom = new OomJoiner();
  private file = "";
  private fileJson: Uint8Array = jsonBytes("");

  constructor(
    private readonly writer: LineWriter,
    private readonly errors: InputErrors,
    private readonly stats: CaptureStats,
  ) {}

  /** bytes[start, end) is one line (ASCII when `ascii`) of `file`, number `line`. */
  line(bytes: Buffer, start: number, end: number, ascii: boolean, file: string, line: number): void {
    const header = this.header;
    if (!(ascii || isAsciiRange(bytes, start, end)) || !header.read(bytes, start, end)) {
      const record = lineToRecord(bytes.toString("utf8", start, end), { file, line }, this.errors, this.stats, this.oom);
      if (record) this.writer.write(record);
      return;
    }
    this.stats.records++;
    if (file !== this.file) {
      this.file = file;
      this.fileJson = jsonBytes(file);
    }
    // Every byte escaped to at most 6, plus the keys, the file and the number.
    const out = this.writer.reserve(6 * (end - start) + this.fileJson.length + 160);
    let p = this.writer.offset;
    p = putBytes(out, p, OPEN);
    p = copyEscaped(bytes, header.typeStart, header.typeEnd, out, p);
    p = putBytes(out, p, ID);
    p = copyEscaped(bytes, header.stampStart, header.stampEnd, out, p);
    if (header.nodeStart < 0) p = putBytes(out, p, NODE_NULL);
    else {
      p = putBytes(out, p, NODE);
      p = copyEscaped(bytes, header.nodeStart, header.nodeEnd, out, p);
      p = putBytes(out, p, RAW);
    }
    p = copyEscaped(bytes, start, end, out, p);
    p = putBytes(out, p, FILE);
    p = putBytes(out, p, this.fileJson);
    p = putBytes(out, p, LINE);
    p = writeInt(out, p, line);
    out[p++] = 0x7d;
    out[p++] = 0x7d;
    out[p++] = 0x0a;
    this.writer.commit(p);
  }
}
