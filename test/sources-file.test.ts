import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WhokilledError } from "../lib/errors.ts";
import { readFileLines, rotatedFiles, type SourceLine } from "../lib/sources/file.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "wk-file-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function collect(gen: AsyncGenerator<SourceLine[]>): Promise<{ batches: number; lines: SourceLine[] }> {
  const lines: SourceLine[] = [];
  let batches = 0;
  for await (const batch of gen) {
    batches++;
    expect(batch.length).toBeGreaterThan(0);
    lines.push(...batch);
  }
  return { batches, lines };
}

/** Expected lines of `text`, computed the slow obvious way. */
function expected(text: string): Array<{ text: string; line: number; offset: number; end: number }> {
  const out: Array<{ text: string; line: number; offset: number; end: number }> = [];
  let offset = 0;
  let line = 1;
  while (offset < text.length) {
    const nl = text.indexOf("\n", offset);
    const end = nl < 0 ? text.length : nl + 1;
    let body = text.slice(offset, nl < 0 ? text.length : nl);
    if (nl >= 0 && body.endsWith("\r")) body = body.slice(0, -1);
    out.push({ text: body, line: line++, offset, end });
    offset = end;
  }
  return out;
}

const simple = (lines: SourceLine[]) => lines.map((l) => ({ text: l.bytes.toString("latin1"), line: l.line, offset: l.offset, end: l.end }));

const sample = Array.from({ length: 50 }, (_, i) => `type=SYSCALL msg=audit(1700000000.${String(i).padStart(3, "0")}:${i + 1}): syscall=62 a${"x".repeat(i % 7)}`).join("\n") + "\n";

describe("readFileLines", () => {
  test("batches per chunk, with byte offsets and line numbers", async () => {
    const path = join(dir, "batches.log");
    writeFileSync(path, sample);
    const { batches, lines } = await collect(readFileLines(path, { chunkBytes: 100 }));
    expect(batches).toBeGreaterThan(10);
    expect(simple(lines)).toEqual(expected(sample));
    expect(lines.every((l) => l.file === path && typeof l.inode === "number")).toBe(true);
    // One big chunk: one batch.
    const whole = await collect(readFileLines(path));
    expect(whole.batches).toBe(1);
    expect(simple(whole.lines)).toEqual(expected(sample));
  });

  test("lines stay valid after later batches are read", async () => {
    const path = join(dir, "valid.log");
    writeFileSync(path, sample);
    const { lines } = await collect(readFileLines(path, { chunkBytes: 64 }));
    expect(lines.map((l) => l.bytes.toString()).join("\n") + "\n").toBe(sample);
  });

  test("a last line without newline is a line; holdPartial keeps it back", async () => {
    const path = join(dir, "partial.log");
    const text = "one\ntwo\nthree-no-newline";
    writeFileSync(path, text);
    const { lines } = await collect(readFileLines(path, { chunkBytes: 5 }));
    expect(simple(lines)).toEqual(expected(text));
    expect(lines.at(-1)).toMatchObject({ line: 3, offset: 8, end: 24 });
    const held = await collect(readFileLines(path, { chunkBytes: 5, holdPartial: true }));
    expect(held.lines.map((l) => l.bytes.toString())).toEqual(["one", "two"]);
  });

  test("CRLF line ends: the \\r is not part of the line, offsets count it", async () => {
    const path = join(dir, "crlf.log");
    const text = "a=1\r\nb=2\r\n\r\nc\rd\n";
    writeFileSync(path, text);
    const { lines } = await collect(readFileLines(path, { chunkBytes: 3 }));
    expect(simple(lines)).toEqual(expected(text));
    expect(lines.map((l) => l.bytes.toString())).toEqual(["a=1", "b=2", "", "c\rd"]);
  });

  test("empty file: no batches", async () => {
    const path = join(dir, "empty.log");
    writeFileSync(path, "");
    expect((await collect(readFileLines(path))).batches).toBe(0);
  });

  test("startOffset and startLine resume mid-file", async () => {
    const path = join(dir, "resume.log");
    writeFileSync(path, sample);
    const all = expected(sample);
    const from = all[20]!;
    const { lines } = await collect(readFileLines(path, { startOffset: from.offset, startLine: from.line, chunkBytes: 77 }));
    expect(simple(lines)).toEqual(all.slice(20));
  });

  test(".gz is decompressed; offsets are in the decompressed stream", async () => {
    const path = join(dir, "rotated.log.1.gz");
    const text = sample.repeat(40);
    writeFileSync(path, Bun.gzipSync(Buffer.from(text)));
    const { lines } = await collect(readFileLines(path, { chunkBytes: 1000 }));
    expect(simple(lines)).toEqual(expected(text));
    const all = expected(text);
    const from = all[777]!;
    const resumed = await collect(readFileLines(path, { startOffset: from.offset, startLine: from.line }));
    expect(simple(resumed.lines)).toEqual(all.slice(777));
  });

  test("a damaged .gz: its lines before the damage, then one marker naming it, where reading stopped", async () => {
    const path = join(dir, "bad.log.gz");
    const gz = Buffer.from(Bun.gzipSync(Buffer.from(sample)));
    writeFileSync(path, gz.subarray(0, Math.floor(gz.length * 0.6)));
    const { lines } = await collect(readFileLines(path, { chunkBytes: 64 }));
    const marker = lines.at(-1)!;
    expect(marker.damaged).toContain("its compressed data ends early");
    expect(marker.bytes.length).toBe(0);
    const read = lines.slice(0, -1);
    expect(read.length).toBeGreaterThan(0);
    // Whole lines as they were written; the last may be cut (it had no newline), then the marker where it ended,
    // named by the line it cut (as decode's reader names it) or else the next one.
    const all = sample.split("\n");
    read.slice(0, -1).forEach((l, i) => expect(l.bytes.toString()).toBe(all[i]!));
    const lastIsCut = read.at(-1)!.end === read.at(-1)!.offset + read.at(-1)!.bytes.length; // no newline after it
    expect(all[read.length - 1]!.startsWith(read.at(-1)!.bytes.toString())).toBe(true);
    expect(marker.line).toBe(lastIsCut ? read.length : read.length + 1);
    expect(marker.offset).toBe(read.at(-1)!.end);

    writeFileSync(path, gz.fill(0x55, 0, 10));
    const notGzip = await collect(readFileLines(path));
    expect(notGzip.lines.map((l) => [l.line, l.offset, l.damaged !== undefined])).toEqual([[1, 0, true]]);
  });

  test("missing file or a directory: E_IO naming the path and errno", async () => {
    const missing = join(dir, "nope.log");
    const error = await collect(readFileLines(missing)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WhokilledError);
    expect((error as WhokilledError).code).toBe("E_IO");
    expect((error as WhokilledError).message).toStartWith(`cannot read ${missing}: ENOENT`);
    const sub = join(dir, "adir");
    mkdirSync(sub, { recursive: true });
    const dirError = await collect(readFileLines(sub)).catch((e: unknown) => e);
    expect((dirError as WhokilledError).code).toBe("E_IO");
    expect((dirError as WhokilledError).message).toContain("EISDIR");
  });

  test("abort stops between batches", async () => {
    const path = join(dir, "abort.log");
    writeFileSync(path, sample);
    const controller = new AbortController();
    let seen = 0;
    for await (const batch of readFileLines(path, { chunkBytes: 64, signal: controller.signal })) {
      seen += batch.length;
      controller.abort();
    }
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(10);
  });
});

describe("stdin (-)", () => {
  const script = `
    const { readFileLines } = await import(${JSON.stringify(join(import.meta.dir, "../lib/sources/file.ts"))});
    const out = [];
    for await (const batch of readFileLines("-")) for (const l of batch) out.push([l.bytes.toString(), l.line, l.offset, l.end, l.file]);
    console.log(JSON.stringify(out));
  `;
  const run = async (stdin: "pipe" | Bun.BunFile, text: string) => {
    const proc = Bun.spawn([process.execPath, "-e", script], { stdin, stdout: "pipe", stderr: "pipe" });
    if (stdin === "pipe") {
      // In pieces, with pauses, so reads see partial lines.
      const sink = proc.stdin as import("bun").FileSink;
      for (let i = 0; i < text.length; i += 97) {
        sink.write(text.slice(i, i + 97));
        await sink.flush();
        if (i % 5 === 0) await Bun.sleep(2);
      }
      await sink.end();
    }
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    expect(err).toBe("");
    expect(code).toBe(0);
    return JSON.parse(out) as Array<[string, number, number, number, string]>;
  };
  const want = (text: string) => expected(text).map((e): [string, number, number, number, string] => [e.text, e.line, e.offset, e.end, "-"]);

  test("from a pipe", async () => {
    const text = sample + "tail-without-newline";
    expect(await run("pipe", text)).toEqual(want(text));
  });

  test("from a redirected file", async () => {
    const path = join(dir, "stdin.log");
    writeFileSync(path, sample);
    expect(await run(Bun.file(path), sample)).toEqual(want(sample));
  });
});

describe("rotatedFiles", () => {
  test("oldest first, .gz included, the log itself last", () => {
    const sub = join(dir, "rot");
    mkdirSync(sub, { recursive: true });
    const log = join(sub, "audit.log");
    for (const name of ["audit.log", "audit.log.1", "audit.log.2.gz", "audit.log.3", "audit.log.10.gz", "audit.log.bak", "audit.logx.1", "audit.log.0", "audit.log.4.gz", "audit.log.4", "other.log.1"]) {
      writeFileSync(join(sub, name), "x\n");
    }
    expect(rotatedFiles(log)).toEqual([
      join(sub, "audit.log.10.gz"),
      // Both .4 and .4.gz: compression in progress, the plain one is complete.
      join(sub, "audit.log.4"),
      join(sub, "audit.log.3"),
      join(sub, "audit.log.2.gz"),
      join(sub, "audit.log.1"),
      log,
    ]);
  });

  test("no rotated files, or no directory: just the log", () => {
    expect(rotatedFiles(join(dir, "lonely.log"))).toEqual([join(dir, "lonely.log")]);
    expect(rotatedFiles("/nonexistent-wk/audit.log")).toEqual(["/nonexistent-wk/audit.log"]);
  });
});
