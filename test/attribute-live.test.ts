/**
 * attribute on the real kernel: our own rules (unique key), fresh victims
 * and senders we start ourselves, records read from the kernel over netlink,
 * and each signal line checked field by field.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputErrors } from "../lib/audit/input-errors.ts";
import type { InputItem } from "../lib/sources/inputs.ts";
import { installRules, removeRules } from "../lib/rules/install.ts";
import type { RecordLine, SignalLine } from "../lib/schema.ts";
import { SignalStage } from "../lib/signals/signal-stage.ts";
import { auditSkipReason, removeOnExit, startRecordCollector, uniqueKey, waitFor } from "./helpers/live.ts";
import { attributeFiles, attributeStream } from "./helpers/run.ts";
import { buildSender, senderSkipReason, startVictim, type SenderBuild, type Victim } from "./helpers/sender.ts";

const skip = auditSkipReason();
if (skip) console.error(`skip: live attribute tests: ${skip}`);

const key = uniqueKey("attribute");
let collector: ReturnType<typeof startRecordCollector> | null = null;
/** Every audit record the kernel sent while the tests ran. */
let records: RecordLine[] = [];
let sender: SenderBuild;
const victims: Victim[] = [];
const extraChildren: Bun.Subprocess[] = [];

beforeAll(async () => {
  if (skip) return;
  removeOnExit(key);
  // pidfd_open too, so a pidfd_send_signal that fails with ESRCH still names its target.
  installRules({ key, arches: ["b64", "b32"], pidfdOpen: true });
  sender = buildSender("b64")!;
  collector = startRecordCollector();
  records = collector.records;
  await collector.ready;
});

afterAll(async () => {
  await collector?.stop();
  for (const victim of victims) await victim.stop();
  for (const child of extraChildren) {
    if (child.exitCode === null) child.kill("SIGKILL");
    await child.exited;
  }
  if (!skip) removeRules(key);
});

/** Send from a fresh sender process; return its pid, exit status (errno) and the signal line it caused. */
async function signalFrom(op: string, args: number[], options: { uid?: number; build?: SenderBuild } = {}) {
  const argv = [(options.build ?? sender).path, op, ...args.map(String)];
  const wrapped = options.uid === undefined ? argv : ["setpriv", `--reuid=${options.uid}`, `--regid=${options.uid}`, "--clear-groups", ...argv];
  const child = Bun.spawn(wrapped, { stdout: "ignore", stderr: "ignore" });
  const status = await child.exited;
  const pid = child.pid;
  // The kernel writes PROCTITLE last (and EOE after it over netlink).
  const done = await waitFor(() => records.some((r) => r.type === "EOE" && eventOf(pid).some((e) => e.id === r.id)) || undefined, 15_000);
  expect(done, `audit records for sender ${pid}`).toBe(true);
  const errors = new InputErrors({ strict: true, print: () => {} });
  const stage = new SignalStage({ lookup: true, filter: { probes: true } }, errors);
  const ids = new Set(eventOf(pid).map((r) => r.id));
  const items: InputItem[] = records.filter((r) => ids.has(r.id)).map((value) => ({ form: "json", value, source: value.source }));
  const signals = [...stage.push(items), ...stage.flush()].filter((l): l is SignalLine => l.kind === "signal");
  expect(signals).toHaveLength(1);
  return { pid, status, signal: signals[0]! };
}

/**
 * The sender's pidfd-reaped run (test/helpers/sender.c): its child's pid, and
 * the signal lines of its records, by attribute's object path and its byte
 * path (which must agree), as `record` lines the way capture writes them.
 */
async function pidfdReaped(mode: "signal-first" | "exit-first") {
  const child = Bun.spawn([sender.path, "pidfd-reaped", "15", mode], { stdout: "pipe", stderr: "ignore" });
  const [out, status] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  expect(status).toBe(0); // the last call failed with ESRCH
  const [reaped, fd] = out.trim().split(" ").map(Number) as [number, number];
  const calls = mode === "signal-first" ? 3 : 2; // pidfd_open, then one or two pidfd_send_signal
  const done = await waitFor(() => {
    const ids = new Set(eventOf(child.pid).map((r) => r.id));
    return ids.size >= calls && [...ids].every((id) => records.some((r) => r.type === "EOE" && r.id === id)) ? ids : undefined;
  }, 15_000);
  expect(done, `audit records for sender ${child.pid}`).toBeDefined();
  const dir = mkdtempSync(join(tmpdir(), "wk-pidfd-live-"));
  try {
    const path = join(dir, "records.jsonl");
    writeFileSync(path, records.filter((r) => done!.has(r.id)).map((r) => JSON.stringify(r)).join("\n") + "\n");
    const objects = await attributeFiles([path], { probes: true }, { lookup: false });
    const bytes = await attributeStream([path], { probes: true }, { lookup: false });
    expect(bytes.text).toBe(objects.lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
    return { sender: child.pid, reaped, fd, signals: objects.signals };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function eventOf(senderPid: number): RecordLine[] {
  return records.filter((r) => r.type === "SYSCALL" && r.raw.includes(` pid=${senderPid} `));
}

function processGroupMembers(pgid: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === pgid;
      } catch {
        return false;
      }
    })
    .map(Number)
    .sort((a, b) => a - b);
}

const killerOf = (pid: number, uid = 0, user = "root") => ({
  pid,
  comm: sender?.comm,
  exe: sender?.path,
  uid,
  user,
});

describe.skipIf(skip !== null)("attribute on the real kernel", () => {
  test("a group kill gives one victim per member of the group", async () => {
    const group = Bun.spawn(["setsid", "sh", "-c", "sleep 60 & sleep 60 & wait"], { stdout: "ignore", stderr: "ignore" });
    extraChildren.push(group);
    const members = await waitFor(() => {
      const found = processGroupMembers(group.pid);
      return found.length === 3 ? found : undefined;
    });
    expect(members).toHaveLength(3);
    const { status, signal, pid } = await signalFrom("kill", [-group.pid, 9]);
    expect(status).toBe(0);
    expect(signal).toMatchObject({ kind: "signal", syscall: "kill", arch: "x86_64", source: "audit", key });
    expect(signal.signal).toEqual({ nr: 9, name: "SIGKILL" });
    expect(signal.result).toEqual({ success: true, errno: null });
    expect(signal.target).toEqual({ pid: -group.pid, scope: "group" });
    expect(signal.killer).toMatchObject(killerOf(pid));
    expect(signal.killer.argv).toEqual([sender.path, "kill", String(-group.pid), "9"]);
    expect(signal.victims.map((v) => v.pid).sort((a, b) => a! - b!)).toEqual(members!);
    expect(signal.victims.map((v) => v.comm).sort()).toEqual(["sh", "sleep", "sleep"]);
    for (const victim of signal.victims) expect(victim).toMatchObject({ uid: 0, user: "root" });
  });

  test("an unprivileged sender's attempt fails with EPERM, and the victim is still named", async () => {
    const victim = await startVictim();
    victims.push(victim);
    const { status, signal, pid } = await signalFrom("kill", [victim.tgid, 9], { uid: 65534 });
    expect(status).toBe(1); // EPERM
    expect(signal.result).toEqual({ success: false, errno: "EPERM" });
    expect(signal.killer).toMatchObject(killerOf(pid, 65534, "nobody"));
    expect(signal.target).toEqual({ pid: victim.tgid, scope: "process" });
    expect(signal.victims).toEqual([{ pid: victim.tgid, comm: "wk-victim", uid: 0, user: "root" }]);
  });

  test("tgkill to a thread: opid is the thread group, ocomm the thread's own name", async () => {
    const victim = await startVictim();
    victims.push(victim);
    expect(victim.tid).not.toBe(victim.tgid);
    const { status, signal, pid } = await signalFrom("tgkill", [victim.tgid, victim.tid, 10]);
    expect(status).toBe(0);
    expect(signal.syscall).toBe("tgkill");
    expect(signal.signal).toEqual({ nr: 10, name: "SIGUSR1" });
    expect(signal.target).toEqual({ pid: victim.tgid, scope: "thread", tid: victim.tid });
    expect(signal.killer).toMatchObject(killerOf(pid));
    expect(signal.victims).toEqual([{ pid: victim.tgid, comm: "wk-thread", uid: 0, user: "root" }]);
  });

  test("pidfd_send_signal: the target pid comes from OBJ_PID, a0 is the descriptor", async () => {
    const victim = await startVictim();
    victims.push(victim);
    const { status, signal } = await signalFrom("pidfd", [victim.tgid, 12]);
    expect(status).toBe(0);
    expect(signal.syscall).toBe("pidfd_send_signal");
    expect(signal.signal).toEqual({ nr: 12, name: "SIGUSR2" });
    expect(signal.target.scope).toBe("pidfd");
    expect(signal.target.pid).toBe(victim.tgid);
    expect(signal.target.fd).toBeGreaterThanOrEqual(3);
    expect(signal.victims).toEqual([{ pid: victim.tgid, comm: "wk-victim", uid: 0, user: "root" }]);
  });

  test("pidfd_send_signal after the process was reaped (ESRCH, no OBJ_PID): the target is the PID the earlier call on that descriptor hit", async () => {
    const { sender: pid, reaped, fd, signals } = await pidfdReaped("signal-first");
    expect(signals).toHaveLength(2);
    const [hit, stale] = signals as [SignalLine, SignalLine];
    expect(hit).toMatchObject({ syscall: "pidfd_send_signal", killer: { pid }, result: { success: true }, target: { pid: reaped, scope: "pidfd", fd, pidFrom: "obj_pid" } });
    expect(hit.victims).toEqual([{ pid: reaped, comm: sender.comm, uid: 0, user: null }]);
    expect(stale).toMatchObject({ killer: { pid }, result: { success: false, errno: "ESRCH" }, victims: [] });
    expect(stale.target).toEqual({ pid: reaped, scope: "pidfd", fd, pidFrom: "earlier-call" });
  });

  test("pidfd_send_signal on a reaped child it never signalled before: the target comes from its pidfd_open (setup-rule --pidfd-open logs it)", async () => {
    const { sender: pid, reaped, fd, signals } = await pidfdReaped("exit-first");
    expect(signals).toHaveLength(1);
    expect(signals[0]).toMatchObject({ killer: { pid }, result: { success: false, errno: "ESRCH" }, victims: [] });
    expect(signals[0]!.target).toEqual({ pid: reaped, scope: "pidfd", fd, pidFrom: "pidfd_open" });
  });

  test("a kill aimed at a free PID fails with ESRCH and has no victims (the stale-PID case)", async () => {
    const pidMax = Number(readFileSync("/proc/sys/kernel/pid_max", "utf8"));
    let free = pidMax - 1000;
    while (existsSync(`/proc/${free}`)) free--;
    const { status, signal } = await signalFrom("kill", [free, 9]);
    expect(status).toBe(3); // ESRCH
    expect(signal.result).toEqual({ success: false, errno: "ESRCH" });
    expect(signal.target).toEqual({ pid: free, scope: "process" });
    expect(signal.victims).toEqual([]);
  });

  test("tkill, rt_sigqueueinfo and rt_tgsigqueueinfo (real-time signals) are attributed too", async () => {
    const victim = await startVictim();
    victims.push(victim);
    const tkill = await signalFrom("tkill", [victim.tid, 1]);
    expect(tkill.signal).toMatchObject({ syscall: "tkill", signal: { nr: 1, name: "SIGHUP" }, target: { pid: victim.tid, scope: "thread" } });
    const queue = await signalFrom("sigqueue", [victim.tgid, 34]);
    expect(queue.signal).toMatchObject({ syscall: "rt_sigqueueinfo", signal: { nr: 34, name: "SIGRTMIN" }, target: { pid: victim.tgid, scope: "process" } });
    const tgqueue = await signalFrom("tgsigqueue", [victim.tgid, victim.tid, 64]);
    expect(tgqueue.signal).toMatchObject({
      syscall: "rt_tgsigqueueinfo",
      signal: { nr: 64, name: "SIGRTMAX" },
      target: { pid: victim.tgid, scope: "thread", tid: victim.tid },
    });
    for (const { signal } of [tkill, queue, tgqueue]) {
      expect(signal.result).toEqual({ success: true, errno: null });
      expect(signal.victims).toHaveLength(1);
    }
  });

  // A 32-bit process on a 64-bit kernel uses the i386 numbers (kill is 37): the b32 rules must catch it.
  const sender32 = skip === null ? buildSender("b32") : null;
  if (skip === null && !sender32) console.error(`skip: 32-bit sender: ${senderSkipReason("b32")}`);
  test.skipIf(!sender32)("a 32-bit sender is caught by the b32 rules and decoded with i386 numbers", async () => {
    const victim = await startVictim();
    victims.push(victim);
    const { status, signal, pid } = await signalFrom("kill", [victim.tgid, 15], { build: sender32! });
    expect(status).toBe(0);
    expect(signal).toMatchObject({ syscall: "kill", arch: "i386", signal: { nr: 15, name: "SIGTERM" }, target: { pid: victim.tgid, scope: "process" } });
    expect(signal.killer).toMatchObject({ pid, comm: sender32!.comm });
    expect(signal.victims).toEqual([{ pid: victim.tgid, comm: "wk-victim", uid: 0, user: "root" }]);
  });
});
