/**
 * PIDs for bait and rogue tests on a shared machine: a number nobody holds and
 * the allocator will not reach soon, and a kill that only ever hits a process
 * of ours.
 */
import { ancestorsOf, readPidStat } from "../../lib/demo/pid-space.ts";

export { pickFreePid } from "../../lib/demo/pid-space.ts";

/** A process descending from `ancestor` with this comm (bait's child is its helper's child): ours. */
function isOurs(pid: number, ancestor: number, comm: string): boolean {
  const stat = readPidStat(pid);
  return stat !== null && stat.comm === comm && ancestorsOf(pid).includes(ancestor);
}

/** Signal pid (SIGKILL by default), but only if it descends from `ancestor` and has this comm (i.e. it is ours). */
export function killOurs(pid: number, ancestor: number, comm: string, signal: NodeJS.Signals = "SIGKILL"): boolean {
  if (!isOurs(pid, ancestor, comm)) return false;
  process.kill(pid, signal);
  return true;
}

/** Wait until pid is held by a descendant of `ancestor` with this comm. */
export async function waitHeld(pid: number, ancestor: number, comm: string, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (isOurs(pid, ancestor, comm)) return true;
    await Bun.sleep(20);
  }
  return false;
}
