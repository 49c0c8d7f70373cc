/**
 * Every JSON line kind that whokilled scripts read or write.
 *
 * The pipeline is capture → decode → attribute → report. Each stage accepts
 * its own upstream forms (raw audit text, `record`, `event`, `signal` lines)
 * and writes one kind. docs/SCHEMA.md describes every field; keep the two in
 * step. Field order here is the order on the wire.
 */

/** Where a line came from, so an error or a finding can point back at it. */
export interface SourceRef {
  /** File path, `-` for stdin, `netlink`, or `tracefs`. */
  file: string;
  /** 1-based line number within that file (datagram/read counter for live sources). */
  line: number;
}

/**
 * One audit record as captured, undecoded. `raw` is the record in audit.log
 * form (`type=X msg=audit(…): …`, or the tracefs line for SIGNAL_GENERATE).
 */
export interface RecordLine {
  kind: "record";
  /** Record type name (`SYSCALL`, `OBJ_PID`, `UNKNOWN[1334]`, `SIGNAL_GENERATE`). */
  type: string;
  /** `SEC.MS:SERIAL`, unique per node. */
  id: string;
  node: string | null;
  raw: string;
  source: SourceRef;
  /** Wall-clock ISO time, only for sources whose raw text has no audit stamp (tracefs). */
  time?: string;
}

/** A gap a live source knows it has (netlink ENOBUFS, auditd lost counter). */
export interface GapLine {
  kind: "gap";
  source: string;
  time: string;
  reason: string;
  /** How many records were lost, when the source knows. */
  lost: number | null;
}

export type FieldMap = Record<string, string>;

export interface DecodedRecord {
  type: string;
  /** Fields as written, in order; a repeated name gets a `#2`, `#3` suffix. */
  fields: FieldMap;
  /** Interpreted values where the field has a known type (hex decoded, ids named…). */
  decoded: FieldMap;
  /** UPPERCASE fields from auditd's ENRICHED tail, as written. */
  enriched?: FieldMap;
  /** User-space records: the fields of the nested `msg='…'`. */
  msg?: FieldMap;
  raw: string;
  source?: SourceRef;
  warnings?: string[];
}

export type TargetScope = "process" | "group" | "all" | "thread" | "pidfd";

export interface SignalInfo {
  nr: number;
  name: string | null;
}

export interface SyscallInfo {
  arch: string | null;
  nr: number | null;
  name: string | null;
  success: boolean | null;
  exit: number | null;
  errno: string | null;
  /** a0..a3 as `0x…` strings (exactly as the kernel wrote them, hex). */
  args: string[];
  /** Present for the kill family only. */
  signal?: SignalInfo;
  target?: { pid: number; scope: TargetScope; tid?: number };
}

export interface ProcessInfo {
  pid: number | null;
  ppid: number | null;
  comm: string | null;
  exe: string | null;
  uid: number | null;
  user: string | null;
  euid: number | null;
  auid: number | null;
  ses: number | null;
  tty: string | null;
}

export interface TargetInfo {
  pid: number | null;
  comm: string | null;
  uid: number | null;
  user: string | null;
  auid: number | null;
  ses: number | null;
}

/** One assembled audit event (all records sharing node + timestamp:serial). */
export interface EventLine {
  kind: "event";
  id: string;
  node: string | null;
  time: string | null;
  /** The type of the event's leading record: SYSCALL if any, else the first record's. */
  type: string;
  syscall: SyscallInfo | null;
  process: ProcessInfo | null;
  proctitle: string[] | null;
  targets: TargetInfo[];
  key: string | null;
  /** tracefs only: si_code and whether the kernel itself originated the signal. */
  origin?: SignalOrigin;
  records: DecodedRecord[];
  warnings?: string[];
}

export interface SignalOrigin {
  code: number;
  /** `user` (kill(2) and friends or kernel-sent as if by user), `kernel` (SI_KERNEL), `fault`, `queue`, `tkill`… */
  kind: string;
  /** Human label: "OOM killer or other SI_KERNEL sender", "fault (SIGSEGV/SIGBUS…)"… */
  label: string;
}

export interface Killer {
  pid: number | null;
  ppid: number | null;
  comm: string | null;
  exe: string | null;
  uid: number | null;
  user: string | null;
  auid: number | null;
  argv: string[];
  /** Ancestry (parent first) from /proc (`--proc`) or execve events in the stream. */
  ancestry?: AncestorInfo[];
}

export interface AncestorInfo {
  pid: number;
  comm: string | null;
  exe: string | null;
  argv?: string[];
  from: "proc" | "stream";
}

export interface Victim {
  pid: number | null;
  comm: string | null;
  uid: number | null;
  user: string | null;
}

/** Who signalled whom: one per kill-family call or tracefs signal. */
export interface SignalLine {
  kind: "signal";
  id: string;
  node: string | null;
  time: string | null;
  syscall: string | null;
  arch: string | null;
  signal: SignalInfo;
  result: { success: boolean | null; errno: string | null };
  killer: Killer;
  /** `pid` is signed (negative: a process group). `fd` is pidfd_send_signal's file descriptor. */
  target: { pid: number | null; scope: TargetScope; tid?: number; fd?: number };
  victims: Victim[];
  key: string | null;
  source: "audit" | "tracefs";
  probe?: boolean;
  /** The killer signalled its own thread group (abort(), raise(), or a runtime suspending its threads for GC). */
  self?: boolean;
  origin?: SignalOrigin;
}

/** What `bait` observed for one child it parked on a PID. */
export interface BaitLine {
  kind: "bait";
  pid: number;
  wanted: number;
  start: string;
  end: string | null;
  /** How the child ended: killed by a signal, exited, or still alive when bait stopped. */
  outcome: "signal" | "exit" | "stopped";
  signal: SignalInfo | null;
  exitCode: number | null;
  method: "ns_last_pid" | "fork-loop";
  attempts: number;
  /** The child's comm (what a killer's OBJ_PID `ocomm` shows). */
  comm?: string;
  /** The uid the child ran as. */
  uid?: number | null;
  /** Milliseconds from the first attempt until the child held the PID. */
  takeMs?: number;
}

/**
 * What setup-rule did or saw, one line per rule. `rule` is the rule in
 * auditctl / rules.d syntax (as generated, or as `auditctl -l` prints it for
 * list); it is "" on a line about no particular rule (e.g. remove found none).
 */
export interface RuleLine {
  kind: "rule";
  action: "print" | "install" | "remove" | "list" | "status" | "persist";
  rule: string;
  key: string;
  result: "ok" | "present" | "absent" | "removed" | "error";
  detail?: string;
  /** action "persist": the rules.d file written or deleted. */
  file?: string;
}

/**
 * A process audit cannot see: it was forked before audit was first enabled,
 * so it has no audit context and its kill calls are never logged. Written by
 * `setup-rule install` when it enables audit and by `setup-rule status`.
 */
export interface BlindSpotLine {
  kind: "blindspot";
  pid: number;
  ppid: number;
  comm: string;
  /** When the process started (ISO; /proc/PID/stat starttime + btime). */
  start: string;
  /** The enable time it was compared with (ISO), and how that time is known (see StatusBlindSpots). */
  enabledAt: string;
  basis: EnableTimeBasis;
}

/**
 * How the time audit was first enabled is known. The kernel does not expose
 * it. `boot`: `audit=1` on the kernel command line; `install`: this run
 * enabled it; `recorded`: a whokilled install enabled it this boot and wrote
 * the time down; `auditd-start`: auditd's start time, an upper bound (audit
 * may have been on before, so some listed processes may be audited after
 * all); `unknown`.
 */
export type EnableTimeBasis = "boot" | "install" | "recorded" | "auditd-start" | "unknown";

/** `setup-rule status`: one line per fact group, told apart by `topic`. */
export type StatusLine = StatusAudit | StatusDaemon | StatusRules | StatusBacklog | StatusBlindSpots;

/** The kernel's audit switch (`auditctl -s`). */
export interface StatusAudit {
  kind: "status";
  topic: "audit";
  /** 0 off, 1 on, 2 on and locked (rules cannot change until reboot). */
  enabled: number;
  /** What the kernel does when it loses records: 0 silent, 1 printk, 2 panic. */
  failure: number;
  detail: string;
}

/** The audit daemon registered with the kernel (its pid from `auditctl -s`). */
export interface StatusDaemon {
  kind: "status";
  topic: "auditd";
  running: boolean;
  pid: number | null;
  comm: string | null;
  /** ISO start time of that process. */
  started: string | null;
  detail: string;
}

/** Our rules: which of the rules these options generate are in the kernel. */
export interface StatusRules {
  kind: "status";
  topic: "rules";
  key: string;
  expected: string[];
  present: string[];
  missing: string[];
  /** Installed rules with our key that these options would not generate. */
  other: string[];
  detail: string;
}

/** The kernel's queue towards auditd, and what it has dropped. */
export interface StatusBacklog {
  kind: "status";
  topic: "backlog";
  backlog: number | null;
  backlogLimit: number | null;
  /** Records the kernel dropped since boot (backlog full, rate limit, no memory). */
  lost: number | null;
  /** Milliseconds a sender may be held when the backlog is full (backlog_wait_time is in jiffies). */
  backlogWaitTime: number | null;
  rateLimit: number | null;
  detail: string;
}

/** When audit was enabled, as far as can be told, and how many processes predate it. */
export interface StatusBlindSpots {
  kind: "status";
  topic: "blind-spots";
  /** ISO time, null when unknown. */
  enabledAt: string | null;
  basis: EnableTimeBasis;
  /** Processes started before enabledAt (each also a `blindspot` line); null when unknown. */
  count: number | null;
  detail: string;
}

export type AnyLine = RecordLine | GapLine | EventLine | SignalLine | BaitLine | RuleLine | BlindSpotLine | StatusLine;
