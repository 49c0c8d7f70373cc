/**
 * `capture --checkpoint FILE`, for cron: each run reads only what the previous
 * runs have not, even when the log was rotated (and maybe compressed) in between.
 *
 * The checkpoint names the file it stopped in by inode and device, and
 * fingerprints the last line read (its offset and a SHA-1 of its bytes). A
 * resume seeks to the saved offset in the file with that inode and checks the
 * fingerprint there, so an inode the filesystem reused for a new file is not
 * mistaken for the old one. Failing that, the fingerprint is looked for at the
 * same offset in every rotated file (a .gz decompresses to the same bytes at
 * the same offsets), then the saved record id is searched for. Unlike
 * `ausearch --checkpoint`, no file is read again from its start just to find
 * the place.
 *
 * Exactly once: the caller writes its output for the lines it was given, then
 * calls `commit(lastId)`. A crash before the commit re-reads those lines on
 * the next run rather than skipping them.
 */
import { createHash } from "node:crypto";
import { closeSync, fsyncSync, fstatSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { WhokilledError } from "../errors.ts";
import { log } from "../log.ts";
import { escapeControl } from "../render/escape.ts";
import { MAX_LINE_BYTES } from "./lines.ts";
import { bytesBefore, closeSource, fileIdentity, FINGERPRINT_BYTES, nextTail, openSource, readRange, readSourceLines, rotatedFiles, type OpenSource, type SourceLine } from "./file.ts";

export interface CheckpointState {
  version: 1;
  /** The log path the checkpoint is for (as given to capture). */
  path: string;
  /** The file the position is in, under the name it had when read (for people; matching uses inode/lastLine). */
  file: string;
  inode: number;
  device: number;
  /** Where the next unread line starts (in the decompressed stream for .gz). */
  offset: number;
  /** That file's size when it was last read (decompressed bytes read, for .gz). */
  size: number;
  /** Line number of the last line read; 0 when none was. */
  line: number;
  /** `SEC.MS:SERIAL` of the last record the caller handled, or null. */
  lastId: string | null;
  /** That file's mtime (ms since the epoch) when it was last read. */
  mtime: number;
  /** That file's creation time (ms), or 0 where the filesystem does not record one. */
  birthtime: number;
  /** Fingerprint of the last line read: where it starts, and SHA-1 of its bytes without the newline. */
  lastLine: { offset: number; sha1: string } | null;
  /** When the checkpoint was written (ISO). */
  savedAt: string;
}

/** Things a resume had to work around; "lost" and "truncated" mean records may be missing. */
export interface CheckpointNotice {
  kind: "no-checkpoint" | "path-changed" | "by-id" | "truncated" | "lost";
  message: string;
}

export interface CheckpointRun {
  /** The unread lines, oldest file first, in batches. */
  lines: AsyncGenerator<SourceLine[]>;
  /**
   * Save the position after the last line yielded. Call it after your output
   * for those lines is written. `lastId` is the id of the last record handled
   * (from this source); omitted or null, the previous one is kept if the
   * position did not move.
   */
  commit(lastId?: string | null): void;
  /** Filled in once `lines` has started: how the resume point was found. */
  readonly notices: CheckpointNotice[];
}

export interface CheckpointOptions {
  signal?: AbortSignal;
  chunkBytes?: number;
  /**
   * Called at each moment of a run where the log may move under it (tests
   * rotate the log here): after listing the files, after opening each, after
   * finding where to resume, after each batch read, and in commit before saving.
   */
  onStep?: (step: CheckpointStep) => void;
}

/** The moments of a run `onStep` is called at. */
export type CheckpointStep = "listed" | "opened" | "planned" | "read" | "commit";

// ---------------------------------------------------------------------------
// The checkpoint file

const isWhole = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
const isTime = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n) && n >= 0;

/** What is wrong with a parsed checkpoint (the first thing found), or null when it is one whokilled wrote. */
function stateProblem(value: unknown): string | null {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
  const s = value as Record<string, unknown>;
  const got = (v: unknown) => (v === undefined ? "nothing" : (JSON.stringify(v) ?? String(v)).slice(0, 40));
  if (s.version !== 1) return `version: expected 1, got ${got(s.version)}`;
  for (const key of ["path", "file"] as const) if (typeof s[key] !== "string" && !(key === "file" && s[key] === undefined)) return `${key}: expected a string, got ${got(s[key])}`;
  // Offsets and counts are read back as byte positions and buffer lengths: a fraction, a negative or a string is damage.
  for (const key of ["inode", "device", "offset", "line"] as const) if (!isWhole(s[key])) return `${key}: expected a whole number ≥ 0, got ${got(s[key])}`;
  if (s.size !== undefined && !isWhole(s.size)) return `size: expected a whole number ≥ 0, got ${got(s.size)}`;
  if (!isTime(s.mtime)) return `mtime: expected a time in ms, got ${got(s.mtime)}`;
  if (s.birthtime !== undefined && !isTime(s.birthtime)) return `birthtime: expected a time in ms, got ${got(s.birthtime)}`;
  if (s.lastId !== null && typeof s.lastId !== "string") return `lastId: expected a string or null, got ${got(s.lastId)}`;
  const fingerprint = s.lastLine as Record<string, unknown> | null | undefined;
  if (fingerprint !== null) {
    if (typeof fingerprint !== "object" || fingerprint === undefined || Array.isArray(fingerprint)) return `lastLine: expected an object or null, got ${got(fingerprint)}`;
    if (!isWhole(fingerprint.offset) || fingerprint.offset > (s.offset as number)) return `lastLine.offset: expected a whole number ≥ 0 and ≤ offset, got ${got(fingerprint.offset)}`;
    if (typeof fingerprint.sha1 !== "string" || !/^[0-9a-f]{40}$/.test(fingerprint.sha1)) return `lastLine.sha1: expected 40 hex digits, got ${got(fingerprint.sha1)}`;
  }
  return null;
}

/** The saved state, or null when the file does not exist. A damaged file is an error, not a silent re-read of everything. */
export function loadCheckpoint(checkpointFile: string): CheckpointState | null {
  let text: string;
  try {
    text = readFileSync(checkpointFile, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new WhokilledError("E_IO", `cannot read checkpoint ${checkpointFile}: ${(error as Error).message}`, { cause: error });
  }
  let value: unknown;
  let problem: string | null;
  try {
    value = JSON.parse(text);
    problem = stateProblem(value);
  } catch {
    problem = "not JSON";
  }
  if (problem !== null) {
    throw new WhokilledError("E_IO", `checkpoint ${checkpointFile} is damaged or not a whokilled checkpoint (${escapeControl(problem)}); remove it to read the whole log again`);
  }
  return value as CheckpointState;
}

/** Write atomically: a crash leaves the old checkpoint or the new one, never half of one. */
export function saveCheckpoint(checkpointFile: string, state: CheckpointState): void {
  const tmp = `${checkpointFile}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, "w", 0o644);
    try {
      writeSync(fd, `${JSON.stringify(state, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, checkpointFile);
  } catch (error) {
    try {
      unlinkSync(tmp);
    } catch {
      // Nothing was created, or it is already gone.
    }
    throw new WhokilledError("E_IO", `cannot write checkpoint ${checkpointFile}: ${(error as Error).message}`, { cause: error });
  }
}

// ---------------------------------------------------------------------------
// Finding where to resume

interface Candidate {
  src: OpenSource;
  /** The live log: its last line may be mid-write, so an unterminated one is held back. */
  current: boolean;
  /** Its first bytes (up to FINGERPRINT_BYTES) when opened: a copytruncate before it is read changes them. */
  head: Buffer;
  /** Its size when opened: a run reads no further (what comes later is the next run's). */
  openedSize: number;
}

interface ReadStep {
  cand: Candidate;
  offset: number;
  /** Line number of the line at `offset`. */
  line: number;
  /** The bytes before `offset` (up to FINGERPRINT_BYTES) as plan found them: reading stops if they change (copytruncate). */
  tail: Buffer;
}

/** Where a run stands: the end of the last line handed out. */
interface Position {
  cand: Candidate;
  offset: number;
  line: number;
  lastLine: { offset: number; sha1: string } | null;
  lastId: string | null;
}

const sha1 = (bytes: Uint8Array) => createHash("sha1").update(bytes).digest("hex");

/** Does this source hold the checkpoint's last line right before its offset? Then the bytes before the offset (to guard the read from there), else null. */
async function holdsLastLine(src: OpenSource, state: CheckpointState): Promise<Buffer | null> {
  const fingerprint = state.lastLine;
  if (!fingerprint) return null;
  if (state.offset - fingerprint.offset > MAX_LINE_BYTES + 2) {
    // A line past the cap was never held, so its fingerprint is of no bytes: the file must reach
    // the offset with a line end there. Hashing the region would read megabytes into memory.
    return fingerprint.sha1 === sha1(Buffer.alloc(0)) ? lineEndBefore(src, state.offset) : null;
  }
  const region = await readRange(src, fingerprint.offset, state.offset);
  if (!region) return null;
  // The same trimming as LineSplitter: "\n", and a "\r" before it; a final line may have neither.
  let stop = region.length;
  if (stop > 0 && region[stop - 1] === 0x0a) {
    stop--;
    if (stop > 0 && region[stop - 1] === 0x0d) stop--;
  }
  if (sha1(region.subarray(0, stop)) !== fingerprint.sha1) return null;
  // The guard's bytes come from this same read, so a truncation right after this check is still seen.
  return region.length >= FINGERPRINT_BYTES ? Buffer.from(region.subarray(region.length - FINGERPRINT_BYTES)) : tailBefore(src, state.offset, region);
}

/** The bytes before `offset` (up to FINGERPRINT_BYTES), ending with `known` when given; empty for .gz and non-regular files (never guarded). */
function tailBefore(src: OpenSource, offset: number, known: Buffer = Buffer.alloc(0)): Buffer {
  if (src.gz || !src.regular || offset === 0) return Buffer.alloc(0);
  return nextTail(bytesBefore(src.fd, offset - known.length) ?? Buffer.alloc(0), known);
}

/** Does a line end right before `offset` (or is it 0)? Then the bytes before it (up to FINGERPRINT_BYTES, to guard the read from there), else null. */
async function lineEndBefore(src: OpenSource, offset: number): Promise<Buffer | null> {
  if (offset === 0) return Buffer.alloc(0);
  const before = await readRange(src, offset - Math.min(offset, FINGERPRINT_BYTES), offset);
  return before !== null && before[before.length - 1] === 0x0a ? before : null;
}

/** The last line containing `audit(ID)`'s id in this source. */
async function findRecordId(src: OpenSource, lastId: string, signal?: AbortSignal): Promise<{ end: number; line: number } | null> {
  const needle = Buffer.from(`(${lastId})`);
  let found: { end: number; line: number } | null = null;
  for await (const batch of readSourceLines(src, { signal })) {
    for (const l of batch) if (l.bytes.indexOf(needle) >= 0) found = { end: l.end, line: l.line };
  }
  return found;
}

async function plan(path: string, state: CheckpointState | null, cands: Candidate[], notices: CheckpointNotice[], signal?: AbortSignal): Promise<{ steps: ReadStep[]; start: Position | null }> {
  const notice = (kind: CheckpointNotice["kind"], message: string) => {
    notices.push({ kind, message });
    if (kind === "no-checkpoint") log.info(message);
    else log.warn(message);
  };
  const none = Buffer.alloc(0);
  // From cands[index] at `offset` on, then every later generation whole.
  const startAt = (index: number, offset: number, line: number, keep: boolean, tail: Buffer = none): { steps: ReadStep[]; start: Position } => ({
    steps: [{ cand: cands[index]!, offset, line, tail }, ...cands.slice(index + 1).map((cand) => ({ cand, offset: 0, line: 1, tail: none }))],
    start: {
      cand: cands[index]!,
      offset,
      line: line - 1,
      lastLine: keep && state ? state.lastLine : null,
      lastId: keep && state ? state.lastId : null,
    },
  });

  if (cands.length === 0) return { steps: [], start: null };
  if (!state) {
    notice("no-checkpoint", `no checkpoint yet: reading ${cands.map((c) => c.src.name).join(", ")} from the start`);
    return startAt(0, 0, 1, false);
  }
  if (state.path !== path) notice("path-changed", `checkpoint was taken for ${state.path}, now reading ${path}`);

  // (a) The same inode, and the fingerprint (or, without one, a line boundary) where we left off.
  const byInode = cands.findIndex((c) => c.src.ino === state.inode && c.src.dev === state.device);
  // A filesystem reuses a freed inode for the next new file: the creation time
  // tells them apart; without one, a truncated file was at least modified since.
  const sameFile = (src: OpenSource) => (state.birthtime && src.birthtimeMs ? src.birthtimeMs === state.birthtime : src.mtimeMs >= state.mtime);
  if (byInode >= 0) {
    const src = cands[byInode]!.src;
    // Without a fingerprint (nothing read yet) a checkpoint only claims "offset 0" or a line boundary.
    const tail = state.lastLine ? await holdsLastLine(src, state) : sameFile(src) ? await lineEndBefore(src, state.offset) : null;
    if (tail) return startAt(byInode, state.offset, state.line + 1, true, tail);
  }
  // (b) The fingerprint at the same offset in another generation: a compressed or copied rotation.
  if (state.lastLine) {
    for (let i = cands.length - 1; i >= 0; i--) {
      if (i === byInode) continue;
      const tail = await holdsLastLine(cands[i]!.src, state);
      if (tail) return startAt(i, state.offset, state.line + 1, true, tail);
    }
  }
  // (c) The last record's id, wherever it is now.
  if (state.lastId) {
    for (let i = cands.length - 1; i >= 0; i--) {
      const hit = await findRecordId(cands[i]!.src, state.lastId, signal);
      if (hit) {
        notice("by-id", `resuming after record ${state.lastId} in ${cands[i]!.src.name} (the checkpointed position was not found)`);
        return startAt(i, hit.end, hit.line + 1, false, tailBefore(cands[i]!.src, hit.end));
      }
    }
  }
  // (d) The file is still there but not what we read: truncated.
  if (byInode >= 0 && sameFile(cands[byInode]!.src)) {
    notice("truncated", `${cands[byInode]!.src.name} was truncated or replaced since the last run; reading it from the start (records written before the truncation may be lost)`);
    return startAt(byInode, 0, 1, false);
  }
  // (e) The checkpointed file is gone (rotated away and deleted; its inode may live on in another file).
  const newer = cands.filter((c) => c.current || c.src.mtimeMs > state.mtime);
  notice(
    "lost",
    `the file checkpointed in ${state.file} (inode ${state.inode}) is gone; reading ${newer.map((c) => c.src.name).join(", ") || "nothing"} from the start: records may have been lost between runs`,
  );
  const first = newer[0];
  if (!first) return { steps: [], start: null };
  return {
    steps: newer.map((cand) => ({ cand, offset: 0, line: 1, tail: none })),
    start: { cand: first, offset: 0, line: 0, lastLine: null, lastId: null },
  };
}

/** Tries at opening the log and its rotated files while nothing moves, before giving up. */
const OPEN_ATTEMPTS = 50;

/**
 * The log and its rotated files, opened as one snapshot: after opening, the
 * names are listed again, and each must still name the inode opened under it
 * (and no file may have come or gone). A rotation between listing and opening
 * would otherwise open the new log under the old name, and the rest of the
 * old one, renamed to .1 and never opened, would be skipped. Once every file
 * is held open, later renames no longer matter: each fd keeps its file.
 */
function openCandidates(path: string, onStep?: (step: CheckpointStep) => void): Candidate[] {
  for (let attempt = 1; ; attempt++) {
    const names = rotatedFiles(path);
    onStep?.("listed");
    const cands: Candidate[] = [];
    const missing: { name: string; error: unknown }[] = [];
    try {
      for (const name of names) {
        try {
          const src = openSource(name);
          // Its first bytes (none for .gz, which is never guarded).
          cands.push({ src, current: name === path, head: tailBefore(src, Math.min(src.size, FINGERPRINT_BYTES)), openedSize: src.size });
        } catch (error) {
          // A generation can vanish between listing and opening (rotation, cleanup); anything else is an error.
          const code = ((error as WhokilledError).cause as NodeJS.ErrnoException | undefined)?.code;
          if (code !== "ENOENT") throw error;
          missing.push({ name, error });
        }
        onStep?.("opened");
      }
    } catch (error) {
      for (const c of cands) closeSource(c.src);
      throw error;
    }
    if (unmoved(path, names, cands)) {
      // The live log missing is worth a word; all of them missing is an error.
      const current = missing.find((m) => m.name === path);
      if (current && cands.length === 0) throw current.error;
      if (current) log.warn(`${path} does not exist; reading only its rotated files`);
      return cands;
    }
    for (const c of cands) closeSource(c.src);
    if (attempt >= OPEN_ATTEMPTS) {
      throw new WhokilledError("E_IO", `cannot read ${path}: it and its rotated files were renamed during each of ${OPEN_ATTEMPTS} attempts to open them; try again`);
    }
  }
}

/** Do the same names still list, each naming the file opened under it (and the missing ones still missing)? */
function unmoved(path: string, names: string[], cands: Candidate[]): boolean {
  const now = rotatedFiles(path);
  if (now.length !== names.length || now.some((name, i) => name !== names[i])) return false;
  const opened = new Map(cands.map((c) => [c.src.name, c.src]));
  return names.every((name) => {
    const st = fileIdentity(name);
    const src = opened.get(name);
    // The same file as opened, or missing then and now.
    return st && src ? st.ino === src.ino && st.dev === src.dev : !st && !src;
  });
}

/**
 * The lines of `path` and its rotated files not read by previous runs that
 * committed to `checkpointFile`. Without a checkpoint, everything (`path.N`
 * … `path.1`, `path`) is read. All files are opened as one snapshot before
 * reading starts (openCandidates), so a rotation at any moment of the run
 * neither skips nor repeats a line. Each is read as far as it reached when
 * opened, and no further than a truncation under the read (copytruncate):
 * the next run goes on from there.
 */
export function readSinceCheckpoint(path: string, checkpointFile: string, options: CheckpointOptions = {}): CheckpointRun {
  const { signal, chunkBytes, onStep } = options;
  const notices: CheckpointNotice[] = [];
  let state: CheckpointState | null = null;
  let started = false;
  /** Where this run started reading, and the last line handed out since. */
  let start: Position | null = null;
  let last: { cand: Candidate; line: SourceLine } | null = null;

  async function* lines(): AsyncGenerator<SourceLine[]> {
    started = true;
    state = loadCheckpoint(checkpointFile);
    const cands = openCandidates(path, onStep);
    try {
      const planned = await plan(path, state, cands, notices, signal);
      start = planned.start;
      onStep?.("planned");
      for (const step of planned.steps) {
        const src = step.cand.src;
        // Truncated under us (copytruncate): stop at the last whole line read. The next run finds
        // that line in the copy by its fingerprint and goes on from there, then reads the log from 0.
        let cut = -1;
        const guard = { tail: step.tail, head: step.cand.head, end: step.cand.openedSize, onTruncated: (offset: number) => (cut = offset) };
        const reader = readSourceLines(src, { signal, chunkBytes, startOffset: step.offset, startLine: step.line, holdPartial: step.cand.current, guard });
        for await (const batch of reader) {
          last = { cand: step.cand, line: batch[batch.length - 1]! };
          yield batch;
          onStep?.("read");
        }
        if (signal?.aborted) return;
        if (cut >= 0) {
          log.warn(`${src.name} was truncated while being read (at offset ${cut}); the next run reads the rest from its copy, if one was kept`);
          return;
        }
      }
    } finally {
      for (const c of cands) {
        refresh(c.src);
        closeSource(c.src);
      }
    }
  }

  function commit(lastId?: string | null): void {
    if (!started) throw new WhokilledError("E_INTERNAL", "checkpoint commit before reading");
    // Nothing new: stay where we started, fingerprint and record id included.
    let at: Position | null = start;
    if (last) {
      const l = last.line;
      at = { cand: last.cand, offset: l.end, line: l.line, lastLine: { offset: l.offset, sha1: sha1(l.bytes) }, lastId: null };
    }
    if (!at) {
      // No file to read at all: keep what we had.
      if (!state) throw new WhokilledError("E_IO", `cannot read ${path}: nothing to checkpoint`);
      return;
    }
    const stayed = start !== null && at.cand === start.cand && at.offset === start.offset;
    const src = at.cand.src;
    const next: CheckpointState = {
      version: 1,
      path,
      file: src.name,
      inode: src.ino,
      device: src.dev,
      offset: at.offset,
      size: src.gz ? src.size : Math.max(src.size, at.offset),
      line: at.line,
      lastId: lastId ?? (stayed ? (start?.lastId ?? null) : null),
      mtime: src.mtimeMs,
      birthtime: src.birthtimeMs,
      lastLine: at.lastLine,
      savedAt: new Date().toISOString(),
    };
    onStep?.("commit");
    saveCheckpoint(checkpointFile, next);
    state = next;
  }

  return {
    lines: lines(),
    commit,
    notices,
  };
}

/** Size and mtime as of now: the live log grew while we read it. */
function refresh(src: OpenSource): void {
  if (src.gz) return;
  try {
    const st = fstatSync(src.fd);
    src.size = st.size;
    src.mtimeMs = st.mtimeMs;
  } catch {
    // Already closed: the values from opening it stand.
  }
}
