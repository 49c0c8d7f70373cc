/**
 * The tracepoint lines `watch` reads from its tracefs instance, parsed. Pure:
 * no I/O. The instance records thread group ids (options/record-tgid), so
 * each line's head says which process the running thread belongs to:
 *
 *   sleep-28990   (  28990) [001] d..1.  9440.329051: signal_deliver: sig=9 errno=0 code=0 sa_handler=0 sa_flags=0
 *   sh-29905      (  29905) [000] .....  9472.533601: sys_exit_group(error_code: 0xa)
 *   sh-29905      (  29905) [000] .....  9472.533615: sched_process_exit: comm=sh pid=29905 prio=120 group_dead=true
 *   hog-26140     (  26140) [000] .....   440.101000: mark_victim: pid=26140 comm=hog total-vm=207280kB anon-rss=50944kB file-rss:928kB shmem-rss:0kB uid=0 pgtables=156kB oom_score_adj=0
 *
 * Heads and signal_generate lines are parsed by lib/sources/tracefs-line.ts,
 * the one place for that format.
 */
import type { TracefsExtraEvent } from "../sources/tracefs.ts";
import { parseTraceHead, signalGenerateOf, type SignalGenerate, type TraceHead } from "../sources/tracefs-line.ts";
import { parseTracepointLine, type TracepointLine } from "../sources/tracepoint-line.ts";
import { TRACEPOINT_TASK_EVENTS } from "../sources/trace-tasks.ts";

/** The task a line ran in: thread id, its thread group id (null without record-tgid), and comm (null for `<...>`). */
export type TraceTask = Pick<TraceHead, "comm" | "tid" | "tgid">;

export type TraceEvent =
  | { event: "signal_generate"; task: TraceTask; timestamp: number; generate: SignalGenerate }
  | { event: "signal_deliver"; task: TraceTask; timestamp: number; sig: number; code: number; handler: string }
  | { event: "exit_group"; task: TraceTask; timestamp: number; exitCode: number }
  | { event: "exit"; task: TraceTask; timestamp: number; exitCode: number }
  | { event: "process_exit"; task: TraceTask; timestamp: number; comm: string; pid: number; groupDead: boolean }
  | { event: "fork"; task: TraceTask; timestamp: number; childComm: string; childPid: number; line: TracepointLine }
  /** A task's creation, rename or exec, for the task table (lib/sources/trace-tasks.ts). */
  | { event: "task"; task: TraceTask; timestamp: number; line: TracepointLine }
  | { event: "cgroup_attach"; task: TraceTask; timestamp: number; path: string; pid: number; comm: string }
  | { event: "oom_victim"; task: TraceTask; timestamp: number; pid: number; comm: string; anonRssKb: number | null; totalVmKb: number | null; uid: number | null };

/** SIGCHLD, SIGCONT, SIGURG, SIGWINCH: their default is to do nothing, and they come by the thousand. */
export const WATCH_SIGNAL_FILTER = "sig != 17 && sig != 18 && sig != 23 && sig != 28";

/** What watch enables beside signal_generate, with the marker each prints. */
export const WATCH_EXTRA_EVENTS: readonly TracefsExtraEvent[] = [
  // A delivery with no handler (SIG_DFL) that ends a process names its end; one to a handler clears that signal.
  { path: "signal/signal_deliver", marker: ": signal_deliver: ", filter: WATCH_SIGNAL_FILTER },
  { path: "syscalls/sys_enter_exit_group", marker: ": sys_exit_group(" },
  { path: "syscalls/sys_enter_exit", marker: ": sys_exit(" },
  // group_dead: the last thread of the process; a thread's own end is not a death.
  { path: "sched/sched_process_exit", marker: ": sched_process_exit: ", filter: "group_dead == 1" },
  { path: "oom/mark_victim", marker: ": mark_victim: " },
  // A watched unit's or cgroup's new process is its own at birth: followed at once, not at the next /proc scan.
  { path: "sched/sched_process_fork", marker: ": sched_process_fork: " },
  // A process moved into a watched cgroup is seen at that moment, even if it ends a millisecond later.
  { path: "cgroup/cgroup_attach_task", marker: ": cgroup_attach_task: " },
  // A short-lived sender's process and name as the kernel set them: the heads' are caches, wrong for a reused id.
  ...TRACEPOINT_TASK_EVENTS,
];

// Each names its event first: a line of another event, or one that does not read, matches none.
const DELIVER = /^signal_deliver: sig=(-?\d+) errno=-?\d+ code=(-?\d+) sa_handler=([0-9a-f]+) sa_flags=[0-9a-f]+\s*$/;
const EXIT_CALL = /^sys_(exit_group|exit)\(error_code: (0x[0-9a-f]+|\d+)\)\s*$/;
// comm may hold spaces and `pid=`: the kernel's own fields come last.
const PROCESS_EXIT = /^sched_process_exit: comm=(.*) pid=(-?\d+) prio=-?\d+(?: group_dead=(true|false))?\s*$/;
// Non-greedy: the kernel's path comes first, the comm (the process's to choose) last.
const CGROUP_ATTACH = /^cgroup_attach_task: dst_root=\d+ dst_id=\d+ dst_level=-?\d+ dst_path=(.*?) pid=(\d+) comm=(.*)$/;
const MARK_VICTIM = /^mark_victim: pid=(\d+) comm=(.*) total-vm=(\d+)kB anon-rss=(\d+)kB .* uid=(\d+) /;
// Older kernels print only the pid.
const MARK_VICTIM_PID = /^mark_victim: pid=(\d+)/;

/** One trace_pipe line of any event watch enables; null for other lines. The head is read once: an event's name follows it. */
export function parseTraceEvent(raw: string): TraceEvent | null {
  const parsed = parseTraceHead(raw);
  if (!parsed) return null;
  const { head, body } = parsed;
  const at = { task: { comm: head.comm, tid: head.tid, tgid: head.tgid }, timestamp: head.timestamp };
  const generate = signalGenerateOf(head, body);
  if (generate) return { event: "signal_generate", ...at, generate };
  const deliver = DELIVER.exec(body);
  if (deliver) return { event: "signal_deliver", ...at, sig: Number(deliver[1]), code: Number(deliver[2]), handler: deliver[3]! };
  const exit = EXIT_CALL.exec(body);
  // Number reads the 0x-hex form too; exit_group(status): the parent sees status & 0xff.
  if (exit) return { event: exit[1] === "exit_group" ? "exit_group" : "exit", ...at, exitCode: Number(exit[2]) & 0xff };
  const processExit = PROCESS_EXIT.exec(body);
  // Kernels before group_dead was added print no such field: every exit counts then.
  if (processExit) return { event: "process_exit", ...at, comm: processExit[1]!, pid: Number(processExit[2]), groupDead: processExit[3] !== "false" };
  const attach = CGROUP_ATTACH.exec(body);
  if (attach) return { event: "cgroup_attach", ...at, path: attach[1]!, pid: Number(attach[2]), comm: attach[3]! };
  const victim = MARK_VICTIM.exec(body);
  if (victim) return { event: "oom_victim", ...at, pid: Number(victim[1]), comm: victim[2]!, totalVmKb: Number(victim[3]), anonRssKb: Number(victim[4]), uid: Number(victim[5]) };
  const victimPid = MARK_VICTIM_PID.exec(body);
  if (victimPid) return { event: "oom_victim", ...at, pid: Number(victimPid[1]), comm: "", totalVmKb: null, anonRssKb: null, uid: null };
  // Creation, rename and exec lines: the tracepoints source's reading of them (lib/sources/tracepoint-line.ts).
  const task = parseTracepointLine(raw);
  if (task?.event === "fork") return { event: "fork", ...at, childComm: task.childComm, childPid: task.childPid, line: task };
  return task?.event === "newtask" || task?.event === "rename" || task?.event === "exec" ? { event: "task", ...at, line: task } : null;
}
