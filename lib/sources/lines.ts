/**
 * Byte-level line splitting shared by every file-like source (file, stdin,
 * follow, checkpoint). Works on Buffers so offsets are byte offsets that a
 * checkpoint can seek to, and so the scan for "\n" is native indexOf.
 */

export interface Line {
  /** The line's bytes without the trailing "\n" (and without a "\r" before it). */
  bytes: Buffer;
  /** 1-based line number in this input. */
  line: number;
  /** Byte offset of the line's first byte in the input. */
  offset: number;
  /** Byte offset just past the line's "\n" (where the next line starts). */
  end: number;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * Feed chunks in, get whole lines out. `flush()` returns a final line that had
 * no newline. A partial line is kept across chunks, so line numbers and
 * offsets stay right whatever the chunk size.
 */
export class LineSplitter {
  private pending: Buffer | null = null;
  private pendingOffset = 0;
  private nextLine: number;
  private nextOffset: number;

  constructor(startLine = 1, startOffset = 0) {
    this.nextLine = startLine;
    this.nextOffset = startOffset;
    this.pendingOffset = startOffset;
  }

  /** Byte offset after the last complete line handed out. */
  get consumedOffset(): number {
    return this.pendingOffset;
  }

  /** Lines handed out so far + startLine. */
  get lineNumber(): number {
    return this.nextLine;
  }

  /** Split a chunk; calls `emit` for each complete line, in order. */
  push(chunk: Buffer, emit: (line: Line) => void): void {
    this.scan(chunk, (bytes, start, stop, line, offset, end) => emit({ bytes: bytes.subarray(start, stop), line, offset, end }));
  }

  /**
   * Like push, without making a Buffer view per line (which costs more than
   * finding the line): `emit` gets the buffer and the line's [start, stop)
   * in it. The buffer is the chunk itself, or a small one holding a line that
   * crossed chunks; either is only valid during the call.
   */
  scan(chunk: Buffer, emit: (bytes: Buffer, start: number, stop: number, line: number, offset: number, end: number) => void): void {
    const base = this.nextOffset;
    let start = 0;
    if (this.pending) {
      // Only the partial line is copied, never the whole chunk.
      const newline = chunk.indexOf(NEWLINE);
      if (newline < 0) {
        this.pending = Buffer.concat([this.pending, chunk]);
        this.nextOffset = base + chunk.length;
        return;
      }
      const joined = Buffer.concat([this.pending, chunk.subarray(0, newline)]);
      const stop = joined.length > 0 && joined[joined.length - 1] === CR ? joined.length - 1 : joined.length;
      emit(joined, 0, stop, this.nextLine++, this.pendingOffset, base + newline + 1);
      this.pending = null;
      start = newline + 1;
    }
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline < 0) break;
      const stop = newline > start && chunk[newline - 1] === CR ? newline - 1 : newline;
      emit(chunk, start, stop, this.nextLine++, base + start, base + newline + 1);
      start = newline + 1;
    }
    this.pendingOffset = base + start;
    this.nextOffset = base + chunk.length;
    if (start < chunk.length) this.pending = Buffer.from(chunk.subarray(start));
  }

  /** The last line if it had no newline; resets the partial state. */
  flush(): Line | null {
    if (!this.pending || this.pending.length === 0) return null;
    const bytes = this.pending;
    this.pending = null;
    const line = { bytes, line: this.nextLine++, offset: this.pendingOffset, end: this.pendingOffset + bytes.length };
    this.pendingOffset += bytes.length;
    return line;
  }

  /** Bytes held waiting for a newline (a writer mid-line, in follow mode). */
  get pendingBytes(): number {
    return this.pending?.length ?? 0;
  }
}
