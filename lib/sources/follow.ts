/**
 * `capture --follow`: read a growing log like `tail -F`, across rotation and
 * truncation, by polling. fs.watch loses track of a file renamed away, and a
 * poll of fstat(fd) + stat(path) every ~100 ms is cheap and predictable.
 *
 * Truncation (logrotate's copytruncate, `> audit.log`) is told by the size
 * and by a fingerprint: the last FINGERPRINT_BYTES read must still be where
 * they were, checked at every poll and around every read. A size check alone
 * misses a file truncated and refilled past our offset between two polls.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { WhokilledError } from "../errors.ts";
import { log } from "../log.ts";
import {
  bytesBefore,
  closeSource,
  DEFAULT_CHUNK_BYTES,
  fileIdentity,
  guardedRead,
  holdsTail,
  ioError,
  isGzipName,
  openSource,
  readFileLines,
  rawChunks,
  readRange,
  readSourceLines,
  rotatedFiles,
  sourceLine,
  type OpenSource,
  type SourceLine,
} from "./file.ts";
import { abortableSleep } from "./abortable-sleep.ts";
import { LineSplitter } from "./lines.ts";

export interface FollowOptions {
  signal?: AbortSignal;
  /** Read the file's existing lines first (default: start at its end, like `tail -F -n 0`). */
  fromStart?: boolean;
  /** Poll interval (default 100 ms). */
  pollMs?: number;
}

interface Cursor {
  fd: number;
  ino: number;
  dev: number;
  /** Next byte to read: the splitter's consumed offset + its pending partial line. */
  position: number;
  splitter: LineSplitter;
  /** The last bytes read (up to FINGERPRINT_BYTES), which end at `position`: a copy, so no chunk is pinned. */
  tail: Buffer;
}

const NEWLINE = 0x0a;
const NO_BYTES = Buffer.alloc(0);

function openCursor(path: string, atEnd: boolean): Cursor | null {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw ioError(path, error);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new WhokilledError("E_IO", `cannot follow ${path}: not a regular file`);
    // At the end: after the last complete line, not at the size: a writer caught
    // mid-line would otherwise hand us the tail of a line as if it were one.
    // Counting the newlines on the way keeps line numbers true to the file.
    const { lines, lastLineEnd } = atEnd ? countLines(fd, st.size) : { lines: 0, lastLineEnd: 0 };
    return { fd, ino: st.ino, dev: st.dev, position: lastLineEnd, splitter: new LineSplitter(lines + 1, lastLineEnd), tail: bytesBefore(fd, lastLineEnd) ?? NO_BYTES };
  } catch (error) {
    closeSync(fd);
    throw error instanceof WhokilledError ? error : ioError(path, error);
  }
}

function countLines(fd: number, size: number): { lines: number; lastLineEnd: number } {
  const buffer = Buffer.allocUnsafe(DEFAULT_CHUNK_BYTES);
  let lines = 0;
  let lastLineEnd = 0;
  let position = 0;
  while (position < size) {
    const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - position), position);
    if (n === 0) break;
    for (let i = buffer.indexOf(NEWLINE, 0); i >= 0 && i < n; i = buffer.indexOf(NEWLINE, i + 1)) {
      lines++;
      lastLineEnd = position + i + 1;
    }
    position += n;
  }
  return { lines, lastLineEnd };
}

/**
 * Everything the fd holds past our position, one batch per read, until the
 * signal aborts. Returns why the file was truncated when it was, before or
 * while we read: a read is taken only if the bytes before it and its own last
 * bytes are still there after it (guardedRead), and with nothing new to read
 * the bytes before our position are checked, so a file truncated and refilled
 * under us is seen.
 */
function* drain(cursor: Cursor, file: string, signal?: AbortSignal): Generator<SourceLine[], string | null> {
  for (;;) {
    const size = fstatSync(cursor.fd).size;
    if (size < cursor.position) return `size ${size} < offset ${cursor.position}`;
    // Sized to what is there: in steady state reads are a few hundred bytes,
    // and a line keeps its whole read buffer alive.
    const chunk =
      size > cursor.position ? guardedRead(cursor.fd, cursor, Math.min(DEFAULT_CHUNK_BYTES, size - cursor.position)) : holdsTail(cursor.fd, cursor.tail, cursor.position) ? null : "truncated";
    if (chunk === "truncated") return `the bytes before offset ${cursor.position} changed`;
    if (chunk === null) return null;
    const batch: SourceLine[] = [];
    cursor.splitter.push(chunk, (l) => batch.push(sourceLine(l, file, cursor.ino)));
    if (batch.length > 0) yield batch;
    if (signal?.aborted) return null;
  }
}

/** Rotated files checked for a copy of a truncated log: logrotate's copytruncate made the newest. */
const COPIES_CHECKED = 3;

/**
 * logrotate's copytruncate copies the log to a rotated name, then truncates
 * it: what we had not read yet is in the copy. The copy is the rotated file
 * (newest first, .gz too) whose bytes before our offset are the ones we read
 * last there. Null when none is: truncated by other means, or the copy is gone.
 */
async function findCopy(path: string, cursor: Cursor): Promise<OpenSource | null> {
  if (cursor.position === 0 || cursor.tail.length === 0) return null;
  const names = rotatedFiles(path)
    .filter((name) => name !== path)
    .reverse()
    .slice(0, COPIES_CHECKED);
  for (const name of names) {
    let src: OpenSource;
    try {
      src = openSource(name);
    } catch {
      continue; // Renamed or removed meanwhile.
    }
    let holds = false;
    try {
      holds = (src.ino !== cursor.ino || src.dev !== cursor.dev) && !!(await readRange(src, cursor.position - cursor.tail.length, cursor.position))?.equals(cursor.tail);
    } catch {
      // One that cannot be read (a damaged .gz) holds nothing we can use.
    }
    if (holds) return src;
    closeSource(src);
  }
  return null;
}

/**
 * The file under the cursor was truncated: read the rest of what it held from
 * its copy when there is one, pass on a last line left without its newline,
 * say what may be lost as a gap marker, and start again at offset 0.
 */
async function* afterTruncation(path: string, cursor: Cursor, why: string, signal?: AbortSignal): AsyncGenerator<SourceLine[]> {
  const offset = cursor.position;
  const copy = await findCopy(path, cursor);
  if (copy) {
    log.info(`${path} was truncated (${why}) after being copied to ${copy.name} (copytruncate); reading the rest of it from the copy`);
    try {
      for await (const chunk of rawChunks(copy, offset, DEFAULT_CHUNK_BYTES, signal)) {
        const batch: SourceLine[] = [];
        cursor.splitter.push(chunk, (l) => batch.push(sourceLine(l, path, cursor.ino)));
        if (batch.length > 0) yield batch;
        if (signal?.aborted) return;
      }
    } catch (error) {
      // A damaged .gz copy: what it gave is read; the rest is as lost as without a copy.
      if (!(error instanceof WhokilledError && error.code === "E_DAMAGED")) throw error;
      yield [gapMarker(path, cursor, `${path} was truncated (${why}) and its copy ${copy.name} is damaged (${error.message}): records after offset ${offset} may be lost`)];
    } finally {
      closeSource(copy);
    }
  }
  const last = cursor.splitter.flush();
  if (last) {
    log.warn(`${path}: the truncated file ended without a newline; passing on its last line as is`);
    yield [sourceLine(last, path, cursor.ino)];
  }
  if (!copy) {
    log.warn(`${path} was truncated (${why}); reading it again from the start`);
    // Nobody can know how much was written past our offset before the truncation: say it may be lost, in the data.
    yield [
      gapMarker(
        path,
        cursor,
        `${path} was truncated (${why}) and no rotated file holds a copy of it: records written after offset ${offset} before the truncation, if any, were lost (how many is not known)`,
      ),
    ];
  }
  cursor.position = 0;
  cursor.splitter = new LineSplitter(1, 0);
  cursor.tail = NO_BYTES;
}

/** A marker (no line) for records that may be missing at this point of the log, how many not known. */
function gapMarker(path: string, cursor: Cursor, reason: string): SourceLine {
  const at = cursor.position;
  return { bytes: NO_BYTES, file: path, line: 0, offset: at, end: at, inode: cursor.ino, gap: { reason, lost: null } };
}

/**
 * Rotated files newer than the one we were reading (identified by inode) but
 * older than the new current one, opened now so later renames cannot move
 * them under us. Empty when the previous file is no longer among them
 * (compressed or deleted): then nothing can be said about what lay between.
 */
function skippedGenerations(path: string, previous: { ino: number; dev: number }, current: Cursor | null): OpenSource[] {
  const rotated = rotatedFiles(path).filter((name) => name !== path && !isGzipName(name));
  const ids = rotated.map((name) => {
    const id = fileIdentity(name);
    return id && { name, ...id };
  });
  const at = ids.findIndex((id) => id !== null && id.ino === previous.ino && id.dev === previous.dev);
  if (at < 0) return [];
  const opened: OpenSource[] = [];
  for (const id of ids.slice(at + 1)) {
    if (!id || (current && id.ino === current.ino && id.dev === current.dev)) continue;
    try {
      const src = openSource(id.name);
      // Renamed again between stat and open: whatever is there now is not the file we meant.
      if (src.ino === id.ino && src.dev === id.dev) opened.push(src);
      else closeSource(src);
    } catch {
      // Gone already: nothing to read.
    }
  }
  if (opened.length > 0) log.warn(`${path} was rotated ${opened.length + 1} times between two polls; reading the ${opened.length} generation(s) in between`);
  return opened;
}

/**
 * Lines appended to `path`, as they arrive, until the signal aborts.
 *
 * - Rotation (the name now points at another inode): the old fd is read to its
 *   end first, since the writer may have added records just before renaming,
 *   then the new file is read from offset 0.
 * - Several rotations between two polls: the generations in between, still
 *   under their rotated names, are read whole before the new file.
 * - Truncation (told by size and by the last bytes read no longer being there,
 *   so a refill past our offset is seen too): what we had not read is taken
 *   from logrotate's copy (copytruncate) when a rotated file holds it; else a
 *   gap marker says records may be lost. Then the file is read from offset 0.
 * - A line is yielded only once its newline has been written; the one
 *   exception is an unterminated last line of a file rotated away, which
 *   will never get its newline (yielded with a warning).
 * - `file` is always `path`; `inode` tells the generations apart, `line` and
 *   `offset` are positions in that generation.
 * - A missing file is waited for (with one warning). `-` reads stdin to its end.
 */
export async function* followFileLines(path: string, options: FollowOptions = {}): AsyncGenerator<SourceLine[]> {
  const { signal, fromStart = false, pollMs = 100 } = options;
  if (path === "-") {
    yield* readFileLines("-", { signal });
    return;
  }
  let cursor = openCursor(path, !fromStart);
  if (!cursor) log.warn(`${path} does not exist (yet); waiting for it to appear`);
  try {
    while (!signal?.aborted) {
      if (!cursor) {
        await abortableSleep(pollMs, signal);
        if (signal?.aborted) break;
        // A file that appears after we started is new: all of it is unread.
        cursor = openCursor(path, false);
        continue;
      }
      const truncated = yield* drain(cursor, path, signal);
      if (signal?.aborted) return;
      if (truncated !== null) {
        yield* afterTruncation(path, cursor, truncated, signal);
        if (signal?.aborted) return;
        continue;
      }
      // Mid-rotation the name may be absent for a moment (null): keep reading the old fd.
      const now = fileIdentity(path);
      if (now && (now.ino !== cursor.ino || now.dev !== cursor.dev)) {
        // Rotated. What the writer put in the old file before the rename comes first.
        yield* drain(cursor, path, signal);
        if (signal?.aborted) return;
        const last = cursor.splitter.flush();
        if (last) {
          log.warn(`${path}: the rotated file ended without a newline; passing on its last line as is`);
          yield [sourceLine(last, path, cursor.ino)];
        }
        const previous = { ino: cursor.ino, dev: cursor.dev };
        closeSync(cursor.fd);
        cursor = null;
        cursor = openCursor(path, false);
        // More than one rotation since the last poll: the generations in between
        // are complete files we never saw under the name. Read them whole.
        const skipped = skippedGenerations(path, previous, cursor);
        try {
          for (const src of skipped) {
            for await (const batch of readSourceLines(src, { signal })) {
              // Lines under the followed name; a damaged .gz's marker names the file that is damaged.
              yield batch.map((l) => (l.damaged === undefined ? { ...l, file: path } : l));
              if (signal?.aborted) return;
            }
          }
        } finally {
          for (const src of skipped) closeSource(src);
        }
        continue;
      }
      await abortableSleep(pollMs, signal);
    }
  } finally {
    if (cursor) closeSync(cursor.fd);
  }
}
