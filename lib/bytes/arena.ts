/**
 * A ring of bytes for lines kept past the chunk they were read in: append,
 * get an absolute offset back, read it later while it has not been
 * overwritten. Oldest data goes first; nothing is freed one by one.
 */
export class ByteArena {
  /** Bytes ever appended (plus padding skipped at wrap-around): the next absolute offset. */
  private total = 0;
  // Not zeroed: on these VMs a first touch costs ~10 µs a page, so pages are
  // better touched as the ring fills than all at start.
  private readonly memory: Buffer;

  constructor(private readonly size: number) {
    this.memory = Buffer.allocUnsafe(size);
  }

  /**
   * Append bytes[start, end). Returns the absolute offset, or -1 when the
   * span is too large to keep (over 1/16 of the arena).
   */
  put(bytes: Buffer, start: number, end: number): number {
    const length = end - start;
    if (length > this.size >>> 4) return -1;
    let at = this.total % this.size;
    if (at + length > this.size) {
      // Keep every span contiguous: skip the ring's tail.
      this.total += this.size - at;
      at = 0;
    }
    bytes.copy(this.memory, at, start, end);
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
    return { bytes: this.memory, start: offset % this.size };
  }

  text(offset: number, length: number): string {
    const start = offset % this.size;
    return this.memory.toString("utf8", start, start + length);
  }
}
