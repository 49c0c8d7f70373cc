#!/usr/bin/env bun
/**
 * Linearity check: inputs shaped to break a parser or a summary that is
 * quadratic somewhere, each at size n and 4n, timed through decode,
 * attribute and report. A linear path takes about 4× as long on the larger
 * one; a quadratic one about 16×. Start-up (each tool on an empty file) is
 * taken off first, so the ratio is of the work alone.
 *
 * What it has found, and the figures, are in docs/PERFORMANCE.md
 * (Linearity). A line that crosses many chunks is not timed here:
 * test/long-lines.test.ts reads lines in 4 KiB pieces.
 *
 *   bun bench/shapes.ts [--only NAME] [--keep DIR]
 *
 * Exit code 1 when a shape looks superlinear (ratio over 8), so CI or a
 * reviewer can run it as a gate; the figures go to stdout.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const ROOT = resolve(import.meta.dir, "..");
const GROWTH = 4;
/** Over this ratio for a GROWTH× larger input, the work grew faster than linearly. */
const SUPERLINEAR = 8;
/** Work under this many seconds at size n is too short to judge (noise and JIT warm-up dominate). */
const TOO_SHORT = 0.05;
/** A run this long is stopped and counted as failed: no shape here takes a linear path over a few seconds. */
const RUN_LIMIT_SECONDS = 60;

const STAMP = (serial: number, ms = serial) => `msg=audit(${1_700_000_000 + Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}:${serial}): `;
const KILL_FIELDS =
  "arch=c000003e syscall=62 success=yes exit=0 a0=1dfd a1=9 a2=0 a3=0 items=0 ppid=1 pid=7 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts5 ses=7";

function killLine(serial: number, opts: { pid?: number; target?: number; comm?: string; exit?: number; ms?: number } = {}): string {
  const { pid = 7, target = 0x1dfd, comm = "sh", exit = 0, ms = serial } = opts;
  const fields = KILL_FIELDS.replace("pid=7", `pid=${pid}`)
    .replace("a0=1dfd", `a0=${target.toString(16)}`)
    .replace("success=yes exit=0", exit === 0 ? "success=yes exit=0" : `success=no exit=${exit}`);
  return `type=SYSCALL ${STAMP(serial, ms)}${fields} comm="${comm}" exe="/usr/bin/${comm}" key=(null)`;
}

const repeat = (n: number, f: (i: number) => string, sep = " ") => Array.from({ length: n }, (_, i) => f(i)).join(sep);

/**
 * A shape that grows one line, written as this many events: enough work to
 * time, while the line at 4n stays under the 1 MiB a line may have (longer
 * ones are skipped unread, which the nul-run shape covers).
 */
const COPIES = 16;
const copies = (line: (serial: number) => string) => `${Array.from({ length: COPIES }, (_, i) => line(i + 1)).join("\n")}\n`;

interface Shape {
  name: string;
  /** What the input looks like at size n. */
  about: string;
  n: number;
  make(n: number): string;
  tools: readonly Tool[];
}

type Tool = "decode" | "attribute" | "report";
const ALL: readonly Tool[] = ["decode", "attribute", "report"];

const SHAPES: Shape[] = [
  {
    name: "repeated-names",
    about: "records repeating one field name n times",
    n: 20_000,
    make: (n) => copies((serial) => `type=USER_CMD ${STAMP(serial)}pid=1 uid=0 ${repeat(n, () => "a=1")}`),
    tools: ["decode"],
  },
  {
    name: "repeated-names-msg",
    about: "the same inside a user-space msg='…'",
    n: 20_000,
    make: (n) => copies((serial) => `type=USER_CMD ${STAMP(serial)}pid=1 uid=0 msg='${repeat(n, () => "b=2")}'`),
    tools: ["decode"],
  },
  {
    name: "repeated-names-kill",
    about: "kill SYSCALLs repeating a0= n times (attribute decodes them)",
    n: 20_000,
    make: (n) => copies((serial) => `${killLine(serial)} ${repeat(n, () => "a0=1")}`),
    tools: ALL,
  },
  {
    name: "enriched-repeats",
    about: "kill SYSCALLs whose ENRICHED tail repeats UID= n times",
    n: 20_000,
    make: (n) => copies((serial) => `${killLine(serial)}\u001d${repeat(n, () => 'UID="root"')}`),
    tools: ALL,
  },
  {
    name: "bare-words",
    about: "records of n words without =",
    n: 40_000,
    make: (n) => copies((serial) => `type=AVC ${STAMP(serial)}${repeat(n, () => "word")}`),
    tools: ["decode"],
  },
  {
    name: "long-hex",
    about: "kills whose proctitle is n hex-encoded bytes",
    n: 120_000,
    make: (n) => copies((serial) => `${killLine(serial)}\ntype=PROCTITLE ${STAMP(serial)}proctitle=${"41".repeat(n)}`),
    tools: ALL,
  },
  {
    name: "nul-run",
    about: "n bytes of NUL and no newline (what a crash can leave), then a kill",
    n: 20_000_000,
    make: (n) => `${"\0".repeat(n)}\n${killLine(1)}\n`,
    tools: ALL,
  },
  {
    name: "one-stamp",
    about: "a group kill with n OBJ_PID records under one stamp",
    n: 8_000,
    make: (n) => `${killLine(1, { target: 0xffffff00 })}\n${repeat(n, (i) => `type=OBJ_PID ${STAMP(1)}opid=${i + 2} oauid=0 ouid=0 oses=1 obj=unconfined ocomm="x"`, "\n")}\n`,
    tools: ALL,
  },
  {
    name: "open-events",
    about: "n events all open at once (every SYSCALL, then every PROCTITLE)",
    n: 20_000,
    make: (n) =>
      `${repeat(n, (i) => killLine(i + 1, { ms: 0 }), "\n")}\n${repeat(n, (i) => `type=PROCTITLE ${STAMP(i + 1, 0)}proctitle=7368`, "\n")}\n`,
    tools: ALL,
  },
  {
    name: "malformed",
    about: "n lines of garbage (each one reported)",
    n: 50_000,
    make: (n) => `${repeat(n, (i) => `not an audit line ${i}`, "\n")}\n`,
    tools: ALL,
  },
  {
    name: "one-pid-storm",
    about: "n kills of one PID by one killer, most of them ESRCH",
    n: 20_000,
    make: (n) => `${repeat(n, (i) => killLine(i + 1, { exit: i % 4 === 0 ? 0 : -3, ms: i * 10 }), "\n")}\n`,
    tools: ["attribute", "report"],
  },
  {
    name: "many-killers",
    about: "n kills, each by a different process at a different PID",
    n: 20_000,
    make: (n) => `${repeat(n, (i) => killLine(i + 1, { pid: 1000 + i, target: 100_000 + i, comm: `k${i}`, ms: i * 10 }), "\n")}\n`,
    tools: ["attribute", "report"],
  },
  {
    name: "many-hosts",
    about: "n kills, each from a different node=",
    n: 20_000,
    make: (n) => `${repeat(n, (i) => `node=h${i} ${killLine(i + 1, { ms: i * 10 })}`, "\n")}\n`,
    tools: ["attribute", "report"],
  },
  {
    name: "one-serial-hosts",
    about: "n nodes with events of one stamp, all open, then a PROCTITLE for each",
    n: 20_000,
    make: (n) =>
      `${repeat(n, (i) => `node=h${i} ${killLine(5, { ms: 0 })}`, "\n")}\n${repeat(n, (i) => `node=h${i} type=PROCTITLE ${STAMP(5, 0)}proctitle=7368`, "\n")}\n`,
    tools: ALL,
  },
  {
    name: "execve-chain",
    about: "n execve events, each by the child of the last, then kills by the newest",
    n: 20_000,
    make: (n) => {
      const lines: string[] = [];
      for (let i = 0; i < n; i++) {
        const serial = i + 1;
        lines.push(
          `type=SYSCALL ${STAMP(serial, i * 10)}arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 items=2 ppid=${100 + i} pid=${101 + i} auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="sh" exe="/usr/bin/dash" key=(null)`,
          `type=EXECVE ${STAMP(serial, i * 10)}argc=2 a0="sh" a1="-c"`,
          `type=PROCTITLE ${STAMP(serial, i * 10)}proctitle=7368002D63`,
        );
        if (i % 10 === 9) lines.push(killLine(n + serial, { pid: 101 + i, ms: i * 10 + 1 }));
      }
      return `${lines.join("\n")}\n`;
    },
    tools: ["attribute", "report"],
  },
];

interface Timing {
  seconds: number;
  /** Peak resident set, MB. */
  rssMb: number;
  exitCode: number;
  stderrTail: string;
}

/** GNU time reports each run's own peak RSS (a spawn's resourceUsage is the maximum over all children so far). */
const GNU_TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : null;

function run(tool: Tool, file: string): Timing {
  const args = [process.execPath, join(ROOT, "scripts", `${tool}.ts`), "--no-lookup"];
  if (GNU_TIME) args.unshift(GNU_TIME, "-f", "wk-peak-kb %M");
  if (tool !== "decode") args.push("--probes");
  args.push(file);
  const started = performance.now();
  const child = Bun.spawnSync(args, { stdout: "ignore", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" }, timeout: RUN_LIMIT_SECONDS * 1000 });
  const seconds = (performance.now() - started) / 1000;
  const stderr = child.stderr.toString();
  const peak = /wk-peak-kb (\d+)\s*$/.exec(stderr);
  const rssMb = peak ? Number(peak[1]) / 1000 : Number.NaN;
  if (child.exitCode === null) return { seconds, rssMb, exitCode: -1, stderrTail: `stopped after ${RUN_LIMIT_SECONDS} s` };
  return { seconds, rssMb, exitCode: child.exitCode, stderrTail: stderr.replace(/wk-peak-kb \d+\s*$/, "").slice(-300) };
}

/** The lower of two runs: the machine's noise only ever adds. */
function best(tool: Tool, file: string): Timing {
  const a = run(tool, file);
  if (a.exitCode !== 0 && a.exitCode !== 3) return a;
  const b = run(tool, file);
  return a.seconds <= b.seconds ? a : b;
}

function main(): void {
  const { values } = parseArgs({ options: { only: { type: "string" }, keep: { type: "string" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    process.stdout.write("usage: bun bench/shapes.ts [--only NAME] [--keep DIR]\n");
    for (const shape of SHAPES) process.stdout.write(`  ${shape.name.padEnd(20)} ${shape.about}\n`);
    return;
  }
  const shapes = values.only ? SHAPES.filter((s) => s.name === values.only) : SHAPES;
  if (shapes.length === 0) throw new Error(`no shape named ${values.only}`);
  const dir = values.keep ?? mkdtempSync(join(tmpdir(), "wk-shapes-"));
  mkdirSync(dir, { recursive: true });
  const empty = join(dir, "empty.log");
  writeFileSync(empty, "");
  const startup = new Map<Tool, number>();
  for (const tool of ALL) startup.set(tool, best(tool, empty).seconds);

  const header = `${"shape".padEnd(20)}  ${"tool".padEnd(9)}  ${"n".padStart(7)}  ${"work s (n)".padStart(10)}  ${`work s (${GROWTH}n)`.padStart(10)}  ${"ratio".padStart(6)}  ${"MB (n)".padStart(6)}  ${`MB (${GROWTH}n)`.padStart(7)}  verdict`;
  process.stdout.write(`start-up taken off: ${ALL.map((t) => `${t} ${startup.get(t)!.toFixed(2)} s`).join(", ")}\n`);
  process.stdout.write(`a linear path gives a ratio near ${GROWTH}, a quadratic one near ${GROWTH * GROWTH}\n\n${header}\n${"-".repeat(header.length)}\n`);
  let superlinear = 0;
  try {
    for (const shape of shapes) {
      const small = join(dir, `${shape.name}-n.log`);
      const large = join(dir, `${shape.name}-${GROWTH}n.log`);
      writeFileSync(small, shape.make(shape.n));
      writeFileSync(large, shape.make(GROWTH * shape.n));
      for (const tool of shape.tools) {
        const base = startup.get(tool)!;
        const a = best(tool, small);
        // Stuck already at size n: the larger run would only take longer.
        const b = a.exitCode === -1 ? a : best(tool, large);
        const failed = [a, b].find((t) => t.exitCode !== 0 && t.exitCode !== 3);
        const workA = Math.max(0, a.seconds - base);
        const workB = Math.max(0, b.seconds - base);
        const ratio = workA > 0 ? workB / workA : Number.POSITIVE_INFINITY;
        let verdict: string;
        if (failed) verdict = `FAILED (exit ${failed.exitCode}): ${failed.stderrTail.trim().split("\n").pop()}`;
        else if (workB < TOO_SHORT * GROWTH) verdict = "linear (too quick to tell more)";
        else if (workA < TOO_SHORT) verdict = ratio > SUPERLINEAR * 2 ? "SUPERLINEAR?" : "linear";
        else verdict = ratio > SUPERLINEAR ? "SUPERLINEAR" : "linear";
        if (failed || verdict.startsWith("SUPERLINEAR")) superlinear++;
        process.stdout.write(
          `${shape.name.padEnd(20)}  ${tool.padEnd(9)}  ${String(shape.n).padStart(7)}  ${workA.toFixed(3).padStart(10)}  ${workB.toFixed(3).padStart(10)}  ${(Number.isFinite(ratio) ? ratio.toFixed(1) : "-").padStart(6)}  ${a.rssMb.toFixed(0).padStart(6)}  ${b.rssMb.toFixed(0).padStart(7)}  ${verdict}\n`,
        );
      }
    }
  } finally {
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`\n${superlinear === 0 ? "every shape linear" : `${superlinear} superlinear or failed`}\n`);
  if (superlinear > 0) process.exitCode = 1;
}

main();
