/**
 * `attribute --proc`: add what live /proc knows about a killer (cmdline, exe,
 * parent chain up to PID 1), but only when the process now holding that PID
 * started before the signal was sent. Otherwise the PID was recycled and the
 * process there now is innocent. A signal from another host of a gathered
 * log (`node=`) is left alone: this /proc is not that host's.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { AncestorInfo, Killer, Placement, Victim } from "../schema.ts";
import { isHostNode } from "../audit/ids.ts";
import { readPlacement } from "./workload.ts";
import { clockTicksPerSecond, readBootTime, readExe, readProcStat } from "../rules/blind-spots.ts";

export interface ProcSnapshot {
  pid: number;
  ppid: number;
  comm: string;
  exe: string | null;
  argv: string[];
  /** Wall-clock start, in ms since the epoch. */
  startMs: number;
}

/** Start times are in clock ticks (10 ms) and audit's clock is coarse: allow this much. */
const START_SLACK_MS = 20;

/** What a process's stat alone tells. */
export type ProcStatSnapshot = Omit<ProcSnapshot, "exe" | "argv">;

export class ProcReader {
  private bootMs: number | null = null;

  constructor(
    readonly root = "/proc",
    private readonly ticksPerSecond = clockTicksPerSecond(),
    /** This host's name (gethostname(2)). */
    readonly hostName = hostname(),
  ) {}

  /** Is an event's node this host (isHostNode)? No node (a single host's log) is. */
  isThisHost(node: string | null): boolean {
    return node === null || isHostNode(node, this.hostName);
  }

  private boot(): number {
    this.bootMs ??= readBootTime(this.root) * 1000;
    return this.bootMs;
  }

  /** The process now at `pid` from its stat alone (no cmdline or exe), or null when it is gone. */
  private stat(pid: number): ProcStatSnapshot | null {
    try {
      const stat = readProcStat(pid, this.root);
      if (stat === null) return null;
      const { ppid, comm, startTicks } = stat;
      return { pid, ppid, comm, startMs: this.boot() + (startTicks * 1000) / this.ticksPerSecond };
    } catch {
      return null;
    }
  }

  /** The rest of a process (cmdline, exe) onto what its stat told (`stat`, `sameAsAt`); null when it has gone since. */
  readRest(stat: ProcStatSnapshot): ProcSnapshot | null {
    try {
      const { pid } = stat;
      const cmdline = readFileSync(join(this.root, String(pid), "cmdline"));
      const argv = cmdline.length === 0 ? [] : cmdline.toString("utf8").replace(/\0$/, "").split("\0");
      return { pid, ppid: stat.ppid, comm: stat.comm, exe: readExe(pid, this.root), argv, startMs: stat.startMs };
    } catch {
      return null;
    }
  }

  read(pid: number): ProcSnapshot | null {
    const stat = this.stat(pid);
    return stat && this.readRest(stat);
  }

  /**
   * The process now at `pid`, from its stat alone, when it is the one an
   * event at `eventTime` saw: alive, and started no later than the event
   * (within START_SLACK_MS). Null when gone, when there is no time, or when
   * it started after: the PID was recycled.
   */
  sameAsAt(pid: number, eventTime: string | null): ProcStatSnapshot | null {
    if (eventTime === null) return null;
    const live = this.stat(pid);
    return !live || live.startMs > Date.parse(eventTime) + START_SLACK_MS ? null : live;
  }
}

/**
 * Enrich `killer` in place from /proc when the live process is the same one
 * (started no later than the event). Returns whether it did.
 */
export function enrichFromProc(killer: Killer, eventTime: string | null, proc: ProcReader, depth = 32): boolean {
  if (killer.pid === null) return false;
  const same = proc.sameAsAt(killer.pid, eventTime);
  const live = same && proc.readRest(same);
  if (!live) return false;
  if (killer.argv.length === 0) killer.argv = live.argv;
  if (killer.exe === null) killer.exe = live.exe;
  const ancestry: AncestorInfo[] = [];
  let pid = live.ppid;
  const seen = new Set<number>();
  while (pid > 0 && ancestry.length < depth && !seen.has(pid)) {
    seen.add(pid);
    const parent = proc.read(pid);
    if (!parent) break;
    ancestry.push({ pid, comm: parent.comm, exe: parent.exe, argv: parent.argv, from: "proc" });
    pid = parent.ppid;
  }
  killer.ancestry = ancestry;
  place(killer, killer.pid, proc);
  return true;
}

/** Its unit or container and namespace PID, as /proc says now (the caller has made sure it is the same process). */
function place(target: Placement, pid: number, proc: ProcReader): void {
  const placement = readPlacement(pid, proc.root);
  if (placement?.workload) target.workload = placement.workload;
  if (placement?.nsPid != null) target.nsPid = placement.nsPid;
}

/** A victim still alive, and the same process (started no later than the event): its unit or container. */
export function placeVictimFromProc(victim: Victim, eventTime: string | null, proc: ProcReader): boolean {
  if (victim.pid === null || proc.sameAsAt(victim.pid, eventTime) === null) return false;
  place(victim, victim.pid, proc);
  return true;
}
