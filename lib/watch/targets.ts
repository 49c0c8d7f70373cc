/**
 * What watch watches, and the processes of this machine that match it, read
 * from /proc while they live: comm, start time (so the line can say how long
 * it ran), exe, uid, its unit or container (lib/signals/workload.ts) and its
 * namespace PID. --unit and --cgroup read each candidate's /proc/PID/cgroup.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { usageError } from "../errors.ts";
import { clockTicksPerSecond, parseProcStatus, readExe, readProcStat, uptimeSeconds } from "../rules/blind-spots.ts";
import { cgroupLines, placementOf, workloadOfCgroupFile } from "../signals/workload.ts";
import type { WatchedProcess } from "./core.ts";

export type WatchTarget =
  | { by: "pid"; pid: number }
  | { by: "comm"; comm: string }
  | { by: "unit"; unit: string }
  | { by: "cgroup"; path: string };

/** `pid 42`, `comm sleep`, `unit nginx.service`, `cgroup /x`. */
export function describeTarget(target: WatchTarget): string {
  switch (target.by) {
    case "pid":
      return `pid ${target.pid}`;
    case "comm":
      return `comm ${target.comm}`;
    case "unit":
      return `unit ${target.unit}`;
    case "cgroup":
      return `cgroup ${target.path}`;
  }
}

/** Exactly one of --pid, --comm, --unit, --cgroup, checked. */
export function targetFromFlags(flags: { pid?: number; comm?: string; unit?: string; cgroup?: string }): WatchTarget {
  const given = [flags.pid !== undefined, flags.comm !== undefined, flags.unit !== undefined, flags.cgroup !== undefined].filter(Boolean).length;
  if (given !== 1) throw usageError("name exactly one of --pid, --comm, --unit, --cgroup");
  if (flags.pid !== undefined) {
    if (!(flags.pid > 1)) throw usageError(`--pid must be a process id above 1, got ${flags.pid}`);
    return { by: "pid", pid: flags.pid };
  }
  if (flags.comm !== undefined) {
    if (flags.comm === "" || Buffer.byteLength(flags.comm) > 15) throw usageError("--comm must be 1 to 15 bytes (the kernel's comm is at most 15)");
    return { by: "comm", comm: flags.comm };
  }
  if (flags.unit !== undefined) {
    if (flags.unit === "" || flags.unit.includes("/")) throw usageError("--unit must be a unit name such as nginx.service");
    return { by: "unit", unit: /\.[a-z]+$/.test(flags.unit) ? flags.unit : `${flags.unit}.service` };
  }
  const path = flags.cgroup!.replace(/\/+$/, "");
  if (!path.startsWith("/")) throw usageError(`--cgroup must be a cgroup path starting with /, as /proc/PID/cgroup shows it, got ${JSON.stringify(flags.cgroup)}`);
  return { by: "cgroup", path: path === "" ? "/" : path };
}

/** Reads /proc for watch. One per run: the boot time on the wall clock is read once. */
export class ProcProcesses {
  private readonly ticksPerSecond = clockTicksPerSecond();
  private readonly bootWallMs = Date.now() - uptimeSeconds() * 1000;

  private read(pid: number, file: string): string | null {
    try {
      return readFileSync(join("/proc", String(pid), file), "utf8");
    } catch {
      return null;
    }
  }

  /** Every process id in /proc. */
  pids(): number[] {
    try {
      return readdirSync("/proc").filter((n) => /^\d+$/.test(n)).map(Number);
    } catch {
      return [];
    }
  }

  /** Does this process match the target? Reads only what the target needs. */
  matches(pid: number, target: WatchTarget): boolean {
    switch (target.by) {
      case "pid":
        return pid === target.pid;
      case "comm":
        return this.comm(pid) === target.comm;
      case "unit": {
        const cgroup = this.read(pid, "cgroup");
        return cgroup !== null && workloadOfCgroupFile(cgroup)?.unit === target.unit;
      }
      case "cgroup": {
        const cgroup = this.read(pid, "cgroup");
        return cgroup !== null && cgroupLines(cgroup).some(({ path }) => inCgroup(path, target.path));
      }
    }
  }

  /** A live (or not yet reaped) process as watch keeps it; null when it is gone or a kernel thread. */
  snapshot(pid: number, matchedBy: string): WatchedProcess | null {
    const stat = readProcStat(pid);
    if (!stat || stat.kernelThread) return null;
    const status = this.read(pid, "status") ?? "";
    const cgroup = this.read(pid, "cgroup");
    const exe = readExe(pid);
    const { uid } = parseProcStatus(status);
    const memoryCgroup = cgroup !== null ? memoryCgroupPath(cgroup) : null;
    return {
      pid,
      comm: stat.comm,
      startedAtMs: Math.round(this.bootWallMs + (stat.startTicks * 1000) / this.ticksPerSecond),
      exe,
      uid,
      placement: cgroup !== null ? placementOf(cgroup, status) : null,
      memoryCgroup,
      memoryLimitBytes: memoryCgroup !== null && memoryCgroup !== "/" ? this.memoryLimit(memoryCgroup) : null,
      matchedBy,
    };
  }

  /** A memory cgroup's limit in bytes (v1 memory.limit_in_bytes, v2 memory.max); null when unlimited or unreadable. */
  memoryLimit(path: string): number | null {
    for (const file of [join("/sys/fs/cgroup", "memory", path, "memory.limit_in_bytes"), join("/sys/fs/cgroup", path, "memory.max")]) {
      try {
        const text = readFileSync(file, "utf8").trim();
        const bytes = Number(text);
        // v1 says "no limit" with a number near 2^63; v2 with "max".
        return /^\d+$/.test(text) && bytes < 2 ** 60 ? bytes : null;
      } catch {
        // Not this hierarchy.
      }
    }
    return null;
  }

  /** A sender still running with this comm: its exe and uid (for a sender audit did not log). */
  sender(pid: number, comm: string | null): { exe: string | null; uid: number | null } | null {
    const live = this.snapshot(pid, "");
    if (!live || (comm !== null && live.comm !== comm)) return null;
    return { exe: live.exe, uid: live.uid };
  }

  /** Ended but not yet reaped by its parent (state Z): its exit has already happened. */
  isZombie(pid: number): boolean {
    return readProcStat(pid)?.state === "Z";
  }

  /** Its comm now, or null when it is gone. */
  comm(pid: number): string | null {
    return this.read(pid, "comm")?.replace(/\n$/, "") ?? null;
  }

  /** Thread group id of a thread id (the same id for a process). */
  tgid(pid: number): number | null {
    const status = this.read(pid, "status");
    return status === null ? null : parseProcStatus(status).tgid;
  }
}

/** Is cgroup `path` the cgroup `root`, or one below it? */
export function inCgroup(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root === "/" ? "" : root}/`);
}

/** The memory controller's path: the v1 line naming `memory`, else v2's. */
export function memoryCgroupPath(text: string): string | null {
  let v2: string | null = null;
  for (const { controllers, path } of cgroupLines(text)) {
    if (controllers.split(",").includes("memory")) return path;
    if (controllers === "") v2 = path;
  }
  return v2;
}
