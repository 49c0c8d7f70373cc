/**
 * scripts/setup-rule.ts on the real kernel, run as a subprocess (exit codes,
 * stdout JSON Lines, stderr logs). Every test uses its own key, removed
 * afterwards; each scenario starts from freshly spawned victims and senders
 * (a process forked before audit was enabled is never audited).
 *
 * The kernel logs a syscall under the first exit rule that matches it, so a
 * broad rule added earlier by another test run would log our kills under its
 * key. The tests that look for records therefore install with --first (-A).
 * They read the records from the kernel's netlink multicast group, so they
 * need the kernel only, not auditd.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { machine, tmpdir } from "node:os";
import { join } from "node:path";
import { kernelAuditControl } from "../lib/rules/control.ts";
import type { RuleLine, StatusLine } from "../lib/schema.ts";
import { syscallNumber } from "../lib/tables/syscalls.ts";
import { startTicks } from "../lib/rules/run-keys.ts";
import { addRuleNow, auditSkipReason, removeKeyNow, removeOnExit, spawnVictim, startRecordCollector, TestKeys, waitFor } from "./helpers/live.ts";
import { setupRuleSync, type SetupRuleRun } from "./helpers/run.ts";
import { buildSender, send, senderSkipReason, type SenderBuild } from "./helpers/sender.ts";

/** Live tests wait for the kernel's records; give them room even without --timeout. */
const LIVE_TIMEOUT = 60_000;

type Run = SetupRuleRun;
/** setup-rule.ts run to its end (helpers/run.ts); `lines` parsed on first read, throwing on a stray non-JSON line. */
const setupRule = setupRuleSync;

/** The kernel's rules carrying this key, as `auditctl -l` lines. */
const keyed = (key: string) => kernelAuditControl.listRules().filter((r) => r.keys.includes(key)).map((r) => r.line);

const ruleLines = (run: Run) => run.lines.filter((l): l is RuleLine & Record<string, unknown> => l.kind === "rule");

const keys = new TestKeys();
const testKey = (name: string) => keys.key(name);

// --- the kernel's records ----------------------------------------------------

/** The kernel's records over netlink: SYSCALL records of this process's keys, and every OBJ_PID. */
const ourKeys = ` key="wk-test-`;
const ourPid = `-${process.pid}-`;
const startCollector = () =>
  startRecordCollector((r) => r.type === "OBJ_PID" || (r.type === "SYSCALL" && r.raw.includes(ourKeys) && r.raw.includes(ourPid)));
let collector: ReturnType<typeof startCollector> | null = null;

/** What the kernel sent since the cursor was made. */
class RecordCursor {
  private readonly start: number;

  constructor() {
    if (!collector) throw new Error("no collector: the live tests start one in beforeAll");
    this.start = collector.records.length;
  }

  read(): string {
    return collector!.records
      .slice(this.start)
      .map((r) => r.raw)
      .join("\n");
  }
}

interface AuditEvent {
  id: string;
  syscall: Record<string, string>;
  objPids: string[];
}

/** SYSCALL records logged with this exact key since the cursor, with their OBJ_PID targets. */
function eventsWithKey(key: string, cursor: RecordCursor): AuditEvent[] {
  const byId = new Map<string, AuditEvent>();
  const objPids = new Map<string, string[]>();
  for (const raw of cursor.read().split("\n")) {
    const id = /msg=audit\(([\d.:]+)\)/.exec(raw)?.[1];
    if (!id) continue;
    if (raw.startsWith("type=SYSCALL ") && raw.includes(` key="${key}"`)) {
      const fields: Record<string, string> = {};
      for (const match of raw.matchAll(/ ([a-z0-9_]+)=("[^"]*"|\S+)/g)) fields[match[1]!] ??= match[2]!;
      byId.set(id, { id, syscall: fields, objPids: [] });
    } else if (raw.startsWith("type=OBJ_PID ")) {
      const opid = / opid=(\d+)/.exec(raw)?.[1];
      if (opid) objPids.set(id, [...(objPids.get(id) ?? []), opid]);
    }
  }
  for (const [id, event] of byId) event.objPids = objPids.get(id) ?? [];
  return [...byId.values()];
}

const arch = machine();
const nr = (name: string) => String(syscallNumber(arch, name));
const hex = (n: number) => (n >>> 0).toString(16);
/** a0 as the kernel logs it may be 32 or 64 bits wide: compare the low 32. */
const low32 = (value: string | undefined) => (value === undefined ? undefined : (Number.parseInt(value.slice(-8), 16) >>> 0).toString(16));

/** Wait until an event with this key satisfies `match`; undefined after the timeout. */
async function logged(key: string, cursor: RecordCursor, match: (e: AuditEvent) => boolean, timeoutMs = 10_000): Promise<AuditEvent | undefined> {
  return waitFor(() => eventsWithKey(key, cursor).find(match), timeoutMs, 100);
}

function kill(victim: Bun.Subprocess): void {
  try {
    victim.kill("SIGKILL");
  } catch {
    // Already gone.
  }
}

// --- the tests --------------------------------------------------------------

const skip = auditSkipReason();
if (skip) console.error(`setup-rule live tests skipped: ${skip}`);
const sender: SenderBuild | null = skip ? null : buildSender("b64");
if (!skip && !sender) console.error(`setup-rule live tests skipped: ${senderSkipReason("b64")}`);
const victims: Bun.Subprocess[] = [];
const tmpDirs: string[] = [];
afterAll(() => {
  keys.removeAll();
  for (const victim of victims) kill(victim);
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});
function victim(command?: string[]): Bun.Subprocess {
  const child = command ? Bun.spawn(command, { stdout: "ignore", stderr: "ignore" }) : spawnVictim(120);
  victims.push(child);
  return child;
}

describe("setup-rule without the kernel", () => {
  test("print writes JSON lines on stdout and nothing else; --format rules writes rules.d text", () => {
    const json = setupRule(["print", "--arch", "both"]);
    expect(json.code).toBe(0);
    expect(ruleLines(json).map((l) => l.rule)).toEqual([
      "-a always,exit -F arch=b64 -S kill -S tkill -S rt_sigqueueinfo -S pidfd_send_signal -F a1!=0 -k whokilled",
      "-a always,exit -F arch=b64 -S tgkill -S rt_tgsigqueueinfo -F a2!=0 -k whokilled",
      "-a always,exit -F arch=b32 -S kill -S tkill -S rt_sigqueueinfo -S pidfd_send_signal -F a1!=0 -k whokilled",
      "-a always,exit -F arch=b32 -S tgkill -S rt_tgsigqueueinfo -F a2!=0 -k whokilled",
    ]);
    const text = setupRule(["print", "--format", "rules", "--arch", "both"]);
    expect(text.stdout.split("\n").filter((l) => l.startsWith("-"))).toEqual(ruleLines(json).map((l) => l.rule));
  });

  test("bad input exits 2 with a message naming the problem", () => {
    const cases: [string[], RegExp][] = [
      [["print", "--signal", "FOO"], /signal "FOO": unknown signal/],
      [["print", "--signal", "99"], /0 to 64/],
      [["print", "--pid", "abc"], /--pid must be a number.*"abc"/],
      [["print", "--uid", "no-such-user-wk"], /--uid "no-such-user-wk": no such user/],
      [["print", "--key", "bad key"], /--key "bad key"/],
      [["print", "--pid", "1", "--pid", "2"], /--pid was given 2 times/],
      [["print", "--format", "yaml"], /--format must be jsonl or rules/],
      [["install", "--signal", "NOPE", "--key", "wk-test-never-installed"], /unknown signal/],
    ];
    for (const [args, message] of cases) {
      const run = setupRule(args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe("");
    }
  });

  test("--help shows each verb's examples", () => {
    for (const verb of ["print", "install", "remove", "list", "status"]) {
      const run = setupRule([verb, "--help"]);
      expect(run.code).toBe(0);
      expect(run.stdout + run.stderr).toContain("Examples:");
      expect(run.stdout + run.stderr).toContain(`setup-rule.ts ${verb}`);
    }
  });
});

describe.skipIf(skip !== null || !sender)("setup-rule on the real kernel", () => {
  beforeAll(async () => {
    collector = startCollector();
    await collector.ready;
  });
  afterAll(async () => {
    await collector?.stop();
  });

  test("without CAP_AUDIT_CONTROL, install/remove/list/status exit 2 and say why", () => {
    const setpriv = Bun.which("setpriv");
    if (!setpriv) {
      console.error("setpriv missing (util-linux): permission test skipped");
      return;
    }
    const drop = [setpriv, "--bounding-set", "-audit_control", "--inh-caps", "-audit_control", "--"];
    for (const verb of ["install", "remove", "list", "status"]) {
      const run = setupRule([verb, "--key", "wk-test-noperm"], drop);
      expect({ verb, code: run.code }).toEqual({ verb, code: 2 });
      expect(run.stderr).toContain("needs root (CAP_AUDIT_CONTROL)");
    }
    expect(keyed("wk-test-noperm")).toEqual([]);
  }, LIVE_TIMEOUT);

  test("install, then list shows the rules; a second install says present", () => {
    const key = testKey("install");
    const first = setupRule(["install", "--key", key]);
    expect(first.code).toBe(0);
    expect(ruleLines(first).map((l) => [l.action, l.result])).toEqual(Array(4).fill(["install", "ok"]));
    expect(first.stderr).toContain("4 rule(s) added");

    const list = setupRule(["list", "--key", key]);
    expect(list.code).toBe(0);
    expect(ruleLines(list).map((l) => l.rule)).toEqual([
      `-a always,exit -F arch=b64 -S kill,rt_sigqueueinfo,tkill,pidfd_send_signal -F a1!=0x0 -F key=${key}`,
      `-a always,exit -F arch=b64 -S tgkill,rt_tgsigqueueinfo -F a2!=0x0 -F key=${key}`,
      `-a always,exit -F arch=b32 -S kill,rt_sigqueueinfo,tkill,pidfd_send_signal -F a1!=0x0 -F key=${key}`,
      `-a always,exit -F arch=b32 -S tgkill,rt_tgsigqueueinfo -F a2!=0x0 -F key=${key}`,
    ]);

    const second = setupRule(["install", "--key", key]);
    expect(second.code).toBe(0);
    expect(ruleLines(second).map((l) => l.result)).toEqual(Array(4).fill("present"));
    expect(keyed(key)).toHaveLength(4);

    // Rule meanings against auditctl -l for every filter: a second install finds them all.
    const filters = [["--pid", "-77", "--signal", "TERM", "--uid", "root"], ["--probes", "--pid", "4242"], ["--signal", "RTMIN+3", "--first"]];
    for (const extra of filters) {
      const filteredKey = testKey("filters");
      expect(setupRule(["install", "--key", filteredKey, ...extra]).code).toBe(0);
      const again = setupRule(["install", "--key", filteredKey, ...extra]);
      expect({ extra, results: ruleLines(again).map((l) => l.result) }).toEqual({ extra, results: ruleLines(again).map(() => "present") });
      removeKeyNow(filteredKey);
    }
    removeKeyNow(key);
  }, LIVE_TIMEOUT);

  test("the rules fire for all six calls: a fresh victim, a fresh sender, a SYSCALL with our key", async () => {
    const key = testKey("fire");
    const cursor = new RecordCursor();
    expect(setupRule(["install", "--key", key, "--first"]).code).toBe(0);
    const ops: [op: string, syscall: string, args: (pid: number) => number[]][] = [
      ["kill", "kill", (pid) => [pid, 15]],
      ["tkill", "tkill", (pid) => [pid, 15]],
      ["tgkill", "tgkill", (pid) => [pid, pid, 15]],
      ["sigqueue", "rt_sigqueueinfo", (pid) => [pid, 15]],
      ["tgsigqueue", "rt_tgsigqueueinfo", (pid) => [pid, pid, 15]],
      ["pidfd", "pidfd_send_signal", (pid) => [pid, 15]],
    ];
    for (const [op, syscall, args] of ops) {
      const target = victim();
      expect(await send(sender!, op, ...args(target.pid))).toBe(0);
      await target.exited;
      expect(target.signalCode).toBe("SIGTERM");
      const event = await logged(key, cursor, (e) => e.syscall.syscall === nr(syscall) && e.objPids.includes(String(target.pid)));
      expect({ op, found: event !== undefined }).toEqual({ op, found: true });
      expect(event!.syscall.comm).toBe(`"${sender!.comm}"`);
      if (syscall !== "pidfd_send_signal") expect(low32(event!.syscall.a0)).toBe(hex(target.pid));
    }
    removeKeyNow(key);
  }, LIVE_TIMEOUT);

  test("signal-0 probes are not logged by default, and are with --probes", async () => {
    const key = testKey("noprobe");
    const cursor = new RecordCursor();
    expect(setupRule(["install", "--key", key, "--first"]).code).toBe(0);
    const target = victim();
    expect(await send(sender!, "kill", target.pid, 0)).toBe(0);
    // SIGCONT as a marker: harmless to a running sleep, and logged in order after the probe.
    expect(await send(sender!, "kill", target.pid, 18)).toBe(0);
    const isTarget = (e: AuditEvent) => e.syscall.syscall === nr("kill") && low32(e.syscall.a0) === hex(target.pid);
    expect(await logged(key, cursor, (e) => isTarget(e) && e.syscall.a1 === "12")).toBeDefined();
    expect(eventsWithKey(key, cursor).filter((e) => isTarget(e) && e.syscall.a1 === "0")).toEqual([]);
    removeKeyNow(key);

    const probesKey = testKey("probes");
    expect(setupRule(["install", "--key", probesKey, "--probes", "--first"]).code).toBe(0);
    expect(await send(sender!, "kill", target.pid, 0)).toBe(0);
    expect(await logged(probesKey, cursor, (e) => isTarget(e) && e.syscall.a1 === "0")).toBeDefined();
    removeKeyNow(probesKey);
  }, LIVE_TIMEOUT);

  test("--pid logs only kills aimed at that pid (pidfd_send_signal stays unfiltered)", async () => {
    const watched = victim();
    const other = victim();
    const key = testKey("pid");
    const cursor = new RecordCursor();
    const install = setupRule(["install", "--key", key, "--pid", String(watched.pid), "--first"]);
    expect(install.code).toBe(0);
    expect(ruleLines(install).find((l) => l.rule.includes("pidfd_send_signal"))!.detail).toContain("file descriptor");

    expect(await send(sender!, "kill", other.pid, 18)).toBe(0);
    expect(await send(sender!, "tgkill", other.pid, other.pid, 18)).toBe(0);
    expect(await send(sender!, "pidfd", other.pid, 18)).toBe(0);
    expect(await send(sender!, "kill", watched.pid, 18)).toBe(0);
    const toWatched = (e: AuditEvent) => e.syscall.syscall === nr("kill") && low32(e.syscall.a0) === hex(watched.pid);
    expect(await logged(key, cursor, toWatched)).toBeDefined();
    const events = eventsWithKey(key, cursor);
    // The pidfd call to the other victim is logged: its a0 is an fd, which no pid filter can match.
    expect(events.filter((e) => e.objPids.includes(String(other.pid))).map((e) => e.syscall.syscall)).toEqual([nr("pidfd_send_signal")]);
    removeKeyNow(key);
  }, LIVE_TIMEOUT);

  test("a negative --pid matches kill(-pgid), not kill(pid)", async () => {
    // setsid execs sleep in a new session: its pid is its process group id.
    const leader = victim(["setsid", "sleep", "120"]);
    const pgrp = await waitFor(() => {
      try {
        const fields = readFileSync(`/proc/${leader.pid}/stat`, "utf8").split(") ")[1]!.split(" ");
        return Number(fields[2]) === leader.pid && fields[0] !== undefined ? leader.pid : undefined;
      } catch {
        return undefined;
      }
    });
    expect(pgrp).toBe(leader.pid);
    const key = testKey("group");
    const cursor = new RecordCursor();
    expect(setupRule(["install", "--key", key, "--pid", String(-leader.pid), "--first"]).code).toBe(0);
    // kill(pid) directly does not match a0=-pid; kill(-pgid) does.
    expect(await send(sender!, "kill", leader.pid, 18)).toBe(0);
    expect(await send(sender!, "kill", -leader.pid, 18)).toBe(0);
    const event = await logged(key, cursor, (e) => e.syscall.syscall === nr("kill") && e.objPids.length > 0);
    expect(event).toBeDefined();
    expect(low32(event!.syscall.a0)).toBe(hex(-leader.pid));
    expect(event!.objPids).toEqual([String(leader.pid)]);
    expect(eventsWithKey(key, cursor)).toHaveLength(1);
    removeKeyNow(key);
  }, LIVE_TIMEOUT);

  test("remove deletes our key's rules and leaves others, even with the same shape or a prefix key", () => {
    const key = testKey("remove");
    const decoys = [testKey("decoy"), `${key}x`];
    removeOnExit(decoys[1]!);
    keys.adopt(decoys[1]!);
    const decoyRules = [
      ["-a", "always,exit", "-F", "arch=b64", "-S", "kill", "-S", "tkill", "-S", "rt_sigqueueinfo", "-S", "pidfd_send_signal", "-F", "a1!=0", "-k", decoys[0]!],
      ["-a", "always,exit", "-F", "arch=b64", "-S", "kill", "-F", "a1=63", "-k", decoys[1]!],
    ];
    for (const args of decoyRules) addRuleNow(args);
    expect(setupRule(["install", "--key", key]).code).toBe(0);

    const removed = setupRule(["remove", "--key", key]);
    expect(removed.code).toBe(0);
    expect(ruleLines(removed).map((l) => l.result)).toEqual(Array(4).fill("removed"));
    expect(keyed(key)).toEqual([]);
    for (const decoy of decoys) expect(keyed(decoy)).toHaveLength(1);

    const again = setupRule(["remove", "--key", key]);
    expect(ruleLines(again)).toEqual([{ kind: "rule", action: "remove", rule: "", key, result: "absent", detail: `no rule with key ${key} is installed` }]);
    for (const decoy of decoys) removeKeyNow(decoy);
    expect(decoys.flatMap(keyed)).toEqual([]);
  }, LIVE_TIMEOUT);

  test("a watch's rule left by kill -9 is named by status and removed by remove; a live watch's key is not touched", async () => {
    // A run key whose owner is gone: a process of ours that has exited, with a start time no live process has.
    const gone = Bun.spawn(["true"]);
    await gone.exited;
    const leftKey = `whokilled-watch-${gone.pid}-1-${Math.random().toString(36).slice(2, 8)}`;
    // This test's own PID and start time: a run that still lives.
    const liveKey = `whokilled-watch-${process.pid === 1 ? 2 : process.ppid}-${startTicks(process.ppid)}-live01`;
    for (const k of [leftKey, liveKey]) {
      removeOnExit(k);
      keys.adopt(k);
      addRuleNow(["-a", "always,exit", "-F", "arch=b64", "-S", "kill", "-F", "a1=62", "-k", k]);
    }
    const status = setupRule(["status", "--key", testKey("status-left")]);
    expect(status.stderr).toContain(`audit rules with key ${leftKey} were left by a run that was killed`);
    expect(status.stderr).not.toContain(liveKey);
    const removed = setupRule(["remove", "--key", testKey("remove-left")]);
    expect(removed.stderr).toContain(`removed 1 audit rule(s) with key ${leftKey}, left by a run that was killed`);
    expect(keyed(leftKey)).toEqual([]);
    expect(keyed(liveKey)).toHaveLength(1);
    removeKeyNow(liveKey);
  }, LIVE_TIMEOUT);

  test("--persist writes KEY.rules in --rules-dir, remove --persist deletes it", () => {
    const key = testKey("persist");
    const dir = mkdtempSync(join(tmpdir(), "wk-rulesd-"));
    tmpDirs.push(dir);
    const install = setupRule(["install", "--key", key, "--persist", "--rules-dir", dir]);
    expect(install.code).toBe(0);
    const file = join(dir, `${key}.rules`);
    expect(readFileSync(file, "utf8")).toBe(setupRule(["print", "--key", key, "--format", "rules"]).stdout);
    expect(ruleLines(install).filter((l) => l.action === "persist").map((l) => [l.result, l.file])).toEqual(Array(4).fill(["ok", file]));
    expect(install.stderr).toContain("augenrules --load");

    const removed = setupRule(["remove", "--key", key, "--persist", "--rules-dir", dir]);
    expect(removed.code).toBe(0);
    expect(existsSync(file)).toBe(false);
    expect(ruleLines(removed).filter((l) => l.action === "persist").map((l) => l.result)).toEqual(Array(4).fill("removed"));
    expect(keyed(key)).toEqual([]);
  }, LIVE_TIMEOUT);

  test("status: audit on, auditd, our rules (missing ones named), backlog, blind spots", () => {
    const key = testKey("status");
    const before = setupRule(["status", "--key", key]);
    expect(before.code).toBe(0);
    // The way lines (one per way) come after these; test/setup-rule-way.test.ts checks them.
    const topics = (run: Run) => Object.fromEntries(run.lines.filter((l) => l.kind === "status" && l.topic !== "way").map((l) => [l.topic, l as unknown as StatusLine]));
    const b = topics(before);
    expect(Object.keys(b)).toEqual(["audit", "auditd", "rules", "backlog", "blind-spots"]);
    expect(before.lines.filter((l) => l.topic === "way").map((l) => l.way)).toEqual(["audit", "tracepoints", "both"]);
    expect(b.audit).toMatchObject({ enabled: 1 });
    expect(b.rules).toMatchObject({ present: [], other: [] });
    expect((b.rules as { missing: string[] }).missing).toHaveLength(4);
    expect(typeof (b.backlog as { lost: unknown }).lost).toBe("number");
    const spots = b["blind-spots"] as { basis: string; count: number | null };
    expect(["boot", "install", "recorded", "seen", "auditd-start", "unknown"]).toContain(spots.basis);
    expect(before.lines.filter((l) => l.kind === "blindspot")).toHaveLength(spots.count ?? 0);

    expect(setupRule(["install", "--key", key]).code).toBe(0);
    const after = topics(setupRule(["status", "--key", key]));
    expect(after.rules).toMatchObject({ missing: [], other: [] });
    // Asking with other options than were installed names both sides.
    const other = topics(setupRule(["status", "--key", key, "--probes"]));
    expect((other.rules as { missing: string[] }).missing).toHaveLength(2);
    expect((other.rules as { other: string[] }).other).toHaveLength(4);
    removeKeyNow(key);
  }, LIVE_TIMEOUT);
});
