/**
 * setup-rule's library without the kernel: rule generation for each option
 * combination, flag validation, rule meanings (sameRule) against `auditctl -l` output
 * captured on this kind of machine (auditd 3.0.9, kernel 6.18), /proc
 * parsing, and install/remove/status driven through a fake kernel
 * (AuditControl) so the "audit was off" and "audit locked" paths can be tested
 * without ever switching audit off or locking it.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WhokilledError } from "../lib/errors.ts";
import { formatRule, parseRuleText, withoutPrepend, type AuditRule } from "../lib/rules/audit-rule.ts";
import { kernelRule, type AuditControl, type AuditStatus, type KernelRule, type OwnAuditContext } from "../lib/rules/control.ts";
import { findBlindSpots, parseProcStat, parseProcStatus, listProcesses, readClock } from "../lib/rules/blind-spots.ts";
import { buildRules, kernelArches, rulesFileText, type RuleOptions } from "../lib/rules/build.ts";
import { readRecordedEnable } from "../lib/rules/enable-time.ts";
import { installRules, listInstalled, removeRules } from "../lib/rules/install.ts";
import { parseArch, parseKey, parsePid, parseSignal, parseUid, ruleOptionsFromFlags } from "../lib/rules/options.ts";
import { leftRunKeys, runKey, RunRules, startTicks } from "../lib/rules/run-keys.ts";
import { statusReport } from "../lib/rules/status.ts";
import type { BlindSpotLine, StatusLine } from "../lib/schema.ts";
import { ruleIdentity, sameRule } from "./helpers/rule-identity.ts";

const both = ["b64", "b32"] as const;
const lines = (options: Omit<RuleOptions, "key"> & { key?: string }) =>
  buildRules({ key: "whokilled", arches: both, ...options }).map((r) => r.line);

const tmpDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "wk-rules-"));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

function usageErrorOf(fn: () => unknown): WhokilledError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(WhokilledError);
    return error as WhokilledError;
  }
  throw new Error("expected a usage error");
}

describe("buildRules", () => {
  test("default: probes left out, split by signal argument, both ABIs", () => {
    expect(lines({})).toEqual([
      "-a always,exit -F arch=b64 -S kill -S tkill -S rt_sigqueueinfo -S pidfd_send_signal -F a1!=0 -k whokilled",
      "-a always,exit -F arch=b64 -S tgkill -S rt_tgsigqueueinfo -F a2!=0 -k whokilled",
      "-a always,exit -F arch=b32 -S kill -S tkill -S rt_sigqueueinfo -S pidfd_send_signal -F a1!=0 -k whokilled",
      "-a always,exit -F arch=b32 -S tgkill -S rt_tgsigqueueinfo -F a2!=0 -k whokilled",
    ]);
  });

  test("--pidfd-open: only with pidfd_send_signal, filtered by --pid (its a0 is a PID) and --uid, never by signal; off by default", () => {
    const rules = buildRules({ key: "k", arches: ["b64"], pid: 1234, uid: 7, signal: 9, pidfdOpen: true });
    const open = rules.filter((r) => r.syscalls.includes("pidfd_open"));
    expect(open.map((r) => r.line)).toEqual(["-a always,exit -F arch=b64 -S pidfd_open -F success=1 -F a0=1234 -F uid=7 -k k"]);
    expect(open[0]!.syscalls).toEqual(["pidfd_open"]);
    expect(open[0]!.detail).toContain("ESRCH");
    // A group kill's negative pid names no pidfd: no pidfd_open rule then.
    expect(lines({ pid: -5, arches: ["b64"], pidfdOpen: true }).some((l) => l.includes("pidfd_open"))).toBe(false);
    expect(lines({ syscalls: ["kill"], arches: ["b64"] })).toEqual(["-a always,exit -F arch=b64 -S kill -F a1!=0 -k whokilled"]);
    expect(lines({ arches: ["b64"] }).some((l) => l.includes("pidfd_open"))).toBe(false);
    expect(lines({ first: true, arches: ["b64"], pidfdOpen: true }).at(-1)).toStartWith("-A always,exit -F arch=b64 -S pidfd_open");
  });

  test("--probes: one rule per ABI with all six calls and no signal filter", () => {
    expect(lines({ probes: true })).toEqual([
      "-a always,exit -F arch=b64 -S kill -S tkill -S tgkill -S rt_sigqueueinfo -S rt_tgsigqueueinfo -S pidfd_send_signal -k whokilled",
      "-a always,exit -F arch=b32 -S kill -S tkill -S tgkill -S rt_sigqueueinfo -S rt_tgsigqueueinfo -S pidfd_send_signal -k whokilled",
    ]);
  });

  test("every kill-family call is covered exactly once per ABI, whatever the options", () => {
    const combos: Omit<RuleOptions, "key">[] = [
      {},
      { probes: true },
      { pid: 42 },
      { pid: 42, probes: true },
      { signal: 9 },
      { uid: 1000 },
      { pid: -7, signal: 15, uid: 0 },
    ];
    for (const combo of combos) {
      const rules = buildRules({ key: "k", arches: both, ...combo });
      for (const arch of both) {
        const calls = rules.filter((r) => r.arch === arch).flatMap((r) => r.syscalls);
        expect(calls.sort()).toEqual(["kill", "pidfd_send_signal", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "tgkill", "tkill"]);
      }
    }
  });

  test("--pid: a0 on every call but pidfd_send_signal, which stays unfiltered and says why", () => {
    const rules = buildRules({ key: "whokilled", arches: ["b64"], pid: 1234 });
    expect(rules.map((r) => r.line)).toEqual([
      "-a always,exit -F arch=b64 -S kill -S tkill -S rt_sigqueueinfo -F a0=1234 -F a1!=0 -k whokilled",
      "-a always,exit -F arch=b64 -S tgkill -S rt_tgsigqueueinfo -F a0=1234 -F a2!=0 -k whokilled",
      "-a always,exit -F arch=b64 -S pidfd_send_signal -F a1!=0 -k whokilled",
    ]);
    expect(rules[2]!.detail).toContain("file descriptor");
    expect(rules[0]!.detail).toContain("not group kills");
  });

  test("--pid with --probes: the a1 and a2 calls share a rule again", () => {
    expect(lines({ pid: 1234, probes: true, arches: ["b64"] })).toEqual([
      "-a always,exit -F arch=b64 -S kill -S tkill -S tgkill -S rt_sigqueueinfo -S rt_tgsigqueueinfo -F a0=1234 -k whokilled",
      "-a always,exit -F arch=b64 -S pidfd_send_signal -k whokilled",
    ]);
  });

  test("--pid negative: a group kill, written as the signed number", () => {
    const rules = buildRules({ key: "g", arches: ["b64"], pid: -4321 });
    expect(rules[0]!.line).toBe("-a always,exit -F arch=b64 -S kill -S tkill -S rt_sigqueueinfo -F a0=-4321 -F a1!=0 -k g");
    expect(rules[0]!.detail).toContain("group kill of process group 4321");
  });

  test("--signal: exact match on a1 or a2, replacing the probe filter", () => {
    expect(lines({ signal: 9, arches: ["b32"] })).toEqual([
      "-a always,exit -F arch=b32 -S kill -S tkill -S rt_sigqueueinfo -S pidfd_send_signal -F a1=9 -k whokilled",
      "-a always,exit -F arch=b32 -S tgkill -S rt_tgsigqueueinfo -F a2=9 -k whokilled",
    ]);
    expect(buildRules({ key: "k", arches: ["b64"], signal: 9 })[0]!.detail).toContain("SIGKILL");
  });

  test("--uid and --key on every rule", () => {
    for (const line of lines({ uid: 33, key: "mykey" })) expect(line).toEndWith("-F uid=33 -k mykey");
  });

  test("all filters at once", () => {
    expect(lines({ pid: 99, signal: 15, uid: 0, arches: ["b64"] })).toEqual([
      "-a always,exit -F arch=b64 -S kill -S tkill -S rt_sigqueueinfo -F a0=99 -F a1=15 -F uid=0 -k whokilled",
      "-a always,exit -F arch=b64 -S tgkill -S rt_tgsigqueueinfo -F a0=99 -F a2=15 -F uid=0 -k whokilled",
      "-a always,exit -F arch=b64 -S pidfd_send_signal -F a1=15 -F uid=0 -k whokilled",
    ]);
  });

  test("--first inserts at the head (-A); still the same rule by meaning", () => {
    const [first] = buildRules({ key: "whokilled", arches: ["b64"], first: true });
    expect(first!.line).toBe("-A always,exit -F arch=b64 -S kill -S tkill -S rt_sigqueueinfo -S pidfd_send_signal -F a1!=0 -k whokilled");
    expect(sameRule(first!.args, lines({ arches: ["b64"] })[0]!)).toBe(true);
  });

  test("args are the line split, ready for auditctl without a shell", () => {
    for (const rule of buildRules({ key: "k", arches: both, pid: 5 })) expect(rule.args.join(" ")).toBe(rule.line);
  });

  test("ABIs follow the kernel: both on 64-bit machines, b32 alone on 32-bit ones", () => {
    expect(kernelArches("x86_64")).toEqual(["b64", "b32"]);
    expect(kernelArches("aarch64")).toEqual(["b64", "b32"]);
    expect(kernelArches("i686")).toEqual(["b32"]);
    expect(kernelArches("armv7l")).toEqual(["b32"]);
    expect(buildRules({ key: "k", arches: kernelArches("i686") }).every((r) => r.arch === "b32")).toBe(true);
  });

  test("rules.d text: comments, then the same lines print shows", () => {
    const options: RuleOptions = { key: "whokilled", arches: both };
    const text = rulesFileText(buildRules(options), options);
    const ruleLines = text.split("\n").filter((l) => l.startsWith("-"));
    expect(ruleLines).toEqual(lines({}));
    expect(text.split("\n").filter((l) => l && !l.startsWith("-")).every((l) => l.startsWith("#"))).toBe(true);
    expect(text).toEndWith("\n");
    expect(text).not.toContain("--key");
    const custom: RuleOptions = { key: "other", arches: both };
    expect(rulesFileText(buildRules(custom), custom)).toContain("remove --persist --key other");
  });
});

describe("flags", () => {
  test("signals by name, with or without SIG, any case, or number", () => {
    expect(parseSignal("KILL")).toBe(9);
    expect(parseSignal("sigterm")).toBe(15);
    expect(parseSignal("15")).toBe(15);
    expect(parseSignal("0")).toBe(0);
    expect(parseSignal("RTMIN+2")).toBe(36);
  });

  test("bad signals name the problem", () => {
    expect(usageErrorOf(() => parseSignal("FOO")).message).toContain('"FOO"');
    expect(usageErrorOf(() => parseSignal("65")).message).toContain("0 to 64");
    expect(usageErrorOf(() => parseSignal("FOO")).code).toBe("E_USAGE");
  });

  test("pids: numbers, negative for groups, within 32 bits", () => {
    expect(parsePid("1234")).toBe(1234);
    expect(parsePid("-77")).toBe(-77);
    expect(usageErrorOf(() => parsePid("abc")).message).toContain('"abc"');
    expect(usageErrorOf(() => parsePid("12x")).code).toBe("E_USAGE");
    // auditctl would silently wrap 2^32 to 0.
    expect(usageErrorOf(() => parsePid("4294967296")).message).toContain("32-bit");
  });

  test("uids: numbers or names from a passwd file", () => {
    const dir = tempDir();
    const passwd = join(dir, "passwd");
    writeFileSync(passwd, "root:x:0:0:root:/root:/bin/bash\nalice:x:1001:1001::/home/alice:/bin/sh\n");
    expect(parseUid("alice", passwd)).toBe(1001);
    expect(parseUid("root", passwd)).toBe(0);
    expect(parseUid("4242", passwd)).toBe(4242);
    expect(usageErrorOf(() => parseUid("bob", passwd)).message).toContain('"bob"');
    expect(usageErrorOf(() => parseUid("4294967295", passwd)).code).toBe("E_USAGE");
  });

  test("keys stay plain: they name a file and an auditctl argument", () => {
    expect(parseKey("whokilled")).toBe("whokilled");
    expect(parseKey("wk-test-x-1.2_3")).toBe("wk-test-x-1.2_3");
    for (const bad of ["", "a b", "../etc/x", "-k", "k\u0001j", "x".repeat(256)]) expect(usageErrorOf(() => parseKey(bad)).code).toBe("E_USAGE");
  });

  test("arch override", () => {
    expect(parseArch("b64")).toEqual(["b64"]);
    expect(parseArch("both")).toEqual(["b64", "b32"]);
    expect(usageErrorOf(() => parseArch("x86")).code).toBe("E_USAGE");
  });

  test("ruleOptionsFromFlags puts it together", () => {
    expect(ruleOptionsFromFlags({ key: "k", pid: "-3", signal: "HUP", uid: "0", arch: "b32", probes: true })).toEqual({
      key: "k",
      probes: true,
      pid: -3,
      signal: 1,
      uid: 0,
      arches: ["b32"],
    });
    expect(ruleOptionsFromFlags({}).key).toBe("whokilled");
  });
});

describe("rule meaning", () => {
  // `auditctl -l` after adding the rules above, captured on this machine
  // (auditd 3.0.9, x86_64): names joined in number order, values in hex, -k as key=.
  const listed = {
    a1: "-a always,exit -F arch=b64 -S kill,rt_sigqueueinfo,tkill,pidfd_send_signal -F a1!=0x0 -F key=whokilled",
    a2: "-a always,exit -F arch=b64 -S tgkill,rt_tgsigqueueinfo -F a2!=0x0 -F key=whokilled",
    b32: "-a always,exit -F arch=b32 -S kill,rt_sigqueueinfo,tkill,pidfd_send_signal -F a1!=0x0 -F key=whokilled",
    filtered: "-a always,exit -F arch=b64 -S tgkill,rt_tgsigqueueinfo -F a2!=0x0 -F uid=0 -F a0=0x7B -F key=whokilled",
    negative: "-a always,exit -F arch=b64 -S kill -F a0=0xFFFFFFFB -F key=whokilled",
    probes: "-a always,exit -F arch=b64 -S kill,tkill,tgkill,rt_sigqueueinfo,rt_tgsigqueueinfo,pidfd_send_signal -F key=whokilled",
  };

  test("our generated rules equal what auditctl -l prints for them", () => {
    const [a1, a2, b32] = buildRules({ key: "whokilled", arches: both });
    expect(sameRule(a1!.args, listed.a1)).toBe(true);
    expect(sameRule(a2!.line, listed.a2)).toBe(true);
    expect(sameRule(b32!.args, listed.b32)).toBe(true);
    expect(sameRule(buildRules({ key: "whokilled", arches: ["b64"], probes: true })[0]!.args, listed.probes)).toBe(true);
    expect(sameRule(buildRules({ key: "whokilled", arches: ["b64"], pidfdOpen: true })[2]!.args, "-a always,exit -F arch=b64 -S pidfd_open -F success=1 -F key=whokilled")).toBe(true);
  });

  test("field order, hex, -k vs key=, syscall order do not matter", () => {
    expect(sameRule("-a always,exit -F arch=b64 -S tgkill -S rt_tgsigqueueinfo -F a0=123 -F a2!=0 -F uid=0 -k whokilled", listed.filtered)).toBe(true);
    expect(sameRule("-a exit,always -F arch=b64 -S rt_tgsigqueueinfo,tgkill -F a2!=0 -F key=whokilled", listed.a2)).toBe(true);
    expect(sameRule("auditctl -a always,exit -F arch=x86_64 -S tgkill -S rt_tgsigqueueinfo -F a2!=0 -k whokilled", listed.a2)).toBe(true);
  });

  test("a negative pid is the same value as its u32 hex", () => {
    expect(sameRule("-a always,exit -F arch=b64 -S kill -F a0=-5 -k whokilled", listed.negative)).toBe(true);
    expect(sameRule("-a always,exit -F arch=b64 -S kill -F a0=4294967291 -k whokilled", listed.negative)).toBe(true);
    expect(sameRule("-a always,exit -S kill -F uid=unset -k k", "-a always,exit -S kill -F uid=4294967295 -F key=k")).toBe(true);
  });

  test("anything that changes the meaning makes a different rule", () => {
    const base = "-a always,exit -F arch=b64 -S tgkill -S rt_tgsigqueueinfo -F a2!=0 -k whokilled";
    expect(sameRule(base, listed.a2)).toBe(true);
    expect(sameRule(base.replace("whokilled", "other"), listed.a2)).toBe(false);
    expect(sameRule(base.replace("b64", "b32"), listed.a2)).toBe(false);
    expect(sameRule(base.replace("a2!=0", "a2=0"), listed.a2)).toBe(false);
    expect(sameRule(base.replace("a2!=0", "a1!=0"), listed.a2)).toBe(false);
    expect(sameRule(base.replace(" -S rt_tgsigqueueinfo", ""), listed.a2)).toBe(false);
    expect(sameRule(base.replace("always", "never"), listed.a2)).toBe(false);
    expect(sameRule(`${base} -F uid=0`, listed.a2)).toBe(false);
  });

  test("a watch is the exit rule it stands for; several keys in any order", () => {
    expect(sameRule("-w /etc/passwd -p wa -k identity", "-a always,exit -F path=/etc/passwd -F perm=wa -F key=identity")).toBe(true);
    expect(sameRule("-w /etc/passwd -p wa -k identity", "-w /etc/passwd -p r -k identity")).toBe(false);
    expect(sameRule("-a always,exit -S kill -k a -k b", "-a always,exit -S kill -k b -k a")).toBe(true);
  });
});

describe("/proc parsing", () => {
  const statLine = (pid: number, comm: string, ppid: number, flags: number, start: number) =>
    `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 ${flags} 100 0 0 0 1 2 0 0 20 0 1 0 ${start} 1000 50 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`;

  test("field 22 and comm with spaces and parentheses", () => {
    const stat = parseProcStat(statLine(42, "a) b (c", 1, 0x400100, 12345));
    expect(stat).toEqual({ pid: 42, ppid: 1, comm: "a) b (c", state: "S", startTicks: 12345, kernelThread: false });
    expect(parseProcStat(statLine(2, "kthreadd", 0, 0x208040, 0))!.kernelThread).toBe(true);
    expect(parseProcStat("garbage")).toBeNull();
  });

  test("status: real and effective uid, and the thread group; null where a line is missing", () => {
    const status = "Name:\tx\nTgid:\t4242\nPid:\t4243\nUid:\t1000\t0\t0\t0\nGid:\t100\t100\t100\t100\n";
    expect(parseProcStatus(status)).toEqual({ uid: 1000, euid: 0, tgid: 4242 });
    expect(parseProcStatus("Name:\tx\n")).toEqual({ uid: null, euid: null, tgid: null });
    expect(parseProcStatus(readFileSync(`/proc/${process.pid}/status`, "utf8")).tgid).toBe(process.pid);
  });

  test("this process's own stat parses", () => {
    const self = parseProcStat(readFileSync(`/proc/${process.pid}/stat`, "utf8"));
    expect(self?.pid).toBe(process.pid);
    expect(self!.startTicks).toBeGreaterThan(0);
  });

  test("blind spots: user processes started before the enable time", () => {
    const root = fakeProc([
      [1, "init", 0, 0x400100, 5],
      [2, "kthreadd", 0, 0x208040, 5],
      [300, "old daemon", 1, 0x400100, 900],
      [400, "new", 1, 0x400100, 1000],
      [500, "newer", 1, 0x400100, 1500],
    ]);
    const clock = { ticksPerSecond: 100, bootTime: 1_700_000_000 };
    const blind = findBlindSpots(listProcesses(root), 1000, clock);
    expect(blind.map((b) => b.pid)).toEqual([1, 300]);
    expect(blind[1]).toEqual({ pid: 300, ppid: 1, comm: "old daemon", startTicks: 900, start: new Date((1_700_000_000 + 9) * 1000).toISOString() });
    expect(findBlindSpots(listProcesses(root), 1000, clock, [1]).map((b) => b.pid)).toEqual([300]);
  });
});

/** A /proc with the given processes: [pid, comm, ppid, flags, startTicks]. */
function fakeProc(processes: [number, string, number, number, number][], uptime = "20.00 10.00", cmdline = "quiet"): string {
  const root = tempDir();
  writeFileSync(join(root, "stat"), "cpu  1 2 3\nbtime 1700000000\nprocesses 9\n");
  writeFileSync(join(root, "uptime"), `${uptime}\n`);
  writeFileSync(join(root, "cmdline"), `${cmdline}\n`);
  mkdirSync(join(root, "sys/kernel/random"), { recursive: true });
  writeFileSync(join(root, "sys/kernel/random/boot_id"), "11111111-2222-3333-4444-555555555555\n");
  for (const [pid, comm, ppid, flags, start] of processes) {
    mkdirSync(join(root, String(pid)));
    writeFileSync(
      join(root, String(pid), "stat"),
      `${pid} (${comm}) S ${ppid} ${pid} ${pid} 0 -1 ${flags} 100 0 0 0 1 2 0 0 20 0 1 0 ${start} 1000 50 0\n`,
    );
  }
  return root;
}

/**
 * A stand-in for the kernel's audit subsystem: status, enable, and a rule
 * list that tells rules apart as the kernel does (list, action, syscalls,
 * fields in order). Rules are seeded in auditctl syntax, so the rule parser is
 * exercised across spellings.
 */
class FakeAuditControl implements AuditControl {
  enabled: number;
  pid: number;
  rules: AuditRule[];
  enables = 0;
  adds = 0;
  deletes = 0;
  failOnAdd: number | null = null;
  /** What this process's own audit context would show (the kernel: probeOwnAuditContext); default: none, audit was never on before. */
  ownContext: OwnAuditContext = { context: false, detail: "fake: no SYSCALL record came with our EVENT_LISTENER records" };
  /** Rules that exist but are not listed yet: another process added them between our list and our add. */
  unlisted: AuditRule[] = [];

  constructor(enabled: number, pid = 0, rules: string[] = []) {
    this.enabled = enabled;
    this.pid = pid;
    this.rules = rules.map((line) => parseRuleText(line, "x86_64"));
  }

  lines(): string[] {
    return this.rules.map((r) => formatRule(r, "x86_64"));
  }

  status(): AuditStatus {
    return {
      mask: 0,
      enabled: this.enabled,
      failure: 1,
      pid: this.pid,
      rate_limit: 0,
      backlog_limit: 8192,
      lost: 3,
      backlog: 0,
      feature_bitmap: 0x7f,
      backlog_wait_time: 60000,
      backlog_wait_time_actual: 0,
    };
  }

  enable(): void {
    this.enables++;
    this.enabled = 1;
  }

  listRules(): KernelRule[] {
    return this.rules.map(kernelRule);
  }

  addRule(rule: AuditRule): "added" | "exists" {
    if (this.enabled === 2) throw new WhokilledError("E_PERM", "AUDIT_ADD_RULE: EPERM");
    if (this.failOnAdd !== null && ++this.adds >= this.failOnAdd) throw new WhokilledError("E_KERNEL", `the kernel rejected the rule as invalid (EINVAL): ${formatRule(rule)}`);
    const same = (r: AuditRule) => ruleIdentity(r) === ruleIdentity(rule);
    if (this.rules.some(same) || this.unlisted.some(same)) return "exists";
    this.rules.push(withoutPrepend(rule));
    return "added";
  }

  ownAuditContext(): OwnAuditContext {
    return this.ownContext;
  }

  deleteRule(rule: AuditRule): "deleted" | "absent" {
    this.deletes++;
    const index = this.rules.findIndex((r) => ruleIdentity(r) === ruleIdentity(withoutPrepend(rule)));
    if (index < 0) return "absent";
    this.rules.splice(index, 1);
    return "deleted";
  }
}

describe("install, remove, list and status through a fake kernel", () => {
  const options = { key: "whokilled", arches: ["b64"] as const };

  test("audit off, never on since boot: rules added, audit enabled once (to 1: the interface cannot do anything else), blind spots reported and recorded", () => {
    const fake = new FakeAuditControl(0);
    // uptime 10.00 s = 1000 ticks: pid 300 (900) predates it, 400 (1000) does not.
    const procRoot = fakeProc(
      [
        [1, "init", 0, 0x400100, 5],
        [2, "kthreadd", 0, 0x208040, 5],
        [300, "old\u001b[31m", 1, 0x400100, 900],
        [400, "new", 1, 0x400100, 1000],
      ],
      "10.00 5.00",
    );
    const stateDir = join(tempDir(), "state");
    const report = installRules({ ...options, arches: ["b64"] }, { control: fake, procRoot, stateDir });
    expect(report.enabledAudit).toBe(true);
    expect(fake.enabled).toBe(1);
    expect(fake.enables).toBe(1);
    expect(report.added).toHaveLength(2);
    expect(report.ownContext?.context).toBe(false);
    expect(report.lines.filter((l) => l.kind === "status")).toMatchObject([
      { topic: "audit", enabled: 1 },
      { topic: "blind-spots", basis: "install", exact: true, count: 2, possible: null },
    ]);
    const blindLines = report.lines.filter((l): l is BlindSpotLine => l.kind === "blindspot");
    expect(blindLines.map((l) => [l.pid, l.basis])).toEqual([
      [1, "install"],
      [300, "install"],
    ]);
    expect(blindLines[0]!.enabledAt).toBe(new Date((1_700_000_000 + 10) * 1000).toISOString());
    // The record lets a later `status` use the exact time.
    expect(readRecordedEnable({ procRoot, stateDir })?.first?.ticks).toBe(1000);
    const status = statusReport({ ...options, arches: ["b64"] }, { control: fake, procRoot, stateDir });
    const spots = status.find((l): l is StatusLine => l.kind === "status" && l.topic === "blind-spots");
    expect(spots).toMatchObject({ basis: "recorded", exact: true, count: 2 });
  });

  test("auditctl -e 0, then install again: the first enable stays where it was, processes forked in between are not blind spots", () => {
    const fake = new FakeAuditControl(0);
    const procRoot = fakeProc(
      [
        [1, "init", 0, 0x400100, 5],
        [300, "old", 1, 0x400100, 900],
      ],
      "10.00 5.00",
    );
    const stateDir = join(tempDir(), "state");
    installRules(options, { control: fake, procRoot, stateDir });
    expect(readRecordedEnable({ procRoot, stateDir })?.first?.ticks).toBe(1000);
    // Later: a process forked while audit was on (1200), then `auditctl -e 0`, now uptime 20 s.
    mkdirSync(join(procRoot, "500"));
    writeFileSync(join(procRoot, "500", "stat"), `500 (forked-while-on) S 1 500 500 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 1200 1000 50 0\n`);
    writeFileSync(join(procRoot, "uptime"), "20.00 10.00\n");
    fake.enabled = 0;
    // This install's own process has an audit context: audit had been on before it started.
    fake.ownContext = { context: true, detail: "fake: our EVENT_LISTENER record came with its SYSCALL record" };
    const again = installRules(options, { control: fake, procRoot, stateDir });
    expect(again.enabledAudit).toBe(true);
    expect(again.ownContext?.context).toBe(true);
    expect(again.lines.find((l) => l.kind === "status" && l.topic === "blind-spots")).toMatchObject({ basis: "recorded", exact: true, count: 2 });
    expect(again.lines.filter((l): l is BlindSpotLine => l.kind === "blindspot").map((l) => l.pid)).not.toContain(500);
    expect(readRecordedEnable({ procRoot, stateDir })?.first?.ticks).toBe(1000);
    const status = statusReport(options, { control: fake, procRoot, stateDir });
    expect(status.filter((l): l is BlindSpotLine => l.kind === "blindspot").map((l) => l.pid)).toEqual([1, 300]);
  });

  test("audit off, but it had been on before and nothing recorded when: the time is an upper bound, nothing is listed", () => {
    const fake = new FakeAuditControl(0);
    fake.ownContext = { context: true, detail: "fake: our EVENT_LISTENER record came with its SYSCALL record" };
    const procRoot = fakeProc([[1, "init", 0, 0x400100, 5], [300, "old", 1, 0x400100, 900], [500, "newer", 1, 0x400100, 1200]], "20.00 5.00");
    const stateDir = join(tempDir(), "state");
    const report = installRules(options, { control: fake, procRoot, stateDir });
    const spots = report.lines.find((l): l is StatusLine => l.kind === "status" && l.topic === "blind-spots");
    // This test process is not in the fake /proc: the bound is the install time (2000 ticks).
    expect(spots).toMatchObject({ basis: "seen", exact: false, count: null, possible: 3, enabledAt: new Date((1_700_000_000 + 20) * 1000).toISOString() });
    expect(spots!.detail).toContain("cannot tell which");
    expect(report.lines.some((l) => l.kind === "blindspot")).toBe(false);
    const record = readRecordedEnable({ procRoot, stateDir });
    expect(record?.first).toBeNull();
    expect(record?.onBy?.ticks).toBe(2000);
    expect(record?.onBy?.how).toContain("had an audit context");
  });

  test("the probe's 'no context' is doubted when a never or exclude rule could hide the SYSCALL record", () => {
    for (const rule of ["-a never,exit -F arch=b64 -S close -k someone", "-a always,exclude -F msgtype=SYSCALL", "-a never,task"]) {
      const fake = new FakeAuditControl(0, 0, [rule]);
      const procRoot = fakeProc([[1, "init", 0, 0x400100, 5]], "10.00 5.00");
      const stateDir = join(tempDir(), "state");
      const report = installRules(options, { control: fake, procRoot, stateDir });
      expect(report.ownContext?.context).toBeNull();
      expect(report.ownContext?.detail).toContain("but the rule");
      expect(report.lines.find((l) => l.kind === "status" && l.topic === "blind-spots")).toMatchObject({ basis: "seen", exact: false, count: null });
      expect(readRecordedEnable({ procRoot, stateDir })?.first).toBeNull();
    }
  });

  test("a record in the first format (one time, no proof it was the first enable) is an upper bound; later evidence only moves it earlier", () => {
    const procRoot = fakeProc([[1, "init", 0, 0x400100, 5], [300, "old", 1, 0x400100, 900]], "20.00 5.00");
    const stateDir = join(tempDir(), "state");
    mkdirSync(stateDir, { recursive: true });
    const bootId = "11111111-2222-3333-4444-555555555555";
    writeFileSync(join(stateDir, "audit-enabled.json"), JSON.stringify({ bootId, ticks: 1000, ticksPerSecond: 100, time: "2023-11-14T22:13:30.000Z" }));
    const fake = new FakeAuditControl(1);
    const status = statusReport(options, { control: fake, procRoot, stateDir });
    expect(status.find((l) => l.kind === "status" && l.topic === "blind-spots")).toMatchObject({ basis: "seen", exact: false, count: null, possible: 2 });
    expect(status.some((l) => l.kind === "blindspot")).toBe(false);
    // audit -e 0, and an install that cannot tell: its later time does not replace the earlier bound.
    fake.enabled = 0;
    fake.ownContext = { context: null, detail: "fake: no answer" };
    installRules(options, { control: fake, procRoot, stateDir });
    expect(readRecordedEnable({ procRoot, stateDir })?.onBy?.ticks).toBe(1000);
    // A record of another boot is ignored.
    writeFileSync(join(stateDir, "audit-enabled.json"), JSON.stringify({ bootId: "other", ticksPerSecond: 100, first: { ticks: 5, time: "x" }, onBy: null }));
    expect(readRecordedEnable({ procRoot, stateDir })).toBeNull();
  });

  test("audit on: not enabled again, second install reports present", () => {
    const fake = new FakeAuditControl(1);
    installRules({ ...options, arches: ["b64"] }, { control: fake });
    const again = installRules({ ...options, arches: ["b64"] }, { control: fake });
    expect(again.lines.map((l) => (l.kind === "rule" ? l.result : l.kind))).toEqual(["present", "present"]);
    expect(again.lines.some((l) => l.kind !== "rule")).toBe(false);
    expect(fake.enables).toBe(0);
  });

  test("rules listed the auditctl -l way count as present", () => {
    const fake = new FakeAuditControl(1, 0, [
      "-a always,exit -F arch=b64 -S kill,rt_sigqueueinfo,tkill,pidfd_send_signal -F a1!=0x0 -F key=whokilled",
    ]);
    const report = installRules({ ...options, arches: ["b64"] }, { control: fake });
    expect(report.present).toHaveLength(1);
    expect(report.added).toHaveLength(1);
  });

  test("locked audit (enabled 2): install and remove stop before touching anything, saying nothing can change until reboot", () => {
    const fake = new FakeAuditControl(2, 0, ["-a always,exit -F arch=b64 -S kill -F key=whokilled"]);
    expect(() => installRules({ ...options, arches: ["b64"] }, { control: fake })).toThrow(/locked.*nothing can change until reboot/);
    expect(() => removeRules("whokilled", {}, { control: fake })).toThrow(/locked.*nothing can change until reboot/);
    expect([fake.adds, fake.deletes, fake.enables]).toEqual([0, 0, 0]);
    expect(fake.lines()).toEqual(["-a always,exit -F arch=b64 -S kill -F key=whokilled"]);
    const status = statusReport({ ...options, arches: ["b64"] }, { control: fake, procRoot: fakeProc([[1, "init", 0, 0, 5]]), stateDir: join(tempDir(), "none") });
    expect(status.find((l) => l.kind === "status" && l.topic === "audit")).toMatchObject({ enabled: 2 });
  });

  test("a rule the kernel already holds (EEXIST, added by someone else since the list) is present, not an error", () => {
    const fake = new FakeAuditControl(1);
    fake.unlisted = buildRules({ ...options, arches: ["b64"] }).slice(0, 1).map((r) => parseRuleText(r.args));
    const report = installRules({ ...options, arches: ["b64"] }, { control: fake });
    expect(report.lines.map((l) => (l.kind === "rule" ? l.result : l.kind))).toEqual(["present", "ok"]);
  });

  test("a failure half-way takes back what this call added", () => {
    const fake = new FakeAuditControl(1, 0, ["-a always,exit -F arch=b64 -S kill -k someone-else"]);
    fake.failOnAdd = 2;
    expect(() => installRules({ ...options, arches: ["b64"] }, { control: fake })).toThrow(/EINVAL.*-a always,exit -F arch=b64 -S tgkill,rt_tgsigqueueinfo/);
    expect(fake.lines()).toEqual(["-a always,exit -F arch=b64 -S kill -F key=someone-else"]);
  });

  test("remove deletes exactly our key's rules; list shows ours or all", () => {
    const others = [
      "-a always,exit -F arch=b64 -S kill -F key=whokilledx",
      "-a always,exit -F arch=b64 -S kill,rt_sigqueueinfo,tkill,pidfd_send_signal -F a1!=0x0 -F key=decoy",
      "-w /etc/passwd -p wa -k whokilled-watch",
    ];
    const fake = new FakeAuditControl(1, 0, others);
    installRules({ ...options, arches: both }, { control: fake });
    expect(listInstalled("whokilled", false, { control: fake })).toHaveLength(4);
    expect(listInstalled("whokilled", true, { control: fake }).map((l) => l.key)).toEqual([
      "whokilledx",
      "decoy",
      "whokilled-watch",
      "whokilled",
      "whokilled",
      "whokilled",
      "whokilled",
    ]);
    const removed = removeRules("whokilled", {}, { control: fake });
    expect(removed.map((l) => l.result)).toEqual(["removed", "removed", "removed", "removed"]);
    expect(fake.lines()).toEqual(others);
    expect(removeRules("whokilled", {}, { control: fake })).toEqual([
      { kind: "rule", action: "remove", rule: "", key: "whokilled", result: "absent", detail: "no rule with key whokilled is installed" },
    ]);
  });

  test("--persist writes KEY.rules once, remove --persist deletes it", () => {
    const fake = new FakeAuditControl(1);
    const rulesDir = join(tempDir(), "rules.d");
    const first = installRules({ ...options, arches: both, persist: true, rulesDir }, { control: fake });
    const file = join(rulesDir, "whokilled.rules");
    expect(readFileSync(file, "utf8")).toBe(rulesFileText(buildRules({ ...options, arches: both }), { ...options, arches: both }));
    const second = installRules({ ...options, arches: both, persist: true, rulesDir }, { control: fake });
    expect(second.lines.filter((l) => l.kind === "rule" && l.action === "persist").every((l) => l.kind === "rule" && l.result === "present")).toBe(true);
    const removed = removeRules("whokilled", { persist: true, rulesDir }, { control: fake });
    expect(removed.filter((l) => l.action === "persist").map((l) => [l.result, l.file])).toEqual(Array(4).fill(["removed", file]));
    expect(existsSync(file)).toBe(false);
  });

  test("status: one line per fact group, missing rules named", () => {
    const procRoot = fakeProc([
      [1, "init", 0, 0x400100, 5],
      [77, "auditd", 1, 0x400140, 700],
      [300, "old", 1, 0x400100, 600],
      [400, "new", 1, 0x400100, 800],
    ]);
    const fake = new FakeAuditControl(1, 77, ["-a always,exit -F arch=b64 -S tgkill,rt_tgsigqueueinfo -F a2!=0x0 -F key=whokilled"]);
    const status = statusReport({ ...options, arches: ["b64"] }, { control: fake, procRoot, stateDir: join(tempDir(), "none") });
    const topics = status.filter((l): l is StatusLine => l.kind === "status").map((l) => l.topic);
    expect(topics).toEqual(["audit", "auditd", "rules", "backlog", "blind-spots"]);
    const byTopic = Object.fromEntries(status.filter((l): l is StatusLine => l.kind === "status").map((l) => [l.topic, l]));
    expect(byTopic.auditd).toMatchObject({ running: true, pid: 77, comm: "auditd" });
    expect(byTopic.rules).toMatchObject({
      present: ["-a always,exit -F arch=b64 -S tgkill -S rt_tgsigqueueinfo -F a2!=0 -k whokilled"],
      missing: ["-a always,exit -F arch=b64 -S kill -S tkill -S rt_sigqueueinfo -S pidfd_send_signal -F a1!=0 -k whokilled"],
    });
    expect(byTopic.backlog).toMatchObject({ lost: 3, backlogLimit: 8192 });
    expect(byTopic.backlog!.detail).toContain("dropped 3");
    // auditd's start is only an upper bound: audit may have been on before it, so nothing is listed.
    expect(byTopic["blind-spots"]).toMatchObject({ basis: "auditd-start", exact: false, count: null, possible: 2 });
    expect(byTopic["blind-spots"]!.detail).toContain("perhaps earlier");
    expect(status.filter((l) => l.kind === "blindspot")).toEqual([]);
  });

  test("status: audit=1 at boot means no blind spots; no daemon and no record means unknown", () => {
    const fake = new FakeAuditControl(1, 0);
    const booted = statusReport({ ...options, arches: ["b64"] }, { control: fake, procRoot: fakeProc([[1, "init", 0, 0, 5]], "9.0 1.0", "quiet audit=1") });
    expect(booted.find((l) => l.kind === "status" && l.topic === "blind-spots")).toMatchObject({ basis: "boot", exact: true, count: 0 });
    const unknown = statusReport(
      { ...options, arches: ["b64"] },
      { control: fake, procRoot: fakeProc([[1, "init", 0, 0, 5]]), stateDir: join(tempDir(), "none") },
    );
    expect(unknown.find((l) => l.kind === "status" && l.topic === "blind-spots")).toMatchObject({ basis: "unknown", count: null, enabledAt: null });
    expect(unknown.some((l) => l.kind === "blindspot")).toBe(false);
  });

  test("the real clock is readable", () => {
    const clock = readClock();
    expect(clock.ticksPerSecond).toBeGreaterThan(0);
    expect(clock.bootTime).toBeGreaterThan(1_000_000_000);
  });
});

describe("run keys and one run's rules (run-keys.ts)", () => {
  test("the demo's key is a run key: a dead demo's is listed by leftRunKeys, a live one's and this process's are not", () => {
    const own = runKey("demo");
    expect(own).toMatch(new RegExp(`^whokilled-demo-${process.pid}-${startTicks(process.pid)}-[a-z0-9]{1,12}$`));
    const start = (pid: number) => (pid === 100 ? 5000 : null);
    const keys = [own, "whokilled-demo-100-5000-abc", "whokilled-demo-100-4999-def", "whokilled-demo-999999999-7-ghi", "whokilled-demo-300-x", "whokilled"];
    expect(leftRunKeys(keys, start)).toEqual(["whokilled-demo-100-4999-def", "whokilled-demo-999999999-7-ghi"]);
  });

  test("RunRules: add under the run key, remove only that key's rules, once; forget leaves the kernel alone", () => {
    const fake = new FakeAuditControl(1, 0, ["-a always,exit -F arch=b64 -S kill -k someone-else"]);
    const rules = new RunRules("demo", fake);
    expect(rules.key).toMatch(/^whokilled-demo-/);
    const report = rules.add((key) => installRules({ key, arches: ["b64"] }, { control: fake }));
    expect(report.added.length).toBeGreaterThan(0);
    expect(fake.listRules().filter((r) => r.keys.includes(rules.key))).toHaveLength(report.added.length);
    expect(rules.remove()).toHaveLength(report.added.length);
    expect(fake.lines()).toEqual(["-a always,exit -F arch=b64 -S kill -F key=someone-else"]);
    const deletes = fake.deletes;
    expect(rules.remove()).toEqual([]);
    const other = new RunRules("watch", fake);
    fake.failOnAdd = 1;
    expect(() => other.add((key) => installRules({ key, arches: ["b64"] }, { control: fake }))).toThrow(/EINVAL/);
    other.forget();
    expect(other.remove()).toEqual([]);
    expect(fake.deletes).toBe(deletes);
  });

  test("RunRules: rules still added at process exit are removed then (process.exit from elsewhere)", () => {
    const dir = tempDir();
    const script = join(dir, "exit.ts");
    const log = join(dir, "deleted.txt");
    writeFileSync(
      script,
      `import { appendFileSync } from "node:fs";
import { RunRules } from ${JSON.stringify(join(import.meta.dir, "../lib/rules/run-keys.ts"))};
const rules: string[] = [];
const control = {
  status: () => { throw new Error("unused"); },
  enable: () => {},
  listRules: () => rules.map((key) => ({ rule: key, line: key, keys: [key] })),
  addRule: () => "added",
  deleteRule: (rule: string) => { appendFileSync(${JSON.stringify(log)}, rule + "\\n"); rules.splice(rules.indexOf(rule), 1); return "deleted"; },
} as any;
const kept = new RunRules("demo", control);
kept.add((key) => rules.push(key));
const removed = new RunRules("watch", control);
removed.add((key) => rules.push(key));
removed.remove();
appendFileSync(${JSON.stringify(log)}, "exit\\n");
process.exit(0);
`,
    );
    const run = Bun.spawnSync([process.execPath, script], { stdout: "pipe", stderr: "pipe" });
    expect(run.stderr.toString()).toBe("");
    expect(run.exitCode).toBe(0);
    const lines = readFileSync(log, "utf8").trim().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^whokilled-watch-/);
    expect(lines[1]).toBe("exit");
    expect(lines[2]).toMatch(/^whokilled-demo-/);
  });
});
