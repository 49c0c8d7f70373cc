/**
 * An input's lines as bytes, for a consumer that keeps some of them past the
 * chunk they came in (decode: records wait in open events). Chunks are read
 * into a few reused slots, in turn; a line a consumer still holds when its
 * slot comes round again is copied out first (`reuse`). No string and no
 * buffer is made per line, and no memory is allocated after the start: on
 * these VMs a first touch of a page costs ~10 µs, so fresh buffers per chunk
 * would cost more than the reading.
 *
 * A line cut by a chunk's end is moved in front of the next chunk, in that
 * slot's carry area; one longer than the carry area is joined in a buffer of
 * its own and handed over as not held by any slot.
 */
import { isAscii } from "node:buffer";
import { rawChunks, type OpenSource } from "./file.ts";

export interface SlotLineSink {
  /**
   * One line, bytes[start, end) without its newline (or CR). `slot` is the
   * slot holding it, or -1 when the line is in a buffer of its own; `ascii`
   * says the whole chunk is ASCII (otherwise check the line).
   */
  line(bytes: Buffer, start: number, end: number, line: number, slot: number, ascii: boolean): void;
  /** The slot is about to be overwritten: copy out anything still held there. */
  reuse(slot: number): void;
  /** The end of a chunk's lines. */
  batch(): void;
}

const SLOT_COUNT = 4;
const CARRY_BYTES = 64 * 1024;

export class SlotReader {
  private readonly slots: Buffer[];
  private current = -1;
  // Per input.
  private sink: SlotLineSink | null = null;
  private lineNumber = 0;
  /** The partial line at the end of the last chunk (slot -1: none). */
  private tailSlot = -1;
  private tailStart = 0;
  private tailEnd = 0;
  /** How much of the current slot's carry area holds that line. */
  private carried = 0;
  /** A partial line longer than the carry area. */
  private long: Buffer | null = null;

  constructor(
    private readonly readBytes = 1 << 20,
    slotCount = SLOT_COUNT,
  ) {
    // One byte more than a chunk: room for the newline sentinel after the data.
    this.slots = Array.from({ length: slotCount }, () => Buffer.allocUnsafe(CARRY_BYTES + readBytes + 1));
  }

  /** Every line of one input, in order; line numbers start at 1. */
  async read(source: OpenSource, sink: SlotLineSink, signal?: AbortSignal): Promise<void> {
    this.sink = sink;
    this.lineNumber = 0;
    this.tailSlot = -1;
    this.carried = 0;
    this.long = null;
    const supplied: { target: Buffer | null } = { target: null };
    for await (const chunk of rawChunks(source, 0, this.readBytes, signal, () => (supplied.target = this.nextSlot()))) {
      const target = supplied.target;
      if (target !== null && chunk.buffer === target.buffer && chunk.byteOffset === target.byteOffset) {
        this.scan(chunk.length);
      } else {
        // Not read in place (a pipe, a .gz): copied into the slots.
        for (let at = 0; at < chunk.length; at += this.readBytes) {
          const piece = chunk.subarray(at, Math.min(chunk.length, at + this.readBytes));
          piece.copy(this.nextSlot(), 0);
          this.scan(piece.length);
        }
      }
      supplied.target = null;
      sink.batch();
    }
    // The last line, if it had no newline.
    const long = this.long as Buffer | null;
    if (long) this.take(long, 0, long.length, -1, isAscii(long));
    else if (this.tailSlot >= 0) this.take(this.slots[this.tailSlot]!, this.tailStart, this.tailEnd, this.tailSlot, false);
    else if (this.carried > 0) this.take(this.slots[this.current]!, CARRY_BYTES - this.carried, CARRY_BYTES, this.current, false);
    this.long = null;
    this.tailSlot = -1;
    this.carried = 0;
    sink.batch();
    this.sink = null;
  }

  /** The next slot's read area, with the partial line moved in front of it. */
  private nextSlot(): Buffer {
    const index = (this.current + 1) % this.slots.length;
    this.sink!.reuse(index);
    const slot = this.slots[index]!;
    this.carried = 0;
    if (this.tailSlot >= 0) {
      this.carried = this.tailEnd - this.tailStart;
      this.slots[this.tailSlot]!.copy(slot, CARRY_BYTES - this.carried, this.tailStart, this.tailEnd);
      this.tailSlot = -1;
    }
    this.current = index;
    return slot.subarray(CARRY_BYTES, CARRY_BYTES + this.readBytes);
  }

  private take(bytes: Buffer, start: number, end: number, slot: number, ascii: boolean): void {
    this.lineNumber++;
    this.sink!.line(bytes, start, end > start && bytes[end - 1] === 0x0d ? end - 1 : end, this.lineNumber, slot, ascii);
  }

  /** Split the current slot's carried line and `length` new bytes into lines; keep the tail. */
  private scan(length: number): void {
    const index = this.current;
    const bytes = this.slots[index]!;
    const end = CARRY_BYTES + length;
    let start = CARRY_BYTES - this.carried;
    this.carried = 0;
    const ascii = isAscii(bytes.subarray(start, end));
    bytes[end] = 0x0a; // a sentinel: indexOf stops at the data's end
    if (this.long) {
      const newline = bytes.indexOf(0x0a, start);
      if (newline >= end) {
        this.long = Buffer.concat([this.long, bytes.subarray(start, end)]);
        return;
      }
      const line = Buffer.concat([this.long, bytes.subarray(start, newline)]);
      this.long = null;
      this.take(line, 0, line.length, -1, isAscii(line));
      start = newline + 1;
    }
    for (;;) {
      const newline = bytes.indexOf(0x0a, start);
      if (newline >= end) break;
      this.take(bytes, start, newline, index, ascii);
      start = newline + 1;
    }
    if (end - start > CARRY_BYTES) this.long = Buffer.from(bytes.subarray(start, end));
    else if (end > start) {
      this.tailSlot = index;
      this.tailStart = start;
      this.tailEnd = end;
    }
  }
}
