/**
 * Which process a pidfd names, from what the stream said before.
 *
 * pidfd_send_signal's a0 is a file descriptor; the kernel names the process
 * only in OBJ_PID, and writes none when it is gone (ESRCH). Such a call's
 * target can still be told from earlier evidence about the same caller's
 * same descriptor:
 * - its pidfd_open (a0 the PID, exit the descriptor), when the rules log
 *   pidfd_open (setup-rule's do: lib/rules/build.ts);
 * - its earlier pidfd_send_signal on that descriptor that had an OBJ_PID.
 * The newest evidence wins: a descriptor number can be closed and reused.
 *
 * "The same caller" is the same pid, parent and executable on the same
 * host: audit records carry no start time, and an exec closes every pidfd
 * (pidfd_open sets close-on-exec), so a recycled caller PID would have to
 * come with the same parent and program to be taken for the first. A pidfd
 * got another way (clone's CLONE_PIDFD, pidfd_getfd, SCM_RIGHTS, dup) leaves
 * no such evidence, and its number may still hold an older one's: that is
 * why an inferred target says where it came from (`target.pidFrom`).
 *
 * Bounded: the newest `max` descriptors are kept.
 */
import type { PidFrom } from "../schema.ts";
import { setBounded } from "./tally.ts";

export type InferredFrom = Exclude<PidFrom, "obj_pid">;

export interface PidfdCaller {
  node: string | null;
  pid: number;
  ppid: number | null;
  exe: string | null;
}

interface Evidence {
  pid: number;
  from: InferredFrom;
  timeMs: number;
}

export class PidfdTable {
  private readonly entries = new Map<string, Evidence>();

  constructor(private readonly max = 4096) {}

  /** The caller's descriptor `fd` names process `pid`, as of audit time `timeMs`. */
  note(caller: PidfdCaller, fd: number, pid: number, from: InferredFrom, timeMs: number): void {
    if (!(pid > 0) || !(fd >= 0)) return;
    // Re-inserted, so the Map's order is the order of last use and the oldest goes first.
    setBounded(this.entries, keyOf(caller, fd), { pid, from, timeMs }, this.max);
  }

  /**
   * pidfd_send_signal's target on `fd` at audit time `atMs`: the pid its
   * OBJ_PID named (noted as evidence for later calls), else, for a failed
   * call, what earlier evidence names. Answers in `targetPid` and `pidFrom`.
   */
  resolve(caller: PidfdCaller | null, fd: number | null, objPid: number | null, success: boolean | null, atMs: number): void {
    this.targetPid = objPid;
    this.pidFrom = objPid === null ? null : "obj_pid";
    if (caller === null || fd === null) return;
    if (objPid !== null) this.note(caller, fd, objPid, "earlier-call", atMs);
    else if (success === false) {
      const inferred = this.lookup(caller, fd, atMs);
      if (inferred === null) return;
      this.targetPid = inferred.pid;
      this.pidFrom = inferred.from;
    }
  }

  /** resolve()'s answer. */
  targetPid: number | null = null;
  pidFrom: PidFrom | null = null;

  /** What the caller's descriptor `fd` named at or before audit time `atMs`, or null. */
  lookup(caller: PidfdCaller, fd: number, atMs: number): { pid: number; from: InferredFrom } | null {
    const evidence = this.entries.get(keyOf(caller, fd));
    if (evidence === undefined || !(evidence.timeMs <= atMs)) return null;
    return { pid: evidence.pid, from: evidence.from };
  }
}

function keyOf(caller: PidfdCaller, fd: number): string {
  return `${caller.node ?? ""}\u0000${caller.pid}\u0000${caller.ppid ?? ""}\u0000${caller.exe ?? ""}\u0000${fd}`;
}
