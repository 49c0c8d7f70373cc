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
import { closeSync, openSync, readSync } from "node:fs";
import { ancestorsOf, readPidStat } from "../../lib/demo/pid-space.ts";
import { parseProcStat, type ProcStat } from "../../lib/rules/blind-spots.ts";

const [pid, ancestor, count, ms] = process.argv.slice(2).map(Number) as [number, number, number, number];
if (!(pid > 1) || !(ancestor > 1)) throw new Error("usage: fast-killer.ts PID ANCESTOR COUNT MS");

const buffer = Buffer.alloc(4096);
/**
 * The stat of the process an open /proc/PID/stat names, or null once it is reaped: the open file stays with
 * that one process, never the next one given the PID (bait takes it again at once through ns_last_pid, maybe
 * within the same clock tick, so neither the PID nor its start time surely tells them apart).
 */
function statOf(fd: number): ProcStat | null {
  try {
    return parseProcStat(buffer.toString("utf8", 0, readSync(fd, buffer, 0, buffer.length, 0)));
  } catch {
    return null; // ESRCH: reaped
  }
}

const deadline = Date.now() + ms;
let kills = 0;
while (kills < count && Date.now() < deadline) {
  let fd: number;
  try {
    fd = openSync(`/proc/${pid}/stat`, "r");
  } catch {
    continue; // nothing holds the PID
  }
  try {
    const target = statOf(fd);
    const stat = readPidStat(pid);
    if (target === null || target.state === "Z" || stat === null || (stat.tgid !== null && stat.tgid !== pid) || !ancestorsOf(pid).includes(ancestor)) continue;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      continue; // gone between the check and the kill
    }
    kills++;
    console.log(`killed ${pid} (${target.comm})`);
    // Each process once: spin (no await, which could sleep past it) until the one killed is a zombie or reaped,
    // before the next one may come; a new holder of the PID no longer keeps it spinning to the deadline.
    for (let now = statOf(fd); now !== null && now.state !== "Z" && Date.now() < deadline; now = statOf(fd));
  } finally {
    closeSync(fd);
  }
}
