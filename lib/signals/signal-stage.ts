/**
 * Upstream forms → `signal` lines: the stage attribute and report share.
 * Raw audit text and `record` lines are decoded first, but only events that
 * can matter (kill-family syscalls, execve for ancestry, tracefs signals) are
 * interpreted; everything else is grouped and counted, never parsed, which
 * is what makes attribute fast on a large log.
 */
import type { AssembledEvent } from "../audit/assemble.ts";
import { ByteRecord } from "../audit/bytes/record.ts";
import { UnitScratch, unitsOf } from "../audit/bytes/field-cursor.ts";
import { isAuditText } from "../sources/registry.ts";
import { SKIP } from "../tables/kill-family.ts";
import { ANOM_ABEND } from "./core-dump.ts";
import { IdNames } from "../audit/ids.ts";
import { InputErrors } from "../audit/input-errors.ts";
import type { InputItem } from "../sources/inputs.ts";
import { type LineWriter } from "../bytes/line-writer.ts";
import { EventStage, runStage, type DecodeSettings, type EventSink } from "../audit/event-stage.ts";
import type { AnyLine, EventLine, NoticeLine, SignalLine } from "../schema.ts";
import { parseLine } from "../audit/line.ts";
import { StreamAncestry } from "./ancestry.ts";
import { compileFactFilter, signalFilter, timeWindow, type SignalFilterOptions } from "./filter.ts";
import { SignalLinePrefilter, syscallInterestAt } from "./prefilter.ts";
import { SignalMaker } from "./signal-facts.ts";
import { SlotReader, type SlotLineSink } from "../sources/slot-reader.ts";
import { enrichFromProc, placeVictimFromProc, ProcReader } from "./proc.ts";
import { log } from "../log.ts";
import { escapeControl } from "../render/escape.ts";
import { plural } from "./describe.ts";

export interface SignalStageOptions extends DecodeSettings {
  filter: SignalFilterOptions;
  /** Enrich killers from live /proc (only when the process predates the event). */
  proc?: boolean;
}

/** Where a streaming SignalStage sends its lines (attribute). */
export interface SignalStageOutput {
  emit: (line: SignalLine | NoticeLine) => void;
  /** Where the byte writer may write signal lines itself: the same writer `emit` writes to, so order is kept. */
  writer?: LineWriter;
}

export interface SignalStageStats {
  signals: number;
  filtered: number;
  gaps: number;
  ignored: number;
}

const units = new UnitScratch();

/**
 * Does this event need interpreting for attribution? A source's own record
 * always does; a SYSCALL when signalInterest says so, its arch and number
 * read by the one field grammar, from the record's bytes or its text alike.
 */
export function eventInterest(event: AssembledEvent): boolean {
  for (const record of event.records) {
    if (!isAuditText(record.type) || record.type === ANOM_ABEND) return true;
    if (record.type !== "SYSCALL") continue;
    const inBytes = record instanceof ByteRecord && record.bytes !== null;
    const bytes = inBytes ? record.bytes! : unitsOf(record.raw, units);
    const start = inBytes ? record.start : 0;
    // An odd record (no arch or number, or not one we can read): the interpreter judges it.
    if (syscallInterestAt(bytes, start + record.bodyStart, inBytes ? record.end : record.raw.length) !== SKIP) return true;
  }
  return false;
}

/**
 * eventInterest of an event line (decode | attribute): the same question on
 * its records' raw text, so that what attribute learns from decode's lines
 * (a process for ancestry) is what it would have read of the raw log.
 */
export function eventLineInterest(line: EventLine): boolean {
  const records = line.records.map((record) => ({ type: record.type, raw: record.raw, bodyStart: typeof record.raw === "string" ? (parseLine(record.raw).bodyStart ?? 0) : 0 }));
  return eventInterest({ node: line.node, id: line.id, seconds: 0, millis: 0, records });
}

/**
 * The events stage's sink for attribute and report: each event that can
 * matter becomes a signal line (written from the records' bytes where the
 * byte writer can), filtered, and handed to `emit` in order.
 */
export class SignalStage implements EventSink {
  readonly events: EventStage;
  private readonly accept: (signal: SignalLine) => boolean;
  private readonly proc: ProcReader | null;
  private readonly counts = { signals: 0, filtered: 0, gaps: 0, ignored: 0 };
  /** Event lines that cannot matter (eventLineInterest): unread, as their raw records would be. */
  private unrelatedEventLines = 0;
  /** Raw lines that cannot matter are skipped here before decoding (readInputs takes it too). */
  readonly prefilter: SignalLinePrefilter;
  private readonly ancestry: StreamAncestry;
  /** Events → signals: written as bytes where it can (attribute's JSON output without --proc), else as objects. */
  private readonly maker: SignalMaker;
  private readonly toBytes: boolean;
  private readonly emit: (line: SignalLine | NoticeLine) => void;
  /** Without an output: the lines push, flush and signalsFrom hand back. */
  private ready: Array<SignalLine | NoticeLine> = [];

  /**
   * With `output`, each line goes to output.emit as it is ready; given
   * output.writer too, signal lines the byte writer can make are written
   * there directly (same bytes, several times cheaper), filters applied on
   * the way, unless --proc needs them as objects. Without it, push and flush
   * return the lines.
   */
  constructor(
    options: SignalStageOptions,
    readonly errors: InputErrors,
    output?: SignalStageOutput,
  ) {
    // Read once for the filter and the prefilter, so `--since 2h` means one instant to both.
    const window = timeWindow(options.filter);
    this.prefilter = new SignalLinePrefilter(window);
    this.ancestry = new StreamAncestry(this.prefilter.sightings);
    const ids = new IdNames(options);
    this.events = new EventStage({ ...options, eventFilter: eventInterest }, errors, this);
    this.emit = output?.emit ?? ((line) => this.ready.push(line));
    // One compiled filter: over signal objects here, over the facts the byte writer reads there.
    const filter = compileFactFilter(options.filter, window);
    this.accept = signalFilter(filter);
    this.proc = options.proc ? new ProcReader() : null;
    const writer = output?.writer && !options.proc ? output.writer : null;
    this.toBytes = writer !== null;
    this.maker = new SignalMaker({ ids, ancestry: this.ancestry, filter, writer });
  }

  /** Items read as text (readInputs, with `prefilter` or without); returns the lines ready, without an output. */
  push(items: readonly InputItem[]): Array<SignalLine | NoticeLine> {
    this.events.push(items);
    return this.drain();
  }

  flush(): Array<SignalLine | NoticeLine> {
    this.finish();
    return this.drain();
  }

  /**
   * These inputs (`-` is stdin) read as bytes, the prefilter first, lines
   * going out as they are ready; yields each chunk's line count. End with finish().
   */
  async *chunks(paths: readonly string[], signal?: AbortSignal): AsyncGenerator<number> {
    const events = this.events;
    const sinkFor = (file: string): SlotLineSink => {
      const stage = events.bytesSink(file);
      // The prefilter goes first; the lines it keeps go to the stage as bytes.
      // Lines it leaves unread still count and move the assembler's clock: events close where decode closes them.
      const decoder = events.decoder;
      const lines = this.prefilter.sink(stage.line, (seconds, kind, count) => decoder.pass(seconds, kind, count));
      return {
        line: lines.line,
        reuse: (slot) => {
          lines.reuse(slot);
          stage.reuse(slot);
        },
        inputError: stage.inputError,
      };
    };
    // One reader for all inputs: lines held stay valid across them (their holders hear of every reuse).
    // The few lines kept are checked for ASCII one by one (pushLineBytes), not every chunk whole.
    // Signal lines written from bytes make little garbage; made as objects (--proc, the table), a collection now and then keeps the heap down.
    const reader = new SlotReader({ asciiChunks: false, gcHints: !this.toBytes });
    // Each chunk's run of lines left unread is told before the next chunk, or a quiet input settling, can follow it.
    for await (const lines of runStage(events, paths, { reader, sinkFor, signal })) {
      this.prefilter.flushPassed();
      yield lines;
    }
  }

  /** End of input: the events still open go out. */
  finish(): void {
    this.prefilter.finish();
    this.events.flush();
    // Nothing read goes unsaid: setup-rule's, watch's or bait's lines carry no signal.
    const other = this.counts.ignored;
    if (other > 0) log.info(`${plural(other, "JSON line")} of a kind that carries no signal (status, rule, death, bait…) skipped`);
  }

  /** The lines ready, without an output. */
  drain(): Array<SignalLine | NoticeLine> {
    const ready = this.ready;
    this.ready = [];
    return ready;
  }

  /** An assembled event that can matter (EventSink). */
  event(event: AssembledEvent): void {
    const made = this.maker.event(event);
    if (made === "written") this.counts.signals++;
    else if (made === "filtered") this.counts.filtered++;
    else if (made !== null) this.keep(made);
  }

  /** Signals written and dropped by the filters (kills outside --since/--until that the prefilter left unread count as dropped). */
  get stats(): SignalStageStats {
    return { ...this.counts, filtered: this.counts.filtered + this.prefilter.outsideWindow };
  }

  /** Raw lines skipped unread by the prefilter, plus events grouped but not interpreted. */
  get unrelated(): { lines: number; events: number; ancestry: number } {
    return { lines: this.prefilter.skipped, events: this.events.stats.skipped + this.unrelatedEventLines, ancestry: this.prefilter.sighted };
  }

  /** Any other line (EventSink), and every event as an object. */
  line(line: AnyLine): void {
    if (line.kind === "event") {
      if (!eventLineInterest(line)) {
        this.unrelatedEventLines++;
        return;
      }
      const signal = this.maker.line(line);
      if (signal) this.keep(signal);
    } else if (line.kind === "signal") {
      this.keep(line);
    } else if (line.kind === "gap") {
      this.counts.gaps++;
      this.emit(line);
    } else if (line.kind === "coverage") {
      // What audit could see during the capture: report needs it to tell "nothing happened" from "nothing was seen".
      this.emit(line);
    } else {
      this.counts.ignored++;
    }
  }

  private readonly otherHosts = new Set<string>();

  /** Said once a node: --proc leaves that host's signals as the log has them. */
  private noteOtherHost(node: string, proc: ProcReader): void {
    if (this.otherHosts.has(node) || this.otherHosts.size >= 100) return;
    this.otherHosts.add(node);
    log.warn(`--proc: signals from node ${escapeControl(node)} are left as the log has them: this /proc is ${escapeControl(proc.hostName)}'s`);
  }

  private keep(signal: SignalLine): void {
    if (!this.accept(signal)) {
      this.counts.filtered++;
      return;
    }
    if (this.proc && signal.killer.ancestry?.[0]?.from !== "proc") {
      if (this.proc.isThisHost(signal.node)) {
        enrichFromProc(signal.killer, signal.time, this.proc);
        for (const victim of signal.victims) placeVictimFromProc(victim, signal.time, this.proc);
      } else this.noteOtherHost(signal.node!, this.proc);
    }
    this.counts.signals++;
    this.emit(signal);
  }
}

/** Every signal line from these inputs (report's and tests' entry point), read as attribute reads them. */
export async function* signalsFrom(
  inputs: readonly string[],
  options: SignalStageOptions & { errors: InputErrors; signal?: AbortSignal },
): AsyncGenerator<SignalLine | NoticeLine> {
  const stage = new SignalStage(options, options.errors);
  for await (const _ of stage.chunks(inputs, options.signal)) yield* stage.drain();
  stage.finish();
  yield* stage.drain();
}

/** What runAttribute did, for its summary line. */
export interface AttributeRun {
  records: number;
  stats: SignalStageStats;
  unrelated: { lines: number; events: number; ancestry: number };
}

/**
 * attribute: every input read as bytes, through the prefilter, the decoder
 * and the assembler into signal lines, written to `writer` (from the records'
 * bytes where the byte writer can, unless `emit` takes objects: the table).
 * What each chunk made goes out before the next read, which may wait
 * (capture --follow | attribute): a kill in a burst of unrelated lines must
 * not sit in the buffer. The caller flushes `writer` at the end.
 */
export async function runAttribute(
  paths: readonly string[],
  options: SignalStageOptions,
  errors: InputErrors,
  writer: LineWriter,
  { emit, signal }: { emit?: (line: SignalLine | NoticeLine) => void; signal?: AbortSignal } = {},
): Promise<AttributeRun> {
  const stage = new SignalStage(options, errors, emit ? { emit } : { emit: (line) => writer.write(line), writer });
  for await (const _ of stage.chunks(paths, signal)) writer.flush();
  stage.finish();
  return { records: stage.events.stats.records, stats: stage.stats, unrelated: stage.unrelated };
}
