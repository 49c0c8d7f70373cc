/**
 * PIDs for bait and rogue tests on a shared machine: a number nobody holds and
 * the allocator will not reach soon, and a kill that only ever hits a process
 * of ours.
 */
import { readPidStat } from "../../lib/pid-space.ts";

export { pickFreePid } from "../../lib/pid-space.ts";

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
