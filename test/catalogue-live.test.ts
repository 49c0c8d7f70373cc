/**
 * The killer catalogue on the real kernel: timeout(1), pkill -f from a
 * cron-like parent script, and a shell loop that kills and restarts its
 * child. Our own rules (a run-unique key: the kill family through
 * setup-rule, plus execve so the log has each process's parent), records
 * read over netlink, and `scripts/report.ts` run on them as a user would.
 * Each scenario starts from a fresh process (spawned after audit is on).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RecordLine } from "../lib/schema.ts";
import type { Finding } from "../lib/signals/findings.ts";
import { addRuleNow, auditSkipReason, removeKeyNow, removeOnExit, startRecordCollector, trackedChildren, uniqueKey, waitFor } from "./helpers/live.ts";

const skip = auditSkipReason();
if (skip) console.error(`skip: live killer-catalogue tests: ${skip}`);

const key = uniqueKey("catalogue");
// execve under the same key, so the log has each process's parent; removed with the key's other rules.
const EXECVE_RULE = ["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", `key=${key}`];
let collector: ReturnType<typeof startRecordCollector> | null = null;
let records: RecordLine[] = [];
const children = trackedChildren();
let dir = "";

function run(argv: string[]): { code: number; stdout: string; stderr: string } {
  const out = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  return { code: out.exitCode ?? -1, stdout: out.stdout.toString(), stderr: out.stderr.toString() };
}


beforeAll(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), "wk-catalogue-"));
  removeOnExit(key);
  const install = run(["./node_modules/.bin/bun", "scripts/setup-rule.ts", "install", "--key", key]);
  expect(install.code, install.stderr).toBe(0);
  addRuleNow(EXECVE_RULE);
  collector = startRecordCollector();
  records = collector.records;
  await collector.ready;
});

afterAll(async () => {
  await collector?.stop();
  await children.killAll();
  if (!skip) removeKeyNow(key);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Wait until a kill by `pid` is in the records (the kernel writes PROCTITLE last). */
async function killsBy(pid: number, count = 1): Promise<void> {
  const found = await waitFor(() => {
    const n = records.filter((r) => r.type === "SYSCALL" && r.raw.includes(` pid=${pid} `) && / syscall=(62|200|234|129|297|424) /.test(r.raw)).length;
    return n >= count ? true : undefined;
  }, 15_000);
  expect(found, `kill records from pid ${pid}`).toBe(true);
  await Bun.sleep(300);
}

/** report on everything captured so far: its JSON findings and its text. */
function report(): { findings: Finding[]; text: string } {
  const file = join(dir, `records-${records.length}.jsonl`);
  writeFileSync(file, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
  const json = run(["./node_modules/.bin/bun", "scripts/report.ts", "--format", "json", "-f", file]);
  expect(json.code, json.stderr).toBe(0);
  const text = run(["./node_modules/.bin/bun", "scripts/report.ts", "-f", file]);
  return { findings: JSON.parse(json.stdout).findings, text: text.stdout };
}

describe.skipIf(skip !== null)("the killer catalogue on the real kernel", () => {
  test("timeout 1 sleep 10: timeout(1), its limit, SIGTERM then SIGCONT", async () => {
    const child = children.add(Bun.spawn(["timeout", "1", "sleep", "10"], { stdout: "ignore", stderr: "ignore" }));
    expect(await child.exited).toBe(124);
    await killsBy(child.pid, 2);
    const { findings, text } = report();
    const found = findings.find((f) => f.id === "timeout" && f.killer?.pids.includes(child.pid));
    expect(found, text).toBeDefined();
    expect(found!.headline).toMatch(new RegExp(`^timeout\\(1\\) \\(pid ${child.pid}\\) stopped "sleep 10" when its 1 s time limit ran out: SIGTERM to sleep \\(pid \\d+\\)`));
    expect(found!.evidence.notes).toContain('Command line: "timeout 1 sleep 10"');
    expect(found!.evidence.notes.some((n) => /^sleep \(pid \d+\): SIGTERM, then SIGCONT/.test(n))).toBe(true);
    expect(found!.evidence.counts).toMatchObject({ limitMs: 1000, SIGTERM: expect.any(Number), SIGCONT: expect.any(Number) });
    expect(found!.evidence.examples.length).toBeGreaterThan(0);
    expect(text).toContain("timeout(1) ended a command at its time limit");
  }, 30_000);

  test("timeout -k: the follow-up SIGKILL when the command ignores SIGTERM", async () => {
    const child = children.add(Bun.spawn(["timeout", "-k", "1", "0.5", "sh", "-c", "trap '' TERM; sleep 5"], { stdout: "ignore", stderr: "ignore" }));
    expect(await child.exited).toBe(137);
    await killsBy(child.pid, 3);
    const { findings, text } = report();
    const found = findings.find((f) => f.id === "timeout" && f.killer?.pids.includes(child.pid));
    expect(found, text).toBeDefined();
    expect(found!.headline).toContain("when its 500 ms time limit ran out: SIGTERM to sh (pid");
    // Measured between audit stamps, which come from a coarse clock (a few ms early): -k 1 can read 996 ms.
    expect(found!.headline).toMatch(/then SIGKILL (1(\.\d)? s|9[5-9]\d ms) later \(-k\)$/);
    expect(found!.evidence.notes.some((n) => /^-k 1: the command was still running (1(\.\d)? s|9[5-9]\d ms) after /.test(n))).toBe(true);
  }, 30_000);

  test("pkill -f from a cron-like parent script: the pattern, the script, and the over-broad match", async () => {
    const pattern = `wk-pk-${Math.random().toString(36).slice(2, 8)}`;
    const victims = [1, 2].map(() => children.add(Bun.spawn(["bash", "-c", `exec -a ${pattern}-victim sleep 60`], { stdout: "ignore", stderr: "ignore" })));
    await waitFor(() => (run(["pgrep", "-f", pattern]).stdout.trim().split("\n").length >= 2 ? true : undefined));
    // cron runs `sh -c 'COMMAND'`; the `; true` keeps sh from exec'ing pkill, so sh holds the pattern in its own argv.
    const cron = children.add(Bun.spawn(["bash", "-c", `exec -a cron-wrapper sh -c 'pkill -f ${pattern}; true'`], { stdout: "ignore", stderr: "ignore" }));
    await cron.exited;
    for (const victim of victims) expect(await victim.exited).not.toBe(0);
    const pkillPid = await waitFor(() => {
      const line = records.find((r) => r.type === "SYSCALL" && r.raw.includes(' comm="pkill"') && r.raw.includes(` ppid=${cron.pid} `));
      return line ? Number(/ pid=(\d+)/.exec(line.raw)![1]) : undefined;
    }, 15_000);
    expect(pkillPid).toBeDefined();
    await killsBy(pkillPid!, 3);
    const { findings, text } = report();
    const found = findings.find((f) => f.id === "pkill" && f.killer?.pids.includes(pkillPid!));
    expect(found, text).toBeDefined();
    expect(found!.severity).toBe("warning");
    expect(found!.headline).toContain(`pkill (pid ${pkillPid}, uid 0 root`);
    expect(found!.headline).toContain(`run by sh[${cron.pid}] "cron-wrapper -c pkill -f ${pattern}; true"`);
    expect(found!.headline).toContain(`sent SIGTERM to 3 processes matching -f "${pattern}"`);
    expect(found!.headline).toContain(`it hit its own parent sh (pid ${cron.pid})`);
    expect(found!.headline).toContain("2 victims matched only by command line");
    for (const victim of victims) expect(found!.headline).toContain(`sleep (pid ${victim.pid})`);
    expect(found!.evidence.counts).toMatchObject({ victims: 3, ownParentHit: 1, matchedByCommandLineOnly: 2, SIGTERM: 3 });
    expect(found!.evidence.notes).toContain(`Command line: "pkill -f ${pattern}"`);
  }, 30_000);

  test("a container stopped by its runtime: a PID namespace made with unshare, SIGTERM ignored, SIGKILL after the grace", async () => {
    // The runtime is a shell whose comm is containerd-shim (comm comes from the file name); the container is a
    // PID namespace whose PID 1 ignores SIGTERM, as a process without a handler does there.
    const shim = join(dir, "containerd-shim");
    copyFileSync("/bin/bash", shim);
    chmodSync(shim, 0o755);
    const script = "unshare --pid --fork sh -c \"trap '' TERM; exec sleep 60\" & u=$!; c=''; while [ -z \"$c\" ]; do sleep 0.05; c=$(pgrep -P $u); done; " +
      "kill -TERM $c; sleep 1; kill -KILL $c; wait $u; true";
    const runtime = children.add(Bun.spawn([shim, "-c", script], { stdout: "ignore", stderr: "ignore" }));
    expect(await runtime.exited).toBe(0);
    await killsBy(runtime.pid, 2);
    const { findings, text } = report();
    const found = findings.find((f) => f.id === "container-stop" && f.killer?.pids.includes(runtime.pid));
    expect(found, text).toBeDefined();
    expect(found!.headline).toContain("containerd-shim");
    expect(found!.headline).toMatch(/SIGTERM, then SIGKILL 1(\.\d)? s later/);
    expect(found!.evidence.counts).toMatchObject({ SIGTERM: 1, SIGKILL: 1 });
  }, 30_000);

  test("a shell loop that kills and restarts its child: the parent, the restarts", async () => {
    const loop = children.add(
      Bun.spawn(["sh", "-c", "i=0; while [ $i -lt 4 ]; do sleep 60 & c=$!; sleep 0.3; kill $c; wait $c; i=$((i+1)); done"], { stdout: "ignore", stderr: "ignore" }),
    );
    expect(await loop.exited).toBe(0);
    await killsBy(loop.pid, 4);
    const { findings, text } = report();
    const found = findings.find((f) => f.id === "supervisor" && f.killer?.pids.includes(loop.pid));
    expect(found, text).toBeDefined();
    expect(found!.headline).toStartWith(`sh (pid ${loop.pid}, a shell loop) stopped its own child sleep 4 times and started it again 3 times in between (a restart loop): SIGTERM`);
    expect(found!.severity).toBe("warning");
    expect(found!.evidence.counts).toMatchObject({ stops: 4, restarts: 3, parentConfirmed: 4, SIGTERM: 4 });
    expect(found!.evidence.notes).toContain(`Parent confirmed for 4 of 4 victims: their execve events in the log name pid ${loop.pid} as parent`);
  }, 30_000);
});
