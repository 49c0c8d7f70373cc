/** Output lines, as JSON or bytes a serializer writes in place, into one buffer flushed to a file descriptor. */
import { writeSync } from "node:fs";
import { WhokilledError } from "../errors.ts";

/**
 * Buffered line writer to a file descriptor (stdout by default). Lines are
 * encoded straight into one reused buffer and written with writeSync: no
 * intermediate joined string, no per-line allocation of bytes.
 */
export class LineWriter {
  private buffer: Buffer;
  private used = 0;
  lines = 0;

  constructor(
    private readonly fd = 1,
    size = 1 << 20,
  ) {
    this.buffer = Buffer.allocUnsafe(size);
  }

  writeLine(text: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit; +1 for the newline.
    const buffer = this.reserve(text.length * 3 + 1);
    this.used += buffer.write(text, this.used, "utf8");
    buffer[this.used++] = 0x0a;
    this.lines++;
  }

  write(value: unknown): void {
    this.writeLine(JSON.stringify(value));
  }

  /**
   * For serializers that encode straight into the buffer: room for `n` more
   * bytes from `offset`. Write there, then `commit` the end of what you wrote
   * (whole lines, each with its newline). The buffer may change between calls.
   */
  reserve(n: number): Buffer {
    if (this.used + n > this.buffer.length) {
      this.flush();
      if (n > this.buffer.length) this.buffer = Buffer.allocUnsafe(n);
    }
    return this.buffer;
  }

  get offset(): number {
    return this.used;
  }

  commit(end: number, lines = 1): void {
    this.used = end;
    this.lines += lines;
  }

  flush(): void {
    let offset = 0;
    while (offset < this.used) {
      try {
        offset += writeSync(this.fd, this.buffer, offset, this.used - offset);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") {
          Bun.sleepSync(1);
          continue;
        }
        this.used = 0;
        if (code === "EPIPE") throw new WhokilledError("E_PIPE", "output closed by reader");
        throw new WhokilledError("E_IO", `cannot write output: ${(error as Error).message}`);
      }
    }
    this.used = 0;
  }
}
