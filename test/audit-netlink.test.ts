/**
 * Audit control over netlink: the pure parts first (nlmsghdr framing, struct
 * audit_status, struct audit_rule_data encode/decode, auditctl syntax in and
 * `auditctl -l` syntax out), then the real kernel, with auditctl as the
 * oracle both ways: rules whokilled installs list in `auditctl -l` exactly as
 * whokilled lists them, and rules auditctl installs are listed, recognised
 * and removed by whokilled. Every rule carries a key unique to this run and
 * is removed afterwards.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WhokilledError } from "../lib/errors.ts";
import {
  AUDIT_GET,
  AUDIT_STATUS_BYTES,
  decodeStatus,
  encodeEnable,
  encodeNetlinkMessage,
  NLM_F_ACK,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  netlinkErrorOf,
  parseNetlinkMessages,
} from "../lib/rules/audit-netlink.ts";
import {
  AUDIT_ALWAYS,
  AUDIT_ARCH,
  AUDIT_ARG0,
  AUDIT_EQUAL,
  AUDIT_FILTER_EXIT,
  AUDIT_FILTER_PREPEND,
  AUDIT_FILTERKEY,
  AUDIT_NOT_EQUAL,
  archValue,
  decodeRule,
  encodeRule,
  formatRule,
  parseRuleText,
  ruleKeys,
  withoutPrepend,
} from "../lib/rules/audit-rule.ts";
import { buildRules, type RuleOptions } from "../lib/rules/build.ts";
import { deleteRulesWithKey, kernelAuditControl } from "../lib/rules/control.ts";
import { auditctl, auditctlSkipReason, auditSkipReason, removeKeyNow, TestKeys } from "./helpers/live.ts";
import { ruleIdentity, sameRule } from "./helpers/rule-identity.ts";
import { setupRuleSync } from "./helpers/run.ts";

const HOST = "x86_64";
/** linux/audit.h's values, which the encoder must produce. */
const AUDIT_ARCH_X86_64 = 0xc000003e;
const AUDIT_ARCH_I386 = 0x40000003;

// --- pure ----------------------------------------------------------------

describe("netlink framing", () => {
  test("a request: 16-byte header, payload, padded to 4 bytes; nlmsg_len without the padding", () => {
    const bytes = encodeNetlinkMessage(AUDIT_GET, NLM_F_REQUEST | NLM_F_ACK, 77, new Uint8Array([1, 2, 3, 4, 5]));
    expect(bytes.length).toBe(24);
    const view = new DataView(bytes.buffer);
    expect([view.getUint32(0, true), view.getUint16(4, true), view.getUint16(6, true), view.getUint32(8, true), view.getUint32(12, true)]).toEqual([21, 1000, 5, 77, 0]);
    expect([...bytes.subarray(16)]).toEqual([1, 2, 3, 4, 5, 0, 0, 0]);
  });

  test("replies walked by nlmsg_len: an ack, an error, a reply and DONE in one datagram", () => {
    const error = (errno: number) => {
      const payload = new Uint8Array(20);
      new DataView(payload.buffer).setInt32(0, -errno, true);
      return payload;
    };
    const parts = [
      encodeNetlinkMessage(NLMSG_ERROR, 0, 9, error(0)),
      encodeNetlinkMessage(NLMSG_ERROR, 0, 9, error(17)),
      encodeNetlinkMessage(AUDIT_GET, 0, 9, new Uint8Array([7, 7, 7])),
      encodeNetlinkMessage(NLMSG_DONE, 2, 9),
    ];
    const datagram = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    parts.reduce((offset, p) => (datagram.set(p, offset), offset + p.length), 0);
    const messages = parseNetlinkMessages(datagram);
    expect(messages.map((m) => [m.type, m.seq, m.payload.length])).toEqual([
      [NLMSG_ERROR, 9, 20],
      [NLMSG_ERROR, 9, 20],
      [AUDIT_GET, 9, 3],
      [NLMSG_DONE, 9, 0],
    ]);
    expect(messages.slice(0, 2).map((m) => netlinkErrorOf(m.payload))).toEqual([0, 17]);
  });
});

describe("struct audit_status", () => {
  const statusBytes = (values: number[]) => {
    const bytes = new Uint8Array(values.length * 4);
    values.forEach((v, i) => new DataView(bytes.buffer).setUint32(i * 4, v, true));
    return bytes;
  };

  test("decoded by name; an older kernel's shorter struct reads the missing fields as 0", () => {
    expect(decodeStatus(statusBytes([0, 1, 1, 4242, 0, 8192, 3, 0, 0x7f, 60000, 12]))).toEqual({
      mask: 0,
      enabled: 1,
      failure: 1,
      pid: 4242,
      rate_limit: 0,
      backlog_limit: 8192,
      lost: 3,
      backlog: 0,
      feature_bitmap: 0x7f,
      backlog_wait_time: 60000,
      backlog_wait_time_actual: 12,
    });
    expect(decodeStatus(statusBytes([0, 2, 1, 0, 0, 64, 0, 0, 0, 15000])).backlog_wait_time_actual).toBe(0);
    expect(() => decodeStatus(new Uint8Array(12))).toThrow(WhokilledError);
  });

  test("the only AUDIT_SET whokilled sends: mask ENABLED, enabled 1, nothing else (never 2, never the failure mode)", () => {
    const bytes = encodeEnable();
    expect(bytes.length).toBe(AUDIT_STATUS_BYTES);
    const status = decodeStatus(bytes);
    expect(status.mask).toBe(1);
    expect(status.enabled).toBe(1);
    expect(Object.entries(status).filter(([name, v]) => name !== "mask" && name !== "enabled" && v !== 0)).toEqual([]);
  });
});

describe("struct audit_rule_data", () => {
  test("the kill rule's bytes: list, action, syscall bits, arch first, -F fields in order, key last in buf", () => {
    const rule = parseRuleText(["-a", "always,exit", "-F", "arch=b64", "-S", "kill", "-S", "tkill", "-F", "a0=-5", "-F", "a1!=0", "-F", "uid=0", "-k", "wk"], HOST);
    const bytes = encodeRule(rule);
    const u32 = (offset: number) => new DataView(bytes.buffer).getUint32(offset, true);
    expect(bytes.length).toBe(1040 + 2);
    expect([u32(0), u32(4), u32(8)]).toEqual([AUDIT_FILTER_EXIT, AUDIT_ALWAYS, 5]);
    // kill 62 (word 1, bit 30) and tkill 200 (word 6, bit 8).
    expect([u32(12 + 4 * 1), u32(12 + 4 * 6)]).toEqual([1 << 30, 1 << 8]);
    const fields = [0, 1, 2, 3, 4].map((i) => [u32(268 + 4 * i), u32(524 + 4 * i), u32(780 + 4 * i)]);
    expect(fields).toEqual([
      [AUDIT_ARCH, AUDIT_ARCH_X86_64, AUDIT_EQUAL],
      [AUDIT_ARG0, 0xfffffffb, AUDIT_EQUAL],
      [AUDIT_ARG0 + 1, 0, AUDIT_NOT_EQUAL],
      [1, 0, AUDIT_EQUAL],
      [AUDIT_FILTERKEY, 2, AUDIT_EQUAL],
    ]);
    expect([u32(1036), new TextDecoder().decode(bytes.subarray(1040))]).toEqual([2, "wk"]);
    expect(ruleIdentity(decodeRule(bytes))).toBe(ruleIdentity(rule));
  });

  test("keys go last in one field joined with 0x01, wherever -k or -F key= stood, as auditctl does", () => {
    const rule = parseRuleText("-a always,exit -k first -F arch=b32 -S kill -F key=second -F a1=9", HOST);
    expect(rule.fields.map((f) => f.field)).toEqual([AUDIT_ARCH, AUDIT_ARG0 + 1, AUDIT_FILTERKEY]);
    expect(rule.fields[0]!.value).toBe(AUDIT_ARCH_I386);
    expect(ruleKeys(rule)).toEqual(["first", "second"]);
    expect(formatRule(rule, HOST)).toBe("-a always,exit -F arch=b32 -S kill -F a1=0x9 -F key=first -F key=second");
  });

  test("-A sets the prepend flag, which a delete must not carry and the listing does not show", () => {
    const rule = parseRuleText("-A always,exit -F arch=b64 -S kill -k k", HOST);
    expect(rule.flags).toBe(AUDIT_FILTER_EXIT | AUDIT_FILTER_PREPEND);
    expect(withoutPrepend(rule).flags).toBe(AUDIT_FILTER_EXIT);
    expect(ruleIdentity(rule)).toBe(ruleIdentity(withoutPrepend(rule)));
    expect(formatRule(rule, HOST)).toBe("-a always,exit -F arch=b64 -S kill -F key=k");
  });

  test("b64/b32 mean the host's own ABIs", () => {
    expect(archValue("b64", "x86_64")).toBe(AUDIT_ARCH_X86_64);
    expect(archValue("b32", "x86_64")).toBe(AUDIT_ARCH_I386);
    expect(archValue("b64", "aarch64")).toBe(0xc00000b7);
    expect(archValue("b32", "aarch64")).toBe(0x40000028);
    expect(archValue("x86_64", "aarch64")).toBe(AUDIT_ARCH_X86_64);
    expect(() => archValue("b64", "i386")).toThrow(/no 64-bit ABI/);
  });

  // What auditctl 3.0.9 printed on this kind of machine for rules of every
  // shape it added: each must parse, go through the wire format and print back
  // the same, and the kernel's own copy of such rules is compared live below.
  const listed = [
    "-a always,exit -F arch=b64 -S kill,rt_sigqueueinfo,tkill,pidfd_send_signal -F a1!=0x0 -F key=whokilled",
    "-a always,exit -F arch=b32 -S kill,rt_sigqueueinfo,tkill,pidfd_send_signal -F a1!=0x0 -F key=whokilled",
    "-a always,exit -F arch=b64 -S tgkill,rt_tgsigqueueinfo -F a0=0xFFFFFFB3 -F a2=0xF -F uid=0 -F key=k",
    "-a always,exit -F arch=b64 -S kill,tkill -F a0=0xFFFFFFFB -F a1!=0x0 -F uid=0 -F auid!=-1 -F pid=12 -F key=k",
    "-a always,exit -F arch=b32 -S kill,tgkill -F a2=0x9 -F euid>=1000 -F gid<5 -F a3&0x4 -F a1&=0x7 -F a0<=0x3 -F a0>0x2 -F key=k -F key=second",
    "-w /etc/passwd -p wa -k k",
    "-a always,exit -F arch=b64 -S open -F path=/etc/shadow -F perm=r -F key=k",
    "-a always,exit -F arch=b64 -S execve -F exe=/usr/bin/ls -F key=k",
    "-a always,exit -F arch=b64 -S openat -F dir=/var/log -F success=1 -F exit=-EACCES -F key=k",
    "-a always,exit -F arch=b64 -S setuid -C uid!=euid -F ppid=1 -F auid=5 -F sessionid=3 -F key=k",
    "-a always,exit -S kill -F key=k",
    "-a always,exit -F arch=b64 -S kill -F auid=-1 -F obj_uid=0 -F filetype=32768 -F inode=123 -F devmajor=8 -F key=k",
    "-a always,filesystem -F fstype=debugfs -F key=k",
    "-a always,exit -F arch=b64 -S kill,999 -F key=k",
    "-a never,exit -F arch=b64 -S all -F uid=4 -F key=k",
    "-a always,exit -F arch=b64 -S kill -F uid!=-2 -F euid=-2 -F subj_type=foo_t -F key=k",
    "-a always,exit -F arch=b64 -S kill -F exit=-99999 -F exit!=-EPERM -F exit<-ENOENT -F key=k",
    "-a always,exit -F arch!=b32 -S kill -F key=k",
    "-a always,exit -F arch=b64 -S all -F perm=wa -F key=k",
    "-a always,exclude -F msgtype=CWD",
    "-a always,exit -F arch=b64 -S kill -F key=k -F key=a=b",
  ];

  test("every shape auditctl -l printed: parse → bytes → decode → the same line", () => {
    for (const line of listed) {
      const rule = parseRuleText(line, HOST);
      const decoded = decodeRule(encodeRule(rule));
      expect({ line, back: formatRule(decoded, HOST) }).toEqual({ line, back: line });
      expect(ruleIdentity(decoded)).toBe(ruleIdentity(rule));
    }
  });

  test("every filter whokilled writes, both ABIs: what it installs is the rule it printed", () => {
    for (const options of filterMatrix("k")) {
      for (const rule of buildRules(options)) {
        const back = formatRule(decodeRule(encodeRule(parseRuleText(rule.args, HOST))), HOST);
        expect({ rule: rule.line, same: sameRule(rule.args, back) }).toEqual({ rule: rule.line, same: true });
      }
    }
    // The default set, as auditctl -l lists it.
    const lines = buildRules({ key: "whokilled", arches: ["b64", "b32"] }).map((r) => formatRule(parseRuleText(r.args, HOST), HOST));
    expect(lines).toEqual([
      "-a always,exit -F arch=b64 -S kill,rt_sigqueueinfo,tkill,pidfd_send_signal -F a1!=0x0 -F key=whokilled",
      "-a always,exit -F arch=b64 -S tgkill,rt_tgsigqueueinfo -F a2!=0x0 -F key=whokilled",
      "-a always,exit -F arch=b32 -S kill,rt_sigqueueinfo,tkill,pidfd_send_signal -F a1!=0x0 -F key=whokilled",
      "-a always,exit -F arch=b32 -S tgkill,rt_tgsigqueueinfo -F a2!=0x0 -F key=whokilled",
    ]);
  });

  test("a malformed kernel reply is an error, not a guess", () => {
    const good = encodeRule(parseRuleText("-a always,exit -F arch=b64 -S kill -k key", HOST));
    expect(() => decodeRule(good.subarray(0, 1000))).toThrow(/shorter than/);
    const tooMany = good.slice();
    new DataView(tooMany.buffer).setUint32(8, 65, true);
    expect(() => decodeRule(tooMany)).toThrow(/field_count 65/);
    const pastEnd = good.slice();
    new DataView(pastEnd.buffer).setUint32(1036, 99, true);
    expect(() => decodeRule(pastEnd)).toThrow(/buflen 99/);
  });

  test("rule text errors name the problem", () => {
    expect(() => parseRuleText("-a always,exit -F arch=b64 -S nosuchcall -k k", HOST)).toThrow(/-S nosuchcall: unknown syscall/);
    expect(() => parseRuleText("-a always,exit -F nosuch=1", HOST)).toThrow(/unknown field "nosuch"/);
    expect(() => parseRuleText("-F arch=b64 -S kill", HOST)).toThrow(/needs -a/);
    expect(() => parseRuleText("-a always,exit -F a0=4294967296", HOST)).toThrow(/32 bits/);
    expect(() => parseRuleText(`-a always,exit -S kill -k ${"x".repeat(257)}`, HOST)).toThrow(/longer than 256/);
  });
});

/** Every filter setup-rule has, alone and together, on both ABIs. */
function filterMatrix(key: string): RuleOptions[] {
  const both = ["b64", "b32"] as const;
  return [
    { key, arches: both },
    { key, arches: both, pid: 4242 },
    { key, arches: both, pid: -77 },
    { key, arches: both, signal: 9 },
    { key, arches: both, signal: 0 },
    { key, arches: both, uid: 0 },
    { key, arches: both, probes: true },
    { key, arches: both, pid: -77, signal: 15, uid: 1000, probes: true },
    { key, arches: both, first: true, signal: 36 },
  ];
}

/** The same filters as setup-rule flags. */
function flagsOf(options: RuleOptions): string[] {
  return [
    "--arch",
    "both",
    ...(options.pid !== undefined ? ["--pid", String(options.pid)] : []),
    ...(options.signal !== undefined ? ["--signal", String(options.signal)] : []),
    ...(options.uid !== undefined ? ["--uid", String(options.uid)] : []),
    ...(options.probes ? ["--probes"] : []),
    ...(options.first ? ["--first"] : []),
  ];
}

// --- the real kernel --------------------------------------------------------

/** setup-rule.ts run to its end (helpers/run.ts), its stdout parsed at once (every line JSON) and its rule lines picked. */
function setupRule(args: string[]): { code: number; stdout: string; stderr: string; rules: Record<string, unknown>[] } {
  const run = setupRuleSync(args);
  return { code: run.code, stdout: run.stdout, stderr: run.stderr, rules: run.lines.filter((l) => l.kind === "rule") };
}

/** `auditctl -l` lines carrying this key (as `-F key=K` or `-k K`, alone or among others). */
function oracleLines(key: string): string[] {
  const listed = auditctl(["-l"]);
  if (listed.exitCode !== 0) throw new Error(`auditctl -l: ${listed.stderr}`);
  return listed.stdout.split("\n").filter((line) => {
    const tokens = line.split(" ");
    return tokens.includes(`key=${key}`) || tokens.some((t, i) => t === "-k" && tokens[i + 1] === key);
  });
}

const keys = new TestKeys();
const testKey = (name: string) => keys.key(name);
const tmpDirs: string[] = [];
afterAll(() => {
  keys.removeAll();
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

const kernelSkip = auditSkipReason();
if (kernelSkip) console.error(`audit netlink live tests skipped: ${kernelSkip}`);
const oracleSkip = auditctlSkipReason();
if (oracleSkip && !kernelSkip) console.error(`audit netlink oracle tests skipped: ${oracleSkip}`);

describe.skipIf(kernelSkip !== null)("the kernel over netlink (no auditctl)", () => {
  test("status reads the switch and the queue", () => {
    const status = kernelAuditControl.status();
    expect([0, 1, 2]).toContain(status.enabled);
    expect([0, 1, 2]).toContain(status.failure);
    expect(status.backlog_limit).toBeGreaterThan(0);
  });

  test("add, list, add again (exists), delete, delete again (absent)", () => {
    const key = testKey("nl-roundtrip");
    const rule = parseRuleText(["-a", "always,exit", "-F", "arch=b64", "-S", "kill", "-S", "tgkill", "-F", "a0=-4321", "-F", "uid!=0", "-k", key]);
    expect(kernelAuditControl.addRule(rule)).toBe("added");
    expect(kernelAuditControl.addRule(rule)).toBe("exists");
    const ours = kernelAuditControl.listRules().filter((r) => r.keys.includes(key));
    expect(ours.map((r) => r.line)).toEqual([`-a always,exit -F arch=b64 -S kill,tgkill -F a0=0xFFFFEF1F -F uid!=0 -F key=${key}`]);
    expect(ruleIdentity(ours[0]!.rule)).toBe(ruleIdentity(rule));
    expect(kernelAuditControl.deleteRule(ours[0]!.rule)).toBe("deleted");
    expect(kernelAuditControl.deleteRule(ours[0]!.rule)).toBe("absent");
    expect(kernelAuditControl.listRules().filter((r) => r.keys.includes(key))).toEqual([]);
  });

  test("a rule added with -A is deleted too (the kernel forgets the prepend flag)", () => {
    const key = testKey("nl-prepend");
    const rule = parseRuleText(["-A", "always,exit", "-F", "arch=b32", "-S", "kill", "-k", key]);
    expect(kernelAuditControl.addRule(rule)).toBe("added");
    expect(kernelAuditControl.deleteRule(rule)).toBe("deleted");
    expect(deleteRulesWithKey(key)).toEqual([]);
  });

  test("EINVAL names the rule the kernel refused", () => {
    const key = testKey("nl-einval");
    // (uid_t)-1 is no valid uid: the kernel refuses uid=-1 in a rule.
    const rule = parseRuleText(["-a", "always,exit", "-F", "arch=b64", "-S", "kill", "-F", "uid=-1", "-k", key]);
    expect(() => kernelAuditControl.addRule(rule)).toThrow(`the kernel rejected the rule as invalid (EINVAL): -a always,exit -F arch=b64 -S kill -F uid=-1 -F key=${key}`);
  });

  test("EPERM without CAP_AUDIT_CONTROL comes back as E_PERM naming the capability", () => {
    const setpriv = Bun.which("setpriv");
    if (!setpriv) {
      console.error("setpriv missing (util-linux): EPERM test skipped");
      return;
    }
    const control = join(import.meta.dir, "..", "lib", "rules", "control.ts");
    const code = `const { kernelAuditControl } = await import(${JSON.stringify(control)}); try { kernelAuditControl.status(); console.log("no error"); } catch (e) { console.log(e.code + " " + e.message); }`;
    const run = Bun.spawnSync([setpriv, "--bounding-set", "-audit_control", "--inh-caps", "-audit_control", "--", process.execPath, "-e", code], { stdout: "pipe", stderr: "pipe" });
    expect(run.stdout.toString()).toMatch(/^E_PERM AUDIT_GET: EPERM: .*CAP_AUDIT_CONTROL/);
  });

  test("remove deletes every shape carrying the key (watches too) and nothing else", () => {
    const key = testKey("nl-shapes");
    const other = testKey("nl-other");
    const shapes = [
      `-w /etc/passwd -p wa -k ${key}`,
      `-a always,exit -F arch=b64 -S execve -F exe=/usr/bin/ls -k ${key}`,
      `-a never,exit -F arch=b64 -S all -F uid=4 -k ${other} -k ${key}`,
      `-a always,exit -F arch=b64 -S kill -k ${other}`,
    ];
    for (const shape of shapes) expect(kernelAuditControl.addRule(parseRuleText(shape))).toBe("added");
    expect(deleteRulesWithKey(key)).toHaveLength(3);
    expect(kernelAuditControl.listRules().filter((r) => r.keys.includes(key))).toEqual([]);
    expect(kernelAuditControl.listRules().filter((r) => r.keys.includes(other)).map((r) => r.line)).toEqual([`-a always,exit -F arch=b64 -S kill -F key=${other}`]);
    removeKeyNow(other);
  });
});

describe.skipIf(kernelSkip !== null || oracleSkip !== null)("auditctl as the oracle", () => {
  test("installed by setup-rule: auditctl -l shows exactly what setup-rule list prints, for every filter and both ABIs; remove leaves none", () => {
    for (const options of filterMatrix("")) {
      const key = testKey("oracle-wk");
      const flags = flagsOf(options);
      const install = setupRule(["install", "--key", key, ...flags]);
      expect({ flags, code: install.code, stderr: install.code ? install.stderr : "" }).toEqual({ flags, code: 0, stderr: "" });
      expect(install.rules.every((r) => r.result === "ok")).toBe(true);
      const listed = setupRule(["list", "--key", key]).rules.map((r) => r.rule);
      expect(listed.length).toBe(install.rules.length);
      expect({ flags, oracle: oracleLines(key) }).toEqual({ flags, oracle: listed as string[] });
      const removed = setupRule(["remove", "--key", key]);
      expect(removed.rules.map((r) => r.result)).toEqual(listed.map(() => "removed"));
      expect(oracleLines(key)).toEqual([]);
    }
  }, 120_000);

  test("installed by auditctl: setup-rule lists it identically, takes it for its own (present), and removes it", () => {
    for (const options of filterMatrix("")) {
      const key = testKey("oracle-ctl");
      const rules = buildRules({ ...options, key });
      for (const rule of rules) {
        const added = auditctl(rule.args);
        expect({ rule: rule.line, code: added.exitCode, stderr: added.stderr }).toEqual({ rule: rule.line, code: 0, stderr: "" });
      }
      const oracle = oracleLines(key);
      expect(oracle).toHaveLength(rules.length);
      expect(setupRule(["list", "--key", key]).rules.map((r) => r.rule)).toEqual(oracle);
      // Byte for byte, what auditctl sent is what whokilled would send.
      const kernel = kernelAuditControl.listRules().filter((r) => r.keys.includes(key));
      // (Sorted: rules added with -A each go to the head, so the kernel lists them in reverse.)
      expect(kernel.map((r) => ruleIdentity(r.rule)).sort()).toEqual(rules.map((r) => ruleIdentity(withoutPrepend(parseRuleText(r.args)))).sort());
      const flags = flagsOf(options);
      const again = setupRule(["install", "--key", key, ...flags]);
      expect({ flags, results: again.rules.map((r) => r.result) }).toEqual({ flags, results: rules.map(() => "present") });
      const removed = setupRule(["remove", "--key", key]);
      expect(removed.rules.map((r) => r.rule)).toEqual(oracle);
      expect(oracleLines(key)).toEqual([]);
    }
  }, 120_000);

  test("rules of other shapes auditctl added are listed as auditctl lists them; remove takes only our key", () => {
    const key = testKey("oracle-shapes");
    const other = testKey("oracle-other");
    // A directory watch on a directory of our own: a watch on a shared one would log everyone's use of it.
    const watchedDir = mkdtempSync(join(tmpdir(), "wk-watch-"));
    tmpDirs.push(watchedDir);
    const shapes = [
      ["-w", "/etc/passwd", "-p", "wa", "-k", key],
      ["-w", `${watchedDir}/`, "-p", "rwxa", "-k", key],
      ["-a", "always,exit", "-F", "arch=b64", "-S", "open", "-F", "path=/etc/shadow", "-F", "perm=r", "-k", key],
      ["-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", "exe=/usr/bin/ls", "-k", key],
      ["-a", "always,exit", "-F", "arch=b64", "-S", "openat", "-F", "dir=/var/log", "-F", "success=1", "-F", "exit=-13", "-k", key],
      ["-a", "always,exit", "-F", "arch=b64", "-C", "uid!=euid", "-S", "setuid", "-F", "auid>=1000", "-F", "auid!=unset", "-k", key],
      ["-a", "always,exit", "-F", "arch=b32", "-S", "kill", "-S", "tgkill", "-F", "a2=9", "-F", "euid>=1000", "-F", "a3&4", "-F", "a1&=7", "-k", key, "-k", other],
      ["-a", "never,exit", "-F", "arch=b64", "-S", "all", "-F", "pid=1", "-k", key],
      ["-a", "always,filesystem", "-F", "fstype=debugfs", "-k", key],
      ["-a", "always,exit", "-S", "all", "-F", "dir=/etc/", "-F", "perm=r", "-k", key],
      ["-a", "always,exit", "-F", "arch=b64", "-S", "kill", "-k", other],
    ];
    for (const args of shapes) {
      const added = auditctl(args);
      expect({ args, stderr: added.stderr, code: added.exitCode }).toEqual({ args, stderr: "", code: 0 });
    }
    const oracle = oracleLines(key);
    expect(oracle).toHaveLength(shapes.length - 1);
    expect(setupRule(["list", "--key", key]).rules.map((r) => r.rule)).toEqual(oracle);
    // Every rule on the machine: other runs add and remove theirs meanwhile, so take two snapshots that agree.
    let both: { oracle: string[]; ours: unknown[] } = { oracle: [], ours: [] };
    for (let attempt = 0; attempt < 5; attempt++) {
      const all = auditctl(["-l"]).stdout.trim().split("\n");
      both = { oracle: all[0] === "No rules" ? [] : all, ours: setupRule(["list", "--all"]).rules.map((r) => r.rule) };
      if (Bun.deepEquals(both.oracle, both.ours)) break;
    }
    expect(both.ours).toEqual(both.oracle);
    expect(setupRule(["remove", "--key", key]).rules.map((r) => r.rule)).toEqual(oracle);
    expect(oracleLines(key)).toEqual([]);
    expect(oracleLines(other)).toEqual([`-a always,exit -F arch=b64 -S kill -F key=${other}`]);
    removeKeyNow(other);
    expect(oracleLines(other)).toEqual([]);
  }, 60_000);
});
