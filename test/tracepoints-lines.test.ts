/**
 * capture --tracepoints, the pure parts: trace lines parsed, enter and exit
 * matched per thread, the sender's /proc facts taken only from the process
 * that made the call, record ids, and the records read into signal lines.
 * The trace lines were copied from this kernel's trace_pipe (6.18, with
 * options/record-tgid), PIDs and all.
 */
import { describe, expect, test } from "bun:test";
import { lineProblem } from "../lib/schema-check.ts";
import type { RecordLine } from "../lib/schema.ts";
import { CallMatcher, madeRecordLine, senderFactsOf, TRACEPOINT_KILL, type MadeRecord, type SenderLookup, type VictimLookup } from "../lib/sources/tracepoint-calls.ts";
import type { ProcView } from "../lib/sources/trace-tasks.ts";
import { intArg, parseTracepointLine } from "../lib/sources/tracepoint-line.ts";
import { CALL_NOT_SEEN, parseTraceHead, SIGNAL_GENERATE } from "../lib/sources/tracefs-line.ts";
import { recordToSignal } from "./helpers/tracepoints.ts";
import { minimalPasswdIds, runScriptProcess } from "./helpers/run.ts";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// A group kill seen here: kill(-20960, SIGINT) reached six processes.
const GROUP_KILL = [
  "             bun-3844    (   3844) [001] ..... 17704.444850: sys_kill(pid: 0xffffae20, sig: 2)",
  "             bun-3844    (   3844) [001] d..2. 17704.444863: signal_generate: sig=2 errno=0 code=0 comm=bun.exe pid=21084 grp=1 res=0",
  "             bun-3844    (   3844) [001] d..2. 17704.444872: signal_generate: sig=2 errno=0 code=0 comm=bun.exe pid=20973 grp=1 res=0",
  "             bun-3844    (   3844) [001] d..2. 17704.444891: signal_generate: sig=2 errno=0 code=0 comm=bun.exe pid=20972 grp=1 res=0",
  "             bun-3844    (   3844) [001] d..2. 17704.444900: signal_generate: sig=2 errno=0 code=0 comm=bun.exe pid=20971 grp=1 res=0",
  "             bun-3844    (   3844) [001] d..2. 17704.444904: signal_generate: sig=2 errno=0 code=0 comm=rogue-httpd pid=20970 grp=1 res=0",
  "             bun-3844    (   3844) [001] d..2. 17704.444909: signal_generate: sig=2 errno=0 code=0 comm=bun.exe pid=20960 grp=1 res=0",
  "             bun-3844    (   3844) [001] ..... 17704.444911: sys_kill -> 0x0",
];
// The 2010 case: the rogue's SIGKILL at a free PID.
const ESRCH_KILL = [
  "     rogue-httpd-20970   (  20970) [001] ..... 17704.450176: sys_kill(pid: 0x670a, sig: 9)",
  "     rogue-httpd-20970   (  20970) [001] ..... 17704.450194: sys_kill -> 0xfffffffffffffffd",
];
const FORK = "            bash-21001   (  21001) [001] ..... 17704.544393: sched_process_fork: comm=bash pid=21001 child_comm=bash child_pid=21096";
const EXEC = "     wk-sender64-21096   (  21096) [001] ..... 17704.544767: sched_process_exec: filename=./wk-sender64 pid=21096 old_pid=21096";
const SIGQUEUE = [
  "     wk-sender64-21096   (  21096) [001] ..... 17704.545285: sys_rt_sigqueueinfo(pid: 0x5258, sig: 0xa, uinfo: 0x7ffe17236d20)",
  "     wk-sender64-21096   (  21096) [001] d..1. 17704.545287: signal_generate: sig=10 errno=0 code=-1 comm=wk-victim pid=21080 grp=1 res=0",
  "     wk-sender64-21096   (  21096) [001] ..... 17704.545288: sys_rt_sigqueueinfo -> 0x0",
];

function matcher(lookup?: SenderLookup, tracingSince = 17000): CallMatcher {
  return new CallMatcher({ lookup, tracingSince, arch: "x86_64" });
}

function feed(m: CallMatcher, lines: readonly string[]): MadeRecord[] {
  return lines.flatMap((line) => m.line(line));
}

function asRecord(made: MadeRecord, serial = 1): RecordLine {
  return madeRecordLine(made, serial, 1_796_600_000_000 - 17704 * 1000);
}

function proc(pid: number, start: number, extra: Partial<ProcView> = {}): ProcView {
  return { pid, ppid: 21001, comm: "wk-sender64", start, uid: 1000, euid: 1000, exe: "/tmp/wk-sender64", argv: ["./wk-sender64", "sigqueue"], ...extra };
}

describe("trace lines", () => {
  test("syscall enter: hex above 9, decimal below, a negative pid as its low 32 bits", () => {
    const line = parseTracepointLine(GROUP_KILL[0]!)!;
    expect(line.event).toBe("enter");
    if (line.event !== "enter") return;
    expect(line.call).toBe("kill");
    expect(line.head).toEqual({ comm: "bun", tid: 3844, tgid: 3844, cpu: 1, flags: ".....", timestamp: 17704.44485 });
    expect(line.args.map((a) => a.name)).toEqual(["pid", "sig"]);
    expect(intArg(line.args[0]!.value)).toBe(-20960);
    expect(intArg(line.args[1]!.value)).toBe(2);
    // A 64-bit sign extension reads the same.
    const wide = parseTracepointLine("x-1 (1) [000] ..... 1.000001: sys_kill(pid: 0xfffffffffffffffb, sig: 0xf)")!;
    expect(wide.event === "enter" && intArg(wide.args[0]!.value)).toBe(-5);
  });

  test("syscall exit: the 64-bit return, ESRCH as -3", () => {
    const line = parseTracepointLine(ESRCH_KILL[1]!)!;
    expect(line.event === "exit" && line.call).toBe("kill");
    expect(line.event === "exit" && line.ret).toBe(-3n);
    expect(parseTracepointLine("a-1 (1) [000] ..... 1.5: sys_pidfd_open -> 0x10")).toMatchObject({ event: "exit", call: "pidfd_open", ret: 16n });
  });

  test("signal_generate, exec and fork, with a comm holding spaces", () => {
    expect(parseTracepointLine(SIGQUEUE[1]!)).toMatchObject({ event: "signal_generate", generate: { sig: 10, code: -1, target: { pid: 21080, comm: "wk-victim" } } });
    expect(parseTracepointLine(EXEC)).toMatchObject({ event: "exec", filename: "./wk-sender64", pid: 21096, oldPid: 21096 });
    const fork = parseTracepointLine("      Bun Pool 0-21091   (  21090) [000] ..... 17704.522338: sched_process_fork: comm=Bun Pool 0 pid=21091 child_comm=Bun Pool 0 child_pid=21094")!;
    expect(fork).toMatchObject({ event: "fork", parentComm: "Bun Pool 0", parentPid: 21091, childPid: 21094, head: { comm: "Bun Pool 0", tid: 21091, tgid: 21090 } });
  });

  test("heads: a comm with dashes and digits, <...>, no flags column, no tgid column", () => {
    expect(parseTraceHead("  a-1-2-99  (   99) [000] d..1. 5.000100: sys_kill -> 0x0")!.head).toMatchObject({ comm: "a-1-2", tid: 99, tgid: 99 });
    expect(parseTraceHead("   <...>-7   (    7) [000] ..... 5.1: x")!.head.comm).toBeNull();
    expect(parseTraceHead("bash-9954 [001] 440.413824: sys_kill -> 0x0")!.head).toMatchObject({ comm: "bash", tid: 9954, tgid: null, flags: null, timestamp: 440.413824 });
    expect(parseTracepointLine("CPU:1 [LOST 12 EVENTS]")).toBeNull();
    expect(parseTracepointLine("bash-1 (1) [000] ..... 1.0: sched_switch: prev_comm=bash")).toBeNull();
  });
});

describe("calls matched per thread", () => {
  test("a group kill: one record, every signal_generate line a victim, read as audit's kill with its OBJ_PIDs", () => {
    const m = matcher();
    const made = feed(m, GROUP_KILL);
    expect(made).toHaveLength(1);
    expect(made[0]!.type).toBe(TRACEPOINT_KILL);
    expect(made[0]!.raw.split("\n").slice(0, GROUP_KILL.length)).toEqual(GROUP_KILL);
    const signal = recordToSignal(asRecord(made[0]!))!;
    expect(lineProblem(signal)).toBeNull();
    expect(signal).toMatchObject({
      source: "tracepoints",
      syscall: "kill",
      arch: "x86_64",
      signal: { nr: 2, name: "SIGINT" },
      result: { success: true, errno: null },
      target: { pid: -20960, scope: "group" },
      killer: { pid: 3844, comm: "bun", uid: null },
    });
    expect(signal.victims.map((v) => v.pid)).toEqual([21084, 20973, 20972, 20971, 20970, 20960]);
    expect(signal.victims[4]!.comm).toBe("rogue-httpd");
    // No /proc here: what is not known is said, not guessed.
    expect(signal.warnings!.join("\n")).toContain("uid and argv not known");
  });

  test("the stale-PID case: ESRCH, no victim, the target from the argument", () => {
    const made = feed(matcher(), ESRCH_KILL);
    const signal = recordToSignal(asRecord(made[0]!))!;
    expect(signal).toMatchObject({ result: { success: false, errno: "ESRCH" }, target: { pid: 26378, scope: "process" }, victims: [], signal: { name: "SIGKILL" } });
    expect(signal.killer).toMatchObject({ pid: 20970, comm: "rogue-httpd" });
  });

  test("two threads' calls interleaved each keep their own victims", () => {
    const m = matcher();
    const made = feed(m, [
      "  t-10  (  10) [000] ..... 1.000001: sys_tgkill(tgid: 0x64, pid: 0x65, sig: 0xf)",
      "  t-11  (  10) [001] ..... 1.000002: sys_kill(pid: 0xc8, sig: 9)",
      "  t-11  (  10) [001] d..1. 1.000003: signal_generate: sig=9 errno=0 code=0 comm=b pid=200 grp=1 res=0",
      "  t-10  (  10) [000] d..1. 1.000004: signal_generate: sig=15 errno=0 code=-6 comm=a-worker pid=101 grp=0 res=0",
      "  t-10  (  10) [000] ..... 1.000005: sys_tgkill -> 0x0",
      "  t-11  (  10) [001] ..... 1.000006: sys_kill -> 0x0",
    ]);
    expect(made).toHaveLength(2);
    const [tgkill, kill] = made.map((r, i) => recordToSignal(asRecord(r, i + 1))!);
    // A thread-directed signal's victim is its process, as audit's OBJ_PID says (opid = tgid), with the thread's comm.
    expect(tgkill).toMatchObject({ syscall: "tgkill", target: { pid: 100, scope: "thread", tid: 101 }, victims: [{ pid: 100, comm: "a-worker" }], killer: { pid: 10 } });
    expect(kill).toMatchObject({ syscall: "kill", victims: [{ pid: 200, comm: "b" }] });
  });

  test("a signal outside any call is a tracefs signal that says the call was not seen; one raised in an interrupt during a call is too", () => {
    const m = matcher();
    const made = feed(m, [
      "  wk-tp32-500  (  500) [000] d..1. 2.000001: signal_generate: sig=10 errno=0 code=0 comm=wk-victim pid=600 grp=1 res=0",
      "  k-7  (  7) [000] ..... 2.000002: sys_kill(pid: 0x258, sig: 0xa)",
      "  k-7  (  7) [000] d.h2. 2.000003: signal_generate: sig=14 errno=0 code=-2 comm=timer pid=700 grp=1 res=0",
      "  k-7  (  7) [000] d..1. 2.000004: signal_generate: sig=10 errno=0 code=0 comm=wk-victim pid=600 grp=1 res=0",
      "  k-7  (  7) [000] ..... 2.000005: sys_kill -> 0x0",
    ]);
    expect(made.map((r) => r.type)).toEqual([SIGNAL_GENERATE, SIGNAL_GENERATE, TRACEPOINT_KILL]);
    expect(m.stats.outside).toBe(2);
    const outside = recordToSignal(asRecord(made[0]!))!;
    expect(outside.source).toBe("tracefs");
    expect(outside.warnings).toEqual([CALL_NOT_SEEN]);
    expect(outside.cause?.rule).toBe("sent-by-process");
    expect(recordToSignal(asRecord(made[2]!))!.victims.map((v) => v.pid)).toEqual([600]);
  });

  test("an exit without its enter is counted, not made up; an enter without its exit ends unfinished", () => {
    const m = matcher();
    expect(m.line(ESRCH_KILL[1]!)).toEqual([]);
    expect(m.stats.orphanExits).toBe(1);
    expect(m.line(ESRCH_KILL[0]!)).toEqual([]);
    expect(m.expire(17705)).toEqual([]);
    const late = m.expire(17707);
    expect(late).toHaveLength(1);
    const signal = recordToSignal(asRecord(late[0]!))!;
    expect(signal.result).toEqual({ success: null, errno: null });
    expect(signal.warnings!.join("\n")).toContain("sys_exit line was not seen");
    expect(m.stats.unfinished).toBe(1);
    // A second enter on the same thread ends the first one too; flush ends the rest.
    feed(m, [ESRCH_KILL[0]!]);
    expect(feed(m, [ESRCH_KILL[0]!])).toHaveLength(1);
    expect(m.flush()).toHaveLength(1);
  });

  test("a failed pidfd_send_signal names the pid the sender's pidfd_open opened", () => {
    const m = matcher();
    const made = feed(m, [
      "  p-40  (  40) [000] ..... 3.000001: sys_pidfd_open(pid: 0x2a, flags: 0)",
      "  p-40  (  40) [000] ..... 3.000002: sys_pidfd_open -> 0x3",
      "  p-40  (  40) [000] ..... 3.000003: sys_pidfd_send_signal(pidfd: 3, sig: 0xf, info: 0, flags: 0)",
      "  p-40  (  40) [000] ..... 3.000004: sys_pidfd_send_signal -> 0xfffffffffffffffd",
    ]);
    expect(made).toHaveLength(1);
    const signal = recordToSignal(asRecord(made[0]!))!;
    expect(signal).toMatchObject({ syscall: "pidfd_send_signal", target: { pid: 42, scope: "pidfd", fd: 3, pidFrom: "pidfd_open" }, result: { errno: "ESRCH" } });
  });
});

describe("the sender from /proc, only when it is the process that called", () => {
  const lines = [FORK, EXEC, ...SIGQUEUE];

  test("started at its fork: uid, argv, exe and parents from /proc", () => {
    const lookup: SenderLookup = (pid, tid) =>
      pid === 21096 ? proc(21096, 17704.54) : pid === 21001 && tid === null ? proc(21001, 17000, { ppid: 1, comm: "bash", exe: "/usr/bin/bash", argv: ["bash"] }) : null;
    const made = feed(matcher(lookup), lines);
    const signal = recordToSignal(asRecord(made[0]!))!;
    expect(signal.killer).toMatchObject({ pid: 21096, ppid: 21001, uid: 1000, exe: "/tmp/wk-sender64", argv: ["./wk-sender64", "sigqueue"] });
    expect(signal.killer.ancestry).toEqual([{ pid: 21001, comm: "bash", exe: "/usr/bin/bash", argv: ["bash"], from: "proc" }]);
    expect(signal.warnings).toBeUndefined();
    expect(signal).toMatchObject({ syscall: "rt_sigqueueinfo", signal: { name: "SIGUSR1" }, victims: [{ pid: 21080, comm: "wk-victim" }] });
    expect(lineProblem(signal)).toBeNull();
    // Users are named as audit's are: here from a passwd given.
    const rooted: SenderLookup = (pid, tid) => (pid === 21096 ? proc(21096, 17704.54, { uid: 0, euid: 0 }) : lookup(pid, tid));
    expect(recordToSignal(asRecord(feed(matcher(rooted), lines)[0]!), minimalPasswdIds)!.killer).toMatchObject({ uid: 0, user: "root" });
  });

  test("a reused PID: another start than the fork seen, so nothing from /proc; exe and parent from the trace, said so", () => {
    const lookup: SenderLookup = (pid) => (pid === 21096 ? proc(21096, 17710.2, { uid: 0 }) : null);
    const signal = recordToSignal(asRecord(feed(matcher(lookup), lines)[0]!))!;
    expect(signal.killer).toMatchObject({ pid: 21096, uid: null, argv: [], exe: "./wk-sender64", ppid: 21001 });
    expect(signal.warnings!.join("\n")).toContain("the PID was reused");
    const facts = senderFactsOf(asRecord(feed(matcher(lookup), lines)[0]!).raw)!;
    expect(facts).toMatchObject({ exeFrom: "exec", ppidFrom: "fork", uid: null, argv: null });
    // The fork and exec lines that back them travel in the record.
    expect(asRecord(feed(matcher(lookup), lines)[0]!).raw).toContain(EXEC);
  });

  test("gone by its call's exit: uid, exe and argv as read at its exec line, and said so", () => {
    let alive = true;
    const lookup: SenderLookup = (pid) => (pid === 21096 && alive ? proc(21096, 17704.54) : null);
    const m = matcher(lookup);
    feed(m, [FORK, EXEC]);
    alive = false;
    const signal = recordToSignal(asRecord(feed(m, SIGQUEUE)[0]!))!;
    expect(signal.killer).toMatchObject({ pid: 21096, uid: 1000, exe: "/tmp/wk-sender64", argv: ["./wk-sender64", "sigqueue"] });
    expect(signal.warnings!.join("\n")).toMatch(/as \/proc showed them after its exec \(1 ms before the call\); it had ended when capture read \/proc at the call/);
  });

  test("a killer gone before its last call's exit line is read: uid, exe and argv as /proc showed them at its call before, and said so", () => {
    // One killer, older than the tracing (no creation line), two calls; it is killed before the second call's lines are read.
    let alive = true;
    const lookup: SenderLookup = (pid) => (pid === 21096 && alive ? proc(21096, 16000) : null);
    const m = matcher(lookup);
    const first = recordToSignal(asRecord(feed(m, SIGQUEUE)[0]!))!;
    expect(first.killer).toMatchObject({ pid: 21096, uid: 1000, exe: "/tmp/wk-sender64" });
    expect(first.warnings).toBeUndefined();
    alive = false;
    const later = SIGQUEUE.map((line) => line.replace(/17704\.5452/g, "17705.5452"));
    const second = recordToSignal(asRecord(feed(m, later)[0]!, 2))!;
    // The same killer, so the report counts one.
    expect(second.killer).toMatchObject({ pid: 21096, comm: "wk-sender64", uid: 1000, exe: "/tmp/wk-sender64", argv: ["./wk-sender64", "sigqueue"] });
    expect(second.warnings!.join("\n")).toMatch(/as \/proc showed them at an earlier call \(1000 ms before the call\); it had ended when capture read \/proc at the call/);
    // Under another name at the call (an exec since, or a rename), the earlier view is not this process's: not used.
    const renamed = later.map((line) => line.replace(/wk-sender64-21096/g, "other-21096"));
    const m2 = matcher((pid) => (pid === 21096 && alive ? proc(21096, 16000) : null));
    alive = true;
    feed(m2, SIGQUEUE);
    alive = false;
    const third = recordToSignal(asRecord(feed(m2, renamed)[0]!, 3))!;
    expect(third.killer).toMatchObject({ pid: 21096, comm: "other", uid: null });
  });

  test("a sender older than the tracing, renamed since it began: the rename line's name, even where the head still shows the old one", () => {
    // Seen here: the demo's rogue renames itself (/proc/self/comm) once capture listens; its first kill's head still showed `bun.exe`.
    const rename = "           <...>-21096   (  21096) [001] ..... 17704.545000: task_rename: pid=21096 oldcomm=bun.exe newcomm=wk-sender64 oom_score_adj=0";
    const stale = SIGQUEUE.map((line) => line.replace("wk-sender64-21096", "bun.exe-21096"));
    const victims: VictimLookup = (pid) => (pid === 21096 ? { start: 16000, comm: "wk-sender64", uid: 1000, tgid: 21096 } : null);
    const m = new CallMatcher({ lookup: (pid) => (pid === 21096 ? proc(21096, 16000) : null), victimLookup: victims, tracingSince: 17000, arch: "x86_64" });
    const signal = recordToSignal(asRecord(feed(m, [rename, ...stale])[0]!))!;
    expect(signal.killer).toMatchObject({ pid: 21096, comm: "wk-sender64", uid: 1000, exe: "/tmp/wk-sender64" });
    expect(signal.warnings).toBeUndefined();
  });

  test("trace_pipe's heads are caches: a fresh kill printed as the shell, or as an old thread of another process, is named from the kernel's own fields", () => {
    // Seen here: bash forks, the child execs /usr/bin/kill, and every line of it still prints `bash` (the comm is looked up when printed).
    const stale = [
      "            bash-18084   (  18084) [001] .N... 18921.020140: task_newtask: pid=19320 comm=bash clone_flags=1200000 oom_score_adj=0",
      "            bash-19320   (  19320) [001] ..... 18921.020530: sched_process_exec: filename=/usr/bin/kill pid=19320 old_pid=19320",
      "            bash-19320   (  19320) [001] ..... 18921.021195: sys_kill(pid: 0x4b2e, sig: 0x1c)",
      "            bash-19320   (  19320) [001] d..1. 18921.021219: signal_generate: sig=28 errno=0 code=0 comm=sleep pid=19246 grp=1 res=1",
      "            bash-19320   (  19320) [001] ..... 18921.021220: sys_kill -> 0x0",
    ];
    const lookup: SenderLookup = (pid) => (pid === 19320 ? proc(19320, 18921.02, { comm: "kill", exe: "/usr/bin/kill", argv: ["/usr/bin/kill", "-s", "WINCH", "19246"] }) : null);
    const signal = recordToSignal(asRecord(feed(matcher(lookup), stale)[0]!))!;
    expect(signal.killer).toMatchObject({ pid: 19320, comm: "kill", exe: "/usr/bin/kill", uid: 1000, ppid: 21001 });
    expect(signal.warnings).toBeUndefined();
    const gone = recordToSignal(asRecord(feed(matcher(), stale)[0]!))!;
    expect(gone.killer).toMatchObject({ comm: "kill", exe: "/usr/bin/kill", uid: null, ppid: 18084 });
    // Seen here too: a fresh /usr/bin/kill, thread id 21296, printed with the name and thread group of a Bun thread that had the id before.
    const recycled = [
      "            bash-21270   (  21270) [000] ..... 18976.274001: task_newtask: pid=21296 comm=bash clone_flags=1200000 oom_score_adj=0",
      "       JSCWarmUp-21296   (  21291) [000] ..... 18976.274300: task_rename: pid=21296 oldcomm=bash newcomm=kill oom_score_adj=0",
      "       JSCWarmUp-21296   (  21291) [000] ..... 18976.274350: sched_process_exec: filename=/usr/bin/kill pid=21296 old_pid=21296",
      "       JSCWarmUp-21296   (  21291) [000] ..... 18976.276733: sys_kill(pid: 0x5322, sig: 0x1c)",
      "       JSCWarmUp-21296   (  21291) [000] d..1. 18976.276757: signal_generate: sig=28 errno=0 code=0 comm=sleep pid=21282 grp=1 res=1",
      "       JSCWarmUp-21296   (  21291) [000] ..... 18976.276758: sys_kill -> 0x0",
    ];
    // 21291 is now a `sleep` that exec'd earlier: never its /proc.
    const other: SenderLookup = (pid) => (pid === 21291 ? proc(21291, 18976.1, { comm: "sleep", exe: "/usr/bin/sleep" }) : null);
    const fresh = recordToSignal(asRecord(feed(matcher(other), recycled)[0]!))!;
    expect(fresh.killer).toMatchObject({ pid: 21296, comm: "kill", exe: "/usr/bin/kill", ppid: 21270, uid: null });
  });

  test("a thread's call: its process from the creation line (CLONE_THREAD), whatever the head's cache says", () => {
    const lines = [
      "       wk-victim-25884   (  25884) [000] ..... 19021.614524: task_newtask: pid=25886 comm=wk-victim clone_flags=3d0f00 oom_score_adj=0",
      "       wk-thread-25886   (  25884) [000] ..... 19021.614588: task_rename: pid=25886 oldcomm=wk-victim newcomm=wk-thread oom_score_adj=0",
      "       wk-thread-25886   (  99999) [000] ..... 19021.700000: sys_kill(pid: 0x2a, sig: 0xf)",
      "       wk-thread-25886   (  99999) [000] ..... 19021.700002: sys_kill -> 0xfffffffffffffffd",
    ];
    const signal = recordToSignal(asRecord(feed(matcher(), lines)[0]!))!;
    expect(signal.killer).toMatchObject({ pid: 25884, comm: "wk-thread" });
  });

  test("no fork seen: /proc only for a process older than the tracing", () => {
    const old: SenderLookup = (pid) => (pid === 21096 ? proc(21096, 16000) : null);
    expect(recordToSignal(asRecord(feed(matcher(old), SIGQUEUE)[0]!))!.killer.uid).toBe(1000);
    const young: SenderLookup = (pid) => (pid === 21096 ? proc(21096, 17500) : null);
    const signal = recordToSignal(asRecord(feed(matcher(young), SIGQUEUE)[0]!))!;
    expect(signal.killer.uid).toBeNull();
    expect(signal.warnings!.join("\n")).toContain("started after tracing began");
  });

  test("the thread renamed or exec'd since the call: nothing from /proc", () => {
    const lookup: SenderLookup = (pid) => (pid === 21096 ? proc(21096, 16000, { comm: "other" }) : null);
    const signal = recordToSignal(asRecord(feed(matcher(lookup), SIGQUEUE)[0]!))!;
    expect(signal.killer.uid).toBeNull();
    expect(signal.warnings!.join("\n")).toContain("exec'd since");
  });
});

test("a hand-made record whose sender line has members of the wrong type: each not known, no crash; a record with no sender line is unread", () => {
  const raw = [...ESRCH_KILL, `whokilled-sender {"pid":20970,"uid":"0","argv":[1],"warnings":5,"ancestry":[{"pid":"x"},{"pid":1,"comm":7}],"victims":3}`].join("\n");
  const record: RecordLine = { kind: "record", type: TRACEPOINT_KILL, id: "1.000:1", node: null, raw, source: { file: "x.jsonl", line: 1 } };
  const signal = recordToSignal(record)!;
  expect(signal.killer).toMatchObject({ pid: 20970, uid: null, argv: [], ancestry: [{ pid: 1, comm: null, exe: null, from: "proc" }] });
  expect(lineProblem(signal)).toBeNull();
  expect(recordToSignal({ ...record, raw: ESRCH_KILL.join("\n") })).toBeNull();
});

test("record ids: SEC.MS:SERIAL from the first line's wall time; source tracepoints", () => {
  const made = feed(matcher(), ESRCH_KILL)[0]!;
  const record = madeRecordLine(made, 7, 1_796_622_058_237 - 17704.450176 * 1000);
  expect(record).toMatchObject({ kind: "record", type: TRACEPOINT_KILL, id: "1796622058.237:7", node: null, source: { file: "tracepoints", line: 7 }, time: "2026-12-07T05:40:58.237Z" });
  expect(lineProblem(record)).toBeNull();
});

test("report: the calls' lines counted as tracepoints; a signal with no traced call is a blind spot that names the 32-bit gap", async () => {
  const m = matcher();
  const made = feed(m, [
    ...ESRCH_KILL,
    "  wk-tp32-500  (  500) [000] d..1. 17705.000001: signal_generate: sig=15 errno=0 code=0 comm=wk-victim pid=600 grp=1 res=0",
  ]);
  const dir = mkdtempSync(join(tmpdir(), "wk-tp-report-"));
  try {
    const path = join(dir, "records.jsonl");
    writeFileSync(path, made.map((r, i) => JSON.stringify(asRecord(r, i + 1))).join("\n") + "\n");
    const { stdout, code } = await runScriptProcess("report", ["--format", "json", path]);
    expect(code).toBe(0);
    const json = JSON.parse(stdout);
    expect(json.summary.totals.sources).toEqual({ audit: 0, tracefs: 1, tracepoints: 1 });
    const blind = json.findings.find((f: { id: string }) => f.id === "blind-spot");
    expect(blind.headline).toContain("with no kill-family call the syscall tracepoints saw");
    expect(blind.explanation).toContain("32-bit");
    const text = await runScriptProcess("report", [path]);
    expect(text.stdout).toContain("Sources: 0 audit, 1 tracefs, 1 tracepoints");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
