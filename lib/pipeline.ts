/**
 * Upstream forms → events. decode, attribute and report all start here, so
 * each accepts raw audit text, `record` lines and `event` lines alike; other
 * line kinds (signal, gap, bait…) are handed on untouched for the caller.
 */
import type { AssembledEvent } from "./audit/assemble.ts";
import { Decoder, type DecoderStats } from "./audit/decoder.ts";
import { EventJsonWriter } from "./audit/event-json.ts";
import { IdNames } from "./audit/ids.ts";
import { InputErrors } from "./audit/input-errors.ts";
import { interpretEvent, type InterpretOptions } from "./audit/interpret.ts";
import { classifyLine, LineWriter, type InputItem } from "./jsonl.ts";
import type { ByteRecord } from "./audit/byte-record.ts";
import { isAsciiRange } from "./audit/line-bytes.ts";
import { SlotReader, type SlotLineSink } from "./sources/slot-reader.ts";
import type { AnyLine } from "./schema.ts";

export interface DecodeSettings {
  lookup: boolean;
  passwdFile?: string;
  groupFile?: string;
  windowSeconds?: number;
  maxInFlight?: number;
  /** Interpret only the events this accepts (the rest are grouped and counted as skipped). */
  eventFilter?: (event: AssembledEvent) => boolean;
  /** How an event becomes a line (default interpretEvent; attribute takes a cheaper summary where it can). */
  interpret?: (event: AssembledEvent, options: InterpretOptions) => AnyLine;
}

/** Where a stage hands things as they are ready, instead of returning them: assembled events and passed-through lines, in order. */
export interface EventStageOutput {
  event(event: AssembledEvent): void;
  line(line: AnyLine): void;
}

export class EventStage {
  readonly decoder: Decoder;
  private out: AnyLine[] = [];
  private readonly pass: (line: AnyLine) => void;
  /** The byte writer, when the stage was given a LineWriter. */
  readonly eventWriter: EventJsonWriter | undefined;

  /** The uid/gid names this stage's events are interpreted with. */
  readonly ids: IdNames;

  /**
   * With a `writer`, every line goes straight to it, in order, and events as
   * bytes without an EventLine object (decode's case: the same bytes, several
   * times cheaper); with an EventStageOutput, assembled events and other
   * lines go to it as they come (attribute's case). push and flush then
   * return nothing.
   */
  constructor(settings: DecodeSettings, readonly errors: InputErrors, writer?: LineWriter | EventStageOutput) {
    const ids = new IdNames({ lookup: settings.lookup, passwdFile: settings.passwdFile, groupFile: settings.groupFile });
    this.ids = ids;
    let emit: (event: AssembledEvent) => void;
    if (writer && !(writer instanceof LineWriter)) {
      this.eventWriter = undefined;
      const output = writer;
      emit = (event) => output.event(event);
      this.pass = (line) => output.line(line);
    } else if (writer) {
      const json = new EventJsonWriter(writer, { ids });
      this.eventWriter = json;
      emit = (event) => json.write(event);
      this.pass = (line) => writer.write(line);
    } else {
      this.eventWriter = undefined;
      const interpret = settings.interpret ?? interpretEvent;
      const options: InterpretOptions = { ids };
      emit = (event) => this.out.push(interpret(event, options));
      this.pass = (line) => this.out.push(line);
    }
    this.decoder = new Decoder(
      { errors, windowSeconds: settings.windowSeconds, maxInFlight: settings.maxInFlight, eventFilter: settings.eventFilter },
      emit,
    );
  }

  /** Feed a batch; returns the lines that are ready (events and passed-through lines, in order). */
  push(items: readonly InputItem[]): AnyLine[] {
    for (const item of items) this.pushItem(item);
    this.decoder.settle();
    return this.take();
  }

  pushItem(item: InputItem): void {
    if (item.form === "raw") {
      this.decoder.pushRaw(item.text, item.source);
    } else if (item.value.kind === "record") {
      this.decoder.pushRecord(item.value);
    } else {
      this.pass(item.value);
    }
  }

  /**
   * Input as bytes from a SlotReader (decode's path): plain ASCII record
   * lines become records without a string per line; JSON lines and other
   * forms are read as text, as `push` would. End each batch with `settle`.
   */
  bytesSink(file: string): SlotLineSink {
    return {
      line: (bytes, start, end, line, slot, ascii) => this.pushLineBytes(bytes, start, end, line, slot, ascii, file),
      reuse: (slot) => this.reuse(slot),
      inputError: (line, problem) => this.errors.report({ file, line }, problem),
    };
  }

  /** A reader slot is about to be overwritten: records still waiting in it become strings. */
  private reuse(slot: number): void {
    const held = this.held[slot];
    if (!held) return;
    for (const record of held) record.copyOut();
    held.length = 0;
  }

  /** The end of an input batch: events known to be complete go out. */
  settle(): void {
    this.decoder.settle();
  }

  /** Records read as bytes, per reader slot, until their slot is reused. */
  private readonly held: ByteRecord[][] = [];

  /** One line in reader slot `slot` (bytesSink's `line`; attribute's prefilter hands it the lines it keeps). */
  private pushLineBytes(bytes: Buffer, start: number, end: number, line: number, slot: number, ascii: boolean, file: string): void {
    if (slot >= 0 && (ascii || isAsciiRange(bytes, start, end))) {
      // capture's record lines in the shape it writes, without JSON.parse; plain audit lines without a string.
      const record = bytes[start] === 0x7b /* { */ ? this.decoder.pushRecordBytes(bytes, start, end) : this.decoder.pushBytes(bytes, start, end, line, file);
      if (record !== false) {
        if (record) (this.held[slot] ??= []).push(record);
        return;
      }
    }
    const item = classifyLine(bytes.toString("utf8", start, end), { file, line }, this.errors);
    if (item) this.pushItem(item);
  }

  /** End of input: whatever events are still open. */
  flush(): AnyLine[] {
    this.decoder.flush();
    return this.take();
  }

  get stats(): DecoderStats {
    return this.decoder.stats;
  }

  private take(): AnyLine[] {
    const ready = this.out;
    this.out = [];
    return ready;
  }
}

/**
 * The input loop of decode and attribute: each path (`-` is stdin) read as
 * bytes into the stage (through `sinkFor`, the stage's own bytesSink unless
 * a prefilter goes first); `onBatch` after each chunk, with its line count.
 * End with stage.flush().
 */
export async function pushFiles(
  stage: EventStage,
  paths: readonly string[],
  onBatch: (lines: number) => void,
  { reader = new SlotReader(), sinkFor = (path: string) => stage.bytesSink(path), signal }: { reader?: SlotReader; sinkFor?: (path: string) => SlotLineSink; signal?: AbortSignal } = {},
): Promise<void> {
  for await (const lines of reader.batchesOfPaths(paths, sinkFor, signal)) {
    stage.settle();
    onBatch(lines);
  }
}
