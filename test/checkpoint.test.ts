import { afterAll, afterEach, beforeEach, describe, expect, spyOn, test } from "bun:test";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WhokilledError } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { loadCheckpoint, readSinceCheckpoint, saveCheckpoint, type CheckpointState } from "../lib/sources/checkpoint.ts";
import type { SourceLine } from "../lib/sources/file.ts";
import { compressNewest, RecordWriter, rotateLog } from "./helpers/rotation.ts";

const warn = spyOn(log, "warn").mockImplementation((() => {}) as unknown as typeof log.warn);
const info = spyOn(log, "info").mockImplementation((() => {}) as unknown as typeof log.info);

let root: string;
let dir: string;
let logPath: string;
let cp: string;
let writer: RecordWriter;
let written: string[];
let readSoFar: string[] = [];

root = mkdtempSync(join(tmpdir(), "wk-checkpoint-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
beforeEach(() => {
  dir = mkdtempSync(join(root, "case-"));
  logPath = join(dir, "audit.log");
  cp = join(dir, "state", "..", "checkpoint.json");
  writer = new RecordWriter("p", 13);
  written = writer.written;
  readSoFar = [];
  writeFileSync(logPath, "");
});
afterEach(() => {
  warn.mockClear();
  info.mockClear();
});

/** Append n records (as auditd would: whole lines) to a file, remembering them in write order. */
const emit = (file: string, n: number) => writer.emit(file, n);

const rotate = () => rotateLog(logPath);

const idOf = (line: string) => /audit\(([^)]+)\)/.exec(line)?.[1] ?? null;

/** One cron run: read everything new, "write" it, then commit. */
async function cronRun(options: { commit?: boolean; chunkBytes?: number; during?: (batch: number) => void } = {}) {
  const run = readSinceCheckpoint(logPath, cp, { chunkBytes: options.chunkBytes });
  const got: string[] = [];
  let batches = 0;
  for await (const batch of run.lines) {
    options.during?.(batches++);
    for (const l of batch) got.push(l.bytes.toString());
  }
  if (options.commit !== false) {
    const lastId = got.length > 0 ? idOf(got.at(-1)!) : undefined;
    run.commit(lastId);
    readSoFar.push(...got);
  }
  return { got, notices: run.notices.map((n) => n.kind) };
}

/** Everything written has been read exactly once, in order. */
const exactlyOnce = () => expect(readSoFar).toEqual(written);

describe("readSinceCheckpoint: cron runs", () => {
  test("no checkpoint file: everything, rotated files first", async () => {
    emit(logPath, 3);
    rotate();
    emit(logPath, 2);
    rotate();
    emit(logPath, 4);
    const r = await cronRun();
    expect(r.got).toEqual(written);
    expect(r.notices).toEqual(["no-checkpoint"]);
    exactlyOnce();
    expect(existsSync(cp)).toBe(true);
  });

  test("run 1 reads all and commits; run 2 only what was appended; run 3 nothing", async () => {
    emit(logPath, 5);
    expect((await cronRun()).got.length).toBe(5);
    emit(logPath, 3);
    const r2 = await cronRun();
    expect(r2.got).toEqual(written.slice(5));
    expect(r2.notices).toEqual([]);
    const r3 = await cronRun();
    expect(r3.got).toEqual([]);
    const state = loadCheckpoint(cp)!;
    expect(state.lastId).toBe(idOf(written.at(-1)!));
    expect(state.line).toBe(8);
    expect(state.offset).toBe(statSync(logPath).size);
    emit(logPath, 1);
    expect((await cronRun()).got).toEqual(written.slice(8));
    exactlyOnce();
  });

  test("rotation between runs, with new records in both the old and the new file", async () => {
    emit(logPath, 4);
    await cronRun();
    emit(logPath, 2); // into the file that is about to be rotated
    rotate();
    emit(logPath, 3);
    const r = await cronRun();
    expect(r.got).toEqual(written.slice(4));
    expect(r.notices).toEqual([]);
    exactlyOnce();
  });

  test("two rotations between runs", async () => {
    emit(logPath, 4);
    await cronRun();
    emit(logPath, 1);
    rotate();
    emit(logPath, 2);
    rotate();
    emit(logPath, 3);
    const r = await cronRun();
    expect(r.got).toEqual(written.slice(4));
    exactlyOnce();
    // And again, from the new position.
    emit(logPath, 2);
    rotate();
    await cronRun();
    exactlyOnce();
  });

  test("the rotated file was compressed between runs (new inode): resumed at the same offset inside the .gz", async () => {
    emit(logPath, 50);
    await cronRun();
    emit(logPath, 7);
    rotate();
    compressNewest(logPath);
    emit(logPath, 5);
    const r = await cronRun();
    expect(r.got).toEqual(written.slice(50));
    expect(r.notices).toEqual([]);
    exactlyOnce();
  });

  test("the checkpoint itself points into a .gz that stays put", async () => {
    emit(logPath, 5);
    rotate();
    compressNewest(logPath);
    // Current log empty: the last line read is in the .gz.
    await cronRun();
    expect(loadCheckpoint(cp)!.file).toBe(`${logPath}.1.gz`);
    emit(logPath, 2);
    const r = await cronRun();
    expect(r.got).toEqual(written.slice(5));
    expect(r.notices).toEqual([]);
    exactlyOnce();
  });

  test("a rotated .gz cut short: its lines up to the cut, the damage as one marker, the newer files; the next run starts after them", async () => {
    emit(logPath, 50);
    await cronRun();
    emit(logPath, 600);
    rotate();
    compressNewest(logPath);
    // The disk filled while logrotate compressed: the .gz ends early (same mtime, as gzip leaves it).
    const gzPath = `${logPath}.1.gz`;
    const { atime, mtime } = statSync(gzPath);
    const whole = readFileSync(gzPath);
    writeFileSync(gzPath, whole.subarray(0, Math.floor(whole.length * 0.7)));
    utimesSync(gzPath, atime, mtime);
    emit(logPath, 3);

    const run = readSinceCheckpoint(logPath, cp);
    const lines: SourceLine[] = [];
    for await (const batch of run.lines) lines.push(...batch);
    const damage = lines.filter((l) => l.damaged !== undefined);
    expect(damage.map((l) => [l.file, l.damaged!.split(" (")[0]])).toEqual([[gzPath, "its compressed data ends early"]]);
    const read = lines.filter((l) => l.damaged === undefined).map((l) => l.bytes.toString());
    // From the checkpoint on: a run of the rotated lines (the last of them may be cut), then every line of the new log.
    const cutAt = lines.indexOf(damage[0]!);
    expect(cutAt).toBeGreaterThan(50);
    read.slice(0, cutAt - 1).forEach((line, i) => expect(line).toBe(written[50 + i]!));
    expect(read.slice(-3)).toEqual(written.slice(-3));
    run.commit(idOf(written.at(-1)!));
    expect(loadCheckpoint(cp)!.file).toBe(logPath);

    const again = await cronRun();
    expect(again.got).toEqual([]);
    expect(again.notices).toEqual([]);
  });

  test("truncated log: read from its start again, with a warning", async () => {
    emit(logPath, 10);
    await cronRun();
    truncateSync(logPath, 0);
    emit(logPath, 2);
    const r = await cronRun();
    expect(r.got).toEqual(written.slice(10));
    expect(r.notices).toEqual(["truncated"]);
    expect(warn).toHaveBeenCalled();
    exactlyOnce();
  });

  test("truncated and refilled beyond the old offset: the fingerprint no longer matches", async () => {
    emit(logPath, 3);
    await cronRun();
    const before = statSync(logPath).size;
    truncateSync(logPath, 0);
    emit(logPath, 8);
    expect(statSync(logPath).size).toBeGreaterThan(before);
    const r = await cronRun();
    expect(r.got).toEqual(written.slice(3));
    expect(r.notices).toEqual(["truncated"]);
    exactlyOnce();
  });

  test("a crash before commit: the next run reads the same lines again (nothing skipped)", async () => {
    emit(logPath, 3);
    await cronRun();
    emit(logPath, 2);
    const crashed = await cronRun({ commit: false });
    expect(crashed.got).toEqual(written.slice(3));
    const again = await cronRun();
    expect(again.got).toEqual(written.slice(3));
    exactlyOnce();
  });

  test("a partial last line (auditd mid-write) is left for the next run", async () => {
    emit(logPath, 2);
    appendFileSync(logPath, "type=USER msg=audit(1700000000.999:999): half");
    const r1 = await cronRun();
    expect(r1.got).toEqual(written);
    appendFileSync(logPath, " and the rest\n");
    const r2 = await cronRun();
    expect(r2.got).toEqual(["type=USER msg=audit(1700000000.999:999): half and the rest"]);
  });

  test("rotation during a run: every line once across this run and the next", async () => {
    emit(logPath, 2000);
    let rotated = false;
    await cronRun({
      chunkBytes: 4096,
      during: () => {
        if (rotated) return;
        rotated = true;
        emit(logPath, 5); // still read in this run: we hold the old file open
        rotate();
        emit(logPath, 3);
      },
    });
    emit(logPath, 1);
    await cronRun();
    exactlyOnce();
  });

  test("position lost but the record id is still there: resume after it", async () => {
    emit(logPath, 6);
    await cronRun();
    emit(logPath, 2);
    rotate();
    // Copy the rotated file (new inode) and drop the fingerprint: only lastId is left to go on.
    writeFileSync(`${logPath}.1.copy`, readFileSync(`${logPath}.1`));
    unlinkSync(`${logPath}.1`);
    renameSync(`${logPath}.1.copy`, `${logPath}.1`);
    const state = loadCheckpoint(cp)!;
    saveCheckpoint(cp, { ...state, lastLine: null, offset: state.offset + 1 });
    emit(logPath, 1);
    const r = await cronRun();
    expect(r.got).toEqual(written.slice(6));
    expect(r.notices).toEqual(["by-id"]);
    exactlyOnce();
  });

  test("the checkpointed file is gone: newer files are read and a possible loss is reported", async () => {
    emit(logPath, 4);
    await cronRun();
    emit(logPath, 2); // these will be lost
    rotate();
    const lost = written.splice(4, 2);
    unlinkSync(`${logPath}.1`);
    // An old rotated file, last written before the checkpoint, is not read again.
    writeFileSync(`${logPath}.2`, "type=USER msg=audit(1600000000.000:1): ancient\n");
    const past = new Date(Date.now() - 86_400_000);
    utimesSync(`${logPath}.2`, past, past);
    emit(logPath, 3);
    const r = await cronRun();
    expect(r.got).toEqual(written.slice(4));
    expect(r.got).not.toContain(lost[0]!);
    expect(r.notices).toEqual(["lost"]);
    exactlyOnce();
  });

  test("a damaged checkpoint file is E_IO, not a silent re-read", async () => {
    writeFileSync(cp, "{not json");
    const error = await cronRun().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WhokilledError);
    expect((error as WhokilledError).code).toBe("E_IO");
    expect((error as WhokilledError).message).toContain(cp);
  });

  test("a checkpoint whose numbers are no byte offsets (a fraction, negative, huge, a string) is reported as damaged, naming the field", async () => {
    emit(logPath, 10);
    await cronRun();
    const good = loadCheckpoint(cp)!;
    const cases: [Record<string, unknown>, string][] = [
      [{ offset: 240.5 }, "offset"],
      [{ offset: -1 }, "offset"],
      [{ offset: 1e300 }, "offset"],
      [{ offset: "240" }, "offset"],
      [{ line: 2.5 }, "line"],
      [{ inode: -3 }, "inode"],
      [{ mtime: "yesterday" }, "mtime"],
      [{ lastLine: { offset: 0.5, sha1: good.lastLine!.sha1 } }, "lastLine.offset"],
      [{ lastLine: { offset: good.offset + 1, sha1: good.lastLine!.sha1 } }, "lastLine.offset"],
      [{ lastLine: { offset: 0, sha1: "\u001b[2J" } }, "lastLine.sha1"],
      [{ lastLine: 7 }, "lastLine"],
    ];
    for (const [change, field] of cases) {
      writeFileSync(cp, JSON.stringify({ ...good, ...change }));
      const error = await cronRun().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WhokilledError);
      expect((error as WhokilledError).code).toBe("E_IO");
      expect((error as WhokilledError).message).toContain(`checkpoint ${cp} is damaged or not a whokilled checkpoint (${field}: expected`);
      expect((error as WhokilledError).message).not.toContain("\u001b");
    }
  });

  test("a missing log: E_IO", async () => {
    unlinkSync(logPath);
    const error = await cronRun().catch((e: unknown) => e);
    expect((error as WhokilledError).code).toBe("E_IO");
    expect((error as WhokilledError).message).toContain(`cannot read ${logPath}: ENOENT`);
  });

  test("saveCheckpoint writes atomically and leaves no temp file", () => {
    const state: CheckpointState = {
      version: 1,
      path: logPath,
      file: logPath,
      inode: 1,
      device: 2,
      offset: 3,
      size: 4,
      line: 5,
      lastId: "1.000:1",
      mtime: 6,
      birthtime: 7,
      lastLine: null,
      savedAt: new Date(0).toISOString(),
    };
    saveCheckpoint(cp, state);
    expect(loadCheckpoint(cp)).toEqual(state);
    expect(readdirSync(dir).filter((n) => n.includes(".tmp"))).toEqual([]);
  });

  for (const seed0 of [42, 7, 1234, 99999]) {
    test(`many cron runs with random rotations, compressions and appends: exactly once (seed ${seed0})`, async () => {
      let seed = seed0;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      for (let round = 0; round < 40; round++) {
        const action = rand();
        if (action < 0.5) emit(logPath, 1 + Math.floor(rand() * 30));
        else if (action < 0.75) {
          emit(logPath, Math.floor(rand() * 5));
          rotate();
          emit(logPath, Math.floor(rand() * 5));
        } else if (action < 0.85 && existsSync(`${logPath}.1`)) {
          compressNewest(logPath); // the checkpoint may point into it
        }
        if (rand() < 0.6) {
          const r = await cronRun({ chunkBytes: 512 });
          expect(r.notices.filter((n) => n !== "no-checkpoint")).toEqual([]);
        }
      }
      await cronRun();
      exactlyOnce();
    });
  }
});
