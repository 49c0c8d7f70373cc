/**
 * An input's lines as bytes, for a consumer that keeps some of them past the
 * chunk they came in (decode: records wait in open events). Chunks are read
 * into a few reused slots, in turn; a line a consumer still holds when its
 * slot comes round again is copied out first (`reuse`). No string and no
 * buffer is made per line, and no memory is allocated after the start: on
 * these VMs a first touch of a page costs ~10 µs, so fresh buffers per chunk
 * would cost more than the reading.
 *
 * Small chunks (a pipe gives 64 KiB at most) are packed into the current
 * slot one after another, so a slot is reused only after a full slot of
 * input. A line cut by a slot's end is moved in front of the next slot's
 * data, into its carry area; one longer than the carry area is joined in a
 * buffer of its own and handed over as not held by any slot.
 */
import { isAscii } from "node:buffer";
import { WhokilledError } from "../errors.ts";
import { closeSource, openSource, rawChunks } from "./file.ts";
import { lineLimit, MAX_LINE_BYTES, PartialLine, reportTooLong } from "./lines.ts";

export interface SlotLineSink {
  /**
   * One line, bytes[start, end) without its newline (or CR). `slot` is the
   * slot holding it, or -1 when the line is in a buffer of its own; `ascii`
   * says the whole chunk is ASCII (otherwise check the line).
   */
  line(bytes: Buffer, start: number, end: number, line: number, slot: number, ascii: boolean): void;
  /** The slot is about to be overwritten: copy out anything still held there. */
  reuse(slot: number): void;
  /**
   * Bad input the reader found itself, to report as at line `line`: a line
   * past MAX_LINE_BYTES (skipped, never held), or data that ends in damage
   * (a .gz cut short: its lines so far were handed over, the rest is lost).
   */
  inputError(line: number, problem: string): void;
}

const SLOT_COUNT = 4;
/** How often a reader with `gcHints` hints the collector: every this many chunks. */
const GC_EVERY_CHUNKS = 4;

export interface SlotReaderOptions {
  /** Bytes per read (a slot holds one read and the carry area). */
  readBytes?: number;
  /**
   * Tell the sink when a whole chunk is ASCII (one native pass per chunk).
   * A sink that looks at few of its lines (attribute's prefilter) is better
   * off checking those alone: false, and every line comes with `ascii` false.
   */
  asciiChunks?: boolean;
  /**
   * Every few chunks, a hint to the collector (Bun.gc(false): a young
   * generation pass). For consumers that make objects of their lines (report,
   * decode's assembler, attribute with --proc or the table): by then what they
   * made of a chunk is mostly dead, and JSC lets the heap grow well past that
   * before collecting. attribute's byte path makes little garbage and only
   * loses time to the hint, so it goes without it.
   */
  gcHints?: boolean;
}
const BYTE_ORDER_MARK = Buffer.from([0xef, 0xbb, 0xbf]);
const CARRY_BYTES = 64 * 1024;
/** The least room worth reading into: what a pipe holds. */
const MIN_READ = 64 * 1024;

export class SlotReader {
  private readonly slots: Buffer[];
  private current = -1;
  // Per input.
  private sink: SlotLineSink | null = null;
  private lineNumber = 0;
  /** In the current slot: where the line not yet complete starts, and where the data ends. */
  private pending = 0;
  private dataEnd = 0;
  /** A partial line longer than the carry area. */
  private readonly long = new PartialLine();
  /** The bytes so far of a line past its limit (lineLimit), being skipped; -1: none. */
  private skipping = -1;
  /** That line's limit. */
  private skippingLimit = MAX_LINE_BYTES;
  /** No byte of this input has been looked at yet. */
  private atInputStart = false;

  private readonly readBytes: number;
  private readonly asciiChunks: boolean;
  private readonly gcHints: boolean;

  constructor({ readBytes = 1 << 20, asciiChunks = true, gcHints = false }: SlotReaderOptions = {}) {
    this.readBytes = readBytes;
    this.asciiChunks = asciiChunks;
    this.gcHints = gcHints;
    // One byte more than a chunk: room for the newline sentinel after the data.
    this.slots = Array.from({ length: SLOT_COUNT }, () => Buffer.allocUnsafe(CARRY_BYTES + readBytes + 1));
  }

  /**
   * Every line of several inputs (`-` is stdin), one after another, each
   * opened here and closed after, its lines to the sink made for it, in
   * order (line numbers start at 1); yields each chunk's line count once its
   * lines are handed over, and once more at each input's end. One reader for
   * all: lines a sink holds stay valid across inputs.
   */
  async *batchesOfPaths(paths: readonly string[], sinkFor: (path: string) => SlotLineSink, signal?: AbortSignal): AsyncGenerator<number> {
    let chunks = 0;
    for (const path of paths) {
      if (signal?.aborted) return;
      const source = openSource(path);
      // Regular files and pipes are read straight into the slots (readArea).
      const supplied: { target: Buffer | null } = { target: null };
      try {
        const input = rawChunks(source, 0, this.readBytes, signal, () => (supplied.target = this.readArea()));
        for await (const lines of this.batchesOf(input, sinkFor(path), supplied, signal)) {
          yield lines;
          if (this.gcHints && ++chunks % GC_EVERY_CHUNKS === 0) Bun.gc(false);
        }
      } finally {
        closeSource(source);
      }
    }
  }

  /**
   * The same over chunks from anywhere: those not read into the slots (a
   * .gz, Bun's stream, a test's) are copied in, packed after what the
   * current slot already holds.
   */
  async *batchesOf(
    chunks: AsyncIterable<Buffer> | Iterable<Buffer>,
    sink: SlotLineSink,
    supplied: { target: Buffer | null } = { target: null },
    signal?: AbortSignal,
  ): AsyncGenerator<number> {
    this.sink = sink;
    this.lineNumber = 0;
    this.long.clear();
    this.skipping = -1;
    this.current = -1;
    this.pending = this.dataEnd = 0;
    this.atInputStart = true;
    let damage: WhokilledError | null = null;
    try {
      try {
        for await (const chunk of chunks) {
          const first = this.lineNumber;
          const target = supplied.target;
          if (target !== null && chunk.buffer === target.buffer && chunk.byteOffset === target.byteOffset) {
            this.dataEnd += chunk.length;
            this.scan();
          } else {
            for (let at = 0; at < chunk.length; ) {
              if (this.current < 0 || this.dataEnd === CARRY_BYTES + this.readBytes) this.nextSlot();
              const n = Math.min(chunk.length - at, CARRY_BYTES + this.readBytes - this.dataEnd);
              chunk.copy(this.slots[this.current]!, this.dataEnd, at, at + n);
              this.dataEnd += n;
              at += n;
              this.scan();
            }
          }
          supplied.target = null;
          yield this.lineNumber - first;
        }
      } catch (error) {
        // Damaged data ends this input like its end would, its lines so far read; anything else is not ours to mend.
        if (!(error instanceof WhokilledError && error.code === "E_DAMAGED")) throw error;
        damage = error;
      }
      // The last line, if it had no newline; stopped by a signal, what is left is half a line, not a last one.
      const first = this.lineNumber;
      if (signal?.aborted) this.skipping = -1;
      else if (this.skipping >= 0) this.skip(this.skipping, this.skippingLimit);
      else if (!this.long.isEmpty) {
        const line = this.long.take();
        this.take(line, 0, line.length, -1, isAscii(line));
      } else if (this.current >= 0 && this.dataEnd > this.pending) this.take(this.slots[this.current]!, this.pending, this.dataEnd, this.current, false);
      if (damage) sink.inputError(this.lineNumber, damage.message);
      yield this.lineNumber - first;
    } finally {
      this.long.clear();
      this.skipping = -1;
      this.pending = this.dataEnd = 0;
      this.sink = null;
    }
  }

  /**
   * Where the next read goes: what is left of the current slot, if that is
   * room for a pipe's worth (a file's read fills a slot; a pipe gives 64 KiB
   * at most), else the next slot.
   */
  private readArea(): Buffer {
    const full = CARRY_BYTES + this.readBytes;
    if (this.current >= 0 && full - this.dataEnd >= MIN_READ) return this.slots[this.current]!.subarray(this.dataEnd, full);
    return this.nextSlot();
  }

  /** The next slot's read area, with the line not yet complete moved in front of it. */
  private nextSlot(): Buffer {
    const index = (this.current + 1) % this.slots.length;
    this.sink!.reuse(index);
    const slot = this.slots[index]!;
    let carried = 0;
    if (this.current >= 0 && this.dataEnd > this.pending) {
      carried = this.dataEnd - this.pending;
      this.slots[this.current]!.copy(slot, CARRY_BYTES - carried, this.pending, this.dataEnd);
    }
    this.current = index;
    this.pending = CARRY_BYTES - carried;
    this.dataEnd = CARRY_BYTES;
    return slot.subarray(CARRY_BYTES, CARRY_BYTES + this.readBytes);
  }

  /** A line past its limit, of `length` bytes, ends: it counts as a line, reported, not handed over. */
  private skip(length: number, limit: number): void {
    this.lineNumber++;
    this.skipping = -1;
    reportTooLong((problem) => this.sink!.inputError(this.lineNumber, problem), length, limit);
  }

  private take(bytes: Buffer, start: number, end: number, slot: number, ascii: boolean): void {
    const limit = end - start > MAX_LINE_BYTES ? lineLimit(bytes[start]) : MAX_LINE_BYTES;
    if (end - start > limit) return this.skip(end - start, limit);
    this.lineNumber++;
    this.sink!.line(bytes, start, end > start && bytes[end - 1] === 0x0d ? end - 1 : end, this.lineNumber, slot, ascii);
  }

  /**
   * A UTF-8 byte order mark opening the input is not part of its first line
   * (TextDecoder drops it too). False while too few bytes have come to tell.
   */
  private skipByteOrderMark(bytes: Buffer, end: number): boolean {
    const start = this.pending;
    const available = Math.min(end - start, BYTE_ORDER_MARK.length);
    const marked = bytes.compare(BYTE_ORDER_MARK, 0, available, start, start + available) === 0;
    if (marked && available < BYTE_ORDER_MARK.length) return false;
    if (marked) this.pending += BYTE_ORDER_MARK.length;
    this.atInputStart = false;
    return true;
  }

  /** Hand over the complete lines in the current slot's [pending, dataEnd); what is left stays pending. */
  private scan(): void {
    const index = this.current;
    const bytes = this.slots[index]!;
    const end = this.dataEnd;
    if (this.atInputStart && !this.skipByteOrderMark(bytes, end)) return;
    let start = this.pending;
    const ascii = this.asciiChunks && isAscii(bytes.subarray(start, end));
    bytes[end] = 0x0a; // a sentinel: indexOf stops at the data's end
    if (this.skipping >= 0) {
      const newline = bytes.indexOf(0x0a, start);
      if (newline >= end) {
        this.skipping += end - start;
        this.pending = end;
        return;
      }
      this.skip(this.skipping + newline - start, this.skippingLimit);
      start = newline + 1;
    } else if (!this.long.isEmpty) {
      const newline = bytes.indexOf(0x0a, start);
      const length = this.long.length + (newline >= end ? end : newline) - start;
      const limit = lineLimit(this.long.first);
      const tooLong = length > limit;
      if (newline >= end) {
        // Past the limit: let the rest stream by, counted, not kept.
        if (tooLong) {
          this.long.clear();
          this.skipping = length;
          this.skippingLimit = limit;
        } else this.long.add(bytes, start, end);
        this.pending = end;
        return;
      }
      if (tooLong) {
        this.long.clear();
        this.skip(length, limit);
      } else {
        const line = this.long.take(bytes, start, newline);
        this.take(line, 0, line.length, -1, isAscii(line));
      }
      start = newline + 1;
    }
    for (;;) {
      const newline = bytes.indexOf(0x0a, start);
      if (newline >= end) break;
      this.take(bytes, start, newline, index, ascii);
      start = newline + 1;
    }
    if (end - start > CARRY_BYTES) {
      // Too long to carry into the next slot: it waits in a buffer of its own.
      this.long.add(bytes, start, end);
      start = end;
    }
    this.pending = start;
  }
}
