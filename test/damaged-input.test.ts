/**
 * A compressed log cut short (the disk filled while logrotate compressed it)
 * or not gzip at all: its lines up to the damage are read, the damage is one
 * input error naming the file and the last line, and the inputs after it are
 * read as usual. It used to end the run with nothing of that file read.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { constants, gunzipSync } from "node:zlib";
import { DEFAULT_SEED, generateString } from "../bench/gen-log.ts";
import { fixturesDir, runScriptProcess } from "./helpers/run.ts";

const dir = mkdtempSync(join(tmpdir(), "wk-damaged-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(name: string, args: string[]) {
  const { stdout, stderr, code } = await runScriptProcess(name, args);
  return { lines: stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { kind: string; id: string; source?: { line: number } }), stderr, code };
}

const text = generateString({ seed: DEFAULT_SEED, lines: 30_000 }).text;
const gz = Buffer.from(Bun.gzipSync(Buffer.from(text)));
const cut = join(dir, "audit.log.2.gz");
writeFileSync(cut, gz.subarray(0, Math.floor(gz.length * 0.6)));
const notGzip = join(dir, "audit.log.3.gz");
writeFileSync(notGzip, "type=SYSCALL msg=audit(1.2:3): not compressed at all\n");
const seed = join(fixturesDir, "seed.log");

/** What zlib can recover of the cut file (the oracle): its whole lines, and the cut one. */
const recovered = gunzipSync(gz.subarray(0, Math.floor(gz.length * 0.6)), { finishFlush: constants.Z_SYNC_FLUSH }).toString("utf8");
const wholeLines = recovered.slice(0, recovered.lastIndexOf("\n") + 1).split("\n").slice(0, -1);

describe("a damaged .gz among the inputs", () => {
  test("capture: every whole line before the cut, the cut reported, the next input read", async () => {
    const { lines, stderr, code } = await run("capture", ["--file", cut, "--file", notGzip, "--file", seed]);
    expect(code).toBe(0);
    const fromCut = lines.filter((l) => (l as { source?: { file: string } }).source?.file === cut);
    expect(fromCut.length).toBe(wholeLines.length);
    expect(fromCut.at(-1)!.source!.line).toBe(wholeLines.length);
    // The cut line is a partial record (reported as one), then the damage, at the line it reached.
    const last = wholeLines.length + 1;
    expect(stderr).toContain(`${cut}:${last}: its compressed data ends early (Z_BUF_ERROR unexpected end of file) after ${Buffer.byteLength(recovered)} bytes of log`);
    expect(stderr).toContain(`${notGzip}: not gzip data, or damaged from its start (Z_DATA_ERROR incorrect header check): nothing read`);
    expect(lines.filter((l) => (l as { source?: { file: string } }).source?.file === seed).length).toBeGreaterThan(0);
  });

  test("decode and attribute read on; --strict stops at the damage", async () => {
    const decode = await run("decode", ["--no-lookup", cut, seed]);
    expect(decode.code).toBe(0);
    expect(decode.lines.some((l) => l.id === "1285245427.433:22")).toBe(true);
    expect(decode.stderr).toContain(`${cut}:`);
    const attribute = await run("attribute", ["--no-lookup", cut, seed]);
    expect(attribute.code).toBe(0);
    expect(attribute.lines.some((l) => l.id === "1285245427.433:22")).toBe(true);
    const strict = await run("decode", ["--no-lookup", "--strict", notGzip, seed]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain("not gzip data");
  });

  test("capture --checkpoint (cron) reads past a rotated .gz cut short, and the next run does not meet it again", async () => {
    // A log directory as logrotate leaves it: audit.log.1.gz cut short, then the live log.
    const logDir = join(dir, "rotated");
    mkdirSync(logDir);
    const logPath = join(logDir, "audit.log");
    writeFileSync(`${logPath}.1.gz`, gz.subarray(0, Math.floor(gz.length * 0.6)));
    writeFileSync(logPath, readFileSync(seed));
    const checkpoint = join(dir, "cp.json");
    const first = await run("capture", ["--file", logPath, "--checkpoint", checkpoint]);
    expect(first.code).toBe(0);
    const fromGz = first.lines.filter((l) => (l as { source?: { file: string } }).source?.file === `${logPath}.1.gz`);
    expect(fromGz.length).toBe(wholeLines.length);
    expect(first.stderr).toContain(`${logPath}.1.gz:${wholeLines.length + 1}: its compressed data ends early`);
    expect(first.lines.some((l) => l.id === "1285245427.433:22")).toBe(true);
    const second = await run("capture", ["--file", logPath, "--checkpoint", checkpoint]);
    expect(second.code).toBe(0);
    expect(second.lines).toEqual([]);
    expect(second.stderr).not.toContain("compressed data");
  });
});
