/**
 * A ring of bytes for lines kept past the chunk they were read in: append,
 * get an absolute offset back, read it later while it has not been
 * overwritten. Oldest data goes first; nothing is freed one by one.
 *
 * The arena lives inside a caller's memory so that a line read into the same
 * ArrayBuffer is copied with copyWithin: one native memmove, where
 * Buffer.copy or set(subarray(…)) cost 10–30× more per call in Bun (both
 * make a view object first; measured on 70k lines).
 */
export class ByteArena {
  /** Bytes ever appended (plus padding skipped at wrap-around): the next absolute offset. */
  private total = 0;

  constructor(
    private readonly memory: Buffer,
    private readonly base: number,
    private readonly size: number,
  ) {}

  /**
   * Append bytes[start, end). Returns the absolute offset, or -1 when the
   * span is too large to keep (over 1/16 of the arena).
   */
  put(bytes: Uint8Array, start: number, end: number): number {
    const length = end - start;
    if (length > this.size >>> 4) return -1;
    let at = this.total % this.size;
    if (at + length > this.size) {
      // Keep every span contiguous: skip the ring's tail.
      this.total += this.size - at;
      at = 0;
    }
    if (bytes.buffer === this.memory.buffer) {
      this.memory.copyWithin(this.base + at, bytes.byteOffset - this.memory.byteOffset + start, bytes.byteOffset - this.memory.byteOffset + end);
    } else {
      this.memory.set(bytes.subarray(start, end), this.base + at);
    }
    const offset = this.total;
    this.total += length;
    return offset;
  }

  /** Are the bytes at [offset, offset + length) still there? */
  holds(offset: number, length: number): boolean {
    return offset >= 0 && this.total - offset <= this.size && offset + length <= this.total;
  }

  /** The memory and position of a span (valid until the next `put`). */
  at(offset: number): { bytes: Buffer; start: number } {
    return { bytes: this.memory, start: this.base + (offset % this.size) };
  }

  text(offset: number, length: number, encoding: "utf8" | "latin1" = "utf8"): string {
    const start = this.base + (offset % this.size);
    return this.memory.toString(encoding, start, start + length);
  }
}
