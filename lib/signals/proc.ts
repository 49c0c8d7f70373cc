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
import { readPlacement } from "./workload.ts";
import { readExe, readProcStat } from "../rules/blind-spots.ts";

export interface ProcSnapshot {
  pid: number;
  ppid: number;
  comm: string;
  exe: string | null;
  argv: string[];
  /** Wall-clock start, in ms since the epoch. */
  startMs: number;
}

/** `vm` of `vm.example.org`; a name without a dot is its own. */
function firstLabel(name: string): string {
  const dot = name.indexOf(".");
  return dot < 0 ? name : name.slice(0, dot);
}

export class ProcReader {
  private bootMs: number | null = null;
  /** hostName in lower case, for matching nodes. */
  private readonly host: string;

  constructor(
    readonly root = "/proc",
    private readonly ticksPerSecond = 100,
    /** This host's name (gethostname(2)). */
    readonly hostName = hostname(),
  ) {
    this.host = hostName.toLowerCase();
  }

  /**
   * Is an event's node this host? No node (a single host's log) is. auditd
   * names a node by hostname or FQDN (name_format), so a short name matches
   * the other's first label (`vm` and `vm.example.org`), two FQDNs only
   * whole. An address or a name of the admin's own choosing cannot be told
   * from another host's, so it is not this host.
   */
  isThisHost(node: string | null): boolean {
    if (node === null) return true;
    const name = node.toLowerCase();
    if (name === this.host) return true;
    if (!name.includes(".")) return name === firstLabel(this.host);
    return !this.host.includes(".") && firstLabel(name) === this.host;
  }

  private boot(): number {
    if (this.bootMs === null) {
      const stat = readFileSync(join(this.root, "stat"), "utf8");
      const match = /^btime (\d+)$/m.exec(stat);
      this.bootMs = match ? Number(match[1]) * 1000 : 0;
    }
    return this.bootMs;
  }

  read(pid: number): ProcSnapshot | null {
    try {
      const stat = readProcStat(pid, this.root);
      if (stat === null) return null;
      const { ppid, comm, startTicks } = stat;
      const cmdline = readFileSync(join(this.root, String(pid), "cmdline"));
      const argv = cmdline.length === 0 ? [] : cmdline.toString("utf8").replace(/\0$/, "").split("\0");
      return { pid, ppid, comm, exe: readExe(pid, this.root), argv, startMs: this.boot() + (startTicks * 1000) / this.ticksPerSecond };
    } catch {
      return null;
    }
  }
}

/** Start times are in clock ticks (10 ms) and audit's clock is coarse: allow this much. */
const START_SLACK_MS = 20;

/**
 * Enrich `killer` in place from /proc when the live process is the same one
 * (started no later than the event). Returns whether it did.
 */
export function enrichFromProc(killer: Killer, eventTime: string | null, proc: ProcReader, depth = 32): boolean {
  if (killer.pid === null || eventTime === null) return false;
  const eventMs = Date.parse(eventTime);
  const live = proc.read(killer.pid);
  if (!live || live.startMs > eventMs + START_SLACK_MS) return false;
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
  if (victim.pid === null || eventTime === null) return false;
  const live = proc.read(victim.pid);
  if (!live || live.startMs > Date.parse(eventTime) + START_SLACK_MS) return false;
  place(victim, victim.pid, proc);
  return true;
}
