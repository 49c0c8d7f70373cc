/**
 * The benchmark's log generator: same seed, same bytes; and real ausearch
 * accepts every event it writes and finds the kill-family calls it counted,
 * so the benchmark's sanity figures rest on something checked.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_SEED, KILL_SYSCALLS, generateString, needsHex, proctitle, untrusted } from "../bench/gen-log.ts";
import { generateStorm } from "../bench/gen-storm.ts";
import { DEFAULT_CORPUS_DIR, generateCorpusLog } from "../bench/gen-corpus.ts";
import { attributeFiles } from "./helpers/run.ts";

const LINES = 2000;
const ausearch = Bun.which("ausearch", { PATH: `${process.env.PATH}:/usr/sbin:/sbin` });
const ausearchSkip = ausearch ? null : "ausearch not installed (apt-get install -y auditd)";
if (ausearchSkip) console.error(`skip: ${ausearchSkip}: the generators' logs are not checked against it`);

const dir = mkdtempSync(join(tmpdir(), "wk-bench-gen-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bench/gen-log.ts", () => {
  const a = generateString({ seed: DEFAULT_SEED, lines: LINES });

  test("same seed, same bytes; another seed, other bytes", () => {
    const b = generateString({ seed: DEFAULT_SEED, lines: LINES });
    expect(b.text).toBe(a.text);
    expect(b.stats).toEqual(a.stats);
    expect(generateString({ seed: DEFAULT_SEED + 1, lines: LINES }).text).not.toBe(a.text);
  });

  test("counts in the stamp match the text", () => {
    const lines = a.text.split("\n").slice(0, -1);
    expect(lines.length).toBe(a.stats.lines);
    expect(a.stats.lines).toBeGreaterThanOrEqual(LINES);
    expect(Buffer.byteLength(a.text)).toBe(a.stats.bytes);
    const ids = new Set(lines.map((l) => /msg=audit\(([^)]+)\)/.exec(l)?.[1]));
    expect(ids.size).toBe(a.stats.events);
    expect(lines.filter((l) => l.includes("\x1d")).length).toBe(a.stats.enrichedLines);
    const killSyscalls = lines.filter((l) => /^type=SYSCALL .* syscall=(62|200|234|129|297|424|37|238|270|178|335) /.test(l) && / arch=(c000003e|40000003) /.test(l));
    // x86_64 numbers and i386 numbers must each only appear with their own arch.
    const killByArch = killSyscalls.filter((l) =>
      / arch=c000003e syscall=(62|200|234|129|297|424) /.test(l) || / arch=40000003 syscall=(37|238|270|178|335|424)[ ]/.test(l),
    );
    expect(killByArch.length).toBe(a.stats.kill.total);
    expect(a.stats.kill.total).toBeGreaterThan(0);
  });

  test("the kernel's hex rule for untrusted strings", () => {
    expect(untrusted("sleep")).toBe('"sleep"');
    expect(untrusted("Web Content")).toBe("57656220436F6E74656E74");
    expect(untrusted('a"b')).toBe("612262");
    expect(untrusted("naïve")).toBe("6E61C3AF7665");
    expect(needsHex("~!")).toBe(false);
    expect(proctitle(["-bash"])).toBe('"-bash"');
    expect(proctitle(["sleep", "30"])).toBe("736C656570003330");
    expect(proctitle(["x".repeat(200)]).length).toBe(128 + 2);
  });

  describe.skipIf(ausearchSkip !== null)(`ausearch accepts the sample${ausearchSkip ? ` (skipped: ${ausearchSkip})` : ""}`, () => {
    const file = join(dir, "sample.log");
    writeFileSync(file, a.text);
    const env = { ...process.env, TZ: "UTC", LC_ALL: "C" };
    const run = (...args: string[]) => {
      const r = Bun.spawnSync([ausearch!, "-if", file, ...args], { env, stdout: "pipe", stderr: "pipe" });
      const stdout = r.stdout.toString();
      const stderr = r.stderr.toString();
      // rc 1 with "<no matches>" is ausearch's way of saying zero.
      if (r.exitCode !== 0 && !(r.exitCode === 1 && stderr.includes("<no matches>"))) throw new Error(`ausearch ${args.join(" ")}: exit ${r.exitCode}: ${stderr}`);
      return { stdout, blocks: stdout.split("\n").filter((l) => l.startsWith("----")).length };
    };

    test("every line and every event", () => {
      expect(run("--raw").stdout.split("\n").filter(Boolean).length).toBe(a.stats.lines);
      expect(run().blocks).toBe(a.stats.ausearchEvents);
      expect(run("-i").blocks).toBe(a.stats.ausearchEvents);
    });

    test("every kill-family call, per ABI and syscall", () => {
      const found: Record<string, number> = {};
      for (const abi of ["b64", "b32"]) for (const name of KILL_SYSCALLS) found[`${abi} ${name}`] = run("--arch", abi, "-sc", name).blocks;
      expect(found).toEqual(a.stats.kill.byAbiName);
      expect(run("-sc", "kill", "-i").blocks).toBe(a.stats.kill.byAbiName["b64 kill"]!);
    });
  });
});

describe("bench/gen-storm.ts", () => {
  const write = (kills: number) => {
    const lines: string[] = [];
    const stats = generateStorm(kills, (line) => lines.push(line));
    return { text: lines.join("\n") + "\n", stats };
  };
  const storm = write(3000);

  test("the same log every time, and counts that match its text", () => {
    expect(write(3000).text).toBe(storm.text);
    const lines = storm.text.split("\n").slice(0, -1);
    expect(lines.length).toBe(storm.stats.lines);
    expect(Buffer.byteLength(storm.text)).toBe(storm.stats.bytes);
    expect(lines.filter((l) => l.startsWith("type=SYSCALL")).length).toBe(3000);
    expect(lines.filter((l) => l.startsWith("type=OBJ_PID")).length).toBe(storm.stats.hits);
    expect(lines.filter((l) => l.includes(" exit=-3 ")).length).toBe(storm.stats.esrch);
    expect(storm.stats.hits + storm.stats.esrch).toBe(3000);
  });

  test("attribute names roxen as the killer of every call", async () => {
    const path = join(dir, "storm.log");
    writeFileSync(path, storm.text);
    const { signals, errors } = await attributeFiles([path]);
    expect(errors).toBe(0);
    expect(signals.length).toBe(3000);
    expect(new Set(signals.map((s) => `${s.killer.pid} ${s.killer.comm} ${s.killer.user}`))).toEqual(new Set(["4299 roxen root"]));
    expect(signals.filter((s) => s.result.errno === "ESRCH").length).toBe(storm.stats.esrch);
    expect(signals.filter((s) => s.victims.length === 1).length).toBe(storm.stats.hits);
  });

  test.skipIf(ausearchSkip !== null)("ausearch finds every call", () => {
    const path = join(dir, "storm-ausearch.log");
    writeFileSync(path, storm.text);
    const run = Bun.spawnSync([ausearch!, "-if", path, "-sc", "kill", "-i"], { stdout: "pipe", stderr: "pipe", env: { ...process.env, TZ: "UTC" } });
    expect(run.stdout.toString().split("\n").filter((l) => l === "----").length).toBe(3000);
  });
});

describe("bench/gen-corpus.ts", () => {
  test("real records, fresh stamps, nothing merged", () => {
    const run = () => {
      const lines: string[] = [];
      const stats = generateCorpusLog(DEFAULT_CORPUS_DIR, 3000, (line) => lines.push(line));
      return { lines, stats };
    };
    const { lines, stats } = run();
    expect(run().lines).toEqual(lines);
    expect(stats.lines).toBe(lines.length);
    expect(lines.length).toBeGreaterThanOrEqual(3000);
    expect(stats.bytes).toBe(lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0));
    const stamp = /msg=audit\((\d+)\.(\d{3}):(\d+)\)/;
    // A fresh stamp per (file, stamp) pair of the corpus: one time per serial, and each serial's
    // records all come from one place (the source's own order kept, interleaving included).
    const msBySerial = new Map<number, number>();
    for (const line of lines) {
      const m = stamp.exec(line)!;
      expect(m).not.toBeNull();
      expect(line).not.toMatch(/^(node=\S+ )?type=EOE /);
      const serial = Number(m[3]);
      const ms = Number(m[1]) * 1000 + Number(m[2]);
      expect(msBySerial.get(serial) ?? ms).toBe(ms);
      msBySerial.set(serial, ms);
    }
    const serials = [...msBySerial.keys()].sort((a, b) => a - b);
    expect(serials.map((serial) => msBySerial.get(serial)!)).toEqual([...msBySerial.values()].sort((a, b) => a - b));
    // Every copy holds the corpus's records in the same order; only the stamps differ.
    expect(stats.records).toBeGreaterThan(100);
    const copy = (k: number) => lines.slice(k * stats.records, (k + 1) * stats.records).map((l) => l.replace(stamp, ""));
    expect(copy(1)).toEqual(copy(0));
    expect(new Set(lines.slice(0, stats.records)).size).toBe(stats.records);
  });
});
