/**
 * The kernel OOM killer, confirmed by the kernel's own report: the kernel
 * log's OOM lines → KERNEL_OOM records → a `signal` line from the kernel →
 * the oom-kill finding; paired with tracefs's SI_KERNEL SIGKILL to the same
 * process. Unit tests on the lines measured on this machine
 * (/work/shared/KERNEL-FACTS.md) and their dmesg -T / kern.log / journalctl
 * -k forms, then a live OOM kill in a memory cgroup this test makes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputErrors } from "../lib/audit/input-errors.ts";
import { kernelLogStamp, OomJoiner, parseMemcgUsage, parseOomInvoked, parseOomKill, parseOomKilled } from "../lib/sources/kernel-oom.ts";
import { lineToRecord } from "../lib/sources/record-lines.ts";
import type { RecordLine } from "../lib/schema.ts";
import { makeMemoryCgroup, memoryCgroupSkipReason } from "./helpers/cgroup.ts";

// Real lines from this machine (KERNEL-FACTS.md: an OOM kill in a v1 memory cgroup).
const INVOKED = "hog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0";
const OOM_KILL = "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/fvoom,task_memcg=/fvoom,task=hog,pid=26140,uid=0";
const KILLED = "Memory cgroup out of memory: Killed process 26140 (hog) total-vm:207280kB, anon-rss:50944kB, file-rss:928kB, shmem-rss:0kB, UID:0 pgtables:156kB oom_score_adj:0";
// mem_cgroup_print_oom_meminfo()'s line, as the live test below sees it.
const USAGE = "memory: usage 32768kB, limit 32768kB, failcnt 1093";
const OTHER = "CPU: 1 PID: 26140 Comm: hog Not tainted 6.18.0 #1";
const REAPED = "oom_reaper: reaped process 26140 (hog), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB";

/** The report's lines in each kernel-log form. dmesg is this machine's; the others are hand-made from it in the forms line.ts documents. */
const FORMS: Record<string, { line: (message: string, i: number) => string; boot: number | null; time: string | null }> = {
  dmesg: { line: (m, i) => `[  440.10${i}000] ${m}`, boot: 440.105, time: null },
  "dmesg -T": { line: (m) => `[Mon Dec  7 00:36:12 2026] ${m}`, boot: null, time: null },
  "dmesg -x": { line: (m, i) => `kern  :err   : [  440.10${i}000] ${m}`, boot: 440.105, time: null },
  "dmesg --time-format iso": { line: (m) => `2026-12-07T00:36:12,100000+00:00 ${m}`, boot: null, time: "2026-12-07T00:36:12.100Z" },
  "kern.log": { line: (m, i) => `Dec  7 00:36:12 vm1 kernel: [  440.10${i}000] ${m}`, boot: 440.105, time: null },
  "kern.log rfc3339": { line: (m) => `2026-12-07T00:36:12.100000+00:00 vm1 kernel: ${m}`, boot: null, time: "2026-12-07T00:36:12.100Z" },
  "journalctl -k": { line: (m) => `Dec 07 00:36:12 vm1 kernel: ${m}`, boot: null, time: null },
  "journalctl -k -o short-monotonic": { line: (m, i) => `[  440.10${i}000] vm1 kernel: ${m}`, boot: 440.105, time: null },
};

function toRecords(lines: string[]): { records: RecordLine[]; notAudit: number; messages: string[] } {
  const messages: string[] = [];
  const errors = new InputErrors({ strict: false, print: (m) => messages.push(m) });
  const stats = { records: 0, structural: 0 };
  const oom = new OomJoiner();
  const records: RecordLine[] = [];
  lines.forEach((text, i) => {
    const record = lineToRecord(text, { file: "kern.log", line: i + 1 }, errors, stats, oom);
    if (record) records.push(record);
  });
  return { records, notAudit: errors.notAudit, messages };
}

function run(argv: string[], stdin?: string): { code: number; stdout: string; stderr: string } {
  const out = Bun.spawnSync(argv, { stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stdout: "pipe", stderr: "pipe" });
  return { code: out.exitCode ?? -1, stdout: out.stdout.toString(), stderr: out.stderr.toString() };
}

const BUN = "./node_modules/.bin/bun";

/** raw kernel log → capture → report --format json. */
function reportOf(text: string): any {
  const captured = run([BUN, "scripts/capture.ts", "-f", "-"], text);
  expect(captured.code, captured.stderr).toBe(0);
  const reported = run([BUN, "scripts/report.ts", "--format", "json"], captured.stdout);
  expect(reported.code, reported.stderr).toBe(0);
  return JSON.parse(reported.stdout);
}

/** report alone: it reads raw kernel-log text and `record` lines alike. */
function reportDirect(text: string): any {
  const reported = run([BUN, "scripts/report.ts", "--format", "json"], text);
  expect(reported.code, reported.stderr).toBe(0);
  return JSON.parse(reported.stdout);
}

describe("OOM report lines", () => {
  test("the real lines parse", () => {
    expect(parseOomInvoked(INVOKED)).toEqual({ comm: "hog", gfpMask: "0xcc0(GFP_KERNEL)", order: 0, oomScoreAdj: 0 });
    expect(parseOomKill(OOM_KILL)).toEqual({ constraint: "CONSTRAINT_MEMCG", oomMemcg: "/fvoom", taskMemcg: "/fvoom", comm: "hog", pid: 26140, uid: 0 });
    expect(parseOomKilled(KILLED)).toEqual({
      reason: "Memory cgroup out of memory", pid: 26140, comm: "hog", totalVmKb: 207280, anonRssKb: 50944, fileRssKb: 928, shmemRssKb: 0, uid: 0, oomScoreAdj: 0,
    });
    expect(parseMemcgUsage(USAGE)).toEqual({ usageKb: 32768, limitKb: 32768, failcnt: 1093 });
    expect(parseOomKilled(OTHER)).toBeNull();
  });

  test("a global OOM: hand-made from the kernel's format (mm/oom_kill.c), no oom_memcg", () => {
    const kill = "oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/user.slice,task=java,pid=4242,uid=1000";
    expect(parseOomKill(kill)).toEqual({ constraint: "CONSTRAINT_NONE", oomMemcg: null, taskMemcg: "/user.slice", comm: "java", pid: 4242, uid: 1000 });
    expect(parseOomKilled("Out of memory: Killed process 4242 (java) total-vm:9000000kB, anon-rss:7000000kB, file-rss:0kB, shmem-rss:0kB, UID:1000 pgtables:20000kB oom_score_adj:0"))
      .toMatchObject({ reason: "Out of memory", pid: 4242, comm: "java", anonRssKb: 7000000, uid: 1000 });
  });

  for (const [form, { line, boot, time }] of Object.entries(FORMS)) {
    test(`${form}: one KERNEL_OOM record per kill, other kernel lines skipped`, () => {
      const lines = [INVOKED, OTHER, USAGE, OOM_KILL, KILLED, REAPED].map((m, i) => line(m, i));
      const { records, notAudit, messages } = toRecords(lines);
      expect(messages).toEqual([]);
      expect(records.length).toBe(1);
      const record = records[0]!;
      expect(record.type).toBe("KERNEL_OOM");
      // Evidence: the invoked, usage, oom-kill: and Killed lines, as read.
      expect(record.raw.split("\n")).toEqual([lines[0]!, lines[2]!, lines[3]!, lines[4]!]);
      expect(record.source).toEqual({ file: "kern.log", line: 5 });
      // Every other line is counted (the evidence lines too: they are not records of their own).
      expect(notAudit).toBe(5);
      expect(kernelLogStamp(lines[4]!)?.bootSeconds ?? null).toBe(boot === null ? null : 440.104);
      expect(record.time ?? null).toBe(time);
      // A relative time never looks like audit's seconds since 1970.
      if (time === null) expect(record.id).not.toMatch(/^\d+\.\d+:\d+$/);
    });
  }

  test("a Killed line whose oom-kill: line names another pid keeps only its own line", () => {
    const { records } = toRecords([`[  1.0] ${OOM_KILL.replace("pid=26140", "pid=1")}`, `[  1.1] ${KILLED}`]);
    expect(records.map((r) => r.raw)).toEqual([`[  1.1] ${KILLED}`]);
  });
});

describe("attribute and report", () => {
  const dmesg = [INVOKED, USAGE, OOM_KILL, KILLED, REAPED].map((m, i) => `[  440.10${i}000] ${m}`).join("\n") + "\n";

  test("journalctl -k -o json: the kernel's messages read as a kern.log; the same report, with the wall time", () => {
    // journald's fields for a kernel message (systemd.journal-fields(7)); audit entries beside them are still audit records.
    const entry = (message: string, i: number) =>
      JSON.stringify({ __REALTIME_TIMESTAMP: String(1796604972100000 + i * 1000), _TRANSPORT: "kernel", _HOSTNAME: "vm1", PRIORITY: "3", SYSLOG_IDENTIFIER: "kernel", MESSAGE: message });
    const journal = [INVOKED, OTHER, USAGE, OOM_KILL, KILLED, REAPED].map(entry).join("\n") + "\n";
    const report = reportOf(journal);
    const oom = report.findings.filter((f: any) => f.id === "oom-kill");
    expect(oom.length).toBe(1);
    expect(oom[0].headline).toStartWith("The kernel's OOM killer killed hog (pid 26140) in memory cgroup /fvoom");
    expect(oom[0].evidence.notes).toContain(`Kernel log: 2026-12-07T00:56:12.104000+00:00 vm1 kernel: ${KILLED}`);
    expect(report.summary.totals.first).toBe("2026-12-07T00:56:12.104Z");
  });

  test("a signal from the kernel with cause oom, and the oom-kill finding", () => {
    const captured = run([BUN, "scripts/capture.ts", "-f", "-"], dmesg);
    const attributed = run([BUN, "scripts/attribute.ts"], captured.stdout);
    expect(attributed.code, attributed.stderr).toBe(0);
    const signal = JSON.parse(attributed.stdout.trim());
    expect(signal).toMatchObject({
      kind: "signal", time: null, bootSeconds: 440.103, source: "kernel-log", signal: { nr: 9, name: "SIGKILL" },
      killer: { pid: null, comm: "[kernel]" }, target: { pid: 26140, scope: "process" }, victims: [{ pid: 26140, comm: "hog", uid: 0 }],
      cause: { kind: "oom", rule: "oom-kill", oom: { constraint: "CONSTRAINT_MEMCG", memcg: "/fvoom", taskMemcg: "/fvoom", anonRssKb: 50944, fileRssKb: 928, totalVmKb: 207280, limitKb: 32768, usageKb: 32768 } },
    });
    const report = reportOf(dmesg);
    expect(report.summary.totals.sources).toEqual({ audit: 0, tracefs: 0, "kernel-log": 1 });
    const oom = report.findings.filter((f: any) => f.id === "oom-kill");
    expect(oom.length).toBe(1);
    expect(oom[0].headline).toBe(
      "The kernel's OOM killer killed hog (pid 26140) in memory cgroup /fvoom: the cgroup hit its memory limit, limit 32 MiB (usage 32 MiB); its memory then: anon-rss 49.8 MiB, file-rss 928 kB, total-vm 202.4 MiB",
    );
    expect(oom[0].evidence.notes).toContain(`Kernel log: [  440.103000] ${KILLED}`);
    expect(oom[0].advice).toContain("memory.max");
    expect(oom[0].advice).toContain("oom_score_adj");
  });

  test("tracefs's SI_KERNEL SIGKILL to the same pid is paired with the report: counted once, no blind-spot guess", () => {
    const tracefs: RecordLine = {
      kind: "record", type: "SIGNAL_GENERATE", id: "1796603772.100:1", node: null,
      raw: "hog-26140 [001] d..1. 440.103000: signal_generate: sig=9 errno=0 code=128 comm=hog pid=26140 grp=1 res=0",
      source: { file: "tracefs", line: 1 }, time: "2026-12-07T00:36:12.100Z",
    };
    const alone = reportDirect(`${JSON.stringify(tracefs)}\n`);
    expect(alone.findings.map((f: any) => f.id)).toContain("blind-spot");
    for (const text of [`${JSON.stringify(tracefs)}\n${dmesg}`, `${dmesg}${JSON.stringify(tracefs)}\n`]) {
      const report = reportDirect(text);
      expect(report.summary.totals.signals).toBe(1);
      expect(report.crossCheck.merged).toBe(1);
      expect(report.findings.map((f: any) => f.id)).toEqual(["oom-kill"]);
    }
  });
});

// --- live: a real OOM kill in a memory cgroup this test makes ---

function liveSkipReason(): string | null {
  const cgroup = memoryCgroupSkipReason();
  if (cgroup) return cgroup;
  if (run(["dmesg"]).code !== 0) return "dmesg is not readable here";
  if (run(["python3", "-c", "pass"]).code !== 0) return "no python3 for the memory hog";
  return null;
}

const liveSkip = liveSkipReason();
if (liveSkip) console.error(`skip: live OOM-kill test: ${liveSkip}`);
const dir = mkdtempSync(join(tmpdir(), "wk-oom-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("live", () => {
  test.skipIf(liveSkip !== null)("an OOM kill in a 32 MiB cgroup: dmesg | capture | report names the hog, its pid and the cgroup", async () => {
    const name = `whokilled-test-oomkill-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const cgroup = makeMemoryCgroup(name, 32 * 1024 * 1024);
    for (const note of cgroup.notes) console.error(`live OOM-kill test: ${note}`);
    let pid = 0;
    try {
      // A fresh process joins the cgroup, then becomes the hog (same pid; nothing allocated outside the limit).
      const hog = "a=[]\nwhile True: a.append(bytearray(1<<20))";
      const child = Bun.spawn(["sh", "-c", 'echo $$ > "$1" && exec python3 -c "$2"', "sh", cgroup.procs, hog], { stdout: "ignore", stderr: "ignore" });
      pid = child.pid;
      await Promise.race([child.exited, Bun.sleep(20_000).then(() => child.kill(9))]);
      expect(child.signalCode).toBe("SIGKILL");
    } finally {
      cgroup.remove();
    }
    expect(existsSync(cgroup.dir)).toBe(false);
    // The kernel prints the report as it kills; give the log a moment.
    let finding: any;
    for (let attempt = 0; attempt < 20 && !finding; attempt++) {
      // Only this kill's report: a machine's log may hold many earlier OOM kills, which the report would fold into one finding.
      const lines = run(["dmesg"]).stdout.split("\n");
      const killed = lines.findLastIndex((l) => l.includes(`Killed process ${pid} (`));
      if (killed < 0) {
        await Bun.sleep(250);
        continue;
      }
      let start = killed;
      while (start > 0 && !lines[start]!.includes("invoked oom-killer")) start--;
      const ours = lines.slice(start, killed + 1).join("\n") + "\n";
      writeFileSync(join(dir, "dmesg.txt"), ours);
      const report = reportOf(ours);
      finding = report.findings.find((f: any) => f.id === "oom-kill" && f.target?.pid === pid);
      if (!finding) await Bun.sleep(250);
    }
    expect(finding, `an oom-kill finding for pid ${pid}`).toBeDefined();
    console.error(`live OOM-kill (cgroup v${cgroup.version}): ${finding.headline}`);
    expect(finding.headline).toContain(`killed python3 (pid ${pid}) in memory cgroup /${name}`);
    expect(finding.headline).toContain("limit 32 MiB");
    expect(finding.evidence.notes.some((n: string) => n.includes(`Killed process ${pid} (python3)`))).toBe(true);
  }, 60_000);
});
