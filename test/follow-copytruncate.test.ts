/**
 * `capture --follow` across truncation (issue 17): logrotate's copytruncate
 * with a writer running, a truncation refilled past the follower's offset
 * within one poll, and a truncation whose unread records no copy holds.
 * What the follower could read it reads exactly once; what was gone before it
 * could be read is said by a gap marker (a `gap` line in capture's output).
 */
import { afterAll, afterEach, describe, expect, spyOn, test } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { log } from "../lib/log.ts";
import type { SourceLine } from "../lib/sources/file.ts";
import { followFileLines } from "../lib/sources/follow.ts";
import { waitFor } from "./helpers/live.ts";
import { copytruncateLog, lostAndDuplicated, userRecord } from "./helpers/rotation.ts";

const dir = mkdtempSync(join(tmpdir(), "wk-follow-copytruncate-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const warn = spyOn(log, "warn").mockImplementation((() => {}) as unknown as typeof log.warn);
const info = spyOn(log, "info").mockImplementation((() => {}) as unknown as typeof log.info);
afterEach(() => {
  warn.mockClear();
  info.mockClear();
});

const record = (n: number) => userRecord(n, "c", 23);
/** Records from..from+count-1, as lines. */
const records = (from: number, count: number) => Array.from({ length: count }, (_, i) => record(from + i));
/** Lines written to the file, replacing it, or appended. */
const writeLines = (path: string, lines: string[], append = false) => writeFileSync(path, `${lines.join("\n")}\n`, append ? { flag: "a" } : undefined);

/** A follower running in the background: its lines and its gap markers, apart. */
function follow(path: string, pollMs: number) {
  const controller = new AbortController();
  const lines: string[] = [];
  const gaps: NonNullable<SourceLine["gap"]>[] = [];
  const done = (async () => {
    for await (const batch of followFileLines(path, { pollMs, signal: controller.signal })) {
      for (const l of batch) {
        if (l.gap) gaps.push(l.gap);
        else lines.push(l.bytes.toString());
      }
    }
  })();
  return {
    lines,
    gaps,
    async until(n: number) {
      const ok = await waitFor(() => (lines.length >= n ? true : undefined), 10_000, 5);
      if (!ok) throw new Error(`timed out waiting for ${n} lines; have ${lines.length}`);
    },
    async stop() {
      controller.abort();
      await done;
    },
  };
}

describe("--follow and copytruncate", () => {
  test("20,000 lines from a writer with 3 copytruncate rotations, at random moments between polls: 0 lost, 0 duplicated, no gap", async () => {
    const path = join(dir, "copytruncate.log");
    writeFileSync(path, "");
    const f = follow(path, 20);
    await Bun.sleep(60);
    // The writer holds its fd, opened O_APPEND, as a program logging to a file does: after the truncation it writes at offset 0.
    const fd = openSync(path, "a");
    const written: string[] = [];
    let seed = 17;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const rotateAt = new Set([5_000, 10_000, 15_000].map((n) => n + Math.floor(rand() * 400)));
    let rotations = 0;
    try {
      while (written.length < 20_000) {
        const burst = 1 + Math.floor(rand() * 60);
        let text = "";
        for (let i = 0; i < burst && written.length < 20_000; i++) {
          const line = record(written.length + 1);
          written.push(line);
          text += `${line}\n`;
          if (rotateAt.has(written.length)) {
            writeSync(fd, text);
            text = "";
            copytruncateLog(path);
            rotations++;
          }
        }
        writeSync(fd, text);
        await Bun.sleep(rand() < 0.5 ? 0 : Math.floor(rand() * 8));
      }
    } finally {
      closeSync(fd);
    }
    await f.until(written.length);
    await Bun.sleep(100);
    await f.stop();
    const figures = lostAndDuplicated(written, f.lines);
    console.error(`follow copytruncate: ${rotations} rotations, ${written.length} lines, ${figures.lost} lost, ${figures.duplicated} duplicated, ${f.gaps.length} gaps`);
    expect(rotations).toBe(3);
    expect(figures).toEqual({ lost: 0, duplicated: 0 });
    expect(f.lines).toEqual(written);
    expect(f.gaps).toEqual([]);
    expect(info.mock.calls.filter((c) => String(c[0]).includes("(copytruncate); reading the rest of it from the copy")).length).toBeGreaterThanOrEqual(1);
  }, 60_000);

  test("copytruncate by another process (cp; truncate) while the writer writes: every line still in a file is read once; only those written between the copy and the truncation (copytruncate's own window) are gone", async () => {
    const path = join(dir, "external.log");
    writeFileSync(path, "");
    const f = follow(path, 10);
    await Bun.sleep(40);
    const fd = openSync(path, "a");
    const written: string[] = [];
    let rotations = 0;
    try {
      for (let round = 0; round < 6; round++) {
        const rotating = Bun.spawn(["sh", "-c", `sleep 0.0${round}; for k in 3 2 1; do [ -e "$0.$k" ] && mv "$0.$k" "$0.$((k+1))"; done; cp "$0" "$0.1" && truncate -s 0 "$0"`, path]);
        const until = performance.now() + 120;
        while (performance.now() < until) {
          let text = "";
          for (let i = 0; i < 20; i++) {
            const line = record(written.length + 1);
            written.push(line);
            text += `${line}\n`;
          }
          writeSync(fd, text);
          await Bun.sleep(1);
        }
        expect(await rotating.exited).toBe(0);
        rotations++;
      }
    } finally {
      closeSync(fd);
    }
    // What the files hold now: a line written after cp read it and before truncate cut it is in none of them.
    const kept = new Set<string>();
    for (const name of [path, ...[1, 2, 3, 4].map((k) => `${path}.${k}`)]) {
      if (existsSync(name)) for (const line of readFileSync(name, "utf8").split("\n")) if (line) kept.add(line);
    }
    const inFiles = written.filter((line) => kept.has(line));
    await f.until(inFiles.length);
    await Bun.sleep(100);
    await f.stop();
    // The follower may have read some of those before the truncation; the rest are truly gone.
    const read = new Set(f.lines);
    const gone = written.filter((line) => !kept.has(line));
    const goneUnread = gone.filter((line) => !read.has(line)).length;
    const figures = lostAndDuplicated(inFiles, f.lines);
    console.error(
      `follow external copytruncate: ${rotations} rotations, ${written.length} lines written, ${gone.length} in no file (copytruncate's window), ${goneUnread} of them never read; of the lines in files ${figures.lost} lost, ${figures.duplicated} duplicated; ${f.gaps.length} gaps`,
    );
    expect(figures).toEqual({ lost: 0, duplicated: 0 });
    // In write order, each once: what is in the files, and what was read before the truncation cut it.
    expect(f.lines).toEqual(written.filter((line) => kept.has(line) || read.has(line)));
    // Lines written between cp and truncate are in no file: no reader can see them or count them (logrotate
    // documents this window of copytruncate). A gap marker comes only where the follower had read past the copy.
  }, 60_000);

  test("truncated and refilled past the old offset within one poll: the new lines from offset 0, none lost; a gap marker says unread old records, if any, are gone", async () => {
    const path = join(dir, "refill.log");
    writeFileSync(path, "");
    const f = follow(path, 400);
    await Bun.sleep(50);
    const old = records(1, 100);
    writeLines(path, old);
    await f.until(100);
    // Between two polls: truncate, then write more than before.
    const refill = records(1000, 150);
    writeLines(path, refill);
    await f.until(250);
    await Bun.sleep(500);
    await f.stop();
    expect(f.lines).toEqual([...old, ...refill]);
    expect(f.gaps).toEqual([{ reason: expect.stringMatching(/truncated \(the bytes before offset \d+ changed\) and no rotated file holds a copy/), lost: null }]);
  });

  test("records written after the last read, then truncated with no copy, are truly gone: not read, and a gap marker says so", async () => {
    const path = join(dir, "gone.log");
    writeFileSync(path, "");
    const f = follow(path, 400);
    await Bun.sleep(50);
    const first = records(1, 100);
    writeLines(path, first);
    await f.until(100);
    const unread = records(500, 20);
    writeLines(path, unread, true);
    const refill = records(1000, 150);
    writeLines(path, refill);
    await f.until(250);
    await Bun.sleep(500);
    await f.stop();
    expect(f.lines).toEqual([...first, ...refill]);
    expect(f.gaps).toHaveLength(1);
    expect(f.gaps[0]!.lost).toBeNull();
  });

  test("refilled past the old offset after a copytruncate: the unread records come from the copy, then the new file; no gap", async () => {
    const path = join(dir, "refill-copy.log");
    writeFileSync(path, "");
    const f = follow(path, 400);
    await Bun.sleep(50);
    const first = records(1, 100);
    writeLines(path, first);
    await f.until(100);
    const unread = records(500, 20);
    writeLines(path, unread, true);
    copytruncateLog(path);
    const refill = records(1000, 150);
    writeLines(path, refill, true);
    await f.until(270);
    await Bun.sleep(500);
    await f.stop();
    expect(f.lines).toEqual([...first, ...unread, ...refill]);
    expect(f.gaps).toEqual([]);
  });

  test("a copytruncate compressed at once (.1.gz, logrotate without delaycompress): the unread records come from the .gz", async () => {
    const path = join(dir, "gz.log");
    writeFileSync(path, "");
    const f = follow(path, 400);
    await Bun.sleep(50);
    const first = records(1, 100);
    writeLines(path, first);
    await f.until(100);
    const unread = records(500, 20);
    writeLines(path, unread, true);
    writeFileSync(`${path}.1.gz`, Bun.gzipSync(readFileSync(path)));
    truncateSync(path, 0);
    const refill = records(1000, 5);
    writeLines(path, refill, true);
    await f.until(125);
    await Bun.sleep(500);
    await f.stop();
    expect(f.lines).toEqual([...first, ...unread, ...refill]);
    expect(f.gaps).toEqual([]);
  });
});

describe("capture --follow", () => {
  test("a truncation no copy explains is a gap line in capture's output, in order, and counted in its summary", async () => {
    const path = join(dir, "capture.log");
    writeFileSync(path, `${record(1)}\n`);
    const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "scripts", "capture.ts"), "--follow", "--from-start", path], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NO_COLOR: "1" },
    });
    const stdout = new Response(child.stdout).text();
    const stderr = new Response(child.stderr).text();
    await Bun.sleep(600);
    writeFileSync(path, `${record(2)}\n`); // truncated (no copy) and refilled
    await Bun.sleep(600);
    child.kill("SIGTERM");
    expect(await child.exited).toBe(143);
    const lines = (await stdout).trim().split("\n").map((l) => JSON.parse(l) as { kind: string; id?: string; source?: unknown; lost?: unknown; reason?: string });
    expect(lines.map((l) => l.kind)).toEqual(["record", "gap", "record"]);
    expect(lines[1]).toMatchObject({ kind: "gap", source: "follow", lost: null });
    expect(lines[1]!.reason).toContain(`${path} was truncated`);
    expect(lines[2]!.id).toBe("1700000000.002:2");
    expect(await stderr).toContain("2 records, 0 structural lines, 1 gaps");
  }, 30_000);
});
