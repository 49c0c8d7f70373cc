/**
 * Line-level file sources: a plain file, a gzip file, or stdin, yielded as
 * batches of lines with their byte positions. Records are built by the caller.
 *
 * Batches, not single lines: a 250 MB audit.log has ~1M lines, and one promise
 * per line would cost more than reading and splitting the whole file.
 */
import { closeSync, fstatSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { WhokilledError } from "../errors.ts";
import { escapeControl } from "../render/escape.ts";
import { LineSplitter, type Line } from "./lines.ts";
import { readable, widenPipe } from "./poll.ts";

/** A line (lines.ts) named by the file it was read from, or a marker in a line's place (`damaged`, `gap`). */
export interface SourceLine extends Line {
  /** The path the line was read from (`-` for stdin). */
  file: string;
  /** Inode of the file read (of the .gz file itself when compressed); absent for stdin pipes. */
  inode?: number;
  /**
   * Not a line: the source's data is damaged here (a .gz cut short), and
   * what follows in it is lost. `bytes` is empty; offset and end are where
   * reading stopped. The lines before it were read, and the next source is.
   */
  damaged?: string;
  /**
   * Not a line: records may be missing here, and how many when that is known
   * (`--follow`: the log was truncated before all of it was read, and no copy
   * holds the rest). `bytes` is empty; capture writes it as a `gap` line.
   */
  gap?: { reason: string; lost: number | null };
}

export const DEFAULT_CHUNK_BYTES = 128 * 1024;

/** An opened input: the fd pins the file's identity even if it is renamed meanwhile. */
export interface OpenSource {
  fd: number;
  /** The name it was opened under. */
  name: string;
  gz: boolean;
  /** Regular file: positional reads work. False for pipes, ttys, sockets. */
  regular: boolean;
  ino: number;
  dev: number;
  /** Size and mtime when opened (compressed size for .gz). */
  size: number;
  mtimeMs: number;
  /** Creation time where the filesystem records it (0 when not): tells a reused inode from the old file. */
  birthtimeMs: number;
  /** False for stdin: never closed by us. */
  owned: boolean;
}

export function ioError(path: string, error: unknown): WhokilledError {
  const e = error as NodeJS.ErrnoException;
  const detail = e?.code ? `${e.code} ${e.message.replace(/^\w+:\s*/, "")}` : String(e?.message ?? error);
  return new WhokilledError("E_IO", `cannot read ${escapeControl(path)}: ${escapeControl(detail)}`, { cause: error });
}

export const isGzipName = (path: string) => path.endsWith(".gz");

/** Open a path (or `-` for stdin). Throws E_IO when missing, unreadable or a directory. */
export function openSource(path: string): OpenSource {
  if (path === "-") {
    const st = fstatSync(0);
    return { fd: 0, name: "-", gz: false, regular: st.isFile(), ino: st.ino, dev: st.dev, size: st.size, mtimeMs: st.mtimeMs, birthtimeMs: st.birthtimeMs || 0, owned: false };
  }
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw ioError(path, error);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
    return { fd, name: path, gz: isGzipName(path), regular: st.isFile(), ino: st.ino, dev: st.dev, size: st.size, mtimeMs: st.mtimeMs, birthtimeMs: st.birthtimeMs || 0, owned: true };
  } catch (error) {
    closeSync(fd);
    throw ioError(path, error);
  }
}

export function closeSource(source: OpenSource): void {
  if (!source.owned) return;
  try {
    closeSync(source.fd);
  } catch {
    // Already closed: nothing left to release.
  }
}

/**
 * Runs the event loop once (a macrotask turn), so a SIGINT/SIGTERM handler can
 * abort between chunks: reads that never wait only ever resolve microtasks,
 * and signal handlers would not run until the input ends. True when aborted.
 */
function signalsHadTheirTurn(signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(true);
  return new Promise((resolve) => setImmediate(() => resolve(signal.aborted)));
}

/** readSync that waits out EAGAIN (a non-blocking fd with nothing to read yet). */
async function readRetry(fd: number, buffer: Buffer, position: number | null, signal?: AbortSignal): Promise<number> {
  for (;;) {
    try {
      return readSync(fd, buffer, 0, buffer.length, position);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EAGAIN" || signal?.aborted) throw error;
      await Bun.sleep(10);
    }
  }
}

/**
 * The input's bytes from `startOffset` on, decompressed for .gz. Plain files
 * are read with positional readSync (no stream machinery on the hot path);
 * each chunk is a fresh buffer, so lines handed out earlier stay valid,
 * unless the caller hands out the buffers (`nextBuffer`).
 */
export async function* rawChunks(
  source: OpenSource,
  startOffset = 0,
  chunkBytes = DEFAULT_CHUNK_BYTES,
  signal?: AbortSignal,
  /**
   * Where to read each chunk of a file or pipe, for a caller done with a
   * chunk before it asks for the next (its length is then the chunk size).
   * Without it every chunk is a fresh buffer.
   */
  nextBuffer?: () => Buffer,
): AsyncGenerator<Buffer> {
  if (source.gz) {
    yield* skipBytes(gunzipChunks(source, chunkBytes, signal), startOffset);
    return;
  }
  if (!source.regular) {
    // A pipe or terminal: into the caller's buffers where it reuses them and poll(2) is at hand, else Bun's stream.
    const chunks = nextBuffer && readable(source.fd, 0) !== null ? polledChunks(source, signal, nextBuffer) : streamChunks(source, signal);
    yield* skipBytes(chunks, startOffset);
    return;
  }
  let position = startOffset;
  // The first read is sized to what the file holds, so a small file does not allocate a whole chunk.
  let want = Math.min(chunkBytes, Math.max(source.size - position, 4096));
  for (;;) {
    if (signal && (await signalsHadTheirTurn(signal))) return;
    const buffer = nextBuffer ? nextBuffer() : Buffer.allocUnsafe(want);
    let n: number;
    try {
      n = await readRetry(source.fd, buffer, position, signal);
    } catch (error) {
      throw ioError(source.name, error);
    }
    if (n === 0) return;
    position += n;
    yield n === buffer.length ? buffer : buffer.subarray(0, n);
    want = chunkBytes;
  }
}

async function* skipBytes(chunks: AsyncGenerator<Buffer>, skip: number): AsyncGenerator<Buffer> {
  let left = skip;
  for await (const chunk of chunks) {
    if (left >= chunk.length) {
      left -= chunk.length;
      continue;
    }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}

async function* gunzipChunks(source: OpenSource, chunkBytes: number, signal?: AbortSignal): AsyncGenerator<Buffer> {
  // Loaded only for .gz input: the two modules cost ~25 ms at every start of every script.
  const [{ Readable }, { createGunzip }] = await Promise.all([import("node:stream"), import("node:zlib")]);
  const fd = source.fd;
  const compressed = Readable.from(
    (function* () {
      let position = 0;
      for (;;) {
        const buffer = Buffer.allocUnsafe(1024 * 1024);
        const n = readSync(fd, buffer, 0, buffer.length, position);
        if (n === 0) return;
        position += n;
        yield buffer.subarray(0, n);
      }
    })(),
  );
  const gunzip = createGunzip({ chunkSize: Math.min(chunkBytes, 1024 * 1024) });
  compressed.on("error", (error) => gunzip.destroy(error));
  // Driven by its events, not its async iterator: that one throws at an
  // error with output still queued, and a .gz cut short (a disk that filled
  // while logrotate compressed) lost every line it held.
  const queue: Buffer[] = [];
  let ended = false;
  let failure: unknown = null;
  let wake: (() => void) | null = null;
  const poke = () => {
    wake?.();
    wake = null;
  };
  gunzip.on("data", (chunk: Buffer) => {
    queue.push(chunk);
    if (queue.length >= 4) gunzip.pause();
    poke();
  });
  gunzip.on("end", () => {
    ended = true;
    poke();
  });
  gunzip.on("error", (error) => {
    failure = error;
    ended = true;
    poke();
  });
  compressed.pipe(gunzip);
  let decompressed = 0;
  try {
    for (;;) {
      if (signal?.aborted) return;
      const chunk = queue.shift();
      if (chunk) {
        decompressed += chunk.length;
        if (queue.length < 2) gunzip.resume();
        yield chunk;
        continue;
      }
      if (ended) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } finally {
    compressed.destroy();
    gunzip.destroy();
  }
  if (failure === null) return;
  const e = failure as NodeJS.ErrnoException;
  // zlib's codes (Z_BUF_ERROR: cut short; Z_DATA_ERROR: not gzip, or corrupt) are damage to this input, not a failure to read it.
  if (typeof e.code === "string" && e.code.startsWith("Z_")) {
    const why = `${e.code} ${e.message}`;
    const problem =
      decompressed === 0
        ? `not gzip data, or damaged from its start (${why}): nothing read`
        : `its compressed data ${e.code === "Z_BUF_ERROR" ? "ends early" : "is damaged"} (${why}) after ${decompressed} bytes of log: what came before was read, the rest is lost`;
    throw new WhokilledError("E_DAMAGED", problem, { cause: failure });
  }
  throw ioError(source.name, failure);
}

/**
 * Pipes and ttys read with readSync into reused buffers, only once poll(2)
 * says a read will not block. Each wait is a slice of at most 50 ms with the
 * event loop run in between, so Ctrl-C and SIGTERM handlers still run while
 * the writer is quiet.
 */
async function* polledChunks(source: OpenSource, signal: AbortSignal | undefined, nextBuffer: () => Buffer): AsyncGenerator<Buffer> {
  widenPipe(source.fd, 1 << 20);
  for (;;) {
    if (signal && (await signalsHadTheirTurn(signal))) return;
    if (!readable(source.fd, 50)) {
      await Bun.sleep(0);
      continue;
    }
    const buffer = nextBuffer();
    let n: number;
    try {
      n = readSync(source.fd, buffer, 0, buffer.length, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EAGAIN") continue;
      throw ioError(source.name, error);
    }
    if (n === 0) return;
    yield n === buffer.length ? buffer : buffer.subarray(0, n);
  }
}

/** Pipes and ttys (stdin): Bun's stream, which copes with non-blocking fds. */
async function* streamChunks(source: OpenSource, signal?: AbortSignal): AsyncGenerator<Buffer> {
  const stream = source.fd === 0 ? Bun.stdin.stream() : Bun.file(source.fd).stream();
  const reader = stream.getReader();
  const onAbort = () => void reader.cancel().catch(() => {});
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      if (signal?.aborted) return;
      const { done, value } = await reader.read();
      if (done || signal?.aborted) return;
      if (value && value.length > 0) yield Buffer.from(value.buffer, value.byteOffset, value.length);
    }
  } catch (error) {
    if (signal?.aborted) return;
    throw ioError(source.name, error);
  } finally {
    signal?.removeEventListener("abort", onAbort);
    reader.releaseLock();
  }
}

export interface SourceReadOptions {
  signal?: AbortSignal;
  /** Byte offset to start at (in the decompressed stream for .gz). Must be a line start. */
  startOffset?: number;
  /** Line number of the line at startOffset (default 1). */
  startLine?: number;
  /** Read size (default 128 KiB: the batch stays in cache, which larger reads lose). */
  chunkBytes?: number;
  /**
   * Do not yield a last line that has no newline: the writer may be mid-line
   * (a live log). Default false: a finished file's unterminated last line is a line.
   */
  holdPartial?: boolean;
  /**
   * Guard a regular file's reads against truncation under them (copytruncate):
   * `tail` is the last bytes before startOffset (up to FINGERPRINT_BYTES). A
   * read is taken only if those bytes and its own last bytes are still in
   * place after it; else reading ends before it, and `onTruncated` is called.
   * `head`, the file's first bytes when it was opened, must stay in place too:
   * a file truncated before its first read is told by that. `end` (its size
   * when opened) is where reading stops: what came later waits for the next
   * run, since a file empty when opened has no head to tell a truncation by.
   */
  guard?: { tail: Buffer; head: Buffer; end: number; onTruncated: (offset: number) => void };
}

/**
 * How much of what was read is checked to still be there. Audit records carry
 * a time stamp and a serial, so 256 bytes of them are never written twice;
 * one pread of them per read (and per poll, following) costs nothing beside the read.
 */
export const FINGERPRINT_BYTES = 256;

/** The last FINGERPRINT_BYTES of `tail` followed by `chunk`, copied (no chunk stays pinned). */
export function nextTail(tail: Buffer, chunk: Buffer): Buffer {
  if (chunk.length >= FINGERPRINT_BYTES) return Buffer.from(chunk.subarray(chunk.length - FINGERPRINT_BYTES));
  const joined = Buffer.concat([tail, chunk]);
  return joined.length > FINGERPRINT_BYTES ? Buffer.from(joined.subarray(joined.length - FINGERPRINT_BYTES)) : joined;
}

/** Do the bytes just before `end` in fd equal `tail`? */
export function holdsTail(fd: number, tail: Buffer, end: number): boolean {
  if (tail.length === 0) return true;
  if (end < tail.length) return false;
  const buffer = Buffer.allocUnsafe(tail.length);
  return readSync(fd, buffer, 0, tail.length, end - tail.length) === tail.length && buffer.equals(tail);
}

/** The bytes before `end` in fd (FINGERPRINT_BYTES, fewer near the start); null when the file is shorter than `end`. */
export function bytesBefore(fd: number, end: number): Buffer | null {
  const length = Math.min(end, FINGERPRINT_BYTES);
  const buffer = Buffer.alloc(length);
  return length === 0 || readSync(fd, buffer, 0, length, end - length) === length ? buffer : null;
}

/**
 * One guarded read of up to `length` bytes at `at.position`, taken only if
 * `at.tail` (the bytes before it), its own last bytes and `head` (the file's
 * first bytes) are all still in place after it; then `at` moves past it.
 * The chunk read; null when nothing was there; "truncated" when not taken.
 */
export function guardedRead(fd: number, at: { position: number; tail: Buffer }, length: number, head: Buffer = Buffer.alloc(0)): Buffer | null | "truncated" {
  const buffer = Buffer.allocUnsafe(length);
  const n = readSync(fd, buffer, 0, length, at.position);
  if (n === 0) return null;
  const chunk = n === length ? buffer : buffer.subarray(0, n);
  const tail = nextTail(at.tail, chunk);
  if (!holdsTail(fd, at.tail, at.position) || !holdsTail(fd, tail, at.position + n) || !holdsTail(fd, head, head.length)) return "truncated";
  at.position += n;
  at.tail = tail;
  return chunk;
}

/**
 * rawChunks of a regular file, each read taken only while what was read stays
 * in place (SourceReadOptions.guard); `onStop` hears when reading stops short
 * of the file's end (at `guard.end`, or a truncation).
 */
async function* guardedChunks(
  source: OpenSource,
  startOffset: number,
  chunkBytes: number,
  signal: AbortSignal | undefined,
  guard: NonNullable<SourceReadOptions["guard"]>,
  onStop: () => void,
): AsyncGenerator<Buffer> {
  const at = { position: startOffset, tail: guard.tail };
  for (;;) {
    if (signal && (await signalsHadTheirTurn(signal))) return;
    if (at.position >= guard.end) return onStop();
    let chunk: Buffer | null | "truncated";
    try {
      chunk = guardedRead(source.fd, at, Math.min(chunkBytes, guard.end - at.position), guard.head);
    } catch (error) {
      throw ioError(source.name, error);
    }
    if (chunk === null) return;
    if (chunk === "truncated") {
      onStop();
      guard.onTruncated(at.position);
      return;
    }
    yield chunk;
  }
}

/** Bytes [from, to) of a source (decompressed for .gz), or null if it is shorter. */
export async function readRange(src: OpenSource, from: number, to: number): Promise<Buffer | null> {
  const want = to - from;
  if (want < 0) return null;
  if (!src.gz) {
    if (fstatSync(src.fd).size < to) return null;
    const buffer = Buffer.alloc(want);
    return readSync(src.fd, buffer, 0, want, from) === want ? buffer : null;
  }
  const parts: Buffer[] = [];
  let have = 0;
  if (want === 0) return Buffer.alloc(0);
  try {
    for await (const chunk of rawChunks(src, from)) {
      parts.push(chunk);
      have += chunk.length;
      if (have >= want) return Buffer.concat(parts).subarray(0, want);
    }
  } catch (error) {
    // A .gz damaged before `to` does not hold the range.
    if (error instanceof WhokilledError && error.code === "E_DAMAGED") return null;
    throw error;
  }
  return null;
}

/** The inode and device a path names now, or null when it names nothing. */
export function fileIdentity(path: string): { ino: number; dev: number } | null {
  try {
    const st = statSync(path);
    return { ino: st.ino, dev: st.dev };
  } catch {
    return null;
  }
}

/** Lines of an already opened source, one batch per chunk read. */
export async function* readSourceLines(source: OpenSource, options: SourceReadOptions = {}): AsyncGenerator<SourceLine[]> {
  const { signal, startOffset = 0, startLine = 1, chunkBytes = DEFAULT_CHUNK_BYTES } = options;
  const splitter = new LineSplitter(startLine, startOffset);
  const file = source.name;
  const inode = source.regular || source.gz ? source.ino : undefined;
  let batch: SourceLine[] = [];
  const emit = (l: Line) => void batch.push(sourceLine(l, file, inode));
  // Cut by a truncation, a line left unfinished is not one: its rest is in the copy, if anywhere.
  // Stopped at `end`, it may be finished past it: the next run reads it whole.
  let stopped = false;
  const guard = options.guard;
  try {
    const chunks = guard && source.regular && !source.gz ? guardedChunks(source, startOffset, chunkBytes, signal, guard, () => (stopped = true)) : rawChunks(source, startOffset, chunkBytes, signal);
    for await (const chunk of chunks) {
      splitter.push(chunk, emit);
      if (batch.length > 0) {
        const out = batch;
        batch = [];
        yield out;
      }
      if (signal?.aborted) return;
    }
  } catch (error) {
    // Damaged data ends this source like its end would (SlotReader does the same): its lines so far
    // are read, then the damage comes as one marker, at the line it reached, for the caller to report.
    if (!(error instanceof WhokilledError && error.code === "E_DAMAGED")) throw error;
    const cut = splitter.flush();
    if (cut) batch.push(sourceLine(cut, file, inode));
    // Named by the line it cut, as SlotReader names it; with no line cut, by the next line, which
    // could not be read (SlotReader then names the last line read, or the file alone).
    const line = cut ? cut.line : splitter.lineNumber;
    const at = cut ? cut.end : splitter.consumedOffset;
    batch.push({ bytes: Buffer.alloc(0), file, line, offset: at, end: at, inode, damaged: error.message });
    yield batch;
    return;
  }
  if (signal?.aborted || options.holdPartial || stopped) return;
  const last = splitter.flush();
  if (last) yield [sourceLine(last, file, inode)];
}

/** A splitter's line, named by its source. */
export function sourceLine(l: Line, file: string, inode: number | undefined): SourceLine {
  const line: SourceLine = { bytes: l.bytes, file, line: l.line, offset: l.offset, end: l.end, inode };
  if (l.tooLong !== undefined) {
    line.tooLong = l.tooLong;
    line.limit = l.limit;
  }
  return line;
}

/**
 * Lines of a file (`-` = stdin; `*.gz` is gunzipped while read), in batches.
 * Throws E_IO when the file cannot be opened or read.
 */
export async function* readFileLines(path: string, options: SourceReadOptions = {}): AsyncGenerator<SourceLine[]> {
  const source = openSource(path);
  try {
    yield* readSourceLines(source, options);
  } finally {
    closeSource(source);
  }
}

/**
 * The rotated generations of a log and the log itself, oldest first:
 * `path.N` … `path.1`, then `path`. auditd numbers `.1` as the newest
 * rotation; logrotate may have compressed some to `.N.gz`. When both `path.N`
 * and `path.N.gz` exist (compression in progress), the uncompressed one wins.
 * `path` is always listed last, whether it exists or not, so a missing log
 * is reported by the reader rather than skipped silently.
 */
export function rotatedFiles(path: string): string[] {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [path];
  }
  const byNumber = new Map<number, string>();
  for (const name of names) {
    if (!name.startsWith(`${base}.`)) continue;
    const match = /^(\d+)(\.gz)?$/.exec(name.slice(base.length + 1));
    if (!match) continue;
    const n = Number(match[1]);
    if (n < 1) continue;
    const known = byNumber.get(n);
    if (known === undefined || (known.endsWith(".gz") && !match[2])) byNumber.set(n, name);
  }
  const numbers = [...byNumber.keys()].sort((a, b) => b - a);
  return [...numbers.map((n) => join(dir, byNumber.get(n)!)), path];
}
