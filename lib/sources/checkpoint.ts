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
import { closeSync, fsyncSync, fstatSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { WhokilledError } from "../errors.ts";
import { log } from "../log.ts";
import { closeSource, openSource, rawChunks, readSourceLines, rotatedFiles, type OpenSource, type SourceLine } from "./file.ts";

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

export interface CheckpointRun extends AsyncIterable<SourceLine[]> {
  /** The unread lines, oldest file first, in batches. */
  lines: AsyncGenerator<SourceLine[]>;
  /**
   * Save the position after the last line yielded (or after `through`, when
   * the caller stopped part-way through a batch). Call it after your output
   * for those lines is written. `lastId` is the id of the last record handled
   * (from this source); omitted or null, the previous one is kept if the
   * position did not move.
   */
  commit(lastId?: string | null, through?: SourceLine): CheckpointState;
  /** Filled in once `lines` has started: how the resume point was found. */
  readonly notices: CheckpointNotice[];
}

export interface CheckpointOptions {
  signal?: AbortSignal;
  chunkBytes?: number;
}

// ---------------------------------------------------------------------------
// The checkpoint file

function isState(value: unknown): value is CheckpointState {
  const s = value as Partial<CheckpointState> | null;
  return (
    typeof s === "object" &&
    s !== null &&
    s.version === 1 &&
    typeof s.path === "string" &&
    typeof s.inode === "number" &&
    typeof s.device === "number" &&
    typeof s.offset === "number" &&
    typeof s.line === "number" &&
    typeof s.mtime === "number" &&
    (s.birthtime === undefined || typeof s.birthtime === "number") &&
    (s.lastId === null || typeof s.lastId === "string") &&
    (s.lastLine === null || (typeof s.lastLine === "object" && typeof s.lastLine?.offset === "number" && typeof s.lastLine?.sha1 === "string"))
  );
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
  try {
    value = JSON.parse(text);
  } catch {
    value = null;
  }
  if (!isState(value)) {
    throw new WhokilledError("E_IO", `checkpoint ${checkpointFile} is damaged or not a whokilled checkpoint; remove it to read the whole log again`);
  }
  return value;
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
}

interface ReadStep {
  cand: Candidate;
  offset: number;
  /** Line number of the line at `offset`. */
  line: number;
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

/** Bytes [from, to) of a source, or null if it is shorter. */
async function readRange(src: OpenSource, from: number, to: number): Promise<Buffer | null> {
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

/** Does this source hold the checkpoint's last line right before its offset? */
async function holdsLastLine(src: OpenSource, state: CheckpointState): Promise<boolean> {
  const fingerprint = state.lastLine;
  if (!fingerprint) return false;
  const region = await readRange(src, fingerprint.offset, state.offset);
  if (!region) return false;
  // The same trimming as LineSplitter: "\n", and a "\r" before it; a final line may have neither.
  let stop = region.length;
  if (stop > 0 && region[stop - 1] === 0x0a) {
    stop--;
    if (stop > 0 && region[stop - 1] === 0x0d) stop--;
  }
  return sha1(region.subarray(0, stop)) === fingerprint.sha1;
}

/** A checkpoint without a fingerprint (nothing read yet) only claims "offset 0" or a line boundary. */
async function plausibleWithoutFingerprint(src: OpenSource, state: CheckpointState): Promise<boolean> {
  if (state.offset === 0) return true;
  const before = await readRange(src, state.offset - 1, state.offset);
  return before !== null && before[0] === 0x0a;
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
  const from = (index: number, offset: number, line: number): ReadStep[] => [
    { cand: cands[index]!, offset, line },
    ...cands.slice(index + 1).map((cand) => ({ cand, offset: 0, line: 1 })),
  ];
  const startAt = (index: number, offset: number, line: number, keep: boolean): { steps: ReadStep[]; start: Position } => ({
    steps: from(index, offset, line),
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
    const ok = state.lastLine ? await holdsLastLine(src, state) : sameFile(src) && (await plausibleWithoutFingerprint(src, state));
    if (ok) return startAt(byInode, state.offset, state.line + 1, true);
  }
  // (b) The fingerprint at the same offset in another generation: a compressed or copied rotation.
  if (state.lastLine) {
    for (let i = cands.length - 1; i >= 0; i--) {
      if (i === byInode) continue;
      if (await holdsLastLine(cands[i]!.src, state)) return startAt(i, state.offset, state.line + 1, true);
    }
  }
  // (c) The last record's id, wherever it is now.
  if (state.lastId) {
    for (let i = cands.length - 1; i >= 0; i--) {
      const hit = await findRecordId(cands[i]!.src, state.lastId, signal);
      if (hit) {
        notice("by-id", `resuming after record ${state.lastId} in ${cands[i]!.src.name} (the checkpointed position was not found)`);
        return startAt(i, hit.end, hit.line + 1, false);
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
    steps: newer.map((cand) => ({ cand, offset: 0, line: 1 })),
    start: { cand: first, offset: 0, line: 0, lastLine: null, lastId: null },
  };
}

function openCandidates(path: string): Candidate[] {
  const cands: Candidate[] = [];
  const names = rotatedFiles(path);
  try {
    for (const name of names) {
      const current = name === path;
      try {
        cands.push({ src: openSource(name), current });
      } catch (error) {
        // A generation can vanish between listing and opening (rotation, cleanup): skip it.
        // The live log missing is worth a word; all of them missing is an error.
        const code = ((error as WhokilledError).cause as NodeJS.ErrnoException | undefined)?.code;
        if (code !== "ENOENT") throw error;
        if (current && cands.length === 0) throw error;
        if (current) log.warn(`${path} does not exist; reading only its rotated files`);
      }
    }
  } catch (error) {
    for (const c of cands) closeSource(c.src);
    throw error;
  }
  return cands;
}

/**
 * The lines of `path` and its rotated files not read by previous runs that
 * committed to `checkpointFile`. Without a checkpoint, everything (`path.N`
 * … `path.1`, `path`) is read. All files are opened before reading starts,
 * so a rotation during the run neither skips nor repeats a line.
 */
export function readSinceCheckpoint(path: string, checkpointFile: string, options: CheckpointOptions = {}): CheckpointRun {
  const { signal, chunkBytes } = options;
  const notices: CheckpointNotice[] = [];
  let state: CheckpointState | null = null;
  let started = false;
  /** Where this run started reading, and the last line handed out since. */
  let start: Position | null = null;
  let last: { cand: Candidate; line: SourceLine } | null = null;
  /** Sources by the name their lines carry, so commit(…, through) can find a line's file. */
  const readFrom = new Map<string, Candidate>();

  async function* lines(): AsyncGenerator<SourceLine[]> {
    started = true;
    state = loadCheckpoint(checkpointFile);
    const cands = openCandidates(path);
    try {
      const planned = await plan(path, state, cands, notices, signal);
      start = planned.start;
      for (const step of planned.steps) {
        const src = step.cand.src;
        readFrom.set(src.name, step.cand);
        const reader = readSourceLines(src, { signal, chunkBytes, startOffset: step.offset, startLine: step.line, holdPartial: step.cand.current });
        for await (const batch of reader) {
          last = { cand: step.cand, line: batch[batch.length - 1]! };
          yield batch;
        }
        if (signal?.aborted) return;
        refresh(src);
      }
    } finally {
      for (const c of cands) {
        refresh(c.src);
        closeSource(c.src);
      }
    }
  }

  function commit(lastId?: string | null, through?: SourceLine): CheckpointState {
    if (!started) throw new WhokilledError("E_INTERNAL", "checkpoint commit before reading");
    const previous: CheckpointState | null = state;
    let at: { cand: Candidate; offset: number; line: number; lastLine: CheckpointState["lastLine"]; lastId: string | null } | null = null;
    if (through) {
      const cand = readFrom.get(through.file);
      if (!cand) throw new WhokilledError("E_INTERNAL", `checkpoint commit: ${through.file} was not read in this run`);
      at = { cand, offset: through.end, line: through.line, lastLine: { offset: through.offset, sha1: sha1(through.bytes) }, lastId: null };
    } else if (last) {
      const l = last.line;
      at = { cand: last.cand, offset: l.end, line: l.line, lastLine: { offset: l.offset, sha1: sha1(l.bytes) }, lastId: null };
    } else if (start) {
      // Nothing new: stay where we started, fingerprint and record id included.
      at = start;
    }
    if (!at) {
      // No file to read at all: keep what we had.
      if (!previous) throw new WhokilledError("E_IO", `cannot read ${path}: nothing to checkpoint`);
      return previous;
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
    saveCheckpoint(checkpointFile, next);
    state = next;
    return next;
  }

  const generator = lines();
  return {
    lines: generator,
    commit,
    notices,
    [Symbol.asyncIterator]: () => generator,
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
    // Already closed: the values from the last refresh stand.
  }
}

/** The same as readSinceCheckpoint (the name capture-run uses). */
export const openCheckpointRead = readSinceCheckpoint;
