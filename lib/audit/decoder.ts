/**
 * The decode stage as one streaming object: raw audit lines or `record`
 * lines in, assembled events out through a callback (to the EventStage's
 * sink, lib/audit/event-stage.ts), with an explicit `flush()`
 * at end of input. Every input line ends up in an event, is counted as
 * structure (blank, comment, ausearch separators) or as a kernel log's other
 * line (errors.notAudit), or is reported as an error with its file and line.
 */
import type { RecordLine, SourceRef } from "../schema.ts";
import { EventAssembler, type AssembledEvent, type AssemblerOptions, type PendingRecord } from "./assemble.ts";
import { InputErrors } from "./input-errors.ts";
import { ByteRecord } from "./bytes/record.ts";
import { PlainHeader } from "./bytes/header.ts";
import { RecordLineReader } from "./bytes/record-line.ts";
import { isAuditText } from "../sources/registry.ts";
import { parseLine, parseId } from "./line.ts";
import { OomJoiner } from "../sources/kernel-oom.ts";
import type { PassKind } from "../sources/inputs.ts";

export interface DecoderOptions extends AssemblerOptions {
  errors: InputErrors;
  /** Interpret only events this accepts; the others are counted in `skipped`. */
  eventFilter?: (event: AssembledEvent) => boolean;
}

export interface DecoderStats {
  records: number;
  events: number;
  structural: number;
  /** Events grouped but not interpreted (eventFilter said no). */
  skipped: number;
}

export class Decoder {
  private readonly assembler: EventAssembler;
  /** This stream's OOM lines, joined into KERNEL_OOM records. */
  private readonly oom = new OomJoiner();
  readonly stats: DecoderStats = { records: 0, events: 0, structural: 0, skipped: 0 };

  constructor(
    private readonly options: DecoderOptions,
    private readonly emit: (event: AssembledEvent) => void,
  ) {
    this.assembler = new EventAssembler((event) => this.emitEvent(event), options);
  }

  /** One raw text line (audit.log, ausearch output, kernel log…). */
  pushRaw(text: string, source: SourceRef): void {
    const parsed = parseLine(text);
    if (parsed.kind === "record") {
      this.pushStamped(parsed.node ?? null, parsed.id!, parsed, { type: parsed.type!, raw: text, bodyStart: parsed.bodyStart!, source });
    } else if (parsed.kind === "invalid" || parsed.kind === "not-audit") {
      const oom = parsed.kind === "not-audit" ? this.oom.line(text, source) : null;
      if (oom !== null) this.pushRecord(oom);
      else this.options.errors.skipOrReport(source, parsed, text);
    } else {
      this.stats.structural++;
    }
  }

  /**
   * One raw line as ASCII bytes in reader memory (lib/sources/slot-reader.ts).
   * A plain `[node=… ]type=… msg=audit(…):` line becomes a ByteRecord with no
   * string made; any other form goes the string way (pushRaw), which also
   * reports what is wrong with a bad line. Returns the ByteRecord, if one was
   * made, so the caller can copy it out before its memory is reused.
   */
  pushBytes(bytes: Buffer, start: number, end: number, line: number, file: string): ByteRecord | null {
    const record = this.pushPlain(bytes, start, end, line, file, null);
    if (record === null) this.pushRaw(bytes.toString("latin1", start, end), { file, line });
    return record;
  }

  /**
   * A `record` line (\`capture | decode\`) as ASCII bytes in reader memory. In
   * the exact shape our writers produce, its raw text is unescaped in place
   * and becomes what pushRecord would make of the parsed line (a ByteRecord,
   * when the raw text is a plain record). false, with nothing done and
   * nothing changed, for any other line: the caller parses it as JSON.
   */
  pushRecordBytes(bytes: Buffer, start: number, end: number): ByteRecord | null | false {
    const reader = this.recordLines;
    if (!reader.read(bytes, start, end) || reader.isOwnType() || !reader.unescape()) return false;
    const record = this.pushPlain(bytes, reader.rawStart, reader.rawEnd, reader.source.line, reader.file, reader.node);
    // Not a plain record (a kernel-log form, a bad stamp…): the object JSON.parse would have made.
    if (record === null) this.pushRecord(reader.toRecordLine());
    return record;
  }

  /**
   * A plain record line at bytes[start, end) into the assembler as a
   * ByteRecord, or null (nothing done) for any other form. `nodeOverride`:
   * the node a `record` line names, which wins over the raw text's own.
   */
  private pushPlain(bytes: Buffer, start: number, end: number, line: number, file: string, nodeOverride: string | null): ByteRecord | null {
    const header = this.header;
    if (!header.read(bytes, start, end)) return null;
    const record = new ByteRecord(header.type, bytes, start, end, header.bodyStart - start, file, line);
    this.stats.records++;
    this.assembler.push(nodeOverride ?? header.node(), header.id(), header.seconds, header.millis, record, header.serial, true);
    return record;
  }

  private readonly header = new PlainHeader();

  private readonly recordLines = new RecordLineReader();

  /** One `record` line from capture. */
  pushRecord(record: RecordLine): void {
    if (!isAuditText(record.type)) {
      // A source's own record (tracefs): its raw text has no audit stamp to parse.
      const own = { type: record.type, raw: record.raw, bodyStart: 0, source: record.source, fromJson: true };
      return this.pushStamped(record.node, record.id, parseId(record.id), record.time ? { ...own, time: record.time } : own);
    }
    const parsed = parseLine(record.raw);
    if (parsed.kind !== "record") {
      this.options.errors.report(record.source, parsed.error ?? "record line holds no audit record", record.raw);
      return;
    }
    // The record line's node wins: capture may know it when the raw text does not say.
    const pending = { type: parsed.type!, raw: record.raw, bodyStart: parsed.bodyStart!, source: record.source, fromJson: true };
    this.pushStamped(record.node ?? parsed.node ?? null, parsed.id!, parsed, pending);
  }

  /** A record into the assembler, under its event's stamp (a source's own record may have none: 0). */
  private pushStamped(node: string | null, id: string, stamp: { seconds?: number; millis?: number; serial?: number } | null, record: PendingRecord): void {
    this.stats.records++;
    this.assembler.push(node, id, stamp?.seconds ?? 0, stamp?.millis ?? 0, record, stamp?.serial ?? 0);
  }

  /** `count` records the caller read no further (attribute's prefilter): they still count and move audit time (EventAssembler.pass). */
  pass(seconds: number, kind: PassKind, count = 1): void {
    if (kind === "record") this.assembler.pass(seconds, false, count);
    else if (kind === "eoe") this.assembler.pass(seconds, true, count);
    else if (kind === "syscall-before") this.assembler.syscallBefore();
    else this.assembler.countedBefore();
  }

  /** The input went quiet: emit events known to be complete. */
  settle(): void {
    this.assembler.settle();
  }

  flush(): void {
    this.assembler.flush();
  }

  /** Lines folded into an event rather than emitted on their own: late EOEs and exact duplicates. */
  get folded(): number {
    return this.assembler.lateEoe + this.assembler.duplicates;
  }

  private emitEvent(event: AssembledEvent): void {
    const filter = this.options.eventFilter;
    if (!filter || filter(event)) {
      this.stats.events++;
      this.emit(event);
    } else this.stats.skipped++;
    // Written or skipped: lines read as bytes no longer hold their reader memory.
    for (const record of event.records) if (record instanceof ByteRecord) record.release();
  }
}
