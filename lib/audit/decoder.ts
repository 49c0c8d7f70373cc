/**
 * The decode stage as one streaming object: raw audit lines or `record`
 * lines in, assembled events out through a callback (EventStage interprets
 * them, or writes them straight as JSON bytes), with an explicit `flush()`
 * at end of input. Every input line ends up in an event, is counted as
 * structure (blank, comment, ausearch separators), or is reported as an
 * error with its file and line.
 */
import type { RecordLine, SourceRef } from "../schema.ts";
import { EventAssembler, type AssembledEvent, type AssemblerOptions } from "./assemble.ts";
import { InputErrors } from "./input-errors.ts";
import { ByteRecord } from "./byte-record.ts";
import { LastText, PlainHeader } from "./header-bytes.ts";
import { isSignalGenerateRecord, matchFileLineSource, matchRecordLine, unescapeAsciiInPlace, type RecordLineShape } from "./record-line-bytes.ts";
import { parseLine, parseId } from "./line.ts";

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
      this.stats.records++;
      this.assembler.push(
        parsed.node ?? null,
        parsed.id!,
        parsed.seconds!,
        parsed.millis!,
        { type: parsed.type!, raw: text, bodyStart: parsed.bodyStart!, source },
        parsed.serial!,
      );
    } else if (parsed.kind === "invalid") {
      this.options.errors.report(source, parsed.error ?? "invalid line", text);
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
    const shape = this.shape;
    const source = this.source;
    if (!matchRecordLine(bytes, start, end, shape) || !matchFileLineSource(bytes, shape.rawEnd, end, source)) return false;
    if (isSignalGenerateRecord(bytes, shape)) return false;
    const rawStart = shape.rawStart;
    const rawEnd = unescapeAsciiInPlace(bytes, rawStart, shape.rawEnd);
    if (rawEnd < 0) return false;
    const file = this.fileNames.of(bytes, source.fileStart, source.fileEnd);
    const node = shape.nodeStart < 0 ? null : this.nodeNames.of(bytes, shape.nodeStart, shape.nodeEnd);
    const record = this.pushPlain(bytes, rawStart, rawEnd, source.line, file, node);
    if (record === null) {
      // Not a plain record (a kernel-log form, a bad stamp…): the object JSON.parse would have made.
      this.pushRecord({
        kind: "record",
        type: bytes.toString("latin1", shape.typeStart, shape.typeEnd),
        id: bytes.toString("latin1", shape.idStart, shape.idEnd),
        node,
        raw: bytes.toString("latin1", rawStart, rawEnd),
        source: { file, line: source.line },
      });
    }
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

  private readonly shape: RecordLineShape = { typeStart: 0, typeEnd: 0, idStart: 0, idEnd: 0, nodeStart: -1, nodeEnd: -1, rawStart: 0, rawEnd: 0 };
  private readonly source = { fileStart: 0, fileEnd: 0, line: 0 };
  private readonly fileNames = new LastText();
  private readonly nodeNames = new LastText();

  /** One `record` line from capture. */
  pushRecord(record: RecordLine): void {
    if (record.type === "SIGNAL_GENERATE") {
      const stamp = parseId(record.id);
      this.stats.records++;
      this.assembler.push(
        record.node,
        record.id,
        stamp?.seconds ?? 0,
        stamp?.millis ?? 0,
        {
          type: record.type,
          raw: record.raw,
          bodyStart: 0,
          source: record.source,
          fromJson: true,
          ...(record.time ? { time: record.time } : {}),
        },
        stamp?.serial ?? 0,
      );
      return;
    }
    const parsed = parseLine(record.raw);
    if (parsed.kind !== "record") {
      this.options.errors.report(record.source, parsed.error ?? "record line holds no audit record", record.raw);
      return;
    }
    this.stats.records++;
    // The record line's node wins: capture may know it when the raw text does not say.
    this.assembler.push(
      record.node ?? parsed.node ?? null,
      parsed.id!,
      parsed.seconds!,
      parsed.millis!,
      { type: parsed.type!, raw: record.raw, bodyStart: parsed.bodyStart!, source: record.source, fromJson: true },
      parsed.serial!,
    );
  }

  /** End of an input batch: emit events known to be complete. */
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
    if (this.options.eventFilter && !this.options.eventFilter(event)) {
      this.stats.skipped++;
      for (const record of event.records) if (record instanceof ByteRecord) record.release();
      return;
    }
    this.stats.events++;
    this.emit(event);
    // Written: lines read as bytes no longer hold their reader memory.
    for (const record of event.records) if (record instanceof ByteRecord) record.release();
  }
}
