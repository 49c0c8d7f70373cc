/**
 * The demo's rogue: kills a free PID (ESRCH) or one held by our own bait, and
 * refuses everything else. Every process it could hit here is one this test
 * started.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { bait } from "../lib/demo/pid-bait.ts";
import { rogueVerdict, type RogueAttempt } from "../lib/demo/rogue.ts";
import { aheadOfCursor, pidInUse, readPidStat } from "../lib/demo/pid-space.ts";
import type { BaitLine } from "../lib/schema.ts";
import { addRuleNow, auditSkipReason, removeKeyNow, startRecordCollector, removeOnExit, spawnVictim, trackedChildren, uniqueKey, waitFor } from "./helpers/live.ts";
import { pickFreePid } from "./helpers/pids.ts";

const root = join(import.meta.dir, "..");
const rogueMain = join(root, "lib", "demo", "rogue-main.ts");
const isRoot = process.getuid?.() === 0;
const spawned = trackedChildren();
afterAll(spawned.killAll);

function runRogue(args: string[]) {
  const child = Bun.spawn([process.execPath, rogueMain, "--json", ...args], { cwd: root, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  spawned.add(child);
  return child;
}

async function attemptsOf(child: Bun.Subprocess<"ignore", "pipe", "pipe">): Promise<RogueAttempt[]> {
  const text = await new Response(child.stdout).text();
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as RogueAttempt);
}

describe("rogue: what it may kill", () => {
  const opts = { baitComm: "wk-bait", ancestor: process.pid };
  test("never PID ≤ 1, itself, the demo, or the test runner", () => {
    expect(rogueVerdict(1, opts).go).toBe(false);
    expect(rogueVerdict(0, opts).go).toBe(false);
    expect(rogueVerdict(-1, opts).go).toBe(false);
    expect(rogueVerdict(process.pid, opts).go).toBe(false);
    expect(rogueVerdict(process.ppid, { ...opts, ancestor: 12345 }).go).toBe(false);
  });
  test("not a process of ours with another comm", () => {
    const victim = spawnVictim(30);
    spawned.add(victim);
    const verdict = rogueVerdict(victim.pid, opts);
    expect(verdict).toMatchObject({ go: false, comm: "sleep" });
  });
  test("a free PID far from the cursor is fair game; one just after it is not", () => {
    expect(rogueVerdict(pickFreePid(), opts)).toEqual({ go: true, state: "free" });
    expect(aheadOfCursor(1001, 1000, 32768)).toBe(1);
    expect(aheadOfCursor(300, 32767, 32768)).toBe(1);
    expect(aheadOfCursor(299, 32767, 32768)).toBe(Number.POSITIVE_INFINITY);
  });
});

describe.skipIf(!isRoot)("rogue on the real kernel (root)", () => {
  test("a free PID: kill → ESRCH every interval, stops by itself after --for", async () => {
    const pid = pickFreePid();
    const started = Date.now();
    const rogue = runRogue(["--pid", String(pid), "--ancestor", String(process.pid), "--interval", "0.2", "--for", "1"]);
    expect(await rogue.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000);
    const attempts = await attemptsOf(rogue);
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    for (const a of attempts) expect(a).toMatchObject({ pid, signal: 9, action: "esrch" });
  });

  test("a PID held by our bait: SIGKILL lands, bait reports it", async () => {
    const pid = pickFreePid();
    let rogue: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;
    const lines: BaitLine[] = [];
    for await (const line of bait({
      pid,
      timeoutMs: 30_000,
      onHold: () => {
        rogue = runRogue(["--pid", String(pid), "--ancestor", String(process.pid), "--interval", "0.2", "--for", "3"]);
      },
    })) {
      lines.push(line);
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ pid, outcome: "signal", signal: { nr: 9, name: "SIGKILL" } });
    expect(await rogue!.exited).toBe(0);
    const attempts = await attemptsOf(rogue!);
    expect(attempts[0]).toMatchObject({ pid, action: "killed", comm: "wk-bait" });
    // Afterwards the PID is free again: ESRCH (or a skip if the cursor happens to sit just before it).
    for (const a of attempts.slice(1)) expect(["esrch", "skipped"]).toContain(a.action);
  });

  test("refuses a non-bait PID: the test runner itself", async () => {
    const rogue = runRogue(["--pid", String(process.pid), "--ancestor", String(process.pid), "--bait-comm", readPidStat(process.pid)!.comm, "--interval", "0.2", "--for", "0.6"]);
    expect(await rogue.exited).toBe(0);
    const attempts = await attemptsOf(rogue);
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    for (const a of attempts) expect(a.action).toBe("skipped");
  });

  test("refuses a bait-comm process that does not descend from the named demo", async () => {
    const pid = pickFreePid();
    const controller = new AbortController();
    let rogue: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;
    const lines: BaitLine[] = [];
    for await (const line of bait({
      pid,
      signal: controller.signal,
      onHold: () => {
        // The "demo" is an sh that is the rogue's parent but not the bait's ancestor.
        rogue = Bun.spawn(
          ["sh", "-c", '"$@" --ancestor $$; exit $?', "sh", process.execPath, rogueMain, "--json", "--pid", String(pid), "--interval", "0.2", "--for", "0.8"],
          { cwd: root, stdout: "pipe", stderr: "pipe", stdin: "ignore" },
        );
        spawned.add(rogue);
        void rogue.exited.then(() => controller.abort());
      },
    })) {
      lines.push(line);
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ pid, outcome: "stopped" });
    expect(await rogue!.exited).toBe(0);
    const attempts = await attemptsOf(rogue!);
    expect(attempts.length).toBeGreaterThanOrEqual(1);
    for (const a of attempts) expect(a).toMatchObject({ action: "skipped", comm: "wk-bait" });
    expect(attempts[0]!.reason).toContain("not a descendant");
  });

  test("bad flags exit 2: PID ≤ 1, an ancestor that is not ours", async () => {
    const stranger = spawnVictim(30);
    spawned.add(stranger);
    for (const args of [
      ["--pid", "1", "--ancestor", String(process.pid)],
      ["--pid", "0", "--ancestor", String(process.pid)],
      ["--pid", String(pickFreePid()), "--ancestor", "1"],
      ["--pid", String(pickFreePid()), "--ancestor", String(stranger.pid)],
    ]) {
      const rogue = runRogue(args);
      expect({ args, code: await rogue.exited }).toEqual({ args, code: 2 });
      expect(await attemptsOf(rogue)).toEqual([]);
    }
  });

  test("stops when its parent dies", async () => {
    const pid = pickFreePid();
    // sh starts the rogue in the background, prints its PID, and exits when we write a line to it.
    const sh = Bun.spawn(
      ["sh", "-c", '"$@" --ancestor $$ & echo "rogue $!"; read line', "sh", process.execPath, rogueMain, "--json", "--pid", String(pid), "--interval", "0.2", "--for", "30"],
      { cwd: root, stdout: "pipe", stderr: "ignore", stdin: "pipe" },
    );
    spawned.add(sh);
    const reader = sh.stdout.getReader();
    let text = "";
    // Wait for the rogue's PID and its first attempt, so it is surely running.
    while (!/"action"/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += new TextDecoder().decode(value);
    }
    const roguePid = Number(/rogue (\d+)/.exec(text)?.[1]);
    expect(roguePid).toBeGreaterThan(1);
    expect(readPidStat(roguePid)?.ppid).toBe(sh.pid);
    sh.stdin.write("bye\n");
    sh.stdin.end();
    expect(await sh.exited).toBe(0);
    const gone = await waitFor(() => (pidInUse(roguePid) ? undefined : true), 10_000);
    expect(gone).toBe(true);
    reader.releaseLock();
  });

  // It reads the kernel's records over netlink: no auditd needed.
  const auditSkip = auditSkipReason();
  test.skipIf(auditSkip !== null)(`audit sees kill (syscall 62) with comm rogue-httpd, ESRCH and a hit${auditSkip ? ` [skip: ${auditSkip}]` : ""}`, async () => {
    const pid = pickFreePid();
    const key = uniqueKey("rogue");
    removeOnExit(key);
    const collector = startRecordCollector((r) => r.type === "OBJ_PID" || (r.type === "SYSCALL" && r.raw.includes(`key="${key}"`)));
    await collector.ready;
    try {
      // -A: the kernel logs a call under the first rule that matches, and other runs may have broad rules of their own.
      addRuleNow(["-A", "always,exit", "-F", "arch=b64", "-S", "kill", "-F", `a0=${pid}`, "-k", key]);
      let rogue: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;
      // First a kill of the free PID, then bait takes it and gets hit.
      const free = runRogue(["--pid", String(pid), "--ancestor", String(process.pid), "--interval", "5", "--for", "0.1"]);
      expect(await free.exited).toBe(0);
      for await (const line of bait({
        pid,
        timeoutMs: 30_000,
        onHold: () => {
          rogue = runRogue(["--pid", String(pid), "--ancestor", String(process.pid), "--interval", "5", "--for", "0.1"]);
        },
      })) {
        expect(line).toMatchObject({ outcome: "signal", signal: { nr: 9 } });
      }
      expect(await rogue!.exited).toBe(0);
      const hex = pid.toString(16);
      const records = await waitFor(() => {
        const lines = collector.records.map((r) => r.raw);
        const mine = lines.filter((l) => l.includes(`key="${key}"`) && l.startsWith("type=SYSCALL"));
        return mine.length >= 2 ? { mine, lines } : undefined;
      }, 10_000);
      expect(records).toBeDefined();
      const [esrch, hit] = records!.mine;
      for (const l of [esrch!, hit!]) {
        expect(l).toContain("arch=c000003e syscall=62 ");
        expect(l).toContain(`a0=${hex} a1=9 `);
        expect(l).toContain('comm="rogue-httpd"');
      }
      expect(esrch).toContain("success=no exit=-3");
      expect(hit).toContain("success=yes exit=0");
      // The hit names its victim: the bait child's comm in OBJ_PID.
      const serial = /msg=audit\(([\d.:]+)\)/.exec(hit!)?.[1];
      expect(records!.lines.some((l) => l.startsWith("type=OBJ_PID") && l.includes(`audit(${serial})`) && l.includes(`opid=${pid} `) && l.includes('ocomm="wk-bait"'))).toBe(true);
    } finally {
      removeKeyNow(key);
      await collector.stop();
    }
  });
});
