/**
 * The PID number space as /proc shows it, for bait (which takes a PID) and the
 * demo's rogue (which must only ever hit PIDs that are free or held by the
 * demo's own bait). PIDs here are those of our own PID namespace.
 */
import { existsSync, readFileSync } from "node:fs";
import { WhokilledError } from "../errors.ts";
import { parseProcStatus, readProcStat, type ProcStat } from "../rules/blind-spots.ts";

export const PID_MAX_FILE = "/proc/sys/kernel/pid_max";
export const NS_LAST_PID_FILE = "/proc/sys/kernel/ns_last_pid";

/**
 * After the allocator first wraps, the kernel never hands out PIDs below this
 * (RESERVED_PIDS in kernel/pid.c); only a write to ns_last_pid reaches them.
 */
export const RESERVED_PIDS = 300;

/** The kernel allocates PIDs 1 … pid_max − 1. */
export function readPidMax(): number {
  return Number(readFileSync(PID_MAX_FILE, "utf8").trim());
}

/** The last PID handed out in our namespace: the allocator's cursor. Readable without privileges. */
export function readLastPid(): number | null {
  try {
    const value = Number(readFileSync(NS_LAST_PID_FILE, "utf8").trim());
    return Number.isInteger(value) ? value : null;
  } catch {
    return null;
  }
}

/** How many allocations from the cursor until pid comes up (0 < n), wrapping at pid_max. */
export function aheadOfCursor(pid: number, lastPid: number, pidMax: number): number {
  if (pid > lastPid) return pid - lastPid;
  // After the wrap the allocator starts again at RESERVED_PIDS; below that it never comes round.
  if (pid < RESERVED_PIDS) return Number.POSITIVE_INFINITY;
  return pidMax - lastPid + (pid - RESERVED_PIDS);
}

/**
 * Whether some task holds this number. /proc/N resolves thread ids too (they
 * are only hidden from the listing) and zombies, both of which block reuse.
 */
export function pidInUse(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

export interface PidStat extends Pick<ProcStat, "pid" | "comm" | "state" | "ppid"> {
  /** Thread group id: equal to pid for a process, different for a thread's id. */
  tgid: number | null;
}

/** /proc/PID/stat (+ Tgid from status), or null when nothing holds the PID. */
export function readPidStat(pid: number): PidStat | null {
  const stat = readProcStat(pid);
  if (stat === null) return null;
  let tgid: number | null = null;
  try {
    tgid = parseProcStatus(readFileSync(`/proc/${pid}/status`, "utf8")).tgid;
  } catch {
    // Gone between the two reads; the caller re-checks before acting anyway.
  }
  return { pid, comm: stat.comm, state: stat.state, ppid: stat.ppid, tgid };
}

/** Parent chain of pid, parent first, up to PID 1 (or 64 deep). Empty when pid is gone. */
export function ancestorsOf(pid: number): number[] {
  const chain: number[] = [];
  let current = readPidStat(pid);
  while (current && current.ppid > 0 && chain.length < 64) {
    chain.push(current.ppid);
    if (current.ppid === 1) break;
    current = readPidStat(current.ppid);
  }
  return chain;
}

/** Short description of whoever holds pid, for messages. */
export function describeHolder(pid: number): string {
  const stat = readPidStat(pid);
  if (!stat) return `PID ${pid} (gone)`;
  const thread = stat.tgid !== null && stat.tgid !== pid ? `, a thread of ${stat.tgid}` : "";
  return `PID ${pid} (comm ${JSON.stringify(stat.comm)}, ppid ${stat.ppid}, state ${stat.state}${thread})`;
}

/**
 * A free PID about `ahead` allocations after the kernel's cursor (with some
 * randomness, so parallel runs differ), whose neighbours are free too, and
 * which the allocator will not hand out soon. Wraps like the kernel does.
 */
export function pickFreePid(ahead = 5000): number {
  const pidMax = readPidMax();
  const last = readLastPid() ?? RESERVED_PIDS;
  const span = pidMax - RESERVED_PIDS;
  let pid = last + ahead + Math.floor(Math.random() * 1000);
  for (let tries = 0; tries < 10_000; tries++, pid++) {
    if (pid >= pidMax) pid = RESERVED_PIDS + ((pid - pidMax) % span);
    if (!pidInUse(pid) && !pidInUse(pid - 1) && !pidInUse(pid + 1)) return pid;
  }
  throw new WhokilledError("E_KERNEL", "no free PID found");
}
