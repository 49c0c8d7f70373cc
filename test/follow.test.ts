import { afterAll, afterEach, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { log } from "../lib/log.ts";
import type { SourceLine } from "../lib/sources/file.ts";
import { followFileLines, type FollowOptions } from "../lib/sources/follow.ts";
import { captureLive } from "../lib/sources/capture-run.ts";
import { InputErrors } from "../lib/audit/input-errors.ts";
import type { LineWriter } from "../lib/bytes/line-writer.ts";
import { auditctl, auditctlSkipReason, auditdSkipReason, waitFor } from "./helpers/live.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "wk-follow-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const warn = spyOn(log, "warn").mockImplementation((() => {}) as unknown as typeof log.warn);
afterEach(() => warn.mockClear());

const POLL = 20;

function follow(path: string, options: FollowOptions = {}) {
  const controller = new AbortController();
  const lines: SourceLine[] = [];
  /** Gap markers (records may be missing there), apart from the lines. */
  const gaps: NonNullable<SourceLine["gap"]>[] = [];
  let batches = 0;
  const done = (async () => {
    for await (const batch of followFileLines(path, { pollMs: POLL, ...options, signal: controller.signal })) {
      batches++;
      for (const l of batch) {
        if (l.gap) gaps.push(l.gap);
        else lines.push(l);
      }
    }
  })();
  const texts = () => lines.map((l) => l.bytes.toString());
  return {
    lines,
    gaps,
    texts,
    batches: () => batches,
    /** Wait until at least n lines arrived; fail loudly if they don't within 3 s. */
    async until(n: number) {
      const ok = await waitFor(() => (lines.length >= n ? true : undefined), 3000, 5);
      if (!ok) throw new Error(`timed out waiting for ${n} lines; have ${JSON.stringify(texts())}`);
    },
    async stop() {
      controller.abort();
      await done;
      return texts();
    },
  };
}

/** A few poll intervals: time for the follower to see (and not yield) something. */
const settle = () => Bun.sleep(POLL * 5);

const openFds = () => readdirSync("/proc/self/fd").length;

describe("followFileLines", () => {
  test("starts at the end and yields appended lines with their file positions", async () => {
    const path = join(dir, "append.log");
    writeFileSync(path, "old-1\nold-2\n");
    const f = follow(path);
    await settle();
    appendFileSync(path, "new-1\n");
    await f.until(1);
    appendFileSync(path, "new-2\nnew-3\n");
    await f.until(3);
    await settle();
    expect(await f.stop()).toEqual(["new-1", "new-2", "new-3"]);
    expect(f.lines.map((l) => [l.line, l.offset, l.end, l.file])).toEqual([
      [3, 12, 18, path],
      [4, 18, 24, path],
      [5, 24, 30, path],
    ]);
  });

  test("fromStart reads the existing lines first", async () => {
    const path = join(dir, "fromstart.log");
    writeFileSync(path, "a\nb\n");
    const f = follow(path, { fromStart: true });
    await f.until(2);
    appendFileSync(path, "c\n");
    await f.until(3);
    expect(await f.stop()).toEqual(["a", "b", "c"]);
  });

  test("a file ending mid-line at start: the line is yielded whole once completed", async () => {
    const path = join(dir, "midline.log");
    writeFileSync(path, "a\nb\npart");
    const f = follow(path);
    await settle();
    appendFileSync(path, "ial\n");
    await f.until(1);
    await settle();
    expect(await f.stop()).toEqual(["partial"]);
    expect(f.lines[0]).toMatchObject({ line: 3, offset: 4, end: 12 });
  });

  test("a line written in two parts is held until its newline", async () => {
    const path = join(dir, "twoparts.log");
    writeFileSync(path, "");
    const f = follow(path);
    await settle();
    appendFileSync(path, "type=SYSCALL msg=audit(1.000:1): half");
    await settle();
    expect(f.lines.length).toBe(0);
    appendFileSync(path, " and the rest\nnext\n");
    await f.until(2);
    await settle();
    expect(await f.stop()).toEqual(["type=SYSCALL msg=audit(1.000:1): half and the rest", "next"]);
    expect(f.lines[0]).toMatchObject({ line: 1, offset: 0 });
  });

  test("rotation: the old file's last records, written just before the rename, come first; then the new file from 0", async () => {
    const path = join(dir, "rotate.log");
    writeFileSync(path, "");
    const f = follow(path);
    await settle();
    appendFileSync(path, "old-1\n");
    await f.until(1);
    // Synchronously, so the follower cannot have read old-2/old-3 before the rename.
    appendFileSync(path, "old-2\nold-3\n");
    renameSync(path, `${path}.1`);
    writeFileSync(path, "new-1\n");
    await f.until(4);
    appendFileSync(path, "new-2\n");
    appendFileSync(`${path}.1`, "late-write-to-old\n"); // after the switch: not followed any more
    await f.until(5);
    await settle();
    expect(await f.stop()).toEqual(["old-1", "old-2", "old-3", "new-1", "new-2"]);
    const [o1, , o3, n1, n2] = f.lines;
    expect(o1!.inode).toBe(o3!.inode!);
    expect(n1!.inode).not.toBe(o1!.inode!);
    expect([n1!.line, n1!.offset, n2!.line, n2!.offset]).toEqual([1, 0, 2, 6]);
  });

  test("rotation with a gap before the new file appears, twice in a row", async () => {
    const path = join(dir, "gap.log");
    writeFileSync(path, "");
    const f = follow(path);
    await settle();
    appendFileSync(path, "g1-a\n");
    renameSync(path, `${path}.1`);
    await settle(); // no file under the name for a while
    appendFileSync(`${path}.1`, "g1-b\n"); // the writer still has the old file open
    await settle();
    writeFileSync(path, "g2-a\n");
    await f.until(3);
    appendFileSync(path, "g2-b\n");
    renameSync(`${path}.1`, `${path}.2`);
    renameSync(path, `${path}.1`);
    writeFileSync(path, "g3-a\n");
    await f.until(5);
    await settle();
    expect(await f.stop()).toEqual(["g1-a", "g1-b", "g2-a", "g2-b", "g3-a"]);
  });

  test("two rotations between polls: the generation in between is read too", async () => {
    const path = join(dir, "double.log");
    writeFileSync(path, "");
    const f = follow(path, { pollMs: 300 });
    await Bun.sleep(50);
    appendFileSync(path, "A-1\n");
    await f.until(1);
    // All within one poll interval, synchronously.
    appendFileSync(path, "A-2\n");
    renameSync(path, `${path}.1`);
    writeFileSync(path, "B-1\nB-2\n");
    renameSync(`${path}.1`, `${path}.2`);
    renameSync(path, `${path}.1`);
    writeFileSync(path, "C-1\n");
    await f.until(5);
    await Bun.sleep(400);
    expect(await f.stop()).toEqual(["A-1", "A-2", "B-1", "B-2", "C-1"]);
    expect(warn.mock.calls.some((c) => String(c[0]).includes("rotated 2 times"))).toBe(true);
  });

  test("a rotated file ending without newline: its last line is passed on, with a warning", async () => {
    const path = join(dir, "rotpartial.log");
    writeFileSync(path, "");
    const f = follow(path);
    await settle();
    appendFileSync(path, "whole\ncut-off");
    await f.until(1);
    renameSync(path, `${path}.1`);
    writeFileSync(path, "fresh\n");
    await f.until(3);
    expect(await f.stop()).toEqual(["whole", "cut-off", "fresh"]);
    expect(warn).toHaveBeenCalled();
  });

  test("truncation to a smaller size: restart at 0 with a warning", async () => {
    const path = join(dir, "trunc.log");
    writeFileSync(path, "");
    const f = follow(path);
    await settle();
    appendFileSync(path, "first-long-line-1\nfirst-long-line-2\n");
    await f.until(2);
    truncateSync(path, 0);
    appendFileSync(path, "s1\n");
    await f.until(3);
    await settle();
    expect(await f.stop()).toEqual(["first-long-line-1", "first-long-line-2", "s1"]);
    expect(f.lines[2]).toMatchObject({ line: 1, offset: 0 });
    expect(warn.mock.calls.some((c) => String(c[0]).includes("truncated"))).toBe(true);
    // No copy holds what may have been written before the truncation: said in the data.
    expect(f.gaps).toEqual([{ reason: expect.stringContaining("no rotated file holds a copy of it: records written after offset 36 before the truncation, if any, were lost"), lost: null }]);
  });

  test("truncation refilled past our offset before the next poll is still noticed", async () => {
    const path = join(dir, "refill.log");
    writeFileSync(path, "");
    const f = follow(path, { pollMs: 200 });
    await Bun.sleep(50);
    appendFileSync(path, "aaaa\nbbbb\n"); // 10 bytes
    await f.until(2);
    // Between two polls: truncate and write more than 10 bytes, no newline at byte 9.
    writeFileSync(path, "refilled-longer-line\nx\n");
    await f.until(4);
    await Bun.sleep(300);
    expect(await f.stop()).toEqual(["aaaa", "bbbb", "refilled-longer-line", "x"]);
    expect(warn.mock.calls.some((c) => String(c[0]).includes("truncated"))).toBe(true);
    expect(f.gaps).toHaveLength(1);
  });

  test("a missing file is waited for and read from its start", async () => {
    const path = join(dir, "later.log");
    const f = follow(path);
    await settle();
    writeFileSync(path, "born\n");
    await f.until(1);
    expect(await f.stop()).toEqual(["born"]);
    expect(warn).toHaveBeenCalled();
  });

  test("abort ends the generator promptly and closes its fd", async () => {
    const path = join(dir, "abort.log");
    writeFileSync(path, "x\n");
    const before = openFds();
    const f = follow(path, { pollMs: 10_000 });
    await Bun.sleep(50);
    expect(openFds()).toBe(before + 1);
    const t = performance.now();
    await f.stop();
    expect(performance.now() - t).toBeLessThan(500);
    expect(openFds()).toBe(before);
  });

  test("a burst of many lines across rotations: every line exactly once, in order", async () => {
    const path = join(dir, "burst.log");
    writeFileSync(path, "");
    const f = follow(path);
    await settle();
    const want: string[] = [];
    let n = 0;
    for (let generation = 0; generation < 4; generation++) {
      for (let burst = 0; burst < 5; burst++) {
        let chunk = "";
        for (let i = 0; i < 200; i++) {
          const line = `type=USER msg=audit(1700000000.000:${++n}): gen=${generation} ${"z".repeat(n % 50)}`;
          want.push(line);
          chunk += `${line}\n`;
        }
        // Split mid-line so reads end inside a line.
        const cut = Math.floor(chunk.length / 2) + 3;
        appendFileSync(path, chunk.slice(0, cut));
        await Bun.sleep(3);
        appendFileSync(path, chunk.slice(cut));
      }
      // auditd's numbering: .N → .N+1, the log → .1.
      for (let k = generation; k >= 1; k--) if (existsSync(`${path}.${k}`)) renameSync(`${path}.${k}`, `${path}.${k + 1}`);
      renameSync(path, `${path}.1`);
      writeFileSync(path, "");
      await Bun.sleep(generation * 15);
    }
    await f.until(want.length);
    await settle();
    expect(await f.stop()).toEqual(want);
  });
});

describe("capture --follow beside another source", () => {
  test("ends when its output stops, with nothing new in the log (the merge waits for every source)", async () => {
    const path = join(dir, "merged.log");
    writeFileSync(path, 'type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=62 success=yes exit=0 a0=1 a1=9 pid=2 comm="x"\n');
    const writer = { write: () => { throw new Error("EPIPE: the reader went away"); }, flush: () => {} } as unknown as LineWriter;
    const run = captureLive(["follow", "checkpoint"], {
      path,
      checkpointFile: join(dir, "merged.checkpoint.json"),
      fromStart: false,
      errors: new InputErrors({ strict: false, print: () => {} }),
      writer,
    });
    const outcome = await Promise.race([run.then(() => "returned", (error: Error) => error.message), Bun.sleep(5000).then(() => "still waiting for the follow source")]);
    expect(outcome).toBe("EPIPE: the reader went away");
  });
});

describe("live: /var/log/audit/audit.log", () => {
  const auditLog = "/var/log/audit/audit.log";
  // auditctl -m writes the USER record; auditd writes it to the log.
  const reason = auditctlSkipReason() ?? auditdSkipReason();
  if (reason) console.warn(`skipping live follow test: ${reason}`);

  test.skipIf(reason !== null)("a new USER record reaches the consumer within 1 s", async () => {
    const marker = `whokilled-follow-test-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
    const f = follow(auditLog, { pollMs: 100 });
    await Bun.sleep(150);
    const sent = performance.now();
    const result = auditctl(["-m", marker]);
    expect(result.exitCode).toBe(0);
    const seen = await waitFor(() => (f.texts().some((t) => t.includes(marker)) ? performance.now() : undefined), 1000, 10);
    await f.stop();
    expect(seen).toBeDefined();
    expect(seen! - sent).toBeLessThan(1000);
    const line = f.lines.find((l) => l.bytes.toString().includes(marker))!;
    expect(line.bytes.toString()).toStartWith("type=USER ");
  });
});
