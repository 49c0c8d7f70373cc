/**
 * bait on the real kernel (root): take a free PID, get killed by the test
 * (which started the bait, so the victim is ours), report the outcome.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { bait, allocationsBefore, resolveUser, validateBaitOptions, type BaitHold, type BaitOptions } from "../lib/demo/pid-bait.ts";
import { millisecondsFlag } from "../lib/cli/args.ts";
import { WhokilledError } from "../lib/errors.ts";
import { NS_LAST_PID_FILE, pidInUse, readPidMax, readPidStat } from "../lib/demo/pid-space.ts";
import type { BaitLine } from "../lib/schema.ts";
import { auditSkipReason, removeKeyNow, removeOnExit, spawnVictim, startRecordCollector, trackedChildren, uniqueKey, waitFor } from "./helpers/live.ts";
import { killOurs, pickFreePid, waitHeld } from "./helpers/pids.ts";

const root = join(import.meta.dir, "..");
const script = join(root, "scripts", "bait.ts");
const isRoot = process.getuid?.() === 0;
const spawned = trackedChildren();
afterAll(spawned.killAll);

/** Run bait in this process; kill each child as soon as it holds the PID (it is our own child). */
async function baitAndKill(options: Omit<BaitOptions, "onHold">, signal: NodeJS.Signals = "SIGKILL") {
  const holds: BaitHold[] = [];
  const lines: BaitLine[] = [];
  for await (const line of bait({
    ...options,
    onHold: (hold) => {
      holds.push(hold);
      expect(killOurs(hold.pid, process.pid, hold.comm, signal)).toBe(true);
    },
  })) {
    lines.push(line);
  }
  return { holds, lines };
}

function runBait(args: string[]) {
  const child = Bun.spawn([process.execPath, script, ...args], { cwd: root, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  spawned.add(child);
  return child;
}

describe("bait: options (no kernel changes)", () => {
  const pidMax = 32768;
  test("rejects PIDs that can never be held", () => {
    for (const pid of [-5, 0, 1, pidMax, pidMax + 1, 1.5]) {
      expect(() => validateBaitOptions({ pid }, pidMax)).toThrow(WhokilledError);
    }
    expect(() => validateBaitOptions({ pid: 2 }, pidMax)).not.toThrow();
    expect(() => validateBaitOptions({ pid: pidMax - 1 }, pidMax)).not.toThrow();
  });
  test("rejects a comm the kernel would cut or cannot name", () => {
    expect(() => validateBaitOptions({ pid: 500, comm: "a/b" }, pidMax)).toThrow(/file name/);
    expect(() => validateBaitOptions({ pid: 500, comm: "sixteen-bytes-xx" }, pidMax)).toThrow(/15 bytes/);
    expect(() => validateBaitOptions({ pid: 500, comm: "fifteen-bytes-x" }, pidMax)).not.toThrow();
  });
  test("users and seconds", () => {
    expect(resolveUser("nobody")).toMatchObject({ uid: 65534, gid: 65534, name: "nobody" });
    expect(resolveUser("0")).toMatchObject({ uid: 0, gid: 0 });
    expect(resolveUser("4242")).toEqual({ uid: 4242, gid: 4242, name: null });
    expect(() => resolveUser("no-such-user-wk")).toThrow(/no such user/);
    expect(millisecondsFlag("1.5", "timeout")).toBe(1500);
    expect(millisecondsFlag(undefined, "timeout")).toBeUndefined();
    expect(() => millisecondsFlag("-1", "timeout")).toThrow(/seconds/);
  });
  test("allocationsBefore counts free numbers between the cursor and the target, wrapping", () => {
    const taken = new Set([1001, 1002, 32767]);
    const inUse = (pid: number) => taken.has(pid);
    expect(allocationsBefore(1001, 32768, 1000, inUse)).toBe(0);
    expect(allocationsBefore(1003, 32768, 1000, inUse)).toBe(0);
    expect(allocationsBefore(1005, 32768, 1000, inUse)).toBe(2);
    expect(allocationsBefore(300, 32768, 32766, inUse)).toBe(0);
    expect(allocationsBefore(301, 32768, 32766, inUse)).toBe(1);
    expect(allocationsBefore(5000, 32768, 1000, inUse)).toBe(Number.POSITIVE_INFINITY);
    expect(allocationsBefore(1000, 32768, null, inUse)).toBe(0);
  });
});

if (!isRoot) console.error("skip: live bait tests: needs root (ns_last_pid, holding PIDs, --uid)");
describe.skipIf(!isRoot)("bait on the real kernel (root)", () => {
  test("ns_last_pid: takes a free PID at once and reports SIGKILL", async () => {
    const pid = pickFreePid();
    const { holds, lines } = await baitAndKill({ pid, method: "ns_last_pid" });
    expect(holds).toHaveLength(1);
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatchObject({
      kind: "bait",
      pid,
      wanted: pid,
      outcome: "signal",
      signal: { nr: 9, name: "SIGKILL" },
      exitCode: null,
      method: "ns_last_pid",
      comm: "wk-bait",
      uid: 0,
    });
    expect(line.attempts).toBeGreaterThanOrEqual(1);
    expect(Date.parse(line.end!)).toBeGreaterThanOrEqual(Date.parse(line.start));
    expect(pidInUse(pid)).toBe(false);
  });

  test("--count 2: takes the PID again after each death; reports other signals by name", async () => {
    const pid = pickFreePid();
    const { lines } = await baitAndKill({ pid, count: 2, comm: "findpid" }, "SIGUSR1");
    expect(lines.map((l) => [l.pid, l.outcome, l.signal?.name, l.signal?.nr, l.comm])).toEqual([
      [pid, "signal", "SIGUSR1", 10, "findpid"],
      [pid, "signal", "SIGUSR1", 10, "findpid"],
    ]);
  });

  test("fork-loop fallback: spawns until a child gets the PID", async () => {
    // Place the cursor a little before a free PID so the loop has ~100 PIDs to burn, not a whole turn.
    let lastError: unknown;
    for (let round = 0; round < 3; round++) {
      const pid = pickFreePid(3000);
      writeFileSync(NS_LAST_PID_FILE, String(pid - 100));
      try {
        const { lines } = await baitAndKill({ pid, method: "fork-loop", takeTimeoutMs: 15_000 });
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatchObject({ pid, outcome: "signal", signal: { nr: 9 }, method: "fork-loop" });
        expect(lines[0]!.attempts).toBeGreaterThan(1);
        return;
      } catch (error) {
        // Someone else's process took the PID first on this busy machine: try another.
        if (!(error instanceof WhokilledError)) throw error;
        lastError = error;
      }
    }
    throw lastError;
  });

  test("unprivileged: ns_last_pid is refused (EPERM) and bait falls back to the fork loop by itself", async () => {
    const setpriv = Bun.which("setpriv");
    if (!setpriv) return;
    let last: { code: number; stdout: string; stderr: string } | undefined;
    for (let round = 0; round < 3; round++) {
      const pid = pickFreePid(3000);
      // Room for the threads a starting bun takes before bait's own loop begins.
      writeFileSync(NS_LAST_PID_FILE, String(pid - 300));
      const child = Bun.spawn(
        [setpriv, "--reuid", "nobody", "--regid", "nogroup", "--clear-groups", "--", process.execPath, script, "--pid", String(pid), "--timeout", "0.2", "--take-timeout", "20"],
        { cwd: root, stdout: "pipe", stderr: "pipe", stdin: "ignore" },
      );
      spawned.add(child);
      const code = await child.exited;
      last = { code, stdout: await new Response(child.stdout).text(), stderr: await new Response(child.stderr).text() };
      if (code !== 0 && /could not take/.test(last.stderr)) continue; // someone else got there first
      break;
    }
    expect(last!.code).toBe(0);
    expect(last!.stderr).toContain("ns_last_pid is not writable (EPERM)");
    expect(JSON.parse(last!.stdout)).toMatchObject({ outcome: "stopped", method: "fork-loop", uid: 65534 });
  });

  test("--timeout: bait ends its own child and says stopped", async () => {
    const pid = pickFreePid();
    const lines: BaitLine[] = [];
    const started = Date.now();
    for await (const line of bait({ pid, timeoutMs: 300 })) lines.push(line);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ pid, outcome: "stopped", signal: null, exitCode: null });
    expect(pidInUse(pid)).toBe(false);
  });

  test("abort: ends the child, yields the stopped line, ends", async () => {
    const pid = pickFreePid();
    const controller = new AbortController();
    const lines: BaitLine[] = [];
    for await (const line of bait({ pid, count: 0, signal: controller.signal, onHold: () => setTimeout(() => controller.abort(), 100) })) {
      lines.push(line);
    }
    expect(lines.map((l) => l.outcome)).toEqual(["stopped"]);
    expect(pidInUse(pid)).toBe(false);
  });

  test("a PID held by someone else is refused with a clear error", async () => {
    const run = async () => {
      for await (const _ of bait({ pid: process.pid })) void _;
    };
    await expect(run()).rejects.toThrow(/in use: PID \d+ \(comm/);
  });

  test("script: Ctrl-C ends its own child and nothing else, prints the final line, exits 130", async () => {
    const pid = pickFreePid();
    const bystander = spawnVictim(60);
    spawned.add(bystander);
    const child = runBait(["--pid", String(pid)]);
    expect(await waitHeld(pid, child.pid, "wk-bait")).toBe(true);
    child.kill("SIGINT");
    expect(await child.exited).toBe(130); // 128 + SIGINT (issue 17)
    const stdout = await new Response(child.stdout).text();
    const stderr = await new Response(child.stderr).text();
    const lines = stdout.trim().split("\n").map((l) => JSON.parse(l) as BaitLine);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ kind: "bait", pid, outcome: "stopped" });
    expect(stderr).toContain(`got pid ${pid}`);
    expect(stderr).toContain(`child ${pid} stopped by bait`);
    expect(pidInUse(pid)).toBe(false);
    expect(bystander.exitCode).toBeNull();
    expect(readPidStat(bystander.pid)?.comm).toBe("sleep");
  });

  test("script: --uid nobody runs the child as 65534 with no supplementary groups", async () => {
    const pid = pickFreePid();
    const child = runBait(["--pid", String(pid), "--uid", "nobody", "--timeout", "20"]);
    expect(await waitHeld(pid, child.pid, "wk-bait")).toBe(true);
    const status = await Bun.file(`/proc/${pid}/status`).text();
    expect(status).toMatch(/^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    expect(status).toMatch(/^Gid:\s+65534\s+65534\s+65534\s+65534$/m);
    expect(status).toMatch(/^Groups:\s*$/m);
    expect(killOurs(pid, child.pid, "wk-bait")).toBe(true);
    expect(await child.exited).toBe(0);
    const line = JSON.parse((await new Response(child.stdout).text()).trim()) as BaitLine;
    expect(line).toMatchObject({ pid, uid: 65534, outcome: "signal", signal: { name: "SIGKILL" } });
    const stderr = await new Response(child.stderr).text();
    expect(stderr).toContain(`child ${pid} killed by SIGKILL (9)`);
  });

  test("script: bad input exits 2 with a clear message", async () => {
    const free = String(pickFreePid());
    const cases: [string[], RegExp][] = [
      [[], /--pid/],
      [["--pid", "abc"], /--pid must be a whole number/],
      [["--pid", "1"], /PID 1 and below/],
      [["--pid", "0"], /PID 1 and below/],
      [["--pid", "-7"], /PID 1 and below/],
      [["--pid", String(readPidMax())], /pid_max/],
      [["--pid", "99999999"], /pid_max/],
      [["--pid", String(process.pid)], /in use/],
      [["--pid", free, "--comm", "much-too-long-a-name"], /15 bytes/],
      [["--pid", free, "--uid", "no-such-user-wk"], /no such user/],
      [["--pid", free, "--count", "x"], /--count must be a whole number/],
      [["--pid", free, "--timeout", "soon"], /--timeout must be a number of seconds/],
      [["--pid", free, "--method", "magic"], /--method/],
    ];
    await Promise.all(
      cases.map(async ([args, message]) => {
        const child = runBait(args);
        const code = await child.exited;
        const stderr = await new Response(child.stderr).text();
        expect({ args, code, stdout: await new Response(child.stdout).text() }).toEqual({ args, code: 2, stdout: "" });
        expect(stderr).toMatch(message);
      }),
    );
    expect(pidInUse(Number(free))).toBe(false);
  });
});

const auditSkip = isRoot ? auditSkipReason() : "not root";
if (auditSkip) console.error(`skip: bait under a fast killer, checked against the kernel's OBJ_PID: ${auditSkip}`);
describe.skipIf(auditSkip !== null)("bait reports what the kernel saw (audit over netlink)", () => {
  test("--uid nobody --comm cronjob under a fast killer: every OBJ_PID naming the PID shows cronjob, uid 65534, as bait's lines say", async () => {
    const pid = pickFreePid();
    const key = uniqueKey("bait-identity");
    removeOnExit(key);
    const collector = startRecordCollector((r) => (r.type === "SYSCALL" && r.raw.includes(key)) || (r.type === "OBJ_PID" && r.raw.includes(` opid=${pid} `)));
    try {
      const install = Bun.spawnSync([process.execPath, join(root, "scripts", "setup-rule.ts"), "install", "--key", key, "--pid", String(pid), "--signal", "KILL"], { stdout: "pipe", stderr: "pipe" });
      expect(install.exitCode).toBe(0);
      await collector.ready;
      const child = runBait(["--pid", String(pid), "--uid", "nobody", "--comm", "cronjob", "--count", "3", "--timeout", "20"]);
      // A fresh process, so audit sees its calls; it kills only descendants of this bait.
      const killer = Bun.spawn([process.execPath, join(import.meta.dir, "helpers", "fast-killer.ts"), String(pid), String(child.pid), "3", "30000"], { stdout: "pipe", stderr: "inherit" });
      spawned.add(killer);
      expect(await child.exited).toBe(0);
      const kills = (await new Response(killer.stdout).text()).trim().split("\n");
      await killer.exited;
      const lines = (await new Response(child.stdout).text()).trim().split("\n").map((l) => JSON.parse(l) as BaitLine);
      expect(kills).toHaveLength(3);
      expect(lines).toHaveLength(3);
      for (const line of lines) {
        expect(line).toMatchObject({ pid, outcome: "signal", signal: { name: "SIGKILL" }, comm: "cronjob", uid: 65534, identity: "taken" });
      }
      const objPids = await waitFor(() => {
        const found = collector.records.filter((r) => r.type === "OBJ_PID");
        return found.length >= 3 ? found : undefined;
      }, 10_000);
      expect(objPids).toBeDefined();
      // What the kernel saw of each child it was asked to kill: exactly what bait's lines say.
      for (const record of objPids!) {
        const fields = Object.fromEntries(record.raw.split(" ").slice(2).map((f) => f.split("=") as [string, string]));
        expect({ opid: fields.opid, ocomm: fields.ocomm, ouid: fields.ouid }).toEqual({ opid: String(pid), ocomm: '"cronjob"', ouid: "65534" });
      }
    } finally {
      await collector.stop();
      removeKeyNow(key);
    }
  });
});
