/**
 * The kernel OOM killer's report in a kernel log (dmesg, dmesg -T/-x,
 * kern.log, journalctl -k), as KERNEL_OOM records: one per kill, made at the
 * `Killed process N (COMM) …` line, with the `invoked oom-killer`, the
 * memory cgroup's `memory: usage …, limit …` and the `oom-kill:` lines
 * before it kept in its raw text as evidence. Pure parsing,
 * plus a small per-stream joiner; no I/O.
 *
 *   hog invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=0
 *   oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/fvoom,task_memcg=/fvoom,task=hog,pid=26140,uid=0
 *   Memory cgroup out of memory: Killed process 26140 (hog) total-vm:207280kB, anon-rss:50944kB, file-rss:928kB, shmem-rss:0kB, UID:0 pgtables:156kB oom_score_adj:0
 *
 * The kernel-log source (lib/sources/registry.ts): its KERNEL_OOM records
 * become events and signals here.
 */
import type { AssembledEvent, PendingRecord } from "../audit/assemble.ts";
import { KERNEL_LOG_PREFIX } from "../audit/line.ts";
import type { EventLine, OomFacts, RecordLine, SignalLine, SourceRef } from "../schema.ts";
import { KERNEL_KILLER } from "../signals/cause.ts";
import { ownRecord, ownRecordLine, ownSignalEvent, unreadRecordEvent } from "./own-record.ts";
import type { SourceSpec } from "./registry.ts";

export const KERNEL_OOM = "KERNEL_OOM";

/** Where a kernel-log line's message starts, and the time its prefix gives. */
export interface KernelLogStamp {
  message: string;
  /** dmesg's `[seconds since boot]`: relative, needs the boot time to be wall time. */
  bootSeconds: number | null;
  /** Wall time, only when the prefix says it with its zone (ISO forms). */
  time: string | null;
}

// The prefixes parseLine classes a kernel log's lines by (lib/audit/line.ts), so what it classes is read here.
const DMESG = new RegExp(KERNEL_LOG_PREFIX.dmesg);
const DMESG_ISO = new RegExp(KERNEL_LOG_PREFIX.dmesgIso);
const SYSLOG = new RegExp(KERNEL_LOG_PREFIX.syslog);
const INNER_BOOT = /^\[\s*(\d+\.\d+)\] ?/;

/** Split a kernel-log line into its stamp and message; null for another form. */
export function kernelLogStamp(text: string): KernelLogStamp | null {
  let match = DMESG.exec(text);
  let bootSeconds: number | null = null;
  let time: string | null = null;
  let rest: string;
  if (match) {
    if (match[1] !== undefined) bootSeconds = Number(match[1]);
    rest = text.slice(match[0].length);
    // journalctl -k -o short-monotonic: `[  12.3] host kernel: msg`
    const tag = /^\S+ kernel: /.exec(rest);
    if (tag) rest = rest.slice(tag[0].length);
  } else if ((match = DMESG_ISO.exec(text))) {
    time = isoTime(`${match[1]}.${match[2]!.slice(0, 3)}${match[3]}`);
    rest = text.slice(match[0].length);
  } else if ((match = SYSLOG.exec(text))) {
    // An ISO stamp without its zone says no wall time (as the classic syslog stamp).
    if (match[1] !== undefined) time = match[2] === undefined ? null : isoTime(match[1] + match[2]);
    else if (match[3] !== undefined) time = new Date(Number(match[3]) * 1000).toISOString();
    rest = text.slice(match[0].length);
  } else return null;
  // kern.log of a kernel with printk times: `… kernel: [  12.345] msg`
  const inner = INNER_BOOT.exec(rest);
  if (inner) {
    bootSeconds ??= Number(inner[1]);
    rest = rest.slice(inner[0].length);
  }
  return { message: rest, bootSeconds, time };
}

function isoTime(text: string): string | null {
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

export interface OomInvoked {
  comm: string;
  gfpMask: string;
  order: number;
  oomScoreAdj: number;
}

export interface OomKillLine {
  constraint: string;
  /** The cgroup whose limit was hit (null for a global OOM). */
  oomMemcg: string | null;
  taskMemcg: string | null;
  comm: string;
  pid: number;
  uid: number;
}

export interface OomKilled {
  /** `Memory cgroup out of memory` or `Out of memory`. */
  reason: string;
  pid: number;
  comm: string;
  totalVmKb: number | null;
  anonRssKb: number | null;
  fileRssKb: number | null;
  shmemRssKb: number | null;
  uid: number | null;
  oomScoreAdj: number | null;
}

// mem_cgroup_print_oom_meminfo(): the memory cgroup's usage and limit (cgroup v1 and v2 alike).
const MEMCG_USAGE = /^memory: usage (\d+)kB, limit (\d+)kB, failcnt (\d+)/;

export interface MemcgUsage {
  usageKb: number;
  limitKb: number;
  failcnt: number;
}

export function parseMemcgUsage(message: string): MemcgUsage | null {
  const m = MEMCG_USAGE.exec(message);
  return m ? { usageKb: Number(m[1]), limitKb: Number(m[2]), failcnt: Number(m[3]) } : null;
}

const INVOKED = /^(.*) invoked oom-killer: gfp_mask=([^,]*),.*order=(-?\d+), oom_score_adj=(-?\d+)/;
const OOM_KILL = /^oom-kill:constraint=([^,]*),.*?(?:,oom_memcg=([^,]*))?,task_memcg=(.*),task=(.*),pid=(\d+),uid=(\d+)\s*$/;
const KILLED = /^((?:Memory cgroup out of memory|Out of memory)(?: \([^)]*\))?): Killed process (\d+) \((.*)\) (total-vm:.*)$/;

export function parseOomInvoked(message: string): OomInvoked | null {
  const m = INVOKED.exec(message);
  return m ? { comm: m[1]!, gfpMask: m[2]!, order: Number(m[3]), oomScoreAdj: Number(m[4]) } : null;
}

export function parseOomKill(message: string): OomKillLine | null {
  const m = OOM_KILL.exec(message);
  if (!m) return null;
  return { constraint: m[1]!, oomMemcg: m[2] ?? null, taskMemcg: m[3] ?? null, comm: m[4]!, pid: Number(m[5]), uid: Number(m[6]) };
}

export function parseOomKilled(message: string): OomKilled | null {
  const m = KILLED.exec(message);
  if (!m) return null;
  const tail = m[4]!;
  const kb = (name: string): number | null => {
    const at = new RegExp(`(?:^|[ ,])${name}:(\\d+)kB`).exec(tail);
    return at ? Number(at[1]) : null;
  };
  const uid = /UID:(\d+)/.exec(tail);
  const adj = /oom_score_adj:(-?\d+)/.exec(tail);
  return {
    reason: m[1]!,
    pid: Number(m[2]),
    comm: m[3]!,
    totalVmKb: kb("total-vm"),
    anonRssKb: kb("anon-rss"),
    fileRssKb: kb("file-rss"),
    shmemRssKb: kb("shmem-rss"),
    uid: uid ? Number(uid[1]) : null,
    oomScoreAdj: adj ? Number(adj[1]) : null,
  };
}

/** One kill, from a KERNEL_OOM record's raw text (its lines, the `Killed process` line last). */
export interface OomReport {
  killed: OomKilled;
  kill: OomKillLine | null;
  invoked: OomInvoked | null;
  usage: MemcgUsage | null;
  bootSeconds: number | null;
  time: string | null;
  lines: string[];
}

export function parseOomReport(raw: string): OomReport | null {
  const lines = raw.split("\n");
  const last = kernelLogStamp(lines[lines.length - 1]!);
  const killed = last ? parseOomKilled(last.message) : null;
  if (!last || !killed) return null;
  let kill: OomKillLine | null = null;
  let invoked: OomInvoked | null = null;
  let usage: MemcgUsage | null = null;
  for (const line of lines.slice(0, -1)) {
    const stamp = kernelLogStamp(line);
    if (!stamp) continue;
    kill = parseOomKill(stamp.message) ?? kill;
    invoked = parseOomInvoked(stamp.message) ?? invoked;
    usage = parseMemcgUsage(stamp.message) ?? usage;
  }
  return { killed, kill, invoked, usage, bootSeconds: last.bootSeconds, time: last.time, lines };
}

/**
 * Joins a stream's OOM lines into KERNEL_OOM records: one per input stream,
 * held by whatever reads that stream (Decoder, RecordLineWriter, JournalLines…). The `invoked` and
 * `oom-kill:` lines stay counted as a kernel log's other lines (the caller
 * skips them) and are also copied into the next kill's record as evidence.
 */
export class OomJoiner {
  private invoked: string | null = null;
  private kill: string | null = null;
  private usage: string | null = null;
  private file = "";

  /** A kernel-log line: its KERNEL_OOM record when it is a `Killed process` line, else null. */
  line(text: string, source: SourceRef): RecordLine | null {
    if (!text.includes("oom") && !text.includes("Out of memory") && !text.includes("memory: usage")) return null;
    const stamp = kernelLogStamp(text);
    if (!stamp) return null;
    if (source.file !== this.file) {
      this.file = source.file;
      this.invoked = this.kill = this.usage = null;
    }
    const message = stamp.message;
    if (parseOomInvoked(message)) {
      this.invoked = text;
      this.kill = this.usage = null;
      return null;
    }
    if (parseMemcgUsage(message)) {
      // The first such line after `invoked` is the OOM cgroup's own (kmem and swap lines follow).
      if (this.invoked !== null && this.usage === null) this.usage = text;
      return null;
    }
    if (parseOomKill(message)) {
      this.kill = text;
      return null;
    }
    const killed = parseOomKilled(message);
    if (!killed) return null;
    // Only lines of the same kill: the oom-kill: line names the victim's pid.
    const killLine = this.kill !== null && parseOomKill(kernelLogStamp(this.kill)!.message)?.pid === killed.pid ? this.kill : null;
    const before = killLine === null ? [] : [this.invoked, this.usage, killLine].filter((l): l is string => l !== null);
    const lines = [...before, text];
    this.invoked = this.kill = this.usage = null;
    // Without the wall time, the id is `boot+SEC:PID`.
    const untimed = stamp.bootSeconds !== null ? `boot+${stamp.bootSeconds}` : `line${source.line}`;
    return ownRecordLine(KERNEL_OOM, lines.join("\n"), source, killed.pid, stamp.time === null ? null : Date.parse(stamp.time), untimed);
  }
}

/** A KERNEL_OOM record (lib/sources/kernel-oom.ts): the kernel's SIGKILL to the OOM killer's victim. */
function interpretKernelOom(event: AssembledEvent, record: PendingRecord): EventLine {
  const report = parseOomReport(record.raw);
  const decodedRecord = ownRecord(record);
  const time = record.time ?? report?.time ?? null;
  if (!report) return unreadRecordEvent(event, decodedRecord, time, "not an OOM killer report");
  const { killed, kill } = report;
  const f = decodedRecord.fields;
  f.pid = String(killed.pid);
  f.comm = killed.comm;
  if (killed.uid !== null) f.uid = String(killed.uid);
  if (report.bootSeconds !== null) f.boot_seconds = String(report.bootSeconds);
  if (kill) {
    f.constraint = kill.constraint;
    if (kill.oomMemcg !== null) f.oom_memcg = kill.oomMemcg;
    if (kill.taskMemcg !== null) f.task_memcg = kill.taskMemcg;
  }
  const uid = killed.uid ?? kill?.uid ?? null;
  return ownSignalEvent(event, decodedRecord, time, {
    success: true,
    errno: null,
    signal: { nr: 9, name: "SIGKILL" },
    target: { pid: killed.pid, scope: "process" },
    process: null,
    victim: { pid: killed.pid, comm: killed.comm, uid, user: null, auid: null, ses: null },
  });
}

/**
 * Give a kernel-log OOM line (source "kernel-log") its killer (the kernel),
 * its cause and the report's memory facts, in place, from the record's raw
 * lines. Confirmed by the kernel's own report, so no `settle`.
 */
function explainOomSignal(line: SignalLine, raw: string): void {
  const report = parseOomReport(raw);
  if (!report) return;
  const { killed, kill, invoked } = report;
  line.killer = { ...KERNEL_KILLER, argv: [] };
  const oom: OomFacts = {
    constraint: kill?.constraint ?? null,
    memcg: kill?.oomMemcg ?? null,
    taskMemcg: kill?.taskMemcg ?? null,
    totalVmKb: killed.totalVmKb,
    anonRssKb: killed.anonRssKb,
    fileRssKb: killed.fileRssKb,
    shmemRssKb: killed.shmemRssKb,
    oomScoreAdj: killed.oomScoreAdj,
    limitKb: report.usage?.limitKb ?? null,
    usageKb: report.usage?.usageKb ?? null,
    invokedBy: invoked?.comm ?? null,
    lines: report.lines,
  };
  const where = oom.constraint === "CONSTRAINT_MEMCG" && oom.memcg !== null ? `memory cgroup ${oom.memcg} hit its limit` : "the system ran out of memory";
  line.cause = {
    kind: "oom",
    rule: "oom-kill",
    label: `killed by the kernel's OOM killer: ${where}`,
    evidence: ["the kernel log's OOM report", `${killed.reason}: Killed process ${killed.pid} (${killed.comm})`],
    oom,
  };
  if (report.bootSeconds !== null && line.time === null) line.bootSeconds = report.bootSeconds;
}

export const KERNEL_LOG_SOURCE: SourceSpec = {
  name: "kernel-log",
  label: "kernel log",
  ownRecordTypes: [KERNEL_OOM],
  standalone: true,
  kernelTrace: false,
  streamAncestry: false,
  liveFiles: [],
  interpret: interpretKernelOom,
  finishSignal: (line, event) => explainOomSignal(line, event.records[0]?.raw ?? ""),
};
