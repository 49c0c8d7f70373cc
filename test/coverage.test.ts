/**
 * "When audit cannot see at all, say so at once and in the report": the
 * coverage verdict judged from the audit switch and the loaded rules (every
 * rule shape that matters, through a fake kernel state), the `coverage`
 * line passed through decode and attribute, report's warning in every
 * format, and capture --netlink on the real kernel: the warning on stderr
 * within a second and in the stream.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InputErrors } from "../lib/audit/input-errors.ts";
import { captureLive } from "../lib/sources/capture-run.ts";
import { WhokilledError } from "../lib/errors.ts";
import { LineWriter } from "../lib/bytes/line-writer.ts";
import { renderReport } from "../lib/render/formats.ts";
import { parseRuleText } from "../lib/rules/audit-rule.ts";
import { buildRules } from "../lib/rules/build.ts";
import { kernelRule, type AuditControl, type KernelRule } from "../lib/rules/control.ts";
import { assessKillCoverage, checkKillCoverage, coverageLine, coverageLines, type KillCoverage } from "../lib/rules/kill-coverage.ts";
import type { CoverageLine, SignalLine } from "../lib/schema.ts";
import { analyze } from "../lib/signals/findings.ts";
import { signalsFrom } from "../lib/signals/signal-stage.ts";
import { auditSkipReason, waitFor } from "./helpers/live.ts";
import { sig } from "./helpers/report-fixtures.ts";
import { attributeFiles, decodeFiles } from "./helpers/run.ts";

const root = join(import.meta.dir, "..");
const tmpDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "wk-coverage-"));
  tmpDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

const X86 = { host: "x86_64", arches: ["b64", "b32"] as const };
const rules = (...lines: string[]): KernelRule[] => lines.map((line) => kernelRule(parseRuleText(line, "x86_64")));
const judge = (enabled: number, ...lines: string[]) => assessKillCoverage({ enabled }, rules(...lines), X86);
const ours = (options: Parameters<typeof buildRules>[0]) => buildRules(options).map((r) => r.line);

describe("the verdict from the audit switch and the loaded rules", () => {
  test("audit off, or no rule: none, and the fix is setup-rule install", () => {
    const off = judge(0, ...ours({ key: "k", arches: ["b64", "b32"] }));
    expect(off).toMatchObject({ state: "none", enabled: 0, fix: "bun scripts/setup-rule.ts install" });
    expect(off.reason).toContain("audit is off");
    const bare = judge(1);
    expect(bare).toMatchObject({ state: "none", enabled: 1, fix: "bun scripts/setup-rule.ts install" });
    expect(bare.reason).toContain("no rule covers the kill family");
  });

  test("whokilled's own rules (probes left out, any key) cover everything; the same rules for one ABI only partly", () => {
    expect(judge(1, ...ours({ key: "anyone", arches: ["b64", "b32"] }))).toMatchObject({ state: "full", missing: [], fix: null });
    expect(judge(1, ...ours({ key: "k", arches: ["b64", "b32"], probes: true }))).toMatchObject({ state: "full" });
    const b64 = judge(1, ...ours({ key: "k", arches: ["b64"] }));
    expect(b64.state).toBe("partial");
    expect(b64.missing).toEqual(["kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal (32-bit): no rule"]);
  });

  test("a rule with filters such as a0=PID covers only part; the calls it names and the filters are said", () => {
    const demo = judge(1, "-A always,exit -F arch=b64 -S kill -F a0=1234 -F a1=9 -k whokilled-demo");
    expect(demo.state).toBe("partial");
    expect(demo.missing[0]).toBe("kill (64-bit): only where a0=0x4D2 a1=0x9");
    expect(demo.missing[1]).toBe("tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal (64-bit): no rule");
    expect(demo.reason).toContain("not all of the kill family is covered");
    expect(demo.fix).toBe("bun scripts/setup-rule.ts install");
    // A later unfiltered rule catches what the filtered one lets through.
    const both = judge(1, "-a always,exit -F arch=b64 -S kill -F uid=0 -k a", ...ours({ key: "k", arches: ["b64", "b32"] }));
    expect(both.state).toBe("full");
    // a1 is tgkill's thread id, not its signal: a1!=0 there drops only calls the kernel refuses.
    expect(judge(1, "-a always,exit -F arch=b64 -S kill,tkill,tgkill,rt_sigqueueinfo,rt_tgsigqueueinfo,pidfd_send_signal -F a1!=0 -k x", "-a always,exit -F arch=b32 -S all -k y").state).toBe("full");
  });

  test("a rule without -F arch matches by number only: it covers the host's calls, not the other ABI's", () => {
    const c = judge(1, "-a always,exit -S kill,tkill,tgkill,rt_sigqueueinfo,rt_tgsigqueueinfo,pidfd_send_signal -k noarch");
    expect(c.state).toBe("partial");
    expect(c.missing.every((m) => m.includes("32-bit"))).toBe(true);
  });

  test("watches and file rules are not coverage: with only those, none", () => {
    expect(judge(1, "-w /etc/passwd -p wa -k identity", "-a always,exit -F arch=b64 -S all -F dir=/tmp -F perm=w -k tmp").state).toBe("none");
  });

  test("a never rule first hides the calls from every rule after it; the fix puts ours first", () => {
    const hidden = judge(1, "-a never,exit -F arch=b64 -S kill,tkill,tgkill,rt_sigqueueinfo,rt_tgsigqueueinfo,pidfd_send_signal", "-a never,exit -F arch=b32 -S all", ...ours({ key: "k", arches: ["b64", "b32"] }));
    expect(hidden.state).toBe("none");
    expect(hidden.reason).toContain("never rule hides");
    expect(hidden.fix).toBe("bun scripts/setup-rule.ts install --first");
    const some = judge(1, "-a never,exit -F arch=b64 -S kill -F uid=33", ...ours({ key: "k", arches: ["b64", "b32"] }));
    expect(some.state).toBe("partial");
    expect(some.missing[0]).toContain("kill (64-bit): calls where uid=33 hidden by");
  });

  test("-a never,task and excluded record types: none or partly, with the auditctl -d that removes the rule", () => {
    const task = judge(1, "-a never,task", ...ours({ key: "k", arches: ["b64", "b32"] }));
    expect(task).toMatchObject({ state: "none", fix: "auditctl -d never,task" });
    expect(task.reason).toContain("no audit context");
    const noSyscall = judge(1, "-a always,exclude -F msgtype=SYSCALL", ...ours({ key: "k", arches: ["b64", "b32"] }));
    expect(noSyscall).toMatchObject({ state: "none", fix: "auditctl -d always,exclude -F msgtype=SYSCALL" });
    const noTargets = judge(1, "-a always,exclude -F msgtype=OBJ_PID", ...ours({ key: "k", arches: ["b64", "b32"] }));
    expect(noTargets.state).toBe("partial");
    expect(noTargets.missing).toEqual(["OBJ_PID records (the targets) dropped by `-a always,exclude -F msgtype=OBJ_PID`"]);
    // An exclude rule for another type changes nothing.
    expect(judge(1, "-a always,exclude -F msgtype=CWD", ...ours({ key: "k", arches: ["b64", "b32"] })).state).toBe("full");
  });

  test("without a rule on kill, tkill or tgkill the kernel writes no OBJ_PID: said", () => {
    const pidfd = judge(1, "-a always,exit -F arch=b64 -S pidfd_send_signal -k p");
    expect(pidfd.state).toBe("partial");
    expect(pidfd.missing.at(-1)).toContain("no OBJ_PID record");
  });

  test("audit locked (enabled 2): the fix says nothing changes before a reboot", () => {
    const locked = judge(2);
    expect(locked.state).toBe("none");
    expect(locked.fix).toContain("until reboot");
  });

  test("without CAP_AUDIT_CONTROL the kernel refuses: unknown, and it says it could not check", () => {
    const refusing: AuditControl = {
      status: () => {
        throw new WhokilledError("E_PERM", "AUDIT_GET: EPERM: talking to the kernel's audit subsystem needs root (CAP_AUDIT_CONTROL)");
      },
      enable: () => {},
      listRules: () => [],
      addRule: () => "added",
      deleteRule: () => "deleted",
    };
    const c = checkKillCoverage(refusing);
    expect(c).toMatchObject({ state: "unknown", enabled: null });
    expect(c.reason).toContain("reading the kernel's audit status and rules failed");
    expect(c.reason).toContain("CAP_AUDIT_CONTROL");
    expect(c.fix).toBe("sudo bun scripts/setup-rule.ts status");
  });
});

describe("coverage lines", () => {
  test("one at once, then one per change of verdict, until aborted", async () => {
    const verdicts: KillCoverage[] = [judge(1), judge(1), judge(1, ...ours({ key: "k", arches: ["b64", "b32"] })), judge(1, ...ours({ key: "k", arches: ["b64", "b32"] })), judge(0)];
    let calls = 0;
    const controller = new AbortController();
    const seen: CoverageLine[] = [];
    for await (const line of coverageLines({ signal: controller.signal, intervalMs: 1, check: () => verdicts[Math.min(calls++, verdicts.length - 1)]! })) {
      seen.push(line);
      if (seen.length === 3) controller.abort();
    }
    expect(seen.map((l) => [l.kind, l.source, l.state])).toEqual([
      ["coverage", "audit", "none"],
      ["coverage", "audit", "full"],
      ["coverage", "audit", "none"],
    ]);
    expect(seen[2]!.enabled).toBe(0);
  });
});

/** A capture's stream: audit blind from the start, a signal only tracefs saw, then rules loaded. */
function blindCapture(): string {
  const blind = coverageLine(judge(1), new Date("2026-12-07T01:00:00.000Z"));
  const fixed = coverageLine(judge(1, ...ours({ key: "k", arches: ["b64", "b32"] })), new Date("2026-12-07T01:05:00.000Z"));
  const tracefsOnly: SignalLine = sig({ id: "1796605200.100:1", time: "2026-12-07T01:00:00.100Z", nr: 15, source: "tracefs", killer: { comm: "bash", pid: 77 }, victims: [{ comm: "sleep" }] });
  const path = join(tempDir(), "capture.jsonl");
  writeFileSync(path, [blind, tracefsOnly, fixed].map((l) => JSON.stringify(l)).join("\n") + "\n");
  return path;
}

describe("the line goes through every stage to the report", () => {
  test("decode and attribute pass coverage lines on unchanged", async () => {
    const path = blindCapture();
    const expected = readFileSync(path, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.kind === "coverage");
    const decoded = await decodeFiles([path]);
    expect(decoded.lines.filter((l) => l.kind === "coverage")).toEqual(expected);
    const attributed = await attributeFiles([path]);
    expect(attributed.lines.filter((l) => l.kind === "coverage")).toEqual(expected);
  });

  test("report says it first, in every format, with the fix, and no longer 'Nothing suspicious found'", async () => {
    const report = await analyze(signalsFrom([blindCapture()], { errors: new InputErrors({ strict: true, print: () => {} }), lookup: false, filter: {} }));
    expect(report.coverage).toMatchObject({ checks: 2, problemsNotKept: 0, last: { state: "full" } });
    expect(report.coverage.problems).toEqual([
      {
        state: "none",
        since: "2026-12-07T01:00:00.000Z",
        until: "2026-12-07T01:05:00.000Z",
        reason: "no rule covers the kill family (kill, tkill, tgkill and the rest)",
        missing: [],
        fix: "bun scripts/setup-rule.ts install",
      },
    ]);
    const text = renderReport(report, "text");
    const lines = text.split("\n");
    expect(lines[0]).toBe("whokilled report");
    expect(lines[1]).toStartWith("  Warning: Audit could not see kill calls from 2026-12-07 01:00:00Z to 2026-12-07 01:05:00Z: no");
    expect(text.replace(/\s+/g, " ")).toContain("To fix: bun scripts/setup-rule.ts install");
    for (const format of ["markdown", "html"] as const) {
      const out = renderReport(report, format);
      expect(out).toContain("Audit could not see kill calls from 2026-12-07 01:00:00Z");
      expect(out).toContain("bun scripts/setup-rule.ts install");
      expect(out.indexOf("Audit could not see")).toBeLessThan(out.indexOf("Findings"));
    }
    const json = JSON.parse(renderReport(report, "json"));
    expect(json.coverage.problems[0]).toMatchObject({ state: "none", fix: "bun scripts/setup-rule.ts install" });

    // No finding at all: the report says nothing was SEEN, not that nothing happened.
    const empty = await analyze([coverageLine(judge(1), new Date("2026-12-07T01:00:00.000Z"))]);
    expect(renderReport(empty, "text")).not.toContain("  Nothing suspicious found.\n");
    expect(renderReport(empty, "text").replace(/\s+/g, " ")).toContain("Nothing suspicious found in what was seen, but audit could not see every kill call");
    expect(renderReport(empty, "markdown")).toContain("Nothing suspicious found in what was seen");
  });

  test("a partial and an unknown verdict have their own words; a plain log (no coverage line) says nothing", async () => {
    const partial = await analyze([coverageLine(judge(1, "-a always,exit -F arch=b64 -S kill -F a0=1234 -k demo"))]);
    expect(renderReport(partial, "text").replace(/\s+/g, " ")).toContain("Audit saw kill calls only partly from");
    const unknown = await analyze([{ ...coverageLine(judge(1)), state: "unknown", enabled: null, reason: "reading the kernel's audit status and rules failed: EPERM", fix: "sudo bun scripts/setup-rule.ts status" } as CoverageLine]);
    expect(renderReport(unknown, "text").replace(/\s+/g, " ")).toContain("Whether audit could see kill calls could not be checked from");
    expect(renderReport(unknown, "text").replace(/\s+/g, " ")).toContain("To check: sudo bun scripts/setup-rule.ts status");
    const plain = await analyze([sig({ id: "1:1", time: 1 })]);
    expect(plain.coverage).toEqual({ checks: 0, problems: [], problemsNotKept: 0, last: null });
    expect(renderReport(plain, "text")).not.toContain("Audit");
  });

  test("an input line is anyone's: control characters in the reason are escaped, a state we do not know is not 'full'", async () => {
    const forged = { ...coverageLine(judge(1)), state: "fine", reason: "x\u001b[2Jy", missing: "not a list", fix: 5 } as unknown as CoverageLine;
    const report = await analyze([forged]);
    expect(report.coverage.problems[0]).toMatchObject({ state: "unknown", missing: [], fix: null });
    const text = renderReport(report, "text");
    expect(text).not.toContain("\u001b");
    expect(text).toContain("x\\x1b[2Jy");
  });

  test("report --quiet-if-clean still prints when audit could not see", () => {
    const run = Bun.spawnSync([process.execPath, join(root, "scripts", "report.ts"), "--quiet-if-clean", blindCapture()], { cwd: root, stdout: "pipe", stderr: "pipe" });
    expect(run.exitCode).toBe(0);
    expect(run.stdout.toString()).toContain("Audit could not see kill calls");
  });
});

const skip = auditSkipReason();
if (skip) console.error(`skip: live coverage tests: ${skip}`);

describe.skipIf(skip !== null)("capture --netlink on the real kernel", () => {
  /** capture --netlink in this process, its lines to a file; `stop()` ends it and returns what it wrote. */
  function captureInProcess(options: { checkCoverage?: boolean; coverageCheck: () => KillCoverage }) {
    const out = join(tempDir(), "out.jsonl");
    const fd = openSync(out, "w");
    const controller = new AbortController();
    const run = captureLive(["netlink"], {
      path: "",
      fromStart: false,
      errors: new InputErrors({ strict: false, print: () => {} }),
      writer: new LineWriter(fd),
      signal: controller.signal,
      coverageIntervalMs: 20,
      ...options,
    });
    const text = () => readFileSync(out, "utf8");
    return {
      coverageLines: () => text().split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.kind === "coverage"),
      async stop() {
        controller.abort();
        await run;
        closeSync(fd);
        return text();
      },
    };
  }

  test("in-process, with the verdict injected: a coverage line at once, another when the rules change, stderr says so", async () => {
    let rulesLoaded = false;
    const started = performance.now();
    const capture = captureInProcess({
      coverageCheck: () => (rulesLoaded ? judge(1, ...ours({ key: "k", arches: ["b64", "b32"] })) : judge(1)),
    });
    const read = capture.coverageLines;
    const first = await waitFor(() => (read().length > 0 ? read()[0] : undefined), 5000, 5);
    const firstMs = performance.now() - started;
    rulesLoaded = true;
    const second = await waitFor(() => (read().length > 1 ? read()[1] : undefined), 5000, 5);
    await capture.stop();
    expect(first).toMatchObject({ kind: "coverage", source: "audit", state: "none" });
    expect(firstMs).toBeLessThan(1000);
    expect(second).toMatchObject({ state: "full", fix: null });
  });

  test("--no-coverage (a capture scoped on purpose, as the demo's): no check, no coverage line", async () => {
    let checked = 0;
    const capture = captureInProcess({ checkCoverage: false, coverageCheck: () => (checked++, judge(1)) });
    await Bun.sleep(300);
    const written = await capture.stop();
    expect(checked).toBe(0);
    expect(written).not.toContain('"kind":"coverage"');
  });

  test("as users run it: with the kernel's own rules, the verdict on stderr within a second, in the stream, and in the report", async () => {
    const child = Bun.spawn([process.execPath, join(root, "scripts", "capture.ts"), "--netlink"], { cwd: root, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    const spawned = performance.now();
    let stderr = "";
    let listeningAt: number | null = null;
    let warnedAt: number | null = null;
    const err = (async () => {
      for await (const chunk of child.stderr) {
        stderr += new TextDecoder().decode(chunk);
        if (listeningAt === null && stderr.includes("netlink: listening")) listeningAt = performance.now();
        if (warnedAt === null && /Audit (could not see|saw kill calls only partly)|Whether audit could see/.test(stderr)) warnedAt = performance.now();
      }
    })();
    const stdout = new Response(child.stdout).text();
    await waitFor(() => (listeningAt !== null ? true : undefined), 15_000, 5);
    expect(listeningAt, `capture did not start: ${stderr}`).not.toBeNull();
    await waitFor(() => (warnedAt !== null ? true : undefined), 1000, 5);
    await Bun.sleep(200);
    child.kill("SIGINT");
    // Stopped by Ctrl-C: 128 + SIGINT.
    expect(await child.exited).toBe(130);
    await err;
    const lines = (await stdout).split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const coverage = lines.filter((l) => l.kind === "coverage") as CoverageLine[];
    expect(coverage.length).toBeGreaterThanOrEqual(1);
    const startup = (listeningAt! - spawned).toFixed(0);
    // Rules of other runs come and go: what counts is what the kernel said when capture asked.
    if (coverage[0]!.state === "full") {
      // Other runs' rules cover the whole family right now: there is nothing to warn about.
      console.error(`skip: the warning part: the kernel's loaded rules cover the whole kill family now (capture started in ${startup} ms)`);
      expect(warnedAt).toBeNull();
      return;
    }
    expect(["none", "partial"]).toContain(coverage[0]!.state);
    expect(warnedAt, `no warning on stderr: ${stderr}`).not.toBeNull();
    // Within a second of capture listening (Bun's own start-up comes before either).
    expect(warnedAt! - listeningAt!).toBeLessThan(1000);
    console.error(`capture --netlink: coverage warning ${Math.max(0, warnedAt! - listeningAt!).toFixed(0)} ms after listening (start-up ${startup} ms), verdict ${coverage[0]!.state}`);
    expect(stderr).toContain("bun scripts/setup-rule.ts install");

    const path = join(tempDir(), "live.jsonl");
    writeFileSync(path, (await stdout));
    const report = Bun.spawnSync([process.execPath, join(root, "scripts", "report.ts"), path], { cwd: root, stdout: "pipe", stderr: "pipe" });
    const text = report.stdout.toString().replace(/\s+/g, " ");
    expect(text).toMatch(/Warning: Audit (could not see kill calls|saw kill calls only partly) from/);
    expect(text).toContain("To fix: bun scripts/setup-rule.ts install");
  }, 30_000);
});

const setpriv = Bun.which("setpriv", { PATH: `${process.env.PATH ?? ""}:/usr/bin:/bin` });
describe.skipIf(skip !== null || setpriv === null)("capture --netlink without CAP_AUDIT_CONTROL", () => {
  test("it says at once that it could not check, on stderr and in the stream", async () => {
    // CAP_AUDIT_READ (netlink) kept, CAP_AUDIT_CONTROL (status and rules) dropped from the bounding set.
    const child = Bun.spawn([setpriv!, "--bounding-set", "-audit_control", process.execPath, join(root, "scripts", "capture.ts"), "--netlink"], {
      cwd: root,
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stderr = "";
    const err = (async () => {
      for await (const chunk of child.stderr) stderr += new TextDecoder().decode(chunk);
    })();
    const stdout = new Response(child.stdout).text();
    const listening = await waitFor(() => (stderr.includes("netlink: listening") ? performance.now() : undefined), 15_000, 5);
    const warned = await waitFor(() => (stderr.includes("could not be checked") ? performance.now() : undefined), 1000, 5);
    child.kill("SIGINT");
    // Stopped by Ctrl-C: 128 + SIGINT.
    expect(await child.exited).toBe(130);
    await err;
    expect(listening, stderr).toBeDefined();
    expect(warned, stderr).toBeDefined();
    expect(warned! - listening!).toBeLessThan(1000);
    expect(stderr).toContain("CAP_AUDIT_CONTROL");
    const coverage = (await stdout).split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.kind === "coverage");
    expect(coverage[0]).toMatchObject({ state: "unknown", enabled: null, fix: "sudo bun scripts/setup-rule.ts status" });
  }, 30_000);
});
