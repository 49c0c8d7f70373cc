/**
 * Byte-level line splitting shared by every file-like source (file, stdin,
 * follow, checkpoint). Works on Buffers so offsets are byte offsets that a
 * checkpoint can seek to, and so the scan for "\n" is native indexOf.
 */
import { WhokilledError } from "../errors.ts";

export interface Line {
  /**
   * The line's bytes without the trailing "\n" (and without a "\r" before it). A view into the
   * chunk it was read in: copy it (Buffer.from) if you keep it for long, or it pins the whole chunk.
   */
  bytes: Buffer;
  /** 1-based line number in this input. */
  line: number;
  /** Byte offset of the line's first byte in the input (in the decompressed stream for .gz). */
  offset: number;
  /** Byte offset just past the line's "\n" (where the next line starts). */
  end: number;
  /** Set when the line was longer than its limit: its length. It was skipped, not held; `bytes` is empty. */
  tooLong?: number;
  /** With tooLong: the limit it passed (lineLimit: JSON lines have their own). */
  limit?: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * The longest line of audit text read as one. No audit record comes near
 * it: the kernel writes at most 8970 bytes (MAX_AUDIT_MESSAGE_LENGTH), and a
 * node= prefix or an ENRICHED tail adds a few hundred. A longer "line" is
 * damage, such as the run of NUL bytes a crash can leave in a log; held
 * whole, one of 50 MB took decode 5 s and 840 MB. It is skipped as it
 * streams past, and reported with its line number (slot-reader.ts, and
 * LineSplitter here). A JSON line (first byte `{`) has a limit of its own,
 * MAX_JSON_LINE_BYTES.
 */
export const MAX_LINE_BYTES = 1 << 20;

/**
 * The longest JSON line read as one. decode's event line holds up to
 * 10,000 records (an event closes there), a group kill's OBJ_PIDs: 7.7 MB
 * for 10,000; a signal line with as many victims is smaller. Past this a
 * line is skipped as it streams past, like a raw line past MAX_LINE_BYTES:
 * parsed, one of 100 MB cost report 1.7 GB. An event line just under it
 * costs decode (parse, check, write again) 134 MB at most; at 16 MiB, 155.
 * (lib/schema-check.ts bounds the values a line may hold, whatever its size.)
 */
export const MAX_JSON_LINE_BYTES = 12 << 20;

/** The longest line, starting with `first`, read as one: JSON lines have their own limit. */
export function lineLimit(first: number | undefined): number {
  return first === 0x7b /* { */ ? MAX_JSON_LINE_BYTES : MAX_LINE_BYTES;
}

/**
 * A line that crosses chunks, kept as copies of its pieces and joined once
 * when it ends. Joining at every chunk cost the line's length squared over
 * the chunk size: a 3 MB event line in 4 KiB pieces, a second.
 */
export class PartialLine {
  private parts: Buffer[] = [];
  /** Bytes held. */
  length = 0;

  get isEmpty(): boolean {
    return this.parts.length === 0;
  }

  /** The line's first byte (undefined while empty). */
  get first(): number | undefined {
    return this.parts[0]?.[0];
  }

  add(bytes: Buffer, start: number, end: number): void {
    this.parts.push(Buffer.from(bytes.subarray(start, end)));
    this.length += end - start;
  }

  /** The whole line (with bytes[start, end) after what is held), and empty again. */
  take(bytes?: Buffer, start = 0, end = 0): Buffer {
    const tail = bytes !== undefined && end > start;
    if (tail) this.parts.push(bytes.subarray(start, end));
    // One held piece is a copy already; anything else is joined into one.
    const line = this.parts.length === 1 && !tail ? this.parts[0]! : Buffer.concat(this.parts);
    this.clear();
    return line;
  }

  clear(): void {
    this.parts = [];
    this.length = 0;
  }
}

const SKIPPED = ": skipped";

/**
 * Report a line past its limit (lineLimit) through `report` (InputErrors.report).
 * Under --strict reporting throws, and then the line is not skipped: the run
 * stops there, and the message says so instead.
 */
export function reportTooLong(report: (problem: string) => void, length: number, limit = MAX_LINE_BYTES): void {
  const line =
    limit === MAX_JSON_LINE_BYTES
      ? `a JSON line of ${length} bytes, longer than any whokilled line (at most ${MAX_JSON_LINE_BYTES} are read as one line)`
      : `a line of ${length} bytes, longer than any audit record (at most ${MAX_LINE_BYTES} are read as one line)`;
  try {
    report(`${line}${SKIPPED}`);
  } catch (error) {
    if (error instanceof WhokilledError && error.code === "E_INPUT" && error.message.endsWith(SKIPPED)) {
      throw new WhokilledError("E_INPUT", `${error.message.slice(0, -SKIPPED.length)}: --strict stops the run here`, { cause: error });
    }
    throw error;
  }
}

/** A line that is not one (past its limit, or where a .gz is damaged) reported through `report`: true when it was. */
export function reportUnreadLine(line: { tooLong?: number; limit?: number; damaged?: string }, report: (problem: string) => void): boolean {
  if (line.damaged !== undefined) report(line.damaged);
  else if (line.tooLong !== undefined) reportTooLong(report, line.tooLong, line.limit);
  else return false;
  return true;
}

const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * Feed chunks in, get whole lines out. `flush()` returns a final line that had
 * no newline. A partial line is kept across chunks, so line numbers and
 * offsets stay right whatever the chunk size.
 */
export class LineSplitter {
  private readonly pending = new PartialLine();
  /** The bytes so far of a line past its limit, being skipped (it starts at pendingOffset); -1: none. */
  private skipping = -1;
  /** The limit the line being skipped passed. */
  private skipLimit = MAX_LINE_BYTES;
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

  /**
   * Split a chunk; calls `emit` for each complete line, in order. A line
   * longer than its limit (lineLimit) comes as empty bytes with its length
   * in `tooLong`: it is never held whole.
   */
  push(chunk: Buffer, emit: (line: Line) => void): void {
    const base = this.nextOffset;
    let start = 0;
    if (this.skipping >= 0 || !this.pending.isEmpty) {
      // A line begun in an earlier chunk: only it is copied, never the whole chunk.
      const newline = chunk.indexOf(NEWLINE);
      const skipping = this.skipping >= 0;
      const held = skipping ? this.skipping : this.pending.length;
      const limit = skipping ? this.skipLimit : lineLimit(this.pending.first);
      const over = (length: number) => skipping || length > limit;
      if (newline < 0) {
        if (over(held + chunk.length)) {
          this.skipping = held + chunk.length;
          this.skipLimit = limit;
          this.pending.clear();
        } else this.pending.add(chunk, 0, chunk.length);
        this.nextOffset = base + chunk.length;
        return;
      }
      if (over(held + newline)) {
        this.pending.clear();
        emit({ bytes: EMPTY, line: this.nextLine++, offset: this.pendingOffset, end: base + newline + 1, tooLong: held + newline, limit });
      } else {
        const joined = this.pending.take(chunk, 0, newline);
        const stop = joined.length > 0 && joined[joined.length - 1] === CR ? joined.length - 1 : joined.length;
        emit({ bytes: joined.subarray(0, stop), line: this.nextLine++, offset: this.pendingOffset, end: base + newline + 1 });
      }
      this.skipping = -1;
      start = newline + 1;
    }
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline < 0) break;
      const stop = newline > start && chunk[newline - 1] === CR ? newline - 1 : newline;
      const limit = lineLimit(chunk[start]);
      if (newline - start > limit) emit({ bytes: EMPTY, line: this.nextLine++, offset: base + start, end: base + newline + 1, tooLong: newline - start, limit });
      else emit({ bytes: chunk.subarray(start, stop), line: this.nextLine++, offset: base + start, end: base + newline + 1 });
      start = newline + 1;
    }
    this.pendingOffset = base + start;
    this.nextOffset = base + chunk.length;
    this.skipLimit = lineLimit(chunk[start]);
    if (chunk.length - start > this.skipLimit) this.skipping = chunk.length - start;
    else if (start < chunk.length) this.pending.add(chunk, start, chunk.length);
  }

  /** The last line if it had no newline; resets the partial state. */
  flush(): Line | null {
    if (this.skipping >= 0) {
      const length = this.skipping;
      this.skipping = -1;
      const line = { bytes: EMPTY, line: this.nextLine++, offset: this.pendingOffset, end: this.pendingOffset + length, tooLong: length, limit: this.skipLimit };
      this.pendingOffset += length;
      return line;
    }
    if (this.pending.length === 0) {
      this.pending.clear();
      return null;
    }
    const bytes = this.pending.take();
    const line = { bytes, line: this.nextLine++, offset: this.pendingOffset, end: this.pendingOffset + bytes.length };
    this.pendingOffset += bytes.length;
    return line;
  }
}
