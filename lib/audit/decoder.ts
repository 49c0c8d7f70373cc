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
      return;
    }
    this.stats.events++;
    this.emit(event);
  }
}
