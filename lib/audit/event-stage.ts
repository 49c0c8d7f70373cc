/**
 * Upstream forms → events: the stage decode, attribute and report share. It
 * accepts raw audit text, `record` lines and `event` lines alike, and hands
 * every assembled event and every other line (signal, gap, bait…) to one
 * EventSink, in order. runStage is the one input loop of every stage.
 */
import type { AssembledEvent } from "./assemble.ts";
import { Decoder, type DecoderStats } from "./decoder.ts";
import { EventJsonWriter } from "./bytes/event-writer.ts";
import { IdNames, type IdNameOptions } from "./ids.ts";
import { InputErrors } from "./input-errors.ts";
import { interpretEvent, type InterpretOptions } from "./interpret.ts";
import { classifyBytes, type InputItem } from "../sources/inputs.ts";
import { type LineWriter } from "../bytes/line-writer.ts";
import type { ByteRecord } from "./bytes/record.ts";
import { isAsciiRange } from "../bytes/read.ts";
import { SlotReader, type SlotLineSink } from "../sources/slot-reader.ts";
import type { AnyLine } from "../schema.ts";

/** What a stage needs: whose names ids get (lib/audit/ids.ts), the assembler's window (decode --window), and which events it hands on. */
export interface DecodeSettings extends IdNameOptions {
  windowSeconds?: number;
  /** Hand on only the events this accepts (the rest are grouped and counted as skipped). */
  eventFilter?: (event: AssembledEvent) => boolean;
}

/** Where a stage hands what is ready, in order: assembled events, and the lines it passes through. */
export interface EventSink {
  event(event: AssembledEvent): void;
  line(line: AnyLine): void;
  /** A sink that holds lines for its caller (tests, report) gives them up here; others hand them on at once. */
  take?(): AnyLine[];
}

/** decode's sink: events written as JSON bytes without an EventLine object, other lines as they come. */
export class EventJsonSink implements EventSink {
  readonly json: EventJsonWriter;
  constructor(
    private readonly writer: LineWriter,
    ids: IdNames,
  ) {
    this.json = new EventJsonWriter(writer, { ids });
  }
  event(event: AssembledEvent): void {
    this.json.write(event);
  }
  line(line: AnyLine): void {
    this.writer.write(line);
  }
}

/** The readable path: events interpreted as objects, everything held until taken. */
export class CollectSink implements EventSink {
  private lines: AnyLine[] = [];
  constructor(private readonly options: InterpretOptions) {}
  event(event: AssembledEvent): void {
    this.lines.push(interpretEvent(event, this.options));
  }
  line(line: AnyLine): void {
    this.lines.push(line);
  }
  take(): AnyLine[] {
    const ready = this.lines;
    this.lines = [];
    return ready;
  }
}

export class EventStage {
  readonly decoder: Decoder;
  /** Records read as bytes, per reader slot, until their slot is reused. */
  private readonly held: ByteRecord[][] = [];

  /** Default sink: a CollectSink (uid/gid names from `settings`), whose lines push and flush return. */
  constructor(
    settings: DecodeSettings,
    readonly errors: InputErrors,
    readonly sink: EventSink = new CollectSink({ ids: new IdNames(settings) }),
  ) {
    this.decoder = new Decoder(
      { errors, windowSeconds: settings.windowSeconds, eventFilter: settings.eventFilter },
      (event) => sink.event(event),
    );
  }

  /** Feed a batch of items read as text; returns what a holding sink has ready (batches change nothing: see runStage). */
  push(items: readonly InputItem[]): AnyLine[] {
    for (const item of items) this.pushItem(item);
    return this.sink.take?.() ?? [];
  }

  pushItem(item: InputItem): void {
    if (item.form === "raw") this.decoder.pushRaw(item.text, item.source);
    else if (item.form === "pass") this.decoder.pass(item.seconds, item.kind, item.count);
    else if (item.value.kind === "record") this.decoder.pushRecord(item.value);
    else this.sink.line(item.value);
  }

  /**
   * Input as bytes from a SlotReader: plain ASCII record lines become
   * records without a string per line; JSON lines and other forms are read
   * as text, as `push` would.
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

  /** One line in reader slot `slot` (bytesSink's `line`; attribute's prefilter hands it the lines it keeps). */
  private pushLineBytes(bytes: Buffer, start: number, end: number, line: number, slot: number, ascii: boolean, file: string): void {
    const lineAscii = ascii || (slot >= 0 && isAsciiRange(bytes, start, end));
    if (slot >= 0 && lineAscii) {
      // capture's record lines in the shape it writes, without JSON.parse; plain audit lines without a string.
      const record = bytes[start] === 0x7b /* { */ ? this.decoder.pushRecordBytes(bytes, start, end) : this.decoder.pushBytes(bytes, start, end, line, file);
      if (record !== false) {
        if (record) (this.held[slot] ??= []).push(record);
        return;
      }
    }
    const item = classifyBytes(bytes, start, end, { file, line }, this.errors, lineAscii);
    if (item) this.pushItem(item);
  }

  /** End of input: whatever events are still open; returns what a holding sink has ready. */
  flush(): AnyLine[] {
    this.decoder.flush();
    return this.sink.take?.() ?? [];
  }

  get stats(): DecoderStats {
    return this.decoder.stats;
  }
}

/**
 * How long the input may stay quiet before the events known to be complete
 * go out without waiting for more records (a live pipe: `capture --follow |
 * decode`). Never at a chunk's end: how a pipe cuts its input varies run to
 * run, and the answer must not (decode's lines, their order, and so
 * attribute's, are a function of the input alone). A file or a pipe fed
 * without pause never waits this long.
 */
export const QUIET_MS = 500;

/**
 * The input loop of every stage: each path (`-` is stdin) read as bytes by
 * one SlotReader into `sinkFor(path)` (the stage's own bytesSink unless a
 * prefilter goes first); each chunk's line count is yielded, and 0 when the
 * input stayed quiet for QUIET_MS and the stage settled (so the caller
 * flushes what that let out). End with stage.flush().
 */
export async function* runStage(
  stage: EventStage,
  paths: readonly string[],
  { reader = new SlotReader(), sinkFor = (path: string) => stage.bytesSink(path), signal }: { reader?: SlotReader; sinkFor?: (path: string) => SlotLineSink; signal?: AbortSignal } = {},
): AsyncGenerator<number> {
  const chunks = reader.batchesOfPaths(paths, sinkFor, signal);
  // A read still pending when the caller stops (after a quiet yield): the reader closes its inputs once it ends.
  let pending = false;
  try {
    for (;;) {
      const next = chunks.next();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const quiet = new Promise<"quiet">((resolve) => (timer = setTimeout(resolve, QUIET_MS, "quiet")));
      let step = await Promise.race([next, quiet]);
      clearTimeout(timer);
      if (step === "quiet") {
        // The input went quiet: events known to be complete go out.
        stage.decoder.settle();
        pending = true;
        yield 0;
        step = await next;
        pending = false;
      }
      if (step.done) return;
      yield step.value;
    }
  } finally {
    if (pending) void chunks.return(undefined).catch(() => {});
    else await chunks.return(undefined);
  }
}

/** What runDecode did: the decoder's counts, duplicates folded, and how many events the byte writer wrote itself. */
export interface DecodeRun {
  stats: DecoderStats;
  folded: number;
  counts: EventJsonWriter["counts"];
}

/**
 * decode: every input read as bytes, each event written to `writer` as JSON
 * bytes, other lines passed through. Each chunk's lines go out before the
 * next read, which may wait (capture --follow | decode): a burst must not sit
 * in the buffer until more input comes. The caller flushes `writer` at the end.
 */
export async function runDecode(
  paths: readonly string[],
  settings: DecodeSettings,
  errors: InputErrors,
  writer: LineWriter,
  // With hints: the assembler holds each record as an object until its event is written.
  { reader = new SlotReader({ gcHints: true }), signal }: { reader?: SlotReader; signal?: AbortSignal } = {},
): Promise<DecodeRun> {
  const sink = new EventJsonSink(writer, new IdNames(settings));
  const stage = new EventStage(settings, errors, sink);
  for await (const _ of runStage(stage, paths, { reader, signal })) writer.flush();
  stage.flush();
  return { stats: stage.stats, folded: stage.decoder.folded, counts: sink.json.counts };
}
