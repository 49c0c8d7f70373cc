/**
 * watch (issue 19, item 3): how a watched process ended, told the moment it
 * ends. The streaming core fed with trace lines in this machine's format
 * (kernel 6.18, record-tgid on), then live on the real kernel: a kill by a
 * sender with a known comm, an exit code, --comm, --once, --exec, Ctrl-C and
 * SIGTERM, and an OOM kill in a memory cgroup the test makes.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { splitRest } from "../lib/cli/args.ts";
import { listInstalled, removeRules } from "../lib/rules/install.ts";
import type { SignalLine } from "../lib/schema.ts";
import { findTracefs } from "../lib/sources/tracefs.ts";
import { WatchCore, type WatchedProcess } from "../lib/watch/core.ts";
import { endsProcessByDefault } from "../lib/tables/signals.ts";
import { leftRunKeys } from "../lib/rules/run-keys.ts";
import { deathEnvironment, deathText, type DeathLine } from "../lib/watch/death.ts";
import { memoryCgroupPath, targetFromFlags } from "../lib/watch/targets.ts";
import { parseTraceEvent } from "../lib/watch/trace-events.ts";
import { makeMemoryCgroup, makeNamedCgroup, memoryCgroupSkipReason, namedCgroupRoot, sleeperInNamespace } from "./helpers/cgroup.ts";
import { auditSkipReason, tracefsSkipReason } from "./helpers/live.ts";

// --- trace lines as this machine's instance prints them (options/record-tgid on) ---
const line = (task: string, tid: number, tgid: number, ts: string, body: string) =>
  `${task.padStart(16)}-${String(tid).padEnd(7)} (${String(tgid).padStart(7)}) [001] d..1. ${ts}: ${body}`;
const generate = (sender: string, sid: number, sig: number, code: number, comm: string, pid: number, ts = "100.000100", res = 0) =>
  line(sender, sid, sid, ts, `signal_generate: sig=${sig} errno=0 code=${code} comm=${comm} pid=${pid} grp=1 res=${res}`);
const deliver = (comm: string, pid: number, sig: number, ts = "100.000200") => line(comm, pid, pid, ts, `signal_deliver: sig=${sig} errno=0 code=0 sa_handler=0 sa_flags=0`);
const exitGroup = (comm: string, pid: number, code: string, ts = "100.000300") => line(comm, pid, pid, ts, `sys_exit_group(error_code: ${code})`);
const processExit = (comm: string, tid: number, tgid: number, ts = "100.000400") => line(comm, tid, tgid, ts, `sched_process_exit: comm=${comm} pid=${tid} prio=120 group_dead=true`);

function watched(pid: number, comm: string, extra: Partial<WatchedProcess> = {}): WatchedProcess {
  return { pid, comm, startedAtMs: 1_000_000, exe: `/usr/bin/${comm}`, uid: 0, placement: null, memoryCgroup: null, memoryLimitBytes: null, matchedBy: `pid ${pid}`, ...extra };
}

function core(audit = false, now = { ms: 1_002_500 }) {
  const c = new WatchCore(audit ? { audit: { on: true } } : { audit: { on: false, why: "test" } }, { now: () => now.ms });
  return { c, now };
}

describe("trace lines", () => {
  test("each event watch enables parses, with the thread group id", () => {
    expect(parseTraceEvent("           sleep-28990   (  28990) [001] d..1.  9440.329051: signal_deliver: sig=9 errno=0 code=0 sa_handler=0 sa_flags=0")).toMatchObject({
      event: "signal_deliver", task: { comm: "sleep", tid: 28990, tgid: 28990 }, sig: 9, handler: "0",
    });
    expect(parseTraceEvent("              sh-29905   (  29905) [000] .....  9472.533601: sys_exit_group(error_code: 0xa)")).toMatchObject({ event: "exit_group", exitCode: 10 });
    expect(parseTraceEvent("              sh-29905   (  29905) [000] .....  9472.533601: sys_exit_group(error_code: 3)")).toMatchObject({ event: "exit_group", exitCode: 3 });
    expect(parseTraceEvent("              sh-29906   (  29906) [001] .....  9472.534801: sys_exit_group(error_code: 0xff)")).toMatchObject({ exitCode: 255 });
    expect(parseTraceEvent("         python3-29907   (  29901) [000] .....  9472.829746: sched_process_exit: comm=python3 pid=29907 prio=120 group_dead=true")).toMatchObject({
      event: "process_exit", task: { tid: 29907, tgid: 29901 }, comm: "python3", pid: 29907, groupDead: true,
    });
    expect(parseTraceEvent("            bash-28981   (  28981) [001] d..1.  9440.328640: signal_generate: sig=15 errno=0 code=0 comm=sleep pid=28990 grp=1 res=0")).toMatchObject({
      event: "signal_generate", task: { comm: "bash", tid: 28981, tgid: 28981 }, generate: { sig: 15, target: { comm: "sleep", pid: 28990 } },
    });
    expect(parseTraceEvent("             hog-26140   (  26140) [000] .....   440.101000: mark_victim: pid=26140 comm=hog total-vm=207280kB anon-rss=50944kB file-rss:928kB shmem-rss:0kB uid=0 pgtables=156kB oom_score_adj=0")).toMatchObject({
      event: "oom_victim", pid: 26140, comm: "hog", anonRssKb: 50944,
    });
    expect(parseTraceEvent("              sh-31337   (  31337) [001] ..... 10400.100000: cgroup_attach_task: dst_root=4 dst_id=1234 dst_level=1 dst_path=/wk test pid=31337 comm=x pid=1 comm=y")).toMatchObject({
      event: "cgroup_attach", path: "/wk test", pid: 31337, comm: "x pid=1 comm=y",
    });
    expect(parseTraceEvent("CPU:1 [LOST 3 EVENTS]")).toBeNull();
  });

  test("an event is named by the text after the head, never by an event's name inside a comm", () => {
    // A process may name itself `x: sys_exit(`; its own exit line is still its exit.
    expect(parseTraceEvent(processExit("x: sys_exit(", 31400, 31400))).toMatchObject({ event: "process_exit", comm: "x: sys_exit(", pid: 31400 });
    expect(parseTraceEvent(line("a: signal_deliv", 31401, 31401, "100.000500", "sys_exit_group(error_code: 0x9)"))).toMatchObject({ event: "exit_group", exitCode: 9 });
    expect(parseTraceEvent(generate("x: mark_victim:", 31402, 15, 0, "sleep", 31403))).toMatchObject({ event: "signal_generate", task: { comm: "x: mark_victim:" } });
  });

  test("which signals end a process by default", () => {
    expect([9, 15, 1, 2, 11, 6, 10, 34].every(endsProcessByDefault)).toBe(true);
    expect([17, 18, 19, 20, 23, 28, 0].some(endsProcessByDefault)).toBe(false);
  });
});

describe("core: fed lines", () => {
  test("a short-lived sender is named by its creation and exec lines, not by a head that still caches the thread id's last holder", () => {
    const { c } = core();
    c.track(watched(400, "sleep"));
    const lines = [
      // bash (700) forks 21296; that thread id last belonged to a Bun thread, so the heads keep printing its name and group.
      line("bash", 700, 700, "100.000010", "task_newtask: pid=21296 comm=bash clone_flags=1200011 oom_score_adj=0"),
      line("JSCWarmUp", 21296, 21291, "100.000020", "task_rename: pid=21296 oldcomm=bash newcomm=kill oom_score_adj=0"),
      line("JSCWarmUp", 21296, 21291, "100.000030", "sched_process_exec: filename=/usr/bin/kill pid=21296 old_pid=21296"),
      generate("JSCWarmUp", 21296, 15, 0, "sleep", 400).replace("(  21296)", "(  21291)"),
      deliver("sleep", 400, 15),
      processExit("sleep", 400, 400),
    ];
    expect(lines.slice(0, 3).map((raw) => parseTraceEvent(raw)?.event)).toEqual(["task", "task", "task"]);
    for (const raw of lines) c.pushTrace(raw, 1_002_500);
    const [death] = c.poll();
    // Gone before /proc was read (no env lookup here): the exec line's path stands for its program.
    expect(death).toMatchObject({ how: "signal", signal: { name: "SIGTERM" }, sender: { pid: 21296, comm: "kill", exe: "/usr/bin/kill", from: "tracefs" } });
    expect(deathText(death!)).toContain("killed by SIGTERM from kill[21296]");
  });

  test("a SIGTERM from another process: the signal, the sender, the catalogue's cause, how long it ran", () => {
    const { c } = core();
    c.track(watched(400, "sleep"));
    // The kernel turns a fatal SIGTERM into a group SIGKILL: the delivery shows 9, the generation 15.
    for (const raw of [generate("wk-sender", 500, 15, 0, "sleep", 400), deliver("sleep", 400, 9), processExit("sleep", 400, 400)]) c.pushTrace(raw, 1_002_500);
    const [death, ...more] = c.poll();
    expect(more).toEqual([]);
    expect(death).toMatchObject({
      kind: "death", pid: 400, comm: "sleep", how: "signal", signal: { nr: 15, name: "SIGTERM" }, exitCode: null,
      sender: { pid: 500, comm: "wk-sender", from: "tracefs" }, cause: { rule: "sent-by-process" }, ranMs: 2500, audit: "off",
    });
    expect(death!.evidence).toHaveLength(2);
    expect(deathText(death!)).toContain("sleep[400] killed by SIGTERM from wk-sender[500]");
    expect(deathText(death!)).toContain("ran 2.5 s");
  });

  test("audit on: the death waits for the kill's audit record, which names exe, uid and argv", () => {
    const { c, now } = core(true);
    c.track(watched(400, "sleep"));
    for (const raw of [generate("wk-sender", 500, 15, 0, "sleep", 400), processExit("sleep", 400, 400)]) c.pushTrace(raw, 1_002_500);
    expect(c.poll()).toEqual([]);
    const audit = {
      kind: "signal", id: "1.2:3", node: null, time: new Date(1_002_500).toISOString(), syscall: "kill", arch: "x86_64",
      signal: { nr: 15, name: "SIGTERM" }, result: { success: true, errno: null },
      killer: { pid: 500, ppid: 1, comm: "wk-sender", exe: "/tmp/wk-sender", uid: 0, user: "root", auid: 1000, argv: ["wk-sender", "-TERM", "400"] },
      target: { pid: 400, scope: "process" }, victims: [{ pid: 400, comm: "sleep", uid: 0, user: "root" }], key: "k", source: "audit",
    } as unknown as SignalLine;
    c.pushAudit(audit, now.ms);
    const [death] = c.poll();
    expect(death).toMatchObject({ audit: "seen", sender: { exe: "/tmp/wk-sender", uid: 0, auid: 1000, argv: ["wk-sender", "-TERM", "400"], from: "audit" } });
    expect(death!.evidence).toContain("audit 1.2:3");
  });

  test("audit on but no record of the call: a blind spot, said, after the grace", () => {
    const { c, now } = core(true);
    c.track(watched(400, "sleep"));
    for (const raw of [generate("old-daemon", 500, 9, 0, "sleep", 400), processExit("sleep", 400, 400)]) c.pushTrace(raw, now.ms);
    expect(c.poll()).toEqual([]);
    now.ms += 300;
    const [death] = c.poll();
    expect(death).toMatchObject({ how: "signal", audit: "blind-spot", sender: { comm: "old-daemon", from: "tracefs" } });
    expect(death!.notes.join(" ")).toContain("audit logged no call");
    expect(deathText(death!)).toContain("audit blind spot");
  });

  test("exit code 3, no signal", () => {
    const { c } = core();
    c.track(watched(401, "sh"));
    for (const raw of [exitGroup("sh", 401, "3"), processExit("sh", 401, 401)]) c.pushTrace(raw, 1_001_000);
    const [death] = c.poll();
    expect(death).toMatchObject({ how: "exit", exitCode: 3, signal: null, sender: null, before: null });
    expect(deathText(death!)).toContain("sh[401] exited with code 3");
  });

  test("an exit after a caught SIGTERM names the SIGTERM and its sender", () => {
    const { c } = core();
    c.track(watched(402, "daemon"));
    const caught = line("daemon", 402, 402, "100.000150", "signal_deliver: sig=15 errno=0 code=0 sa_handler=55c795a2be40 sa_flags=14000000");
    for (const raw of [generate("systemd", 1, 15, 0, "daemon", 402), caught, exitGroup("daemon", 402, "0"), processExit("daemon", 402, 402)]) c.pushTrace(raw, 1_001_000);
    const [death] = c.poll();
    expect(death).toMatchObject({ how: "exit", exitCode: 0, before: { signal: { name: "SIGTERM" }, sender: { pid: 1, comm: "systemd" } } });
    expect(deathText(death!)).toContain("exited with code 0 after SIGTERM from systemd[1]");
    expect(death!.explanation).toBe("it exited by itself (exit_group(0)) after SIGTERM: sent by a process with kill(2), tkill/tgkill or sigqueue");
  });

  test("a caught signal does not end a process: the SIGHUP it handled is not the SIGKILL that came later", () => {
    const { c } = core();
    c.track(watched(408, "daemon"));
    const lines = [
      generate("admin", 501, 1, 0, "daemon", 408, "100.000100"),
      line("daemon", 408, 408, "100.000150", "signal_deliver: sig=1 errno=0 code=0 sa_handler=55c795a2be40 sa_flags=14000000"),
      line("daemon", 408, 408, "100.000200", "signal_deliver: sig=9 errno=0 code=0 sa_handler=0 sa_flags=0"),
      processExit("daemon", 408, 408),
    ];
    lines.forEach((raw, i) => c.pushTrace(raw, 1_001_000 + i));
    const [death] = c.poll();
    // The SIGKILL's sending was not seen (before the watch): said so, not blamed on the SIGHUP's sender.
    expect(death).toMatchObject({ how: "signal", signal: { name: "SIGKILL" }, sender: null });
    expect(death!.explanation).toContain("whose sending was not seen");
  });

  test("a caught signal raised again by the process itself: the first sender is the answer", () => {
    const { c } = core();
    c.track(watched(403, "bash"));
    const lines = [
      generate("wk-sender", 500, 15, 0, "bash", 403, "100.000100"),
      line("bash", 403, 403, "100.000150", "signal_deliver: sig=15 errno=0 code=0 sa_handler=55c795a2be40 sa_flags=14000000"),
      generate("bash", 403, 15, 0, "bash", 403, "100.000200"),
      processExit("bash", 403, 403),
    ];
    lines.forEach((raw, i) => c.pushTrace(raw, 1_001_000 + i));
    const [death] = c.poll();
    expect(death).toMatchObject({ how: "signal", signal: { name: "SIGTERM" }, sender: { comm: "wk-sender", pid: 500 } });
    expect(death!.notes.join(" ")).toContain("raised it again");
  });

  test("the OOM killer: mark_victim, then the kernel's SIGKILL", () => {
    const { c } = core();
    c.track(watched(404, "python3", { memoryCgroup: "/wk-oom", memoryLimitBytes: 32 << 20 }));
    const lines = [
      line("python3", 404, 404, "100.000100", "mark_victim: pid=404 comm=python3 total-vm=60000kB anon-rss=32000kB file-rss:900kB shmem-rss:0kB uid=0 pgtables=100kB oom_score_adj=0"),
      generate("python3", 404, 9, 128, "python3", 404),
      processExit("python3", 404, 404),
    ];
    for (const raw of lines) c.pushTrace(raw, 1_001_000);
    const [death] = c.poll();
    expect(death).toMatchObject({ how: "oom", signal: { name: "SIGKILL" }, sender: { comm: "[kernel]", from: "kernel" }, cause: { kind: "oom", rule: "oom-kill" } });
    expect(deathText(death!)).toContain("killed by the kernel's OOM killer (SIGKILL): its memory cgroup /wk-oom was out of memory, limit 32 MiB");
  });

  test("a kernel-sent signal is the catalogue's: a tty hangup names no process", () => {
    const { c } = core();
    c.track(watched(405, "sleep"));
    for (const raw of [generate("script", 300, 1, 128, "sleep", 405), processExit("sleep", 405, 405)]) c.pushTrace(raw, 1_001_000);
    const [death] = c.poll();
    expect(death).toMatchObject({ how: "signal", signal: { name: "SIGHUP" }, cause: { kind: "tty", rule: "tty-hangup" }, sender: { from: "kernel" } });
  });

  test("a threaded process: its last thread's exit ends it, and a thread's own exit does not", () => {
    const { c } = core();
    c.track(watched(700, "java"));
    c.pushTrace(line("java", 702, 700, "100.000100", "sched_process_exit: comm=GC-thread pid=702 prio=120 group_dead=false"), 1_001_000);
    expect(c.poll()).toEqual([]);
    c.pushTrace(line("GC-thread", 703, 700, "100.000200", "sys_exit_group(error_code: 0x1)"), 1_001_000);
    c.pushTrace(line("GC-thread", 703, 700, "100.000300", "sched_process_exit: comm=GC-thread pid=703 prio=120 group_dead=true"), 1_001_000);
    const [death] = c.poll();
    expect(death).toMatchObject({ pid: 700, comm: "java", how: "exit", exitCode: 1 });
  });

  test("untracked processes are none of its business unless the matcher says so", () => {
    const c = new WatchCore({ audit: { on: false, why: "test" } }, { now: () => 0, matchUntracked: (pid, comm) => (comm === "worker" ? watched(pid, comm, { startedAtMs: null }) : null) });
    c.pushTrace(processExit("other", 800, 800), 1000);
    c.pushTrace(exitGroup("worker", 801, "0x2"), 1000);
    c.pushTrace(processExit("worker", 801, 801), 1000);
    // Born while watched (its fork seen), yet never read from /proc: it ran from its fork.
    c.pushTrace(line("sh", 700, 700, "100.000100", "sched_process_fork: comm=sh pid=700 child_comm=sh child_pid=802"), 1000);
    c.pushTrace(exitGroup("worker", 802, "0"), 1250);
    c.pushTrace(processExit("worker", 802, 802), 1250);
    const deaths = c.poll();
    expect(deaths.map((d) => [d.pid, d.exitCode, d.ranMs])).toEqual([[801, 2, null], [802, 0, 250]]);
  });

  test("a tracked process's children are followed from their fork when the env says they belong (a unit's, a cgroup's)", () => {
    const c = new WatchCore(
      { audit: { on: false, why: "test" } },
      { now: () => 0, childOf: (parent, pid, comm, atMs) => (comm === "thread" ? null : { ...parent, pid, comm, startedAtMs: atMs }) },
    );
    c.track(watched(900, "sh", { startedAtMs: 500 }));
    c.pushTrace(line("sh", 900, 900, "100.000100", "sched_process_fork: comm=sh pid=900 child_comm=sh child_pid=901"), 1000);
    c.pushTrace(line("sh", 900, 900, "100.000100", "sched_process_fork: comm=sh pid=900 child_comm=thread child_pid=902"), 1000);
    expect(c.isTracked(901)).toBe(true);
    expect(c.isTracked(902)).toBe(false);
    c.pushTrace(exitGroup("sh", 901, "3"), 1004);
    c.pushTrace(processExit("sh", 901, 901), 1004);
    expect(c.poll()).toMatchObject([{ pid: 901, how: "exit", exitCode: 3, ranMs: 4 }]);
  });

  test("an untracked process about to end is asked about once (it joined the watched cgroup since the last scan)", () => {
    const asked: number[] = [];
    const c = new WatchCore({ audit: { on: false, why: "test" } }, { now: () => 0, consider: (pid) => (asked.push(pid), pid === 910 ? watched(910, "joiner", { startedAtMs: 900 }) : null) });
    c.pushTrace(exitGroup("joiner", 910, "0x5"), 1000);
    c.pushTrace(processExit("joiner", 910, 910), 1000);
    c.pushTrace(generate("x", 500, 15, 0, "other", 911), 1000);
    c.pushTrace(generate("x", 500, 15, 0, "other", 911), 1001);
    expect(asked).toEqual([910, 911]);
    expect(c.poll()).toMatchObject([{ pid: 910, how: "exit", exitCode: 5, ranMs: 100 }]);
  });

  test("a process moved into the watched cgroup is followed from that moment, even if it ends a moment later", () => {
    const c = new WatchCore(
      { audit: { on: false, why: "test" } },
      { now: () => 0, attached: (pid, path, comm) => (path === "/wk" ? watched(pid, comm, { startedAtMs: null }) : null) },
    );
    c.pushTrace(line("sh", 920, 920, "100.000100", "cgroup_attach_task: dst_root=4 dst_id=9 dst_level=1 dst_path=/elsewhere pid=921 comm=sh"), 1000);
    c.pushTrace(line("sh", 920, 920, "100.000100", "cgroup_attach_task: dst_root=4 dst_id=9 dst_level=1 dst_path=/wk pid=920 comm=sh"), 1000);
    expect([c.isTracked(920), c.isTracked(921)]).toEqual([true, false]);
    c.pushTrace(exitGroup("sh", 920, "0x5"), 1001);
    c.pushTrace(processExit("sh", 920, 920), 1001);
    expect(c.poll()).toMatchObject([{ pid: 920, how: "exit", exitCode: 5, ranMs: null }]);
  });

  test("a tracked process gone from /proc whose exit line was lost: told as far as known", () => {
    const { c } = core();
    c.track(watched(407, "sleep"));
    c.pushTrace(generate("wk-sender", 500, 9, 0, "sleep", 407), 1_001_000);
    c.vanished(407);
    const [death] = c.poll();
    expect(death).toMatchObject({ pid: 407, how: "signal", signal: { name: "SIGKILL" }, sender: { comm: "wk-sender" } });
    expect(death!.evidence.at(-1)).toContain("no sched_process_exit line");
    c.vanished(407);
    expect(c.poll()).toEqual([]);
  });

  test("comm and exe are escaped in the text line; JSON keeps the bytes", () => {
    const { c } = core();
    const evil = "x\u001b[31mred\u202e";
    c.track(watched(406, evil));
    for (const raw of [generate("k\nill", 500, 9, 0, evil, 406), processExit(evil, 406, 406)]) c.pushTrace(raw, 1_001_000);
    const [death] = c.poll();
    const text = deathText(death!);
    expect(text).not.toMatch(/[\u001b\u202e\n]/);
    expect(text).toContain("x\\x1b[31mred\\u{202e}[406]");
    expect(death!.comm).toBe(evil);
  });

  test("rule keys of killed watch runs: its owner gone or its PID reused; never another key, never a live owner's", () => {
    const start = (pid: number) => (pid === 100 ? 5000 : pid === 200 ? 7000 : null);
    const keys = ["whokilled-watch-100-5000-abc", "whokilled-watch-200-6999-def", "whokilled-watch-300-1-ghi", "whokilled", "whokilled-demo-300-x", "wk-test-watch-300-1-a", "whokilled-watch-300-1-ghi"];
    expect(leftRunKeys(keys, start)).toEqual(["whokilled-watch-200-6999-def", "whokilled-watch-300-1-ghi"]);
  });

  test("the --exec environment", () => {
    const death = { kind: "death", pid: 9, nsPid: 3, comm: "c", how: "signal", exitCode: null, signal: { nr: 15, name: "SIGTERM" }, sender: { pid: 5, comm: "kill", exe: "/bin/kill", uid: 0 }, cause: { rule: "sent-by-process" }, explanation: "e", ranMs: 12, workload: { unit: "a.service", container: null }, time: "t" } as unknown as DeathLine;
    expect(deathEnvironment(death)).toMatchObject({ WHOKILLED_PID: "9", WHOKILLED_NS_PID: "3", WHOKILLED_SIGNAL: "SIGTERM", WHOKILLED_SIGNAL_NR: "15", WHOKILLED_EXIT_CODE: "", WHOKILLED_SENDER_COMM: "kill", WHOKILLED_UNIT: "a.service", WHOKILLED_RAN_MS: "12" });
  });
});

describe("flags", () => {
  test("exactly one target", () => {
    expect(targetFromFlags({ pid: 42 })).toEqual({ by: "pid", pid: 42 });
    expect(targetFromFlags({ unit: "nginx" })).toEqual({ by: "unit", unit: "nginx.service" });
    expect(targetFromFlags({ cgroup: "/a/b/" })).toEqual({ by: "cgroup", path: "/a/b" });
    expect(() => targetFromFlags({})).toThrow("exactly one");
    expect(() => targetFromFlags({ pid: 4, comm: "x" })).toThrow("exactly one");
    expect(() => targetFromFlags({ pid: 1 })).toThrow("above 1");
    expect(() => targetFromFlags({ comm: "a-name-longer-than-15" })).toThrow("15 bytes");
    expect(() => targetFromFlags({ cgroup: "x" })).toThrow("starting with /");
  });

  test("--exec takes the rest of the line, flags and all", () => {
    expect(splitRest(["--pid", "4", "--exec", "sh", "-c", "cat", "--pid", "9"])).toEqual({ own: ["--pid", "4", "--exec", "sh"], rest: ["-c", "cat", "--pid", "9"] });
    expect(splitRest(["--pid", "4"])).toEqual({ own: ["--pid", "4"], rest: [] });
  });

  test("cgroup paths of both versions", () => {
    const v1 = "12:memory:/wk-oom\n11:cpu,cpuacct:/\n1:name=systemd:/system.slice/x.service\n0::/\n";
    expect(memoryCgroupPath(v1)).toBe("/wk-oom");
    expect(memoryCgroupPath("0::/user.slice/a.scope\n")).toBe("/user.slice/a.scope");
  });
});

// --- live, on the real kernel ---

const BUN = process.execPath;
const ROOT = join(import.meta.dir, "..");
const liveSkip = tracefsSkipReason();
if (liveSkip) console.error(`skip: live watch tests: ${liveSkip}`);
const auditSkip = auditSkipReason();
if (!liveSkip && auditSkip) console.error(`live watch tests run without audit: ${auditSkip}`);
const dir = mkdtempSync(join(tmpdir(), "wk-watch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A program under a name of our own: its comm is the file name. */
function named(program: string, name: string): string {
  const path = join(dir, name);
  if (!existsSync(path)) {
    copyFileSync(program, path);
    chmodSync(path, 0o755);
  }
  return path;
}
const which = (name: string) => Bun.which(name, { PATH: `${process.env.PATH ?? ""}:/usr/bin:/bin` })!;

interface Watch {
  child: Subprocess<"ignore", "pipe", "pipe">;
  lines: { text: string; at: number }[];
  stderr: () => string;
  key: string | null;
  waitLines(n: number, timeoutMs?: number): Promise<{ text: string; at: number }[]>;
}

/** Start watch; resolves once it says it is watching (its tracepoints are on and the processes read). */
async function startWatch(args: string[]): Promise<Watch> {
  const child = Bun.spawn([BUN, "scripts/watch.ts", ...args], { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const lines: { text: string; at: number }[] = [];
  let err = "";
  let ready: () => void = () => {};
  const started = new Promise<void>((resolve) => (ready = resolve));
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      err += decoder.decode(chunk, { stream: true });
      if (err.includes("watch: watching")) ready();
    }
    ready();
  })();
  void (async () => {
    const decoder = new TextDecoder();
    let carry = "";
    for await (const chunk of child.stdout) {
      const at = Date.now();
      carry += decoder.decode(chunk, { stream: true });
      const parts = carry.split("\n");
      carry = parts.pop()!;
      for (const text of parts) lines.push({ text, at });
    }
  })();
  await Promise.race([started, Bun.sleep(15_000)]);
  const key = /audit rule key (\S+)/.exec(err)?.[1] ?? null;
  if (key) keysSeen.add(key);
  const watch: Watch = {
    child,
    lines,
    stderr: () => err,
    key,
    async waitLines(n, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      while (lines.length < n && Date.now() < end && child.exitCode === null) await Bun.sleep(10);
      await Bun.sleep(lines.length < n ? 100 : 0);
      return lines.slice(0, n);
    },
  };
  expect(err, "watch did not start").toContain("watch: watching");
  return watch;
}

const keysSeen = new Set<string>();
afterAll(() => {
  // The safety net for a test that failed before its watch removed its own rule.
  for (const key of keysSeen) removeRules(key);
});

/** End a watch that a failed test left running: SIGTERM (it cleans up), SIGKILL only if it hangs, and its rule removed then. */
async function stopWatch(watch: Watch | null): Promise<void> {
  if (!watch || watch.child.exitCode !== null || watch.child.signalCode !== null) return;
  watch.child.kill("SIGTERM");
  if ((await ended(watch.child, 3000)) === null) {
    watch.child.kill("SIGKILL");
    await watch.child.exited;
    if (watch.key) removeRules(watch.key);
  }
}

/** Nothing of this watch is left: its process, its audit rule, its tracefs instance. */
function expectNothingLeft(watch: Watch): void {
  expect(watch.child.exitCode !== null || watch.child.signalCode !== null).toBe(true);
  if (!auditSkip) {
    expect(watch.key, `no audit rule key in: ${watch.stderr()}`).not.toBeNull();
    expect(listInstalled(watch.key!)).toEqual([]);
  }
  const root = findTracefs();
  if (root) expect(readdirSync(join(root, "instances")).filter((name) => name.startsWith(`whokilled-${watch.child.pid}-`))).toEqual([]);
}

async function ended(child: Subprocess, timeoutMs = 10_000): Promise<number | null> {
  return Promise.race([child.exited, Bun.sleep(timeoutMs).then(() => null)]);
}

describe("live", () => {
  test.skipIf(liveSkip !== null)("--pid: a sleep started before the watch, SIGTERMed by wk-sender: the line names both within 1 s; nothing left after", async () => {
    const victim = Bun.spawn([which("sleep"), "60"], { stdout: "ignore", stderr: "ignore" });
    let watch: Watch | null = null;
    try {
      watch = await startWatch(["--pid", String(victim.pid)]);
      const sender = named(which("kill"), "wk-sender");
      const killedAt = Date.now();
      const kill = Bun.spawnSync([sender, "-TERM", String(victim.pid)]);
      expect(kill.exitCode).toBe(0);
      const [first] = await watch.waitLines(1);
      expect(first, watch.stderr()).toBeDefined();
      const latency = first!.at - killedAt;
      console.error(`live watch --pid: kill → line ${latency} ms: ${first!.text}`);
      expect(first!.text).toContain(`sleep[${victim.pid}] killed by SIGTERM from wk-sender[`);
      if (!auditSkip) expect(first!.text).toContain(`${dir}/wk-sender`);
      expect(first!.text).toMatch(/ran (\d+ ms|\d+(\.\d)? s)$/);
      expect(latency).toBeLessThan(1000);
      // watch --pid ends with its process.
      expect(await ended(watch.child)).toBe(0);
      expectNothingLeft(watch);
    } finally {
      if (victim.exitCode === null && victim.signalCode === null) victim.kill(9);
      await stopWatch(watch);
    }
  }, 30_000);

  test.skipIf(liveSkip !== null)("--pid: sh exiting with code 3: exit code 3, no signal", async () => {
    const victim = Bun.spawn(["sh", "-c", "sleep 0.5; exit 3"], { stdout: "ignore", stderr: "ignore" });
    const watch = await startWatch(["--pid", String(victim.pid), "--format", "json"]);
    const [first] = await watch.waitLines(1);
    expect(first, watch.stderr()).toBeDefined();
    const death = JSON.parse(first!.text) as DeathLine;
    expect(death).toMatchObject({ kind: "death", pid: victim.pid, how: "exit", exitCode: 3, signal: null, sender: null });
    expect(death.ranMs).toBeGreaterThanOrEqual(400);
    expect(await ended(watch.child)).toBe(0);
    expectNothingLeft(watch);
  }, 30_000);

  test.skipIf(liveSkip !== null)("--pid: a shell that traps SIGTERM and exits 7: exit code 7 after SIGTERM from wk-sender", async () => {
    const victim = Bun.spawn(["bash", "-c", 'trap "exit 7" TERM; sleep 60 & wait'], { stdout: "ignore", stderr: "ignore" });
    const watch = await startWatch(["--pid", String(victim.pid), "--format", "json"]);
    try {
      expect(Bun.spawnSync([named(which("kill"), "wk-sender"), "-TERM", String(victim.pid)]).exitCode).toBe(0);
      const [first] = await watch.waitLines(1);
      const death = JSON.parse(first!.text) as DeathLine;
      expect(death).toMatchObject({ pid: victim.pid, how: "exit", exitCode: 7, signal: null, before: { signal: { name: "SIGTERM" }, sender: { comm: "wk-sender" } } });
      expect(await ended(watch.child)).toBe(0);
      expectNothingLeft(watch);
    } finally {
      if (victim.exitCode === null && victim.signalCode === null) victim.kill(9);
      await stopWatch(watch);
    }
  }, 30_000);

  test.skipIf(liveSkip !== null)("--way tracepoints: no rule at all; a sender still running is named from /proc", async () => {
    const victim = Bun.spawn([which("sleep"), "60"], { stdout: "ignore", stderr: "ignore" });
    const watch = await startWatch(["--pid", String(victim.pid), "--way", "tracepoints", "--format", "json"]);
    expect(watch.key).toBeNull();
    expect(watch.stderr()).toContain("audit not used: --way tracepoints");
    const sender = Bun.spawn(["sh", "-c", 'kill -TERM "$1"; sleep 2', "sh", String(victim.pid)], { stdout: "ignore", stderr: "ignore" });
    try {
      const [first] = await watch.waitLines(1);
      const death = JSON.parse(first!.text) as DeathLine;
      expect(death).toMatchObject({ how: "signal", signal: { name: "SIGTERM" }, audit: "off", sender: { pid: sender.pid, comm: "sh", from: "proc", uid: 0 } });
      expect(death.sender!.exe).toMatch(/\/(dash|bash|sh)$/);
      expect(await ended(watch.child)).toBe(0);
    } finally {
      for (const child of [victim, sender]) if (child.exitCode === null && child.signalCode === null) child.kill(9);
      await stopWatch(watch);
    }
  }, 30_000);

  test.skipIf(liveSkip !== null)("--way tracepoints: a sender that is gone at once is named from its own exec line (pid, comm, program)", async () => {
    const victim = Bun.spawn([which("sleep"), "60"], { stdout: "ignore", stderr: "ignore" });
    const watch = await startWatch(["--pid", String(victim.pid), "--way", "tracepoints", "--format", "json"]);
    // sh execs kill: one process, created and exec'd after the watch began, gone the moment the signal is sent.
    const sender = Bun.spawn(["sh", "-c", 'exec /usr/bin/kill -TERM "$1"', "sh", String(victim.pid)], { stdout: "ignore", stderr: "ignore" });
    try {
      const [first] = await watch.waitLines(1);
      const death = JSON.parse(first!.text) as DeathLine;
      expect(death).toMatchObject({ how: "signal", signal: { name: "SIGTERM" }, sender: { pid: sender.pid, comm: "kill", exe: "/usr/bin/kill" } });
      expect(["tracefs", "proc"]).toContain(death.sender!.from);
      expect(await ended(watch.child)).toBe(0);
    } finally {
      for (const child of [victim, sender]) if (child.exitCode === null && child.signalCode === null) child.kill(9);
      await stopWatch(watch);
    }
  }, 30_000);

  test.skipIf(liveSkip !== null)("--comm keeps watching: two deaths, the second process started after the watch", async () => {
    const name = `wk-c${process.pid % 100000}`;
    const sleeper = named(which("sleep"), name);
    const early = Bun.spawn([sleeper, "60"], { stdout: "ignore", stderr: "ignore" });
    const watch = await startWatch(["--comm", name, "--format", "json"]);
    let late: Subprocess | null = null;
    try {
      early.kill("SIGKILL");
      late = Bun.spawn([sleeper, "0.4"], { stdout: "ignore", stderr: "ignore" });
      const lines = await watch.waitLines(2);
      expect(lines, watch.stderr()).toHaveLength(2);
      const deaths = lines.map((l) => JSON.parse(l.text) as DeathLine).sort((a, b) => (a.pid === early.pid ? -1 : b.pid === early.pid ? 1 : 0));
      expect(deaths[0]).toMatchObject({ pid: early.pid, comm: name, how: "signal", signal: { name: "SIGKILL" } });
      expect(deaths[1]).toMatchObject({ pid: late.pid, comm: name, how: "exit", exitCode: 0 });
      expect(deaths[1]!.ranMs).toBeGreaterThanOrEqual(300);
      expect(watch.child.exitCode).toBeNull();
      watch.child.kill("SIGINT");
      expect(await ended(watch.child)).toBe(130);
      expectNothingLeft(watch);
    } finally {
      await stopWatch(watch);
      if (early.exitCode === null && early.signalCode === null) early.kill(9);
    }
  }, 30_000);

  test.skipIf(liveSkip !== null)("--once stops after the first death; --exec gets the JSON on stdin and WHOKILLED_* in its environment", async () => {
    const name = `wk-o${process.pid % 100000}`;
    const sleeper = named(which("sleep"), name);
    const first = Bun.spawn([sleeper, "60"], { stdout: "ignore", stderr: "ignore" });
    const second = Bun.spawn([sleeper, "60"], { stdout: "ignore", stderr: "ignore" });
    const out = join(dir, "exec.json");
    // The command gets its output file as its own argument; the death's data only through stdin and the environment.
    const watch = await startWatch(["--comm", name, "--once", "--exec", "sh", "-c", 'cat > "$1"; env | grep ^WHOKILLED_ | sort > "$1.env"', "sh", out]);
    try {
      first.kill("SIGTERM");
      expect(await ended(watch.child)).toBe(0);
      expect(watch.lines).toHaveLength(1);
      expect(watch.lines[0]!.text).toContain(`${name}[${first.pid}] killed by SIGTERM`);
      const death = JSON.parse(readFileSync(out, "utf8")) as DeathLine;
      expect(death).toMatchObject({ kind: "death", pid: first.pid, how: "signal", signal: { name: "SIGTERM" } });
      const env = readFileSync(`${out}.env`, "utf8");
      expect(env).toContain(`WHOKILLED_PID=${first.pid}\n`);
      expect(env).toContain("WHOKILLED_SIGNAL=SIGTERM\n");
      expect(second.exitCode).toBeNull();
      expectNothingLeft(watch);
    } finally {
      for (const child of [first, second]) if (child.exitCode === null && child.signalCode === null) child.kill(9);
      await stopWatch(watch);
    }
  }, 30_000);

  test.skipIf(liveSkip !== null || auditSkip !== null)("a watch killed with SIGKILL leaves its rule and instance; the next watch removes both", async () => {
    const killed = await startWatch(["--comm", "wk-none-such"]);
    killed.child.kill("SIGKILL");
    await killed.child.exited;
    expect(killed.key).not.toBeNull();
    expect(listInstalled(killed.key!).length).toBeGreaterThan(0);
    const next = await startWatch(["--comm", "wk-none-such"]);
    try {
      expect(next.stderr()).toContain(`with key ${killed.key}, left by a run that was killed`);
      expectNothingLeft(killed);
    } finally {
      await stopWatch(next);
    }
    expectNothingLeft(next);
  }, 30_000);

  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    test.skipIf(liveSkip !== null)(`${signal} to watch: exit ${code} within 1 s, rule and instance removed`, async () => {
      const watch = await startWatch(["--comm", "wk-none-such"]);
      const sentAt = Date.now();
      watch.child.kill(signal);
      const exit = await ended(watch.child, 5000);
      const tookMs = Date.now() - sentAt;
      console.error(`live watch: ${signal} → exit ${exit} in ${tookMs} ms`);
      expect(exit).toBe(code);
      expect(tookMs).toBeLessThan(1000);
      expectNothingLeft(watch);
    }, 30_000);
  }

  const unshare = Bun.which("unshare");
  const pidsRoot = namedCgroupRoot();
  const unitSkip = liveSkip ?? (unshare === null ? "unshare missing" : pidsRoot === undefined ? "no writable cgroup hierarchy" : null);
  if (!liveSkip && unitSkip) console.error(`skip: live watch --unit test: ${unitSkip}`);
  test.skipIf(unitSkip !== null)("--unit: PID 1 of an unshare -p namespace in a cgroup named as systemd names units: the unit and its namespace PID in the line", async () => {
    const unit = `wk-w${Math.random().toString(36).slice(2, 8)}.service`;
    const cgroup = makeNamedCgroup(pidsRoot!, `whokilled-test-watch-${process.pid}`, unit);
    const { child, inner } = await sleeperInNamespace(cgroup.procs);
    let watch: Watch | null = null;
    try {
      expect(inner).toBeDefined();
      watch = await startWatch(["--unit", unit, "--format", "json"]);
      expect(watch.stderr()).toContain("(2 running now)");
      // PID 1 of a namespace takes only SIGKILL from outside it.
      expect(Bun.spawnSync([named(which("kill"), "wk-sender"), "-KILL", String(inner)]).exitCode).toBe(0);
      const lines = await watch.waitLines(2);
      const deaths = lines.map((l) => JSON.parse(l.text) as DeathLine);
      const death = deaths.find((d) => d.pid === inner);
      expect(death, watch.stderr()).toBeDefined();
      expect(death).toMatchObject({ how: "signal", signal: { name: "SIGKILL" }, nsPid: 1, sender: { comm: "wk-sender" }, workload: { unit } });
      expect(deathText(death!)).toContain(`sleep[${inner}] (${unit}, ns pid 1) killed by SIGKILL from wk-sender[`);
      // unshare --kill-child ends with its child: the unit's other process.
      expect(deaths.find((d) => d.pid === child.pid)).toMatchObject({ comm: "unshare", workload: { unit } });
      watch.child.kill("SIGINT");
      expect(await ended(watch.child)).toBe(130);
      expectNothingLeft(watch);
    } finally {
      await stopWatch(watch);
      if (child.exitCode === null && child.signalCode === null) child.kill(9);
      await child.exited;
      cgroup.remove();
    }
  }, 30_000);

  const oomSkip = liveSkip ?? memoryCgroupSkipReason() ?? (Bun.spawnSync(["python3", "-c", "pass"]).exitCode === 0 ? null : "no python3 for the memory hog");
  if (!liveSkip && oomSkip) console.error(`skip: live watch OOM test: ${oomSkip}`);
  test.skipIf(oomSkip !== null)("--cgroup: an OOM kill in a 32 MiB memory cgroup is told as the OOM killer's", async () => {
    const name = `whokilled-test-watch-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    const cgroup = makeMemoryCgroup(name, 32 * 1024 * 1024);
    let watch: Watch | null = null;
    try {
      watch = await startWatch(["--cgroup", `/${name}`, "--format", "json"]);
      // One that joins and exits at once, before any rescan: caught as it calls exit_group.
      const quick = Bun.spawn(["sh", "-c", 'echo $$ > "$1"; exit 5', "sh", cgroup.procs], { stdout: "ignore", stderr: "ignore" });
      expect(await quick.exited).toBe(5);
      // A fresh process joins the cgroup, waits a moment, then becomes the hog (same pid).
      const hog = "a=[]\nwhile True: a.append(bytearray(1<<20))";
      const child = Bun.spawn(["sh", "-c", 'echo $$ > "$1" && sleep 0.6 && exec python3 -c "$2"', "sh", cgroup.procs, hog], { stdout: "ignore", stderr: "ignore" });
      await Promise.race([child.exited, Bun.sleep(20_000).then(() => child.kill(9))]);
      expect(child.signalCode).toBe("SIGKILL");
      let oom: DeathLine | undefined;
      // Up to 10 s: on a loaded machine the trace lines reach watch late (a test bound, not a latency claim).
      for (let i = 0; i < 500 && !oom; i++) {
        oom = watch.lines.map((l) => JSON.parse(l.text) as DeathLine).find((d) => d.pid === child.pid);
        if (!oom) await Bun.sleep(20);
      }
      expect(oom, watch.stderr()).toBeDefined();
      console.error(`live watch OOM: ${oom!.explanation}`);
      expect(oom).toMatchObject({ how: "oom", signal: { name: "SIGKILL" }, cause: { kind: "oom" } });
      expect(oom!.explanation).toContain(`memory cgroup /${name}`);
      expect(oom!.explanation).toContain("limit 32 MiB");
      expect(watch.lines.map((l) => JSON.parse(l.text) as DeathLine).find((d) => d.pid === quick.pid)).toMatchObject({ how: "exit", exitCode: 5 });
      watch.child.kill("SIGTERM");
      expect(await ended(watch.child)).toBe(143);
      expectNothingLeft(watch);
    } finally {
      await stopWatch(watch);
      cgroup.remove();
    }
  }, 60_000);
});
