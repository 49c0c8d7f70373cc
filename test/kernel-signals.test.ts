/**
 * Kernel-sent signals told apart: the cause rules on fixture lines, and each
 * kind made for real on this kernel (a private tracefs instance), run through
 * attribute and report the way `capture --tracefs | report` does.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { classifySignal, explainTracefsSignal } from "../lib/signals/cause.ts";
import { analyze, type Report } from "../lib/signals/findings.ts";
import { renderText } from "../lib/render/text.ts";
import { signalOrigin } from "../lib/sources/tracefs-line.ts";
import { KERNEL_SIGNAL_RULES, matchKernelSignalRule } from "../lib/tables/kernel-signals.ts";
import type { SignalLine } from "../lib/schema.ts";
import { attributeFiles } from "./helpers/run.ts";
import { tracefsSkipReason, waitFor } from "./helpers/live.ts";
import { SCENARIOS, buildKernelSignals, kernelSignalsSkipReason, linesOf, startSignalCollector, type Scenario, type SeenLine } from "./helpers/kernel-signals.ts";
import { sig } from "./helpers/report-fixtures.ts";

const idle = { pid: 0, comm: "<idle>" };
const script = { pid: 7055, comm: "script" };
const sleeper = { pid: 7056, comm: "sleep" };

describe("classifySignal: the rules of lib/tables/kernel-signals.ts, on lines measured here", () => {
  const cases: Array<[string, number, number, { pid: number; comm: string }, { pid: number; comm: string }, string, string]> = [
    // [what, si_code, sig, context, victim, cause kind, rule]
    ["tty hangup, in the task closing the terminal", 128, 1, script, sleeper, "tty", "tty-hangup"],
    ["its SIGCONT", 128, 18, script, sleeper, "tty", "tty-hangup-cont"],
    ["Ctrl-C through a kworker", 128, 2, { pid: 38, comm: "kworker/u8:2" }, sleeper, "tty", "tty-key"],
    ["timeout(1)'s POSIX timer in <idle>", -2, 14, idle, { pid: 7061, comm: "timeout" }, "timer", "posix-timer"],
    ["alarm() in an unrelated task's interrupt", 128, 14, { pid: 7351, comm: "node" }, { pid: 7502, comm: "wk-alarm" }, "timer", "alarm"],
    ["ITIMER_VIRTUAL", 128, 26, { pid: 9, comm: "v" }, { pid: 9, comm: "v" }, "timer", "cpu-itimer"],
    ["RLIMIT_CPU soft", 128, 24, { pid: 9, comm: "busy" }, { pid: 9, comm: "busy" }, "rlimit", "rlimit-cpu-soft"],
    ["RLIMIT_FSIZE", 0, 25, { pid: 9, comm: "w" }, { pid: 9, comm: "w" }, "rlimit", "rlimit-fsize"],
    ["SIGKILL in its own context (OOM or RLIMIT_CPU hard)", 128, 9, { pid: 9, comm: "busy" }, { pid: 9, comm: "busy" }, "kernel", "kernel-sigkill-self"],
    ["SIGKILL from another task's context", 128, 9, { pid: 3, comm: "bun" }, { pid: 9, comm: "hog" }, "kernel", "kernel-sigkill"],
    ["an unknown SI_KERNEL signal", 128, 10, { pid: 3, comm: "bun" }, { pid: 9, comm: "x" }, "kernel", "kernel-unknown"],
    ["SIGPIPE to the writer", 0, 13, { pid: 7144, comm: "yes" }, { pid: 7144, comm: "yes" }, "self", "sigpipe"],
    ["abort()", -6, 6, { pid: 5, comm: "a" }, { pid: 5, comm: "a" }, "self", "abort"],
    ["raise(SIGTERM)", -6, 15, { pid: 5, comm: "a" }, { pid: 5, comm: "a" }, "self", "self-signal"],
    ["kill(0) to its own group", 0, 15, { pid: 5, comm: "a" }, { pid: 5, comm: "a" }, "self", "self-signal"],
    ["SIGSEGV SEGV_MAPERR", 1, 11, { pid: 5, comm: "a" }, { pid: 5, comm: "a" }, "fault", "fault"],
    ["SIGBUS BUS_ADRERR", 2, 7, { pid: 5, comm: "a" }, { pid: 5, comm: "a" }, "fault", "fault"],
    ["int3: SIGTRAP with SI_KERNEL", 128, 5, { pid: 5, comm: "a" }, { pid: 5, comm: "a" }, "fault", "trap"],
    ["a kill() by timeout", 0, 15, { pid: 7061, comm: "timeout" }, { pid: 7062, comm: "sleep" }, "process", "sent-by-process"],
    ["a parent-death signal looks like a kill by the parent", 0, 15, { pid: 8127, comm: "wk-pdeath" }, { pid: 8128, comm: "wk-orphan" }, "process", "sent-by-process"],
    ["SIGCHLD from an exiting child", 2, 17, { pid: 8128, comm: "c" }, { pid: 1, comm: "init" }, "notify", "notify"],
  ];
  for (const [what, code, nr, context, victim, kind, rule] of cases) {
    test(what, () => {
      const { cause } = classifySignal(code, nr, context, victim);
      expect(cause.kind).toBe(kind);
      expect(cause.rule).toBe(rule);
      expect(cause.evidence[0]).toStartWith(`si_code ${code}`);
    });
  }

  test("a kernel-sent signal never names the running task as its killer", () => {
    const line = (code: number, nr: number, context: { pid: number; comm: string }, victim: { pid: number; comm: string }): SignalLine =>
      explainTracefsSignal(
        sig({ id: "t", time: 1, source: "tracefs", nr, killer: { pid: context.pid, comm: context.comm, exe: null, uid: null, user: null }, target: victim.pid, victims: [victim], origin: signalOrigin(code, nr) }),
      );
    const hup = line(128, 1, script, sleeper);
    expect(hup.killer).toMatchObject({ pid: null, comm: "[kernel]" });
    expect(hup.context).toEqual({ pid: 7055, comm: "script" });
    const alarm = line(-2, 14, idle, { pid: 7061, comm: "timeout" });
    expect(alarm.killer).toMatchObject({ pid: 7061, comm: "timeout" }); // the timer's owner
    expect(alarm.context).toEqual({ pid: 0, comm: "<idle>" });
    expect(alarm.self).toBeUndefined();
    const kill = line(0, 15, { pid: 7061, comm: "timeout" }, { pid: 7062, comm: "sleep" });
    expect(kill.killer).toMatchObject({ pid: 7061, comm: "timeout" });
    const unknown = line(-60, 9, { pid: 3, comm: "bun" }, { pid: 9, comm: "x" });
    expect(unknown.cause).toMatchObject({ kind: "kernel", rule: "unknown", label: expect.stringContaining("cause unknown") });
    expect(unknown.cause!.settle).toBeTruthy();
    expect(unknown.killer.pid).toBeNull();
  });

  test("every rule is reachable and says something; sequence rules only through CauseSequences", () => {
    for (const rule of KERNEL_SIGNAL_RULES) {
      expect(rule.label.length).toBeGreaterThan(10);
      if (rule.cause === "kernel") expect(rule.settle).toBeTruthy();
    }
    expect(matchKernelSignalRule(128, "SIGKILL", true)?.id).toBe("kernel-sigkill-self");
  });

  test("SIGKILL after SIGXCPU to the same process is RLIMIT_CPU's hard limit; blind-spot never says OOM for a hangup", async () => {
    const mk = (id: string, t: number, code: number, nr: number, name: string) =>
      sig({ id, time: t, source: "tracefs", nr, name, killer: { pid: 9, comm: "busy", exe: null, uid: null, user: null }, target: 9, victims: [{ pid: 9, comm: "busy" }], origin: signalOrigin(code, nr) });
    const report = await analyze([mk("x", 1, 128, 24, "SIGXCPU"), mk("k", 2, 128, 9, "SIGKILL")]);
    const limit = report.findings.find((f) => f.id === "resource-limit");
    expect(limit?.headline).toContain("RLIMIT_CPU");
    expect(limit?.headline).toContain("hard limit");
    expect(report.findings.some((f) => f.id === "blind-spot")).toBe(false);
    const hup = await analyze([
      sig({ id: "h", time: 1, source: "tracefs", nr: 1, killer: { pid: 7055, comm: "script", exe: null, uid: null, user: null }, target: 7056, victims: [sleeper], origin: signalOrigin(128, 1) }),
    ]);
    const text = renderText(hup);
    expect(text).not.toMatch(/OOM|out of memory/i);
    expect(hup.findings.map((f) => f.id)).toEqual(["tty-hangup"]);
  });
});

// --- live ---

const skip = tracefsSkipReason();
const binary = skip ? null : buildKernelSignals();
const liveSkip = skip ?? (binary ? null : kernelSignalsSkipReason());
if (liveSkip) console.error(`kernel-signals live tests skipped: ${liveSkip}`);
const scriptSkip = Bun.which("script") ? null : "script (util-linux) missing";
if (!liveSkip && scriptSkip) console.error(`tty hangup test skipped: ${scriptSkip}`);

describe.skipIf(liveSkip !== null)("kernel-sent signals on the real kernel, through attribute and report", () => {
  // SIGCHLD exit notifications are kept: they tell a parent-death signal from a kill().
  let collector: ReturnType<typeof startSignalCollector>;
  const dir = mkdtempSync(join(tmpdir(), "wk-ksig-test-"));

  beforeAll(async () => {
    collector = startSignalCollector({ filter: "sig != 17 || code < 4" });
    await collector.ready;
  });
  afterAll(async () => {
    await collector?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Run a scenario and wait for `until` among its lines: the run and the lines it caused. */
  async function runScenario(scenario: Scenario, until: (line: SeenLine) => boolean) {
    const from = collector.seen.length;
    const run = await scenario.run(binary!);
    await waitFor(() => (linesOf(collector.seen, run, from).some(until) ? true : undefined), 5000, 20);
    await Bun.sleep(100);
    return { run, lines: linesOf(collector.seen, run, from) };
  }

  /** `timeout 1 sleep 10`, run once for the two tests that report on it (without and with its SIGCHLD lines). */
  let timeoutRun: ReturnType<typeof runScenario> | undefined;
  const runTimeout = () => (timeoutRun ??= runScenario(SCENARIOS.timeout!, (l) => l.parsed.sig === 15));

  /** Run a scenario (or take `ran`, one already run), wait for `until` among its lines, and report on them as capture → attribute → report would. */
  async function reportOn(scenario: Scenario, until: (line: SeenLine) => boolean, keepSigchld = false, ran?: ReturnType<typeof runScenario>) {
    const { run, lines: all } = await (ran ?? runScenario(scenario, until));
    const lines = all.filter((l) => keepSigchld || l.parsed.sig !== 17);
    const path = join(dir, `${scenario.name}.jsonl`);
    writeFileSync(path, lines.map((l) => JSON.stringify(l.record)).join("\n") + "\n");
    const { signals, messages } = await attributeFiles([path]);
    expect(messages).toEqual([]);
    const report = await analyze(signals);
    const text = renderText(report, { width: 200 });
    console.error(`--- ${scenario.command}: ${run.outcome}\n${lines.map((l) => `    ${l.record.raw.trim()}`).join("\n")}\n${excerpt(text)}`);
    assertNoUnrelatedKiller(signals, run.pids);
    return { run, signals, report, text };
  }

  /** A kernel-sent signal's killer is the kernel or the victim; a process's is one of the scenario's own. */
  function assertNoUnrelatedKiller(signals: SignalLine[], ours: Set<number>) {
    for (const s of signals) {
      expect(s.cause).toBeDefined();
      const victim = s.target.tid ?? s.target.pid;
      // This test process's own SIGKILL to `script` is a process's signal too.
      if (s.cause!.kind === "process" || s.cause!.kind === "notify") expect(ours.has(s.killer.pid!) || s.killer.pid === process.pid || s.killer.pid === victim).toBe(true);
      else expect(s.killer.pid === null || s.killer.pid === victim).toBe(true);
    }
  }

  const finding = (report: Report, id: string) => report.findings.find((f) => f.id === id);

  test.skipIf(scriptSkip !== null)("a tty hangup through a pty: SIGHUP from the tty layer, not from script or OOM", async () => {
    const { report, text, signals } = await reportOn(SCENARIOS.ttyHangup!, (l) => l.parsed.sig === 1 && l.parsed.code === 128);
    const hup = signals.find((s) => s.signal.nr === 1 && s.cause?.rule === "tty-hangup")!;
    expect(hup.killer).toMatchObject({ pid: null, comm: "[kernel]" });
    expect(finding(report, "tty-hangup")?.headline).toMatch(/A terminal hung up: the kernel's tty layer sent SIGHUP to (sh\[\d+\] ×\d+, )?sleep\[\d+\]/); // dash stays as session leader; bash execs sleep
    expect(text).toMatch(/script\[\d+\]/); // named as context
    expect(text).toMatch(/nohup/);
    expect(text).not.toMatch(/OOM|out of memory/i);
  }, 20000);

  test("timeout 1 sleep 10: the SIGALRM is timeout's own timer, not from the task that happened to run", async () => {
    const { report, signals } = await reportOn(SCENARIOS.timeout!, (l) => l.parsed.sig === 15, false, runTimeout());
    const alarm = signals.find((s) => s.signal.nr === 14)!;
    expect(alarm.cause).toMatchObject({ kind: "timer", rule: "posix-timer" });
    expect(alarm.killer.comm).toBe("timeout");
    expect(finding(report, "timer")?.headline).toMatch(/SIGALRM to timeout\[\d+\] from its own timer/);
    const term = signals.find((s) => s.signal.nr === 15 && s.victims[0]?.comm === "sleep")!;
    expect(term.killer.comm).toBe("timeout");
    expect(term.cause?.kind).toBe("process");
  }, 20000);

  test("RLIMIT_CPU: ulimit -t 1 (SIGKILL only), and soft < hard (SIGXCPU then SIGKILL)", async () => {
    const both = await reportOn(SCENARIOS.rlimitCpu!, (l) => l.parsed.sig === 9);
    expect(finding(both.report, "blind-spot")?.headline).toMatch(/SIGKILL to wk-busy\[\d+\].*RLIMIT_CPU hard limit/);
    expect(both.text).toContain("dmesg | grep -i 'killed process'");
    const sequence = await reportOn(SCENARIOS.rlimitCpuSoftHard!, (l) => l.parsed.sig === 9);
    expect(finding(sequence.report, "resource-limit")?.headline).toMatch(/RLIMIT_CPU .*wk-xcpu-ign\[\d+\].*SIGXCPU at the soft limit, then SIGKILL at the hard limit/);
  }, 30000);

  test("RLIMIT_FSIZE: a write past ulimit -f gets SIGXFSZ, from the kernel in the writer itself", async () => {
    const { report, signals } = await reportOn(SCENARIOS.xfsz!, (l) => l.parsed.sig === 25);
    const xfsz = signals.find((s) => s.signal.nr === 25)!;
    expect(xfsz.cause).toMatchObject({ kind: "rlimit", rule: "rlimit-fsize" });
    expect(xfsz.killer).toMatchObject({ pid: null, comm: "[kernel]" });
    expect(finding(report, "resource-limit")?.headline).toContain("SIGXFSZ");
  }, 20000);

  test("SIGPIPE: yes | head -1", async () => {
    const { report } = await reportOn(SCENARIOS.sigpipe!, (l) => l.parsed.sig === 13);
    expect(finding(report, "self-inflicted")?.headline).toMatch(/yes\[\d+\] got SIGPIPE writing to a pipe/);
  }, 20000);

  test("SIGSEGV, and abort()", async () => {
    const segv = await reportOn(SCENARIOS.segv!, (l) => l.parsed.sig === 11);
    expect(finding(segv.report, "self-inflicted")?.headline).toMatch(/wk-segv\[\d+\] crashed \(SIGSEGV.*SEGV_MAPERR/);
    const abort = await reportOn(SCENARIOS.abort!, (l) => l.parsed.sig === 6);
    expect(finding(abort.report, "self-inflicted")?.headline).toMatch(/wk-abort\[\d+\] called abort\(\) \(SIGABRT/);
  }, 20000);

  test("the parent-death signal: told from a kill() by the parent's exit notification", async () => {
    const { report, signals } = await reportOn(SCENARIOS.pdeath!, (l) => l.parsed.sig === 15, true);
    const term = signals.find((s) => s.signal.nr === 15)!;
    expect(term.killer.comm).toBe("wk-pdeath"); // the dying parent, not an unrelated task
    expect(finding(report, "parent-death")?.headline).toMatch(/wk-orphan\[\d+\] got SIGTERM because its parent wk-pdeath\[\d+\] exited/);
    // timeout kills its child and waits for it: that is no parent-death signal.
    const timeout = await reportOn(SCENARIOS.timeout!, (l) => l.parsed.sig === 15, true, runTimeout());
    expect(finding(timeout.report, "parent-death")).toBeUndefined();
  }, 20000);
});

/** The report's findings part, for the log. */
function excerpt(text: string): string {
  const at = text.search(/finding/i);
  return (at < 0 ? text : text.slice(at)).split("\n").slice(0, 30).join("\n");
}
