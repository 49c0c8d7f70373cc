/**
 * `capture --checkpoint` while the log moves under it (issue 17): the log is
 * rotated (auditd's numbering: the log → .1, a new empty log) at every step
 * of a run, through the reader's onStep hook: after listing the files, after
 * opening each, after finding where to resume, between reads, and between
 * making the new checkpoint and saving it. A writer appends before and after
 * each rotation. Across all runs every line is read exactly once, in order.
 * The same with logrotate's copytruncate (the log copied to .1, then
 * truncated in place), the writer going on in the truncated log.
 */
import { afterAll, afterEach, beforeEach, describe, expect, spyOn, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WhokilledError } from "../lib/errors.ts";
import { log } from "../lib/log.ts";
import { loadCheckpoint, readSinceCheckpoint, type CheckpointStep } from "../lib/sources/checkpoint.ts";
import { compressNewest, copytruncateLog, generations, lostAndDuplicated, RecordWriter, rotateLog } from "./helpers/rotation.ts";

const warn = spyOn(log, "warn").mockImplementation((() => {}) as unknown as typeof log.warn);
const info = spyOn(log, "info").mockImplementation((() => {}) as unknown as typeof log.info);

const root = mkdtempSync(join(tmpdir(), "wk-checkpoint-rotation-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let dir: string;
let logPath: string;
let cp: string;
let writer: RecordWriter;
let written: string[];
let readSoFar: string[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(root, "case-"));
  logPath = join(dir, "audit.log");
  cp = join(dir, "checkpoint.json");
  writer = new RecordWriter("q", 17);
  written = writer.written;
  readSoFar = [];
  writeFileSync(logPath, "");
});
afterEach(() => {
  warn.mockClear();
  info.mockClear();
});

/** The writer: n whole records appended to the log by name (as auditd does), remembered in write order. */
const emit = (n: number) => writer.emit(logPath, n);

const rotate = () => rotateLog(logPath);
const copytruncate = () => copytruncateLog(logPath);

/** A rotation with the writer busy around it: records land in the old file just before, and in the new one just after. */
function rotateWhileWriting(): void {
  emit(2);
  rotate();
  emit(2);
}

/**
 * logrotate's `rotate N`, never losing a record: generations past the second whose every line was read
 * are deleted, except the one the checkpoint is in (which `rotate N` would delete only after N rotations more).
 */
function pruneRead(): void {
  const read = new Set(readSoFar);
  const held = loadCheckpoint(cp)?.inode;
  for (const [n, name] of generations(logPath)) {
    const path = join(dir, name);
    if (n <= 2 || statSync(path).ino === held) continue;
    const text = name.endsWith(".gz") ? Bun.gunzipSync(readFileSync(path)).toString() : readFileSync(path, "utf8");
    if (text.split("\n").every((line) => line === "" || read.has(line))) unlinkSync(path);
  }
}

const idOf = (line: string) => /audit\(([^)]+)\)/.exec(line)?.[1] ?? null;

/** One cron run: read what is new, "write" it, commit; `onStep` sees every step of it. */
async function cronRun(onStep?: (step: CheckpointStep) => void, chunkBytes = 256) {
  const run = readSinceCheckpoint(logPath, cp, { chunkBytes, onStep });
  const got: string[] = [];
  for await (const batch of run.lines) for (const l of batch) got.push(l.bytes.toString());
  run.commit(got.length > 0 ? idOf(got.at(-1)!) : undefined);
  readSoFar.push(...got);
  return { got, notices: run.notices.map((n) => n.kind) };
}

/** Everything written was read exactly once, in write order: no record lost, none repeated. */
function exactlyOnce(): { lines: number; lost: number; duplicated: number } {
  const { lost, duplicated } = lostAndDuplicated(written, readSoFar);
  expect({ lost, duplicated }).toEqual({ lost: 0, duplicated: 0 });
  expect(readSoFar).toEqual(written);
  return { lines: written.length, lost, duplicated };
}

describe("checkpoint: the log rotated at every step of a run", () => {
  test("issue 17's reproducer: rotated between listing and opening, the 50 lines left in audit.log.1 are read, no gap", async () => {
    emit(100);
    await cronRun();
    emit(50);
    const r = await cronRun((step) => {
      if (step === "listed" && !existsSync(`${logPath}.1`)) {
        rotate();
        emit(10);
      }
    });
    expect(r.got).toEqual(written.slice(100));
    expect(r.notices).toEqual([]);
    exactlyOnce();
  });

  const kinds: [string, () => void, number[]][] = [
    ["rename (auditd)", rotateWhileWriting, [0, 1, 7, 60, 300]],
    // The writer goes on in the truncated log: a little (the reader's offset stays past its end), or past the offset.
    ["copytruncate, 2 lines after", () => (emit(2), copytruncate(), emit(2)), [0, 1, 7, 60, 300]],
    ["copytruncate, 200 lines after", () => (emit(2), copytruncate(), emit(200)), [1, 60]],
  ];
  for (const [kind, rotation, sizes] of kinds) {
    test(`one rotation (${kind}) at the k-th step, for every k of a run, over logs of several sizes: 0 lost, 0 duplicated`, async () => {
      const rotatedAt = new Map<CheckpointStep, number>();
      let runs = 0;
      for (const appended of sizes) {
        for (let k = 0; ; k++) {
          emit(appended);
          const steps: CheckpointStep[] = [];
          const r = await cronRun((step) => {
            steps.push(step);
            if (steps.length - 1 !== k) return;
            rotatedAt.set(step, (rotatedAt.get(step) ?? 0) + 1);
            rotation();
          });
          runs++;
          expect(r.notices.filter((n) => n !== "no-checkpoint")).toEqual([]);
          pruneRead();
          if (k >= steps.length) break; // this run had no k-th step: every step had its rotation
        }
      }
      // And once at the first step of each kind (the k-th step of a run cut short by a truncation may never be its commit).
      for (const at of ["listed", "opened", "planned", "read", "commit"] as const) {
        emit(20);
        let done = false;
        await cronRun((step) => {
          if (done || step !== at) return;
          done = true;
          rotatedAt.set(step, (rotatedAt.get(step) ?? 0) + 1);
          rotation();
        });
        runs++;
      }
      await cronRun();
      const figures = exactlyOnce();
      // Every kind of step had rotations at it.
      expect([...rotatedAt.keys()].sort()).toEqual(["commit", "listed", "opened", "planned", "read"]);
      console.error(`checkpoint ${kind} at every step: ${runs} runs, ${figures.lines} lines, ${figures.lost} lost, ${figures.duplicated} duplicated; rotations by step ${JSON.stringify(Object.fromEntries(rotatedAt))}`);
    });
  }

  for (const seed0 of [17, 4242]) {
    test(`rotations at random steps of 150 runs, several in one run, with compression between runs: 0 lost, 0 duplicated (seed ${seed0})`, async () => {
      let seed = seed0;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      let rotations = 0;
      for (let run = 0; run < 150; run++) {
        emit(Math.floor(rand() * 40));
        if (rand() < 0.2 && existsSync(`${logPath}.1`)) compressNewest(logPath);
        // While opening, a rotation makes the reader list and open again: a few per run, or it could never settle.
        let whileOpening = 0;
        const r = await cronRun((step) => {
          if (rand() >= 0.3) return;
          if (step === "listed" || step === "opened") {
            if (whileOpening++ >= 3) return;
          }
          rotations++;
          rotateWhileWriting();
        }, 128 + Math.floor(rand() * 512));
        expect(r.notices.filter((n) => n !== "no-checkpoint")).toEqual([]);
        pruneRead();
      }
      await cronRun();
      const figures = exactlyOnce();
      console.error(`checkpoint random rotations (seed ${seed0}): 150 runs, ${rotations} rotations, ${figures.lines} lines, ${figures.lost} lost, ${figures.duplicated} duplicated`);
    });
  }

  test("copytruncate of a log that was empty when the run opened it: what was written and copied away meanwhile is read by the next run, not skipped", async () => {
    emit(10);
    await cronRun();
    copytruncate(); // the log is empty now; .1 holds the 10 lines, all read
    const r = await cronRun((step) => {
      if (step !== "planned") return;
      emit(5); // into the empty log, then copied to .1 before this run reads it
      copytruncate();
      emit(3);
    });
    expect(r.got).toEqual([]);
    await cronRun();
    exactlyOnce();
  });

  test("a log renamed at every listing never settles: E_IO after a bounded number of tries, no fd left open", async () => {
    emit(5);
    const fds = readdirSync("/proc/self/fd").length;
    const error = await cronRun((step) => {
      if (step === "listed") rotate();
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WhokilledError);
    expect((error as WhokilledError).code).toBe("E_IO");
    expect((error as WhokilledError).message).toContain("renamed during each of");
    expect(readdirSync("/proc/self/fd").length).toBe(fds);
  });
});
