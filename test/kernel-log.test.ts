/**
 * A kernel log's other lines (dmesg, kern.log, `journalctl -k`: the kernel's
 * messages that are not audit records) are counted "not audit, skipped" in
 * the closing counts: neither errors nor silent, and no bad input under
 * --strict. A damaged audit record among them stays an error. The fixtures
 * dmesg.log, kern-log.log and journalctl-k.log hold each form (their goldens
 * are checked by golden.test.ts); this machine's own dmesg is read too.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputErrors } from "../lib/audit/input-errors.ts";
import { parseLine } from "../lib/audit/line.ts";
import { captureFiles } from "../lib/sources/capture-run.ts";
import { kernelLogStamp, OomJoiner } from "../lib/sources/kernel-oom.ts";
import { lineToRecord } from "../lib/sources/record-lines.ts";
import { LineWriter } from "../lib/bytes/line-writer.ts";
import { decodeFiles, fixturesDir } from "./helpers/run.ts";

const dir = mkdtempSync(join(tmpdir(), "wk-kernel-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const captureScript = join(import.meta.dir, "..", "scripts", "capture.ts");

function runCapture(args: string[], stdin?: Buffer) {
  const run = Bun.spawnSync([process.execPath, captureScript, ...args], {
    stdin: stdin ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  return { code: run.exitCode, stdout: run.stdout.toString(), stderr: run.stderr.toString() };
}

/** capture's own path (byte reader, RecordLineWriter) over `path`: counts and error lines. */
async function captureCounts(path: string) {
  const messages: string[] = [];
  const errors = new InputErrors({ strict: false, print: (m) => messages.push(m), printLimit: 10_000 });
  const fd = openSync(join(dir, "capture.jsonl"), "w");
  let stats;
  try {
    const writer = new LineWriter(fd);
    stats = await captureFiles([path], { rotated: false, errors, writer });
    writer.flush();
  } finally {
    closeSync(fd);
  }
  return { records: stats.records, structural: stats.structural, notAudit: errors.notAudit, errors: errors.count, messages };
}

describe("parseLine: a kernel log's other lines are not-audit, damaged records stay invalid", () => {
  const notAudit = [
    "[    0.268578] audit: initializing netlink subsys (disabled)",
    "[  331.498586] wk-segv[7211]: segfault at 0 ip 00005561a8b92350 sp 00007ffc8de2d870 error 4",
    "[12345678.123456] x",
    // Each kernel-log prefix with a plain message: in the next describe, which reads their stamps too.
    "Dec 07 00:35:55 vm1 kernel: Linux version 6.18",
    "2026-12-07T00:35:55.532101+00:00 vm1 kernel: eth0: link up",
    "2026-12-07T00:35:55+0000 vm1 kernel: eth0: link up",
    "Mon 2026-12-07 00:35:55 UTC vm1 kernel: eth0: link up",
    "1796604087.297001 vm1 kernel: eth0: link up",
    "Dec 07 00:35:55 kernel: eth0: link up",
    "-- Boot 3e1f0a6c2b9d4e7f8a1b2c3d4e5f6a7b --",
    "-- No entries --",
  ];
  for (const line of notAudit) test(line, () => expect(parseLine(line)).toEqual({ kind: "not-audit" }));

  const invalid = [
    // audit records cut short or without their type, in kernel-log forms
    "[  258.731200] audit: type=1300 audit(1796604014.532:5",
    "[  258.731210] audit: audit(1796604014.532:6): arch=c000003e syscall=62",
    "Dec  7 00:41:31 vm1 kernel: audit: type=1300 audit(1796604087.296:85",
    "Dec  7 00:41:31 vm1 kernel: audit: type=1300 garbage",
    // another program's syslog line, journald's audit transport as text, no kernel-log form at all
    "Dec  7 00:41:30 vm1 sshd[812]: Accepted publickey for root",
    "Dec 07 00:41:28 vm1 audit[7211]: ANOM_ABEND auid=4294967295 uid=0",
    "kernel said something without a stamp",
    "[not a stamp] text",
    "type=SYSCALL msg=audit(",
  ];
  for (const line of invalid) test(line, () => expect(parseLine(line).kind).toBe("invalid"));

  test("an indented line may continue a kernel message; an indented record out of place may not", () => {
    expect(parseLine("               Please enable it if your BIOS has the CPPC option.")).toMatchObject({ kind: "invalid", indented: true });
    expect(parseLine("    type=SYSCALL msg=audit(1686666551.525:28860764): arch=c000003e").indented).toBeUndefined();
  });
});

describe("a kernel log's line is classed (parseLine) and read (kernelLogStamp) by the same prefixes", () => {
  const classed = [
    "[    1.000000]",
    "<6>[    0.000000] Linux version 6.18",
    "kern  :notice: [    0.000000] Linux version 6.18",
    "[Mon Dec  7 00:35:55 2026] Linux version 6.18",
    "2026-12-07T00:35:55,000000+00:00 Linux version 6.18",
    "Dec  7 00:35:55 vm1 kernel: [    0.000000] Linux version 6.18",
    "Dec 07 00:35:55.123456 vm1 kernel: Linux version 6.18",
    "2026-12-07T00:35:55.532101+00:00 vm1 kernel: Linux version 6.18",
    "2026-12-07T00:35:55+0000 vm1 kernel: Linux version 6.18",
    "2026-12-07T00:35:55Z vm1 kernel: Linux version 6.18",
    "2026-12-07T00:35:55 vm1 kernel: Linux version 6.18",
    "2026-12-07T00:35:55.532101 vm1 kernel: Linux version 6.18",
    "Mon 2026-12-07 00:35:55 UTC vm1 kernel: Linux version 6.18",
    "1796604087.297001 vm1 kernel: Linux version 6.18",
    "[  440.104000] vm1 kernel: Linux version 6.18",
  ];
  for (const line of classed) {
    test(line, () => {
      expect(parseLine(line)).toEqual({ kind: "not-audit" });
      expect(kernelLogStamp(line)?.message).toBe(line === "[    1.000000]" ? "" : "Linux version 6.18");
    });
  }

  test("neither classes nor reads a dmesg stamp run into its message", () => {
    expect(parseLine("[    0.100000]Linux version 6.18").kind).toBe("invalid");
    expect(kernelLogStamp("[    0.100000]Linux version 6.18")).toBeNull();
  });

  const KILLED = "Out of memory: Killed process 1 (x) total-vm:1000kB, anon-rss:500kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4kB oom_score_adj:0";
  test("an RFC 3339 stamp without its zone: read, with no wall time, so its OOM report is a record", () => {
    const line = `2025-12-07T00:36:12 host kernel: ${KILLED}`;
    expect(parseLine(line)).toEqual({ kind: "not-audit" });
    expect(kernelLogStamp(line)).toEqual({ message: KILLED, bootSeconds: null, time: null });
    expect(kernelLogStamp("2025-12-07T00:36:12.5+01:00 host kernel: x")?.time).toBe("2025-12-06T23:36:12.500Z");
    const messages: string[] = [];
    const errors = new InputErrors({ strict: true, print: (m) => messages.push(m) });
    const stats = { records: 0, structural: 0 };
    const record = lineToRecord(line, { file: "kern.log", line: 1 }, errors, stats, new OomJoiner());
    expect(record).toMatchObject({ kind: "record", type: "KERNEL_OOM", raw: line });
    expect({ stats, notAudit: errors.notAudit, errors: errors.count, messages }).toEqual({ stats: { records: 1, structural: 0 }, notAudit: 0, errors: 0, messages: [] });
  });

  test("the zone-less OOM report through decode: one record, nothing lost", async () => {
    const path = join(dir, "zoneless.log");
    writeFileSync(path, `2025-12-07T00:36:12 host kernel: eth0: link up\n2025-12-07T00:36:12 host kernel: ${KILLED}\n`);
    const { stats, notAudit, errors } = await decodeFiles([path]);
    expect({ records: stats.records, notAudit, errors }).toEqual({ records: 1, notAudit: 1, errors: 0 });
  });
});

describe("InputErrors.skipOrReport", () => {
  test("an indented line is skipped only right after a kernel log's line of the same input; under strict nothing throws", () => {
    const messages: string[] = [];
    const errors = new InputErrors({ strict: true, print: (m) => messages.push(m) });
    const indented = parseLine("               the rest of a message");
    errors.skipOrReport({ file: "a", line: 1 }, parseLine("[    0.1] first line"), "");
    errors.skipOrReport({ file: "a", line: 2 }, indented, "");
    errors.skipOrReport({ file: "a", line: 3 }, indented, "");
    expect(errors.notAudit).toBe(3);
    expect(errors.count).toBe(0);
    // Not the next line, or another input: an error (and under strict, fatal).
    expect(() => errors.skipOrReport({ file: "a", line: 5 }, indented, "  x")).toThrow("a:5: not an audit record");
    expect(() => errors.skipOrReport({ file: "b", line: 4 }, indented, "  x")).toThrow("b:4: not an audit record");
    expect(errors.notAudit).toBe(3);
  });
});

describe("every line of the kernel-log fixtures is accounted for", () => {
  const expected: Record<string, { records: number; notAudit: number; errors: number }> = {
    // Each file ends with an OOM kill: one KERNEL_OOM record; its other lines (invoked, memory: usage, oom-kill:) count as not audit.
    "dmesg.log": { records: 17, notAudit: 91, errors: 4 },
    "kern-log.log": { records: 6, notAudit: 8, errors: 2 },
    "journalctl-k.log": { records: 4, notAudit: 15, errors: 1 },
  };
  for (const [name, want] of Object.entries(expected)) {
    const path = join(fixturesDir, name);
    const lineCount = readFileSync(path, "utf8").replace(/\n$/, "").split("\n").length;
    test(`decode ${name}`, async () => {
      const { stats, notAudit, errors } = await decodeFiles([path]);
      expect({ records: stats.records, notAudit, errors }).toEqual(want);
      expect(stats.records + stats.structural + notAudit + errors).toBe(lineCount);
    });
    test(`capture ${name}`, async () => {
      const got = await captureCounts(path);
      expect({ records: got.records, notAudit: got.notAudit, errors: got.errors }).toEqual(want);
      expect(got.records + got.structural + got.notAudit + got.errors).toBe(lineCount);
    });
  }
});

describe("capture's closing counts", () => {
  // dmesg.log's lines of this VM's dmesg, without the hand-made damage: 6 records, 8 other lines (one indented).
  const fixture = readFileSync(join(fixturesDir, "dmesg.log"), "utf8").split("\n");
  const from = fixture.findIndex((line) => line.startsWith("# Real lines of this VM's dmesg"));
  const to = fixture.findIndex((line) => line.startsWith("# The same kind of line"));
  const clean = join(dir, "dmesg-real.log");
  writeFileSync(clean, fixture.slice(from, to).join("\n") + "\n");

  test("say how many lines were not audit, apart from the errors", () => {
    const r = runCapture(["-f", clean]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("capture: 6 records, 3 structural lines, 0 gaps, 0 errors; 8 lines not audit, skipped");
  }, 30_000);

  test("--strict: a kernel log's other lines are no bad input; a damaged record still is", () => {
    const r = runCapture(["--strict", "-f", clean]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("0 errors; 8 lines not audit, skipped");
    expect(runCapture(["--strict", "-f", join(fixturesDir, "dmesg.log")]).code).toBe(1);
  }, 30_000);
});

// This machine's kernel log, as `dmesg | capture -f -` reads it: no line of it is an error.
const dmesg = Bun.which("dmesg", { PATH: `${process.env.PATH}:/usr/bin:/bin` });
const dmesgRun = dmesg ? Bun.spawnSync([dmesg], { stdout: "pipe", stderr: "pipe" }) : null;
const dmesgSkip =
  dmesg === null
    ? "dmesg not installed"
    : dmesgRun!.exitCode !== 0
      ? `dmesg not readable here (${dmesgRun!.stderr.toString().trim().split("\n")[0]}; kernel.dmesg_restrict lets only root read it)`
      : null;
if (dmesgSkip) console.error(`skip: ${dmesgSkip}: this machine's dmesg not read`);

test.skipIf(dmesgSkip !== null)("dmesg | capture -f -: 0 errors, every other line counted as not audit", () => {
  const text = dmesgRun!.stdout;
  const r = runCapture(["-f", "-"], text);
  expect(r.code).toBe(0);
  const summary = /capture: (\d+) records, (\d+) structural lines, (\d+) gaps, (\d+) errors?(?:; (\d+) lines? not audit, skipped)?/.exec(r.stderr);
  expect(summary, r.stderr).not.toBeNull();
  const [records, structural, , errorCount, notAudit] = summary!.slice(1).map((n) => Number(n ?? 0));
  expect(errorCount).toBe(0);
  const lines = text.toString().replace(/\n$/, "").split("\n").length;
  expect(records! + structural! + notAudit!).toBe(lines);
  expect(r.stdout.split("\n").filter(Boolean).length).toBe(records!);
}, 30_000);
