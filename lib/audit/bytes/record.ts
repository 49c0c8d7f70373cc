/**
 * A record read as bytes (decode's fast input, lib/sources/slot-reader.ts):
 * its line stays in the reader's memory until the event is written, and
 * becomes a string only if someone asks for `raw` (the reference writer, an
 * error message) or the memory is about to be reused while its event is
 * still open. Only ASCII lines are read this way, so a byte is a UTF-16 unit
 * and offsets mean the same in both forms.
 */
import type { SourceRef } from "../../schema.ts";
import type { PendingRecord } from "../assemble.ts";

export class ByteRecord implements PendingRecord {
  private text: string | undefined;

  constructor(
    readonly type: string,
    /** The memory holding the line, or null once released or copied out. */
    public bytes: Buffer | null,
    readonly start: number,
    readonly end: number,
    /** Where the fields start, from the line's start (as in `raw`). */
    readonly bodyStart: number,
    readonly file: string,
    readonly line: number,
  ) {}

  get raw(): string {
    if (this.text === undefined) this.text = this.bytes!.toString("latin1", this.start, this.end);
    return this.text;
  }

  get source(): SourceRef {
    return { file: this.file, line: this.line };
  }

  get length(): number {
    return this.end - this.start;
  }

  /** The memory is about to be reused: keep the line as a string. */
  copyOut(): void {
    if (this.bytes === null) return;
    this.text = this.raw;
    this.bytes = null;
  }

  /** Written: the memory is no longer needed. */
  release(): void {
    this.bytes = null;
  }
}

/** The same record body (type and everything after the stamp), compared as bytes. */
export function sameBody(a: ByteRecord, b: ByteRecord): boolean {
  const length = a.end - a.start - a.bodyStart;
  if (a.type !== b.type || length !== b.end - b.start - b.bodyStart) return false;
  const x = a.bytes!;
  const y = b.bytes!;
  const xs = a.start + a.bodyStart;
  const ys = b.start + b.bodyStart;
  for (let i = 0; i < length; i++) if (x[xs + i] !== y[ys + i]) return false;
  return true;
}
