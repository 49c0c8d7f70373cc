/**
 * "No blind spots that are not there", on the real kernel. A process has no
 * audit context only if it was forked before audit was FIRST enabled since
 * boot; `auditctl -e 0` and enabling again takes no context away. So after
 * that sequence, setup-rule install must not list a process forked while
 * audit was on as a blind spot, and its kills are still audited.
 *
 * How whokilled tells a first enable from a later one: its own process's
 * audit context (probeOwnAuditContext), checked here both ways: a process
 * forked now has one; one forked under a `never,task` rule of ours has none.
 *
 * The off window is kept to milliseconds (the install is a process started
 * ahead, waiting for its go) and enabled 1 is restored in `finally`: other
 * tests may be running on this machine.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRuleText } from "../lib/rules/audit-rule.ts";
import { readClock, readProcStat, ticksToIso } from "../lib/rules/blind-spots.ts";
import { kernelAuditControl } from "../lib/rules/control.ts";
import { bootId, readRecordedEnable, type RecordedEnable } from "../lib/rules/enable-time.ts";
import { installRules, type InstallReport } from "../lib/rules/install.ts";
import { statusReport } from "../lib/rules/status.ts";
import type { BlindSpotLine, StatusBlindSpots } from "../lib/schema.ts";
import { restoreAuditOn, switchAuditOffForTest } from "./helpers/audit-switch.ts";
import { auditSkipReason, removeKeyNow, removeOnExit, spawnVictim, startRecordCollector, trackedChildren, uniqueKey, waitFor } from "./helpers/live.ts";

const helpers = join(import.meta.dir, "helpers");
const skip = auditSkipReason();
if (skip) console.error(`skip: audit enable tests: ${skip}`);

const keys: string[] = [];
const children = trackedChildren();
const tmpDirs: string[] = [];
afterAll(async () => {
  await children.killAll();
  for (const key of keys) removeKeyNow(key);
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

function ourKey(name: string): string {
  const key = uniqueKey(name);
  keys.push(key);
  removeOnExit(key);
  return key;
}

/** Read one JSON line (or `ready`) from a child's stdout. */
function lineReader(stream: ReadableStream<Uint8Array>) {
  const reader = stream.getReader();
  let buffered = "";
  return async (timeoutMs: number): Promise<string | null> => {
    const deadline = Date.now() + timeoutMs;
    while (!buffered.includes("\n")) {
      const left = deadline - Date.now();
      if (left <= 0) return null;
      const chunk = await Promise.race([reader.read(), Bun.sleep(left).then(() => null)]);
      if (chunk === null || chunk.done) return null;
      buffered += new TextDecoder().decode(chunk.value);
    }
    const at = buffered.indexOf("\n");
    const line = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    return line;
  };
}

describe.skipIf(skip !== null)("audit switched off and on again", () => {
  test("the probe: a process forked now has an audit context; one forked under our `never,task` rule has none", () => {
    const key = ourKey("probe");
    // A syscall rule of ours, so that SYSCALL records are written at all; it matches no real call.
    installRules({ key, arches: ["b64"], pid: 2147483000, signal: 10, syscalls: ["kill"] });
    const gid = 50_000 + (process.pid % 10_000);
    expect(kernelAuditControl.addRule(parseRuleText(["-a", "never,task", "-F", `gid=${gid}`, "-k", key]))).toBe("added");
    const probe = (args: string[]) => {
      const run = Bun.spawnSync([process.execPath, join(helpers, "probe-context.ts"), ...args], { stdout: "pipe", stderr: "pipe" });
      expect(run.exitCode, run.stderr.toString()).toBe(0);
      return JSON.parse(run.stdout.toString()) as { context: boolean | null; detail: string };
    };
    expect(probe([])).toMatchObject({ context: true });
    const without = probe(["--gid", String(gid)]);
    expect(without, without.detail).toMatchObject({ context: false });
    removeKeyNow(key);
  });

  test("auditctl -e 0, then install: a process forked while audit was on is no blind spot, and its kill IS audited", async () => {
    const key = ourKey("reenable");
    const stateDir = mkdtempSync(join(tmpdir(), "wk-state-"));
    tmpDirs.push(stateDir);
    restoreAuditOn();
    // Fresh processes, forked while audit is on: a victim, and a killer waiting for its go.
    const victim = children.add(spawnVictim(60));
    const killer = children.add(Bun.spawn(["sh", "-c", 'read go; kill -s USR1 "$1"', "sh", String(victim.pid)], { stdin: "pipe", stdout: "ignore", stderr: "pipe" }));
    const options = { key, arches: ["b64"] as const, first: true, pid: victim.pid, signal: 10, syscalls: ["kill"] as const };
    // The rule first, while audit is on: the install after `-e 0` then only has to switch audit back on.
    installRules({ ...options, arches: [...options.arches], syscalls: [...options.syscalls] }, { stateDir });

    // As a first install would have written it: audit first switched on just before these processes started.
    const clock = readClock();
    const starts = [killer.pid, victim.pid].map((pid) => readProcStat(pid)!.startTicks);
    const firstTicks = Math.min(...starts) - 1;
    const seeded: RecordedEnable = { bootId: bootId()!, ticksPerSecond: clock.ticksPerSecond, first: { ticks: firstTicks, time: ticksToIso(firstTicks, clock) }, onBy: null };
    writeFileSync(join(stateDir, "audit-enabled.json"), JSON.stringify(seeded));

    // The install is a fresh process, started now (audit on) and waiting for its go.
    const installer = children.add(
      Bun.spawn([process.execPath, join(helpers, "install-on-go.ts"), JSON.stringify(options), stateDir], { stdin: "pipe", stdout: "pipe", stderr: "pipe" }),
    );
    const read = lineReader(installer.stdout);
    expect(await read(15_000)).toBe("ready");
    const collector = startRecordCollector((r) => r.raw.includes(key) || (r.type === "OBJ_PID" && r.raw.includes(` opid=${victim.pid} `)));
    await collector.ready;

    let report: InstallReport | null = null;
    let offMs = 0;
    const off = performance.now();
    try {
      switchAuditOffForTest();
      installer.stdin.write("go\n");
      await installer.stdin.flush();
      const line = await read(500);
      report = line ? (JSON.parse(line) as InstallReport) : null;
    } finally {
      restoreAuditOn();
      offMs = performance.now() - off;
    }
    console.error(`audit was off for at most ${offMs.toFixed(1)} ms`);
    expect(kernelAuditControl.status().enabled).toBe(1);
    expect(report, "the installer did not answer within 500 ms").not.toBeNull();
    // The installer switched audit back on itself, and saw that audit had been on before it started.
    expect(report!.enabledAudit).toBe(true);
    expect(report!.ownContext).toMatchObject({ context: true });
    const spots = report!.lines.find((l): l is StatusBlindSpots => l.kind === "status" && l.topic === "blind-spots");
    expect(spots).toMatchObject({ basis: "recorded", exact: true, enabledAt: seeded.first!.time });
    const listed = report!.lines.filter((l): l is BlindSpotLine => l.kind === "blindspot").map((l) => l.pid);
    expect(listed).not.toContain(killer.pid);
    expect(listed).not.toContain(victim.pid);
    // The first enable was not moved to this later one.
    expect(readRecordedEnable({ stateDir })?.first?.ticks).toBe(firstTicks);
    const status = statusReport({ ...options, arches: [...options.arches], syscalls: [...options.syscalls] }, { stateDir });
    const statusListed = status.filter((l): l is BlindSpotLine => l.kind === "blindspot").map((l) => l.pid);
    expect(statusListed).not.toContain(killer.pid);

    // And the kernel agrees: the killer's kill is audited.
    killer.stdin.write("go\n");
    await killer.stdin.flush();
    expect(await killer.exited).toBe(0);
    const syscall = await waitFor(() => collector.records.find((r) => r.type === "SYSCALL" && r.raw.includes(` pid=${killer.pid} `)), 5000);
    const target = await waitFor(() => collector.records.find((r) => r.type === "OBJ_PID"), 2000);
    await collector.stop();
    expect(syscall, "the killer's kill was not audited").toBeDefined();
    expect(syscall!.raw).toContain(`key="${key}"`);
    expect(target?.id).toBe(syscall!.id);
    expect(await victim.exited).toBe(128 + 10);
    removeKeyNow(key);
  }, 60_000);
});
