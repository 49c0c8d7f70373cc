/**
 * Tasks as the tracepoints' own fields tell them: task_newtask (or
 * sched_process_fork), task_rename and sched_process_exec. Shared by
 * `capture --tracepoints` (the sender of a call) and `watch` (the sender of a
 * signal), so a trace line's head is never taken on trust where a line told
 * the truth. Pure: no I/O.
 */
import { setBounded } from "../signals/tally.ts";
import type { TracefsExtraEvent } from "./tracefs.ts";
import type { TraceHead } from "./tracefs-line.ts";
import type { TracepointLine } from "./tracepoint-line.ts";

/** A live process as /proc shows it (SenderLookup). Start in trace-clock seconds (boot time). */
export interface ProcView {
  pid: number;
  ppid: number;
  /** The calling thread's comm (/proc/PID/task/TID/comm), or the process's. */
  comm: string;
  start: number;
  uid: number | null;
  euid: number | null;
  exe: string | null;
  /** null: /proc showed none (a process on its way out has no memory to show it from). */
  argv: string[] | null;
}

/**
 * A task (thread) as the recorded fields of its lines told it. trace_pipe's
 * head prints a task's comm and thread group from caches filled as tasks
 * run, so the head of a short-lived process's line can still show what an
 * earlier task with its id was (seen here: a fresh /usr/bin/kill printed as
 * `JSCWarmUp-21296 (21291)`, a Bun thread that had that id before). The
 * events' own fields (task_newtask's pid, comm and clone flags,
 * task_rename's comm, sched_process_exec's pid) are what the kernel wrote.
 */
export interface TaskSeen {
  /** When it was created (task_newtask; sched_process_fork in older captures), and that line; null: it predates what was seen. */
  createdAt: number | null;
  createLine: string | null;
  /** Its process: itself, or, for a thread (CLONE_THREAD), its creator's; null when not known. */
  tgid: number | null;
  /** For a process: the process that created it (its parent); null when not seen. */
  parent: number | null;
  /** Its comm as the kernel last set it (creation, exec, prctl: task_rename); null when none was seen. */
  comm: string | null;
  /** Process entries: its program as its last exec named it (the path given), with that line, or its parent's at creation (inherited). */
  exe: string | null;
  execLine: string | null;
  execAt: number | null;
  inherited: boolean;
  /**
   * /proc as last read while it was provably this process: at its exec line, or at a call of its own. A
   * short-lived sender is often gone by its call's exit line, and a killer killed right after its last call too.
   */
  lastProc: { view: ProcView; at: number; when: "exec" | "call" } | null;
}

/**
 * The lines the table reads: the sender's program (the path given to execve), its parent and its name, even after it
 * has ended. task_newtask, not sched_process_fork: it says thread or process (clone flags), and comes before the new
 * task's own lines (sched_process_fork fires after the child is woken, and a child can exec and kill before it).
 */
export const TRACEPOINT_TASK_EVENTS: readonly TracefsExtraEvent[] = [
  { path: "sched/sched_process_exec", marker: ": sched_process_exec: " },
  { path: "task/task_newtask", marker: ": task_newtask: " },
  { path: "task/task_rename", marker: ": task_rename: " },
];

/** /proc start times are whole clock ticks (10 ms): a process forked at t shows a start in (t - 10 ms, t]. */
export const TICK_SLACK = 0.02;

const CLONE_PARENT = 0x8000n;
const CLONE_THREAD = 0x10000n;

/** A task known by no line yet (a rename seen first). */
export function blankTask(): TaskSeen {
  return { createdAt: null, createLine: null, tgid: null, parent: null, comm: null, exe: null, execLine: null, execAt: null, inherited: false, lastProc: null };
}

/** The comm exec gives: the file name's last part, cut to 15 bytes (TASK_COMM_LEN). */
export function execComm(filename: string): string {
  const base = filename.slice(filename.lastIndexOf("/") + 1);
  const bytes = Buffer.from(base, "utf8");
  return bytes.length <= 15 ? base : bytes.subarray(0, 15).toString("utf8");
}

/** Tasks by thread id, the most recent `maxTasks` of them. */
export class TaskTable {
  private readonly tasks = new Map<number, TaskSeen>();

  /** `processOf`: the process a line's running task belongs to (the creator of what it creates). */
  constructor(
    private readonly maxTasks: number,
    private readonly processOf: (head: TraceHead) => number,
  ) {}

  get(tid: number): TaskSeen | undefined {
    return this.tasks.get(tid);
  }

  /** A line's task with the process and comm its creation, rename and exec lines gave, where seen: the kernel's own record beats the head's caches. */
  known(head: Pick<TraceHead, "comm" | "tid" | "tgid">): Pick<TraceHead, "comm" | "tid" | "tgid"> {
    const seen = this.tasks.get(head.tid);
    return seen ? { tid: head.tid, tgid: seen.tgid ?? head.tgid, comm: seen.comm ?? head.comm } : head;
  }

  remember(tid: number, task: TaskSeen): TaskSeen {
    // Oldest first out: a busy host forks without end, and what matters is recent.
    setBounded(this.tasks, tid, task, this.maxTasks);
    return task;
  }

  /** A creation, rename or exec line; the task an exec made, or null. Other lines are not the table's. */
  take(parsed: TracepointLine, raw: string): TaskSeen | null {
    switch (parsed.event) {
      case "newtask":
        this.created(parsed.head, parsed.pid, parsed.comm, parsed.cloneFlags, raw);
        break;
      case "fork":
        // Older captures' creation line: no clone flags, and it comes after the child runs. Only where task_newtask said nothing.
        if (this.tasks.get(parsed.childPid)?.createdAt == null) this.created(parsed.head, parsed.childPid, parsed.childComm, null, raw);
        break;
      case "rename":
        (this.tasks.get(parsed.pid) ?? this.remember(parsed.pid, blankTask())).comm = parsed.newComm;
        break;
      case "exec":
        return this.execed(parsed.head, parsed.pid, parsed.oldPid, parsed.filename, raw);
    }
    return null;
  }

  /** A task the head's task created: a thread of its process, or a process whose parent it is. */
  private created(head: TraceHead, tid: number, comm: string, flags: bigint | null, raw: string): void {
    const creator = this.processOf(head);
    const thread = flags !== null && (flags & CLONE_THREAD) !== 0n;
    const from = this.tasks.get(creator);
    const parent = flags !== null && (flags & CLONE_PARENT) !== 0n ? (from?.parent ?? null) : creator;
    this.remember(tid, {
      createdAt: head.timestamp, createLine: raw, tgid: thread ? creator : tid, parent: thread ? null : parent, comm,
      exe: thread ? null : (from?.exe ?? null), execLine: thread ? null : (from?.execLine ?? null), execAt: null, inherited: true, lastProc: null,
    });
  }

  private execed(head: TraceHead, pid: number, oldPid: number, filename: string, raw: string): TaskSeen {
    // The thread that exec'd (oldPid) is the process's leader from here on, under the process's id.
    const process = this.tasks.get(pid);
    const now = this.remember(pid, {
      createdAt: process?.createdAt ?? null, createLine: process?.createLine ?? null, tgid: pid, parent: process?.parent ?? null,
      comm: execComm(filename), exe: filename, execLine: raw, execAt: head.timestamp, inherited: false, lastProc: null,
    });
    if (oldPid !== pid) this.tasks.delete(oldPid);
    return now;
  }
}
