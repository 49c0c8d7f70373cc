/**
 * Processes audit cannot see. The kernel gives a task an audit context when
 * it is forked, and only once audit has ever been enabled; a process forked
 * before that never has its syscalls audited, whatever rules are added later
 * (its threads created later do get a context). No /proc field shows this, so
 * the only test is a process's start time against the enable time.
 *
 * Times are compared in clock ticks since boot, the unit of /proc/PID/stat's
 * starttime (field 22) and, via /proc/uptime, of "now": both count
 * CLOCK_BOOTTIME, so the comparison is exact to a tick and does not depend on
 * the wall clock or on /proc/stat's whole-second btime. btime is used only to
 * print ISO times.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

export interface ProcStat {
  pid: number;
  ppid: number;
  comm: string;
  /** Field 3: R, S, D, Z (ended, not yet reaped), T… */
  state: string;
  /** Field 22: start time in clock ticks since boot. */
  startTicks: number;
  /** PF_KTHREAD: kernel threads make no syscalls and are never blind spots. */
  kernelThread: boolean;
}

const PF_KTHREAD = 0x00200000;

/**
 * Parse one /proc/PID/stat line. comm is in parentheses and may itself hold
 * spaces and `)`, so the fields after it are found from the last `)`.
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // After ")": field 3 (state) is rest[0], so field N is rest[N - 3].
  const rest = text.slice(close + 1).trim().split(/\s+/);
  const ppid = Number(rest[1]);
  const flags = Number(rest[6]);
  const startTicks = Number(rest[19]);
  if (!Number.isInteger(pid) || !Number.isFinite(ppid) || !Number.isFinite(startTicks)) return null;
  return { pid, ppid, comm, state: rest[0] ?? "", startTicks, kernelThread: (flags & PF_KTHREAD) !== 0 };
}

/** What whokilled reads of /proc/PID/status: real and effective uid and the thread group; null where its line is missing. */
export interface ProcStatus {
  uid: number | null;
  euid: number | null;
  tgid: number | null;
}

export function parseProcStatus(text: string): ProcStatus {
  const uids = /^Uid:\s+(\d+)\s+(\d+)/m.exec(text);
  const tgid = /^Tgid:\s+(\d+)/m.exec(text);
  return { uid: uids ? Number(uids[1]) : null, euid: uids ? Number(uids[2]) : null, tgid: tgid ? Number(tgid[1]) : null };
}

export interface ClockInfo {
  /** USER_HZ, from `getconf CLK_TCK` (100 almost everywhere). */
  ticksPerSecond: number;
  /** /proc/stat btime: boot time in whole epoch seconds. */
  bootTime: number;
}

let ticksPerSecond: number | null = null;

/** `getconf CLK_TCK` (asked once), or 100 (the value every Linux architecture uses) when getconf is missing. */
export function clockTicksPerSecond(): number {
  if (ticksPerSecond !== null) return ticksPerSecond;
  ticksPerSecond = 100;
  try {
    const result = Bun.spawnSync(["getconf", "CLK_TCK"], { stdout: "pipe", stderr: "ignore" });
    const value = Number(result.stdout.toString().trim());
    if (result.exitCode === 0 && Number.isInteger(value) && value > 0) ticksPerSecond = value;
  } catch {
    // The constant stays.
  }
  return ticksPerSecond;
}

export function readBootTime(procRoot = "/proc"): number {
  const match = /^btime (\d+)$/m.exec(readFileSync(join(procRoot, "stat"), "utf8"));
  if (!match) throw new Error(`${procRoot}/stat has no btime line`);
  return Number(match[1]);
}

/** Seconds since boot, /proc/uptime's first field: CLOCK_BOOTTIME, as the stat start times and the trace clock count. */
export function uptimeSeconds(procRoot = "/proc"): number {
  return Number(readFileSync(join(procRoot, "uptime"), "utf8").split(/\s+/)[0]);
}

/** Now, in clock ticks since boot. */
export function uptimeTicks(ticksPerSecond: number, procRoot = "/proc"): number {
  return Math.floor(uptimeSeconds(procRoot) * ticksPerSecond);
}

export function readClock(procRoot = "/proc"): ClockInfo {
  return { ticksPerSecond: clockTicksPerSecond(), bootTime: readBootTime(procRoot) };
}

/** Every process (not thread) in /proc; ones that vanish while being read are skipped. */
export function listProcesses(procRoot = "/proc"): ProcStat[] {
  const processes: ProcStat[] = [];
  for (const name of readdirSync(procRoot)) {
    // null: exited between readdir and read.
    const stat = /^\d+$/.test(name) ? readProcStat(Number(name), procRoot) : null;
    if (stat) processes.push(stat);
  }
  return processes.sort((a, b) => a.pid - b.pid);
}

/** A text file's contents, or null when it cannot be read (gone, no permission, no /proc). */
export function readTextOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

export function readProcStat(pid: number, procRoot = "/proc"): ProcStat | null {
  const text = readTextOrNull(join(procRoot, String(pid), "stat"));
  return text === null ? null : parseProcStat(text);
}

/** /proc/PID/exe, or null: a kernel thread, a zombie or a process gone, or another user's without ptrace access. */
export function readExe(pid: number, procRoot = "/proc"): string | null {
  try {
    return readlinkSync(join(procRoot, String(pid), "exe"));
  } catch {
    return null;
  }
}

export interface BlindSpot {
  pid: number;
  ppid: number;
  comm: string;
  startTicks: number;
  /** ISO time the process started. */
  start: string;
}

/** Ticks since boot → ISO time (to btime's whole-second precision). */
export function ticksToIso(ticks: number, clock: ClockInfo): string {
  return new Date((clock.bootTime + ticks / clock.ticksPerSecond) * 1000).toISOString();
}

/**
 * User processes started before `enabledTicks`: forked while audit was off,
 * so none of their syscalls are audited. `exclude` drops pids the caller
 * knows about (itself: it is about to exit).
 */
export function findBlindSpots(
  processes: readonly ProcStat[],
  enabledTicks: number,
  clock: ClockInfo,
  exclude: readonly number[] = [],
): BlindSpot[] {
  return processes
    .filter((p) => !p.kernelThread && p.startTicks < enabledTicks && !exclude.includes(p.pid))
    .map((p) => ({ pid: p.pid, ppid: p.ppid, comm: p.comm, startTicks: p.startTicks, start: ticksToIso(p.startTicks, clock) }));
}
