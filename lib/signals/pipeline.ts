/**
 * Upstream forms → `signal` lines: the stage attribute and report share.
 * Raw audit text and `record` lines are decoded first, but only events that
 * can matter (kill-family syscalls, execve for ancestry, tracefs signals) are
 * interpreted; everything else is grouped and counted, never parsed, which
 * is what makes attribute fast on a large log.
 */
import type { AssembledEvent } from "../audit/assemble.ts";
import { ByteRecord } from "../audit/byte-record.ts";
import { digitsValue, hexDigitsValue, indexWithin } from "../audit/line-bytes.ts";
import { interpretEvent, type InterpretOptions } from "../audit/interpret.ts";
import { summarizeSignalEvent } from "../audit/interpret-summary.ts";
import { InputErrors } from "../audit/input-errors.ts";
import { keptItem, readInputs, type InputItem, type KeptLine, type LineWriter } from "../jsonl.ts";
import { EventStage, pushFiles, type DecodeSettings } from "../pipeline.ts";
import type { AnyLine, EventLine, GapLine, SignalLine } from "../schema.ts";
import { StreamAncestry } from "./ancestry.ts";
import { eventToSignal } from "./attribute.ts";
import { compileFactFilter, signalFilter, timeWindow, type SignalFilterOptions } from "./filter.ts";
import { isSignalSyscall, SignalLinePrefilter, signalSyscallNumbers } from "./prefilter.ts";
import { SignalJsonWriter } from "./signal-json.ts";
import { SlotReader, type SlotLineSink } from "../sources/slot-reader.ts";
import { enrichFromProc, ProcReader } from "./proc.ts";
import { WhokilledError } from "../errors.ts";
import { log } from "../log.ts";
import { escapeControl } from "../render/escape.ts";
import { isoMs } from "../time-spec.ts";

export interface SignalStageOptions extends DecodeSettings {
  filter: SignalFilterOptions;
  /** Enrich killers from live /proc (only when the process predates the event). */
  proc?: boolean;
}

/** Where a streaming SignalStage sends its lines (attribute). */
export interface SignalStageOutput {
  emit: (line: SignalLine | GapLine) => void;
  /** Where the byte writer may write signal lines itself: the same writer `emit` writes to, so order is kept. */
  writer?: LineWriter;
}

export interface SignalStageStats {
  signals: number;
  filtered: number;
  gaps: number;
  ignored: number;
}

const ARCH_FIELD = Buffer.from(" arch=");
const SYSCALL_FIELD = Buffer.from(" syscall=");

/** Field value by name from a raw record, without parsing the rest. */
function rawField(raw: string, name: string, from: number): string | null {
  const at = raw.indexOf(` ${name}=`, from - 1);
  if (at < 0) return null;
  const start = at + name.length + 2;
  let end = raw.indexOf(" ", start);
  if (end < 0) end = raw.length;
  return raw.slice(start, end);
}

/** Where rawField's value is in a record read as bytes: [start, end), or start -1. */
const found = { start: -1, end: -1 };

function byteField(record: ByteRecord, bytes: Buffer, name: Buffer): typeof found {
  const end = record.end;
  const at = indexWithin(bytes, name, record.start + record.bodyStart - 1, end);
  found.start = -1;
  if (at < 0) return found;
  let stop = at + name.length;
  while (stop < end && bytes[stop] !== 0x20) stop++;
  found.start = at + name.length;
  found.end = stop;
  return found;
}

/** A SYSCALL record read as bytes: does attribute interpret it? null where the bytes are not plain (then the text decides). */
function byteRecordMatters(record: ByteRecord, bytes: Buffer): boolean | null {
  const arch = byteField(record, bytes, ARCH_FIELD);
  if (arch.start < 0) return true; // odd record: let the interpreter judge it
  const archValue = hexDigitsValue(bytes, arch.start, arch.end);
  const nr = byteField(record, bytes, SYSCALL_FIELD);
  if (nr.start < 0) return true;
  const nrValue = digitsValue(bytes, nr.start, nr.end);
  if (archValue < 0 || nrValue < 0) return null;
  return isSignalSyscall(archValue, nrValue);
}

/** Does this event need interpreting for attribution? */
export function mattersForSignals(event: AssembledEvent): boolean {
  for (const record of event.records) {
    if (record.type === "SIGNAL_GENERATE") return true;
    if (record.type !== "SYSCALL") continue;
    if (record instanceof ByteRecord && record.bytes !== null) {
      const matters = byteRecordMatters(record, record.bytes);
      if (matters === true) return true;
      if (matters === false) continue;
    }
    const arch = rawField(record.raw, "arch", record.bodyStart);
    const nr = rawField(record.raw, "syscall", record.bodyStart);
    if (arch === null || nr === null) return true; // odd record: let the interpreter judge it
    const numbers = signalSyscallNumbers(arch);
    if (numbers === null || numbers.has(Number(nr))) return true;
  }
  return false;
}

export class SignalStage {
  private readonly events: EventStage;
  private readonly accept: (signal: SignalLine) => boolean;
  private readonly proc: ProcReader | null;
  private readonly counts = { signals: 0, filtered: 0, gaps: 0, ignored: 0 };
  /** Give this to readInputs: raw lines that cannot matter are skipped before decoding. */
  readonly prefilter: SignalLinePrefilter;
  private readonly ancestry: StreamAncestry;

  /** attribute's byte writer, when lines are written as they come (and --proc does not need the objects). */
  private readonly signalWriter: SignalJsonWriter | null = null;
  private readonly interpret: (event: AssembledEvent) => AnyLine;

  /**
   * Without `output`, push/flush return the lines (report, tests). With it,
   * read/finish hand each line to output.emit as it is ready; given
   * output.writer too, signal lines the byte writer can make are written
   * there directly (same bytes, several times cheaper), filters applied on
   * the way, unless --proc needs them as objects.
   */
  constructor(
    options: SignalStageOptions,
    private readonly errors: InputErrors,
    private readonly output?: SignalStageOutput,
  ) {
    // Read once for the filter and the prefilter, so `--since 2h` means one instant to both.
    const window = timeWindow(options.filter);
    this.prefilter = new SignalLinePrefilter(window);
    this.ancestry = new StreamAncestry(this.prefilter.sightings);
    // A kill-family event needs only its summary; anything else (execve, for ancestry) is interpreted in full.
    const interpret = (event: AssembledEvent, options: InterpretOptions) => summarizeSignalEvent(event, options) ?? interpretEvent(event, options);
    const settings = { ...options, eventFilter: mattersForSignals, interpret };
    this.events = output
      ? new EventStage(settings, errors, { event: (event) => this.onEvent(event), line: (line) => this.convertOne(line, output.emit) })
      : new EventStage(settings, errors);
    const interpretOptions = { ids: this.events.ids };
    this.interpret = (event) => interpret(event, interpretOptions);
    // One compiled filter: over signal objects here, over the facts the byte writer reads there.
    const filter = compileFactFilter(options.filter, window);
    this.accept = signalFilter(filter);
    this.proc = options.proc ? new ProcReader() : null;
    if (output?.writer && !options.proc) {
      this.signalWriter = new SignalJsonWriter(output.writer, { ids: this.events.ids, ancestry: this.ancestry, filter });
    }
  }

  push(items: readonly InputItem[]): Array<SignalLine | GapLine> {
    return this.convert(this.events.push(items));
  }

  flush(): Array<SignalLine | GapLine> {
    this.prefilter.finish();
    return this.convert(this.events.flush());
  }

  /**
   * With an output: read these inputs (`-` is stdin) as bytes, the
   * prefilter first, lines going out as they are ready; `onChunk` after each
   * chunk read, with its line count. End with finish().
   */
  async read(paths: readonly string[], options: { signal?: AbortSignal; onChunk?: (lines: number) => void } = {}): Promise<void> {
    if (!this.output) throw new WhokilledError("E_INTERNAL", "SignalStage.read needs a stage made with an output");
    const events = this.events;
    const sinkFor = (file: string): SlotLineSink => {
      const stage = events.bytesSink(file);
      const take = (kept: KeptLine, line: number) => {
        const item = keptItem(kept, { file, line }, this.errors);
        if (item) events.pushItem(item);
      };
      // The prefilter goes first; the lines it keeps go to the stage as bytes while the reader holds them.
      const lines = this.prefilter.sink(take, stage.line);
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
    const reader = new SlotReader({ asciiChunks: false, gcHints: this.signalWriter === null });
    await pushFiles(events, paths, options.onChunk ?? (() => {}), { reader, sinkFor, signal: options.signal });
  }

  /** With an output: end of input, the events still open go out. */
  finish(): void {
    this.prefilter.finish();
    this.events.flush();
  }

  private onEvent(event: AssembledEvent): void {
    if (this.signalWriter !== null) {
      const written = this.signalWriter.write(event);
      if (written === "written") {
        this.counts.signals++;
        return;
      }
      if (written === "filtered") {
        this.counts.filtered++;
        return;
      }
    }
    this.convertOne(this.interpret(event), this.output!.emit);
  }

  /** Signals written and dropped by the filters (kills outside --since/--until that the prefilter left unread count as dropped). */
  get stats(): SignalStageStats {
    return { ...this.counts, filtered: this.counts.filtered + this.prefilter.outsideWindow };
  }

  /** Raw lines skipped unread by the prefilter, plus events grouped but not interpreted. */
  get unrelated(): { lines: number; events: number; ancestry: number } {
    return { lines: this.prefilter.skipped, events: this.events.stats.skipped, ancestry: this.prefilter.sighted };
  }

  get eventStats() {
    return this.events.stats;
  }

  private convert(lines: AnyLine[]): Array<SignalLine | GapLine> {
    const out: Array<SignalLine | GapLine> = [];
    const emit = (line: SignalLine | GapLine) => out.push(line);
    for (const line of lines) this.convertOne(line, emit);
    return out;
  }

  private convertOne(line: AnyLine, emit: (line: SignalLine | GapLine) => void): void {
    if (line.kind === "event") {
      const signal = this.fromEvent(line);
      if (signal) this.keep(signal, emit);
    } else if (line.kind === "signal") {
      this.keep(line, emit);
    } else if (line.kind === "gap") {
      this.counts.gaps++;
      emit(line);
    } else {
      this.counts.ignored++;
    }
  }

  private fromEvent(event: EventLine): SignalLine | null {
    const signal = eventToSignal(event);
    if (!signal) {
      this.ancestry.observe(event);
      return null;
    }
    if (signal.source === "audit") {
      // The processes as they were at the kill: the prefilter reads ahead, and the assembler can emit later events first.
      const atMs = signal.time === null ? Number.POSITIVE_INFINITY : isoMs(signal.time);
      const chain = this.ancestry.ancestry(signal.killer.ppid, Number.isNaN(atMs) ? Number.POSITIVE_INFINITY : atMs, event.node);
      if (chain.length > 0) signal.killer.ancestry = chain;
    }
    return signal;
  }

  private readonly otherHosts = new Set<string>();

  /** Said once a node: --proc leaves that host's signals as the log has them. */
  private noteOtherHost(node: string, proc: ProcReader): void {
    if (this.otherHosts.has(node) || this.otherHosts.size >= 100) return;
    this.otherHosts.add(node);
    log.warn(`--proc: signals from node ${escapeControl(node)} are left as the log has them: this /proc is ${escapeControl(proc.hostName)}'s`);
  }

  private keep(signal: SignalLine, emit: (line: SignalLine | GapLine) => void): void {
    if (!this.accept(signal)) {
      this.counts.filtered++;
      return;
    }
    if (this.proc && signal.killer.ancestry?.[0]?.from !== "proc") {
      if (this.proc.isThisHost(signal.node)) enrichFromProc(signal.killer, signal.time, this.proc);
      else this.noteOtherHost(signal.node!, this.proc);
    }
    this.counts.signals++;
    emit(signal);
  }
}

/** Every signal line from these inputs (report's and tests' entry point). */
export async function* signalsFrom(
  inputs: readonly string[],
  options: SignalStageOptions & { errors: InputErrors; signal?: AbortSignal },
): AsyncGenerator<SignalLine | GapLine> {
  const stage = new SignalStage(options, options.errors);
  for await (const batch of readInputs(inputs, options.errors, { signal: options.signal, prefilter: stage.prefilter })) {
    yield* stage.push(batch);
  }
  yield* stage.flush();
}
