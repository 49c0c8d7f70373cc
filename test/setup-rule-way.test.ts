/**
 * setup-rule's way of watching (--way audit|tracepoints|both), the ways in
 * `status`, and `status --probe`: what each way needs (against fake hosts
 * for the states the live kernel must not be put in: audit off, locked, no
 * tracepoints), then on the real kernel: install per way, status per way,
 * and the probe, which must leave no audit rule of its key and no tracefs
 * instance of its own behind, at its end, after SIGTERM, after kill -9 (the
 * next run removes them). Nothing here is timed: the figures are the bench's
 * business; the probe's rows are checked for shape only.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { WhokilledError } from "../lib/errors.ts";
import { parseRuleText } from "../lib/rules/audit-rule.ts";
import { kernelAuditControl, kernelRule, type AuditControl, type AuditStatus, type KernelRule } from "../lib/rules/control.ts";
import { auditAccess, CostStates, rotated } from "../lib/rules/cost-states.ts";
import { probeCost } from "../lib/rules/probe.ts";
import { leftRunKeys } from "../lib/rules/run-keys.ts";
import { checkWay, requireWay, wayStatusLine, wayTracepoints, type HostFacts } from "../lib/rules/way-check.ts";
import { TRACEPOINT_EVENTS } from "../lib/sources/tracepoint-live.ts";
import { parseWatchWay, wayUses, WATCH_WAYS } from "../lib/rules/ways.ts";
import { lineProblem } from "../lib/schema-check.ts";
import { findTracefs } from "../lib/sources/tracefs.ts";
import { auditSkipReason, removeKeyNow, TestKeys } from "./helpers/live.ts";
import { jsonLines, runScriptProcess, setupRuleSync } from "./helpers/run.ts";

const repo = join(import.meta.dir, "..");
const script = join(repo, "scripts", "setup-rule.ts");
const LIVE_TIMEOUT = 60_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  lines: Record<string, unknown>[];
}

const parseLines = jsonLines;

/** setup-rule.ts run to its end (helpers/run.ts), its stdout parsed at once: every line JSON. */
function setupRule(args: string[]): Run {
  const run = setupRuleSync(args);
  return { code: run.code, stdout: run.stdout, stderr: run.stderr, lines: run.lines };
}

// --- fake hosts ----------------------------------------------------------------

const STATUS: AuditStatus = {
  mask: 0,
  enabled: 1,
  failure: 1,
  pid: 0,
  rate_limit: 0,
  backlog_limit: 8192,
  lost: 0,
  backlog: 0,
  feature_bitmap: 0,
  backlog_wait_time: 60000,
  backlog_wait_time_actual: 0,
};

/** A kernel audit that records every call; `enabled` as given, rules as added. */
function fakeControl(enabled: number, rules: KernelRule[] = []) {
  const calls: string[] = [];
  const control: AuditControl = {
    status: () => ({ ...STATUS, enabled }),
    enable: () => void calls.push("enable"),
    listRules: () => [...rules],
    addRule: (rule) => {
      calls.push("add");
      rules.push(kernelRule(rule));
      return "added";
    },
    deleteRule: () => {
      calls.push("delete");
      return "deleted";
    },
  };
  return { control, calls };
}

function facts(audit: Partial<HostFacts["audit"]>, tracefs: Partial<HostFacts["tracefs"]> = {}): HostFacts {
  return {
    audit: { control: true, status: { ...STATUS }, error: null, rulesPresent: false, rulesMissing: 4, rulesExpected: 4, key: "whokilled", ...audit },
    tracefs: { mount: "/sys/kernel/tracing", mountable: false, missing: [], ...tracefs },
  };
}

describe("ways of watching, without the kernel", () => {
  test("--way takes audit (the default), tracepoints or both; anything else is a usage error", () => {
    expect(parseWatchWay(undefined)).toBe("audit");
    expect(WATCH_WAYS.map(parseWatchWay)).toEqual(["audit", "tracepoints", "both"]);
    expect(WATCH_WAYS.map(wayUses)).toEqual([
      { audit: true, tracepoints: false },
      { audit: false, tracepoints: true },
      { audit: true, tracepoints: true },
    ]);
    expect(() => parseWatchWay("ebpf")).toThrow('--way must be audit, tracepoints or both, got "ebpf"');
    const run = setupRule(["install", "--way", "ebpf", "--key", "wk-test-never-installed"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--way must be audit, tracepoints or both, got "ebpf"');
    expect(run.stdout).toBe("");
    const persist = setupRule(["install", "--way", "tracepoints", "--persist", "--key", "wk-test-never-installed"]);
    expect(persist.code).toBe(2);
    expect(persist.stderr).toContain("--persist writes audit rules, and --way tracepoints installs none");
    const twice = setupRule(["install", "--way", "audit", "--way", "both", "--key", "wk-test-never-installed"]);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain("--way was given 2 times");
  });

  test("the tracepoint way's set is capture --tracepoints': the six calls' and pidfd_open's enter and exit, signal_generate, exec, new tasks and renames", () => {
    expect(wayTracepoints().map((t) => t.path)).toEqual([
      ...["kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal", "pidfd_open"].flatMap((c) => [`syscalls/sys_enter_${c}`, `syscalls/sys_exit_${c}`]),
      "signal/signal_generate",
      "sched/sched_process_exec",
      "task/task_newtask",
      "task/task_rename",
    ]);
    expect(new Set(wayTracepoints().map((t) => t.path))).toEqual(new Set([...TRACEPOINT_EVENTS.map((e) => e.path), "signal/signal_generate"]));
  });

  test("what each way needs, and whether a host has it", () => {
    const on = facts({});
    expect(WATCH_WAYS.map((w) => [w, checkWay(w, on).possible, checkWay(w, on).ready])).toEqual([
      ["audit", true, false],
      ["tracepoints", true, true],
      ["both", true, false],
    ]);
    expect(checkWay("audit", on).checks.map((c) => [c.need, c.ok])).toEqual([
      ["audit", true],
      ["audit-unlocked", true],
      ["rules", false],
    ]);
    expect(checkWay("tracepoints", on).checks.map((c) => [c.need, c.ok])).toEqual([
      ["tracefs", true],
      ["tracepoints", true],
    ]);
    expect(checkWay("both", facts({ rulesPresent: true, rulesMissing: 0 })).ready).toBe(true);

    // Audit off: install switches it on, so the way is possible, not ready.
    const off = checkWay("audit", facts({ status: { ...STATUS, enabled: 0 } }));
    expect([off.possible, off.ready]).toEqual([true, false]);
    expect(wayStatusLine(off).detail).toContain("switches audit on");

    // Locked: only rules already loaded can serve; none can be added.
    const locked = checkWay("audit", facts({ status: { ...STATUS, enabled: 2 } }));
    expect(locked.possible).toBe(false);
    expect(() => requireWay(locked)).toThrow(/--way audit: this host cannot watch that way: audit is locked \(enabled 2\)/);
    expect(checkWay("audit", facts({ status: { ...STATUS, enabled: 2 }, rulesPresent: true, rulesMissing: 0 })).possible).toBe(true);
    // The tracepoints do not care.
    expect(checkWay("tracepoints", facts({ status: { ...STATUS, enabled: 2 } })).possible).toBe(true);

    // No privilege: E_PERM, exit 2.
    const noCap = checkWay("audit", facts({ control: false, status: null, error: "needs root (CAP_AUDIT_CONTROL)" }));
    expect(noCap.possible).toBe(false);
    try {
      requireWay(noCap);
      throw new Error("requireWay passed");
    } catch (error) {
      expect((error as WhokilledError).code).toBe("E_PERM");
    }

    // A kernel without the syscall tracepoints (CONFIG_FTRACE_SYSCALLS), or without tracefs at all.
    const noSyscalls = checkWay("tracepoints", facts({}, { missing: ["syscalls/sys_enter_kill", "syscalls/sys_exit_kill"] }));
    expect(noSyscalls.possible).toBe(false);
    expect(() => requireWay(noSyscalls)).toThrow(/lacks syscalls\/sys_enter_kill, syscalls\/sys_exit_kill \(syscall tracepoints need CONFIG_FTRACE_SYSCALLS\)/);
    expect(checkWay("both", facts({}, { missing: ["signal/signal_generate"] })).possible).toBe(false);
    expect(checkWay("tracepoints", facts({}, { mount: null, mountable: true })).possible).toBe(true);
    const noTracefs = checkWay("tracepoints", facts({}, { mount: null, mountable: false }));
    expect(noTracefs.possible).toBe(false);
    expect(() => requireWay(noTracefs)).toThrow(/no tracefs/);

    // Every way line fits the schema.
    for (const way of WATCH_WAYS) expect(lineProblem(wayStatusLine(checkWay(way, on)))).toBeNull();
  });

  test("cost states: each round's order is rotated; a visit sets up, notes others' rules, and takes down even when the measure throws", async () => {
    expect([0, 1, 2, 3].map((round) => rotated(["a", "b", "c"], round).join(""))).toEqual(["abc", "bca", "cab", "abc"]);
    const other = kernelRule(parseRuleText("-a always,exit -F arch=b64 -S kill -k someone-else"));
    const { control, calls } = fakeControl(1, [other]);
    // This fake's deleteRule removes nothing: a removal is seen in its calls.
    const states = new CostStates("probe", { whenAuditOff: "skip", control });
    const others = { auditRules: 0, instances: 0 };
    expect(await states.visit({ audit: true, tracepoints: [] }, others, () => control.listRules().filter((r) => r.keys.includes(states.key)).length)).toBeGreaterThan(0);
    expect(others.auditRules).toBe(1);
    const added = calls.filter((c) => c === "add").length;
    expect(calls.filter((c) => c === "delete")).toHaveLength(added);
    await expect(
      states.visit({ audit: true, tracepoints: [] }, others, () => {
        throw new Error("measure failed");
      }),
    ).rejects.toThrow("measure failed");
    expect(calls.filter((c) => c === "delete").length).toBeGreaterThan(added);
    states.takeDown();
  });

  test("the probe's audit access: off is skipped (never switched on), locked is skipped, on is measured", () => {
    for (const [enabled, whenOff, skip] of [
      [0, "skip", /audit is off \(enabled 0\)/],
      [2, "skip", /locked \(enabled 2\)/],
      [2, "load", /locked \(enabled 2\)/],
    ] as const) {
      const { control, calls } = fakeControl(enabled);
      expect(auditAccess(whenOff, control).skip).toMatch(skip);
      expect(calls).toEqual([]);
    }
    expect(auditAccess("load", fakeControl(0).control)).toMatchObject({ skip: null, note: expect.stringContaining("audit is off") });
    expect(auditAccess("skip", fakeControl(1).control)).toEqual({ enabled: 1, skip: null, note: null });
    expect(auditAccess("skip", null).skip).toMatch(/CAP_AUDIT_CONTROL/);
    const broken: AuditControl = { ...fakeControl(1).control, status: () => { throw new Error("EPROTONOSUPPORT"); } };
    expect(auditAccess("skip", broken).skip).toMatch(/no kernel audit \(EPROTONOSUPPORT\)/);
  });

  test("run keys: a dead probe's key is a leftover, a live one's is not", () => {
    const self = `whokilled-probe-${process.pid}-1-abc`;
    expect(leftRunKeys([self, "whokilled-probe-999999999-5-abc", "whokilled-probe-1-99999999999-abc", "whokilled"], () => null)).toEqual([
      "whokilled-probe-1-99999999999-abc",
      "whokilled-probe-999999999-5-abc",
    ]);
  });
});

// --- the real kernel -------------------------------------------------------------

const liveSkip = auditSkipReason() ?? (findTracefs() === null ? "tracefs not mounted" : null);
if (liveSkip) console.log(`skip: setup-rule --way on the real kernel: ${liveSkip}`);

const keys = new TestKeys();
const testKey = (name: string) => keys.key(name);
afterAll(() => {
  keys.removeAll();
});

/** What a run with this PID owns: audit rules keyed whokilled-probe-PID-…, instances whokilled-PID-…. */
function leftBy(pid: number): { rules: string[]; instances: string[] } {
  const rules = kernelAuditControl
    .listRules()
    .filter((rule) => rule.keys.some((key) => key.startsWith(`whokilled-probe-${pid}-`)))
    .map((rule) => rule.line);
  const tracefs = findTracefs();
  const instances = tracefs ? readdirSync(join(tracefs, "instances")).filter((name) => name.startsWith(`whokilled-${pid}-`)) : [];
  return { rules, instances };
}

/** Start `status --probe` and wait until it holds something of its own (a rule or an instance). */
async function probeHolding(): Promise<{ child: Bun.Subprocess<"ignore", "pipe", "pipe">; held: boolean }> {
  const child = Bun.spawn([process.execPath, script, "status", "--probe", "--key", "wk-test-probe-unused"], {
    cwd: repo,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  for (let i = 0; i < 4000 && child.exitCode === null; i++) {
    const now = leftBy(child.pid);
    if (now.rules.length > 0 || now.instances.length > 0) return { child, held: true };
    await Bun.sleep(2);
  }
  return { child, held: false };
}

describe.skipIf(liveSkip !== null)("setup-rule --way on the real kernel", () => {
  test("install --way tracepoints installs nothing, says so, prints the capture command", () => {
    const key = testKey("way-tp");
    const run = setupRule(["install", "--way", "tracepoints", "--key", key]);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    expect(run.lines).toHaveLength(1);
    expect(run.lines[0]).toMatchObject({ kind: "status", topic: "way", way: "tracepoints", possible: true, ready: true });
    expect(lineProblem(run.lines[0] as never)).toBeNull();
    expect(run.stderr).toContain("nothing to install");
    expect(run.stderr).toContain("lives only while it runs");
    expect(run.stderr).toMatch(/To watch: npx bun scripts\/capture\.ts --tracepoints \| npx bun scripts\/attribute\.ts/);
    expect(kernelAuditControl.listRules().filter((r) => r.keys.includes(key))).toEqual([]);
  }, LIVE_TIMEOUT);

  test("install --way audit is install as before; --way both installs the rules and checks the tracepoints", () => {
    const audit = testKey("way-audit");
    const plain = setupRule(["install", "--way", "audit", "--key", audit]);
    expect(plain.code).toBe(0);
    expect(plain.lines.map((l) => l.kind)).toEqual(["rule", "rule", "rule", "rule"]);
    expect(kernelAuditControl.listRules().filter((r) => r.keys.includes(audit))).toHaveLength(4);
    removeKeyNow(audit);

    const both = testKey("way-both");
    const run = setupRule(["install", "--way", "both", "--key", both]);
    expect(run.code).toBe(0);
    expect(run.lines.filter((l) => l.kind === "rule").map((l) => l.result)).toEqual(["ok", "ok", "ok", "ok"]);
    const way = run.lines.find((l) => l.topic === "way");
    expect(way).toMatchObject({ way: "both", possible: true, ready: true });
    expect(run.stderr).toMatch(/capture\.ts --netlink --tracepoints/);
    expect(kernelAuditControl.listRules().filter((r) => r.keys.includes(both))).toHaveLength(4);
    removeKeyNow(both);
  }, LIVE_TIMEOUT);

  test("status lists each way: what it needs and whether this host has it", () => {
    const key = testKey("way-status");
    const run = setupRule(["status", "--key", key]);
    expect(run.code).toBe(0);
    const ways = run.lines.filter((l) => l.topic === "way");
    expect(ways.map((l) => l.way)).toEqual(["audit", "tracepoints", "both"]);
    for (const line of ways) expect(lineProblem(line as never)).toBeNull();
    const needs = (way: string) => (ways.find((l) => l.way === way)!.checks as { need: string; ok: boolean }[]).map((c) => `${c.need}:${c.ok}`);
    expect(needs("audit")).toEqual(["audit:true", "audit-unlocked:true", "rules:false"]);
    expect(needs("tracepoints")).toEqual(["tracefs:true", "tracepoints:true"]);
    expect(needs("both")).toEqual([...needs("audit"), ...needs("tracepoints")]);
    expect(run.lines.some((l) => l.topic === "cost")).toBe(false);

    expect(setupRule(["install", "--key", key]).code).toBe(0);
    const after = setupRule(["status", "--key", key]).lines.filter((l) => l.topic === "way");
    expect(after.map((l) => [l.way, l.ready])).toEqual([
      ["audit", true],
      ["tracepoints", true],
      ["both", true],
    ]);
    removeKeyNow(key);
  }, LIVE_TIMEOUT);

  test("status --probe: three rows with numbers, and no rule or instance of its own left", async () => {
    const { stdout, stderr, code, pid } = await runScriptProcess("setup-rule", ["status", "--probe", "--key", "wk-test-probe-unused"]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const cost = parseLines(stdout).filter((l) => l.topic === "cost");
    expect(cost.map((l) => l.state)).toEqual(["nothing", "audit", "tracepoints"]);
    for (const row of cost) {
      expect(lineProblem(row as never)).toBeNull();
      // Checked by hand: bun 1.4's toMatchObject with expect.any() leaves the matchers in the object.
      expect([typeof row.nsPerCall, typeof row.ratio, row.skipped]).toEqual(["number", "number", null]);
      expect(row.nsPerCall as number).toBeGreaterThan(0);
      expect(row.ratio as number).toBeGreaterThan(0);
      expect(row.calls as number).toBeGreaterThan(0);
      expect(row.detail).toContain("noisy");
    }
    expect(cost[0]!.ratio).toBe(1);
    expect(stderr).toMatch(/probe: ns per unrelated syscall \(getppid\) from this process: nothing \d+ ns, audit \d+ ns \([\d.]+×\), tracepoints \d+ ns \([\d.]+×\)/);
    // Nothing of its own left: no rule with its key (netlink and auditctl agree), no instance.
    expect(leftBy(pid)).toEqual({ rules: [], instances: [] });
    const auditctl = Bun.which("auditctl");
    if (auditctl) expect(Bun.spawnSync([auditctl, "-l"]).stdout.toString()).not.toContain(`whokilled-probe-${pid}-`);
  }, LIVE_TIMEOUT);

  test("status --probe stopped by SIGTERM mid-probe: exits 143, leaves no rule and no instance", async () => {
    const { child, held } = await probeHolding();
    expect(held).toBe(true);
    child.kill("SIGTERM");
    const [stderr, code] = await Promise.all([new Response(child.stderr).text(), child.exited]);
    expect(code).toBe(143);
    expect(stderr).toContain("stopped by SIGTERM");
    expect(leftBy(child.pid)).toEqual({ rules: [], instances: [] });
  }, LIVE_TIMEOUT);

  test("status --probe killed by kill -9: the next probe removes what it left", async () => {
    const { child, held } = await probeHolding();
    expect(held).toBe(true);
    child.kill("SIGKILL");
    await child.exited;
    const next = Bun.spawn([process.execPath, script, "status", "--probe", "--key", "wk-test-probe-unused"], { cwd: repo, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const [stderr, code] = await Promise.all([new Response(next.stderr).text(), next.exited]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    // Another run (a bench, watch, setup-rule remove) may have removed them first: what counts is that none is left.
    expect(leftBy(child.pid)).toEqual({ rules: [], instances: [] });
    expect(leftBy(next.pid)).toEqual({ rules: [], instances: [] });
  }, LIVE_TIMEOUT);

  test("the probe with audit locked or off (a fake kernel audit): audit skipped and never touched; the rest measured", async () => {
    for (const enabled of [0, 2]) {
      const { control, calls } = fakeControl(enabled);
      const result = await probeCost({ control, budgetMs: 40, rounds: 1 });
      expect(result.rows.map((r) => [r.state, r.skipped === null])).toEqual([
        ["nothing", true],
        ["audit", false],
        ["tracepoints", true],
      ]);
      expect(result.rows[1]!.skipped).toMatch(enabled === 0 ? /audit is off/ : /locked/);
      expect(result.rows[1]!.nsPerCall).toBeNull();
      expect(calls).toEqual([]); // never enabled, never a rule added
      expect(leftBy(process.pid).instances).toEqual([]);
    }
  }, LIVE_TIMEOUT);
});
