/**
 * PIDs for bait and rogue tests on a shared machine: a number nobody holds and
 * the allocator will not reach soon, and a kill that only ever hits a process
 * of ours.
 */
import { pidInUse, readLastPid, readPidMax, readPidStat, RESERVED_PIDS } from "../../lib/pid-space.ts";

/**
 * A free PID `ahead` (± some randomness, so parallel runs differ) allocations
 * after the cursor, wrapping like the kernel does.
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
  throw new Error("no free PID found");
}

/** SIGKILL pid, but only if it is a child of `parent` with this comm (i.e. ours). */
export function killOurs(pid: number, parent: number, comm: string, signal: NodeJS.Signals = "SIGKILL"): boolean {
  const stat = readPidStat(pid);
  if (!stat || stat.ppid !== parent || stat.comm !== comm) return false;
  process.kill(pid, signal);
  return true;
}

/** Wait until pid is held by a child of `parent` with this comm. */
export async function waitHeld(pid: number, parent: number, comm: string, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const stat = readPidStat(pid);
    if (stat && stat.ppid === parent && stat.comm === comm) return true;
    await Bun.sleep(20);
  }
  return false;
}
