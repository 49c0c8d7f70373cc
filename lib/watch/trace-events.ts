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
import { parseSignalGenerate, parseTraceHead, type SignalGenerate, type TraceHead } from "../sources/tracefs-line.ts";
import { parseTracepointLine, type TracepointLine } from "../sources/tracepoint-line.ts";
import { TRACEPOINT_TASK_EVENTS } from "../sources/trace-tasks.ts";

/** The task a line ran in: thread id, its thread group id (null without record-tgid), and comm (null for `<...>`). */
export interface TraceTask {
  comm: string | null;
  tid: number;
  tgid: number | null;
}

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

/** What watch enables beside signal_generate, with the marker each prints. */
export const WATCH_EXTRA_EVENTS: readonly TracefsExtraEvent[] = [
  // A delivery with no handler (SIG_DFL) that ends a process names its end; one to a handler clears that signal.
  { path: "signal/signal_deliver", marker: ": signal_deliver: ", filter: "sig != 17 && sig != 18 && sig != 23 && sig != 28" },
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

/** SIGCHLD, SIGCONT, SIGURG, SIGWINCH: their default is to do nothing, and they come by the thousand. */
export const WATCH_SIGNAL_FILTER = "sig != 17 && sig != 18 && sig != 23 && sig != 28";



const DELIVER = /^sig=(-?\d+) errno=-?\d+ code=(-?\d+) sa_handler=([0-9a-f]+) sa_flags=[0-9a-f]+\s*$/;
const SYSCALL_CODE = /^error_code: (0x[0-9a-f]+|\d+)\)\s*$/;
// comm may hold spaces and `pid=`: the kernel's own fields come last.
const PROCESS_EXIT = /^comm=(.*) pid=(-?\d+) prio=-?\d+(?: group_dead=(true|false))?\s*$/;
// Non-greedy: the kernel's path comes first, the comm (the process's to choose) last.
const CGROUP_ATTACH = /^dst_root=\d+ dst_id=\d+ dst_level=-?\d+ dst_path=(.*?) pid=(\d+) comm=(.*)$/;
const MARK_VICTIM = /^pid=(\d+) comm=(.*) total-vm=(\d+)kB anon-rss=(\d+)kB .* uid=(\d+) /;

function taskOf({ comm, tid, tgid, timestamp }: TraceHead): { task: TraceTask; timestamp: number } {
  return { task: { comm, tid, tgid }, timestamp };
}

/** The head of a line whose event text follows the marker found at `markerAt` (not one inside a comm): task, thread group, timestamp. */
function headOf(line: string, markerAt: number): { task: TraceTask; timestamp: number } | null {
  const parsed = parseTraceHead(line);
  return parsed && line.length - parsed.body.length === markerAt + 2 ? taskOf(parsed.head) : null;
}

function syscallCode(text: string): number | null {
  const match = SYSCALL_CODE.exec(text);
  if (!match) return null;
  const value = match[1]!.startsWith("0x") ? Number.parseInt(match[1]!.slice(2), 16) : Number(match[1]);
  // exit_group(status): the parent sees status & 0xff.
  return Number.isFinite(value) ? value & 0xff : null;
}

/** One trace_pipe line of any event watch enables; null for other lines. */
export function parseTraceEvent(raw: string): TraceEvent | null {
  const line = raw.replace(/[\r\n]+$/, "");
  let at = line.indexOf(": signal_generate: ");
  if (at >= 0) {
    const generate = parseSignalGenerate(line);
    const head = headOf(line, at);
    return generate && head ? { event: "signal_generate", ...head, generate } : null;
  }
  at = line.indexOf(": signal_deliver: ");
  if (at >= 0) {
    const head = headOf(line, at);
    const match = DELIVER.exec(line.slice(at + ": signal_deliver: ".length));
    return head && match ? { event: "signal_deliver", ...head, sig: Number(match[1]), code: Number(match[2]), handler: match[3]! } : null;
  }
  for (const [marker, event] of [[": sys_exit_group(", "exit_group"], [": sys_exit(", "exit"]] as const) {
    at = line.indexOf(marker);
    if (at < 0) continue;
    const head = headOf(line, at);
    const exitCode = syscallCode(line.slice(at + marker.length));
    return head && exitCode !== null ? { event, ...head, exitCode } : null;
  }
  at = line.indexOf(": sched_process_exit: ");
  if (at >= 0) {
    const head = headOf(line, at);
    const match = PROCESS_EXIT.exec(line.slice(at + ": sched_process_exit: ".length));
    // Kernels before group_dead was added print no such field: every exit counts then.
    return head && match ? { event: "process_exit", ...head, comm: match[1]!, pid: Number(match[2]), groupDead: match[3] !== "false" } : null;
  }
  if (line.includes(": sched_process_fork: ")) {
    // The tracepoints source's reading of the line: its event text, after its real head.
    const fork = parseTracepointLine(line);
    return fork?.event === "fork" ? { event: "fork", ...taskOf(fork.head), childComm: fork.childComm, childPid: fork.childPid, line: fork } : null;
  }
  if (TRACEPOINT_TASK_EVENTS.some(({ marker }) => line.includes(marker))) {
    const task = parseTracepointLine(line);
    return task && (task.event === "newtask" || task.event === "rename" || task.event === "exec") ? { event: "task", ...taskOf(task.head), line: task } : null;
  }
  at = line.indexOf(": cgroup_attach_task: ");
  if (at >= 0) {
    const head = headOf(line, at);
    const match = CGROUP_ATTACH.exec(line.slice(at + ": cgroup_attach_task: ".length));
    return head && match ? { event: "cgroup_attach", ...head, path: match[1]!, pid: Number(match[2]), comm: match[3]! } : null;
  }
  at = line.indexOf(": mark_victim: ");
  if (at >= 0) {
    const head = headOf(line, at);
    const body = line.slice(at + ": mark_victim: ".length);
    const match = MARK_VICTIM.exec(body);
    if (head && match) return { event: "oom_victim", ...head, pid: Number(match[1]), comm: match[2]!, totalVmKb: Number(match[3]), anonRssKb: Number(match[4]), uid: Number(match[5]) };
    // Older kernels print only the pid.
    const pid = /^pid=(\d+)/.exec(body);
    return head && pid ? { event: "oom_victim", ...head, pid: Number(pid[1]), comm: "", totalVmKb: null, anonRssKb: null, uid: null } : null;
  }
  return null;
}
