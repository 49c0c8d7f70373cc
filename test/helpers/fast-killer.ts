#!/usr/bin/env bun
/**
 * A fast killer for bait's live test, run as a fresh process (so audit sees
 * its kill calls): SIGKILL whatever holds PID as soon as it appears, but only
 * a process that descends from ANCESTOR (the bait under test: ours), never a
 * zombie, and each process once. Stops after COUNT kills or MS milliseconds,
 * printing one line per kill.
 *
 *   bun test/helpers/fast-killer.ts PID ANCESTOR COUNT MS
 */
import { readFileSync } from "node:fs";
import { ancestorsOf, readPidStat } from "../../lib/demo/pid-space.ts";

const [pid, ancestor, count, ms] = process.argv.slice(2).map(Number) as [number, number, number, number];
if (!(pid > 1) || !(ancestor > 1)) throw new Error("usage: fast-killer.ts PID ANCESTOR COUNT MS");

/** Whether a live process (not a zombie) holds PID now. */
function alive(): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

const deadline = Date.now() + ms;
let kills = 0;
while (kills < count && Date.now() < deadline) {
  const stat = readPidStat(pid);
  if (stat === null || stat.state === "Z" || (stat.tgid !== null && stat.tgid !== pid) || !ancestorsOf(pid).includes(ancestor)) continue;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    continue; // gone between the check and the kill
  }
  kills++;
  console.log(`killed ${pid} (${stat.comm})`);
  // Each process once: spin (no await, which could sleep past it) until it is a zombie or gone, before the next one may come.
  while (alive() && Date.now() < deadline);
}
