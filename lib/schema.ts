/**
 * Every JSON line kind that whokilled scripts read or write.
 *
 * The pipeline is capture → decode → attribute → report. Each stage accepts
 * its own upstream forms (raw audit text, `record`, `event`, `signal` lines)
 * and writes one kind. docs/SCHEMA.md describes every field; keep the two in
 * step. Field order here is the order on the wire.
 */
import type { SourceName } from "./sources/registry.ts";

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

/**
 * Whether audit could see kill calls while a live capture ran (capture
 * --netlink): written when the capture starts and again whenever the verdict
 * changes (checked every few seconds: rules can be removed under a running
 * capture). Downstream stages pass it on; report prints it at the top.
 */
export interface CoverageLine {
  kind: "coverage";
  /** What was checked: the kernel's audit (the switch and the loaded rules of every key). */
  source: "audit";
  time: string;
  state: CoverageState;
  /** The kernel's audit switch (0 off, 1 on, 2 on and locked), null when it could not be read. */
  enabled: number | null;
  /** Plain words: what audit can and cannot see, and why. */
  reason: string;
  /** One item per part of the kill family that is not seen (calls and ABI, and why), [] when none or not known. */
  missing: string[];
  /** The command that fixes it, null when nothing needs fixing. */
  fix: string | null;
}

/**
 * `full`: every call of the kill family, for every ABI this kernel runs, is
 * logged; `partial`: only some calls, ABIs or arguments; `none`: audit is off
 * or no rule covers the family; `unknown`: could not check (reading the
 * audit status and rules needs CAP_AUDIT_CONTROL).
 */
export type CoverageState = "full" | "partial" | "none" | "unknown";

/** Lines a live source adds to the stream besides records, passed through by every later stage. */
export type NoticeLine = GapLine | CoverageLine;

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

/**
 * What a signal was aimed at (a kill-family call's arguments: lib/tables/kill-family.ts).
 * - process: one thread group, pid a0
 * - group: a process group; pgid −a0, or the caller's own group when a0 is 0
 * - all: every process the caller may signal (kill(-1, sig))
 * - thread: one thread; tid is in the spec's tidArg (tgid in a0 for the tg* calls)
 * - pidfd: a0 is a file descriptor; only OBJ_PID names the target
 */
export type TargetScope = "process" | "group" | "all" | "thread" | "pidfd";

export interface SignalInfo {
  /** null where the log's argument is no number (a damaged record). */
  nr: number | null;
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
  /** Present for the kill family only. pid and tid are null where the log's argument is no number (a damaged record). */
  signal?: SignalInfo;
  target?: { pid: number | null; scope: TargetScope; tid?: number | null };
}

/** Who a process is, as its SYSCALL record says: the event's process and the signal's killer share these. */
export interface ProcessIdentity {
  pid: number | null;
  ppid: number | null;
  comm: string | null;
  exe: string | null;
  uid: number | null;
  user: string | null;
  auid: number | null;
}

export interface ProcessInfo extends ProcessIdentity {
  euid: number | null;
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
  /** A user here (process, targets) has a uid but no name: the log did not name it, and no passwd is right for this log (not this host's). */
  namesUnknown?: true;
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

export type ContainerRuntime = "docker" | "containerd" | "cri-o" | "podman" | "kubernetes" | "lxc" | "nspawn";

export interface Container {
  runtime: ContainerRuntime;
  /** The full id (64 hex for OCI runtimes) or the machine's name (lxc, nspawn). */
  id: string;
}

/** The systemd unit or container a live process was in, from /proc/PID/cgroup (lib/signals/workload.ts). */
export interface Workload {
  /** The cgroup path it was read from (v2's, else v1's name=systemd, else the first that names something). */
  cgroup: string;
  /** The innermost systemd unit (`nginx.service`, `session-3.scope`, `docker-<id>.scope`); null outside systemd's tree. */
  unit: string | null;
  /** The unit's manager when it is a user's (`user@1000.service`), else null. */
  userManager: string | null;
  container: Container | null;
  /** The Kubernetes pod's UID, from `pod<uid>` in the path. */
  pod: string | null;
}

/** Where a live process sat, read from /proc while it lived (`--proc`, watch): absent when not known. */
export interface Placement {
  workload?: Workload;
  /** Its PID inside its own PID namespace, when that is not the host's (NSpid). */
  nsPid?: number;
}

export interface Killer extends ProcessIdentity, Placement {
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

export interface Victim extends Placement {
  pid: number | null;
  comm: string | null;
  uid: number | null;
  user: string | null;
  /** The victim's parent, from the stream's execve event of that process (same pid and comm, before the signal); absent when unknown. */
  ppid?: number;
}

/**
 * Where a pidfd_send_signal's target pid comes from: `obj_pid` (the kernel
 * named it), or, inferred for a failed call the kernel logged no OBJ_PID
 * for, `pidfd_open` (the caller's pidfd_open that returned this descriptor)
 * or `earlier-call` (the caller's earlier call on this descriptor that had
 * an OBJ_PID).
 */
export type PidFrom = "obj_pid" | "pidfd_open" | "earlier-call";

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
  /**
   * `pid` is signed (negative: a process group). `fd` is pidfd_send_signal's
   * file descriptor, and `pidFrom` where its pid came from: the call's own
   * OBJ_PID, or inferred for a failed call without one (see PidFrom).
   */
  target: { pid: number | null; scope: TargetScope; tid?: number | null; fd?: number; pidFrom?: PidFrom };
  victims: Victim[];
  key: string | null;
  source: SourceName;
  probe?: boolean;
  /** The killer signalled its own thread group (abort(), raise(), or a runtime suspending its threads for GC). */
  self?: boolean;
  /** As on the event: a killer or victim uid is left without a name because the log is not this host's. */
  namesUnknown?: true;
  origin?: SignalOrigin;
  /** tracefs only: who or what really sent the signal (lib/signals/cause.ts, rules in lib/tables/kernel-signals.ts). */
  cause?: SignalCause;
  /**
   * tracefs only: the task that was running when the kernel generated the
   * signal. The sender for a kill-family call; for a kernel-sent signal only
   * context (the task closing a terminal, or whatever ran when a timer fired).
   */
  context?: { pid: number; comm: string | null };
  /** kernel-log only: dmesg's `[seconds since boot]` when the wall time is not known (`time` is then null). */
  bootSeconds?: number;
  /** journal only: the systemd unit the journal's message names (`webapp.service`). */
  unit?: string;
  /** tracepoints only (and tracefs lines capture --tracepoints wrote): what the source could not know or see (a gone sender's uid and argv, a call not traced). */
  warnings?: string[];
}

/**
 * Who or what really sent a tracefs signal. For kernel-sent kinds (tty,
 * rlimit, kernel) `killer.pid` is null and `killer.comm` is `[kernel]`; for
 * self, fault and timer the killer is the victim (the timer's owner).
 */
export interface SignalCause {
  /** process, self, fault, tty, timer, rlimit, notify or kernel (see CauseKind in lib/tables/kernel-signals.ts). */
  kind: string;
  /** The rule that matched (`tty-hangup`, `alarm`, `sigpipe`…), or `unknown`. */
  rule: string;
  /** Plain words: what happened. */
  label: string;
  /** The facts it rests on: si_code, signal, the task context. */
  evidence: string[];
  /** Where the line alone cannot tell: what evidence would settle it. */
  settle?: string;
  /** kind "oom" only: what the kernel's OOM report says (lib/sources/kernel-oom.ts). */
  oom?: OomFacts;
}

/** The kernel OOM killer's report on one kill. Sizes in kB; null where the log did not say. */
export interface OomFacts {
  /** CONSTRAINT_MEMCG (a memory cgroup hit its limit), CONSTRAINT_NONE (the whole system ran out), … */
  constraint: string | null;
  /** The memory cgroup whose limit was hit. */
  memcg: string | null;
  /** The victim's own memory cgroup. */
  taskMemcg: string | null;
  totalVmKb: number | null;
  anonRssKb: number | null;
  fileRssKb: number | null;
  shmemRssKb: number | null;
  oomScoreAdj: number | null;
  /** The memory cgroup's limit and usage when the kernel printed them (`memory: usage NkB, limit NkB`). */
  limitKb: number | null;
  usageKb: number | null;
  /** The task whose allocation invoked the OOM killer. */
  invokedBy: string | null;
  /** The kernel-log lines of the report, as read. */
  lines: string[];
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
  /**
   * `taken`: the child had the comm and uid above from its first instant on
   * the PID (a helper already running as them forked it: lib/demo/pid-bait.ts), so
   * every OBJ_PID naming it shows them. Absent from an older bait's lines,
   * whose child could die as `bun`, uid 0, before it took them.
   */
  identity?: "taken";
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
 * A process audit cannot see: it was forked before audit was first enabled
 * since boot, so it has no audit context and its kill calls are never
 * logged. Written by `setup-rule install` when it enables audit and by
 * `setup-rule status`, only when that first enable time is known exactly
 * (basis `boot`, `install` or `recorded`).
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
 * How the time audit was FIRST enabled since boot is known (disabling and
 * enabling again does not move it: the kernel never takes a process's audit
 * context back). The kernel does not expose it. Exact: `boot` (`audit=1` on
 * the kernel command line), `install` (this run switched audit on and saw
 * that its own process had no audit context, so it was the first time),
 * `recorded` (such an install earlier this boot wrote the time down).
 * Upper bounds, audit may have been on earlier: `seen` (whokilled knew audit
 * had been on by then, e.g. an install that switched it on again), and
 * `auditd-start`. `unknown`: nothing is known.
 */
export type EnableTimeBasis = "boot" | "install" | "recorded" | "seen" | "auditd-start" | "unknown";

/** `setup-rule status`: one line per fact group, told apart by `topic`. */
export type StatusLine = StatusAudit | StatusDaemon | StatusRules | StatusBacklog | StatusBlindSpots | StatusWay | StatusCost;

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

/** When audit was first enabled since boot, as far as can be told, and which processes predate it. */
export interface StatusBlindSpots {
  kind: "status";
  topic: "blind-spots";
  /** ISO time: the first enable (exact) or the latest it can have been (not exact); null when unknown. */
  enabledAt: string | null;
  basis: EnableTimeBasis;
  /** enabledAt is the first enable itself, not an upper bound. */
  exact: boolean;
  /** Exact only: processes started before enabledAt, never audited (each also a `blindspot` line); else null. */
  count: number | null;
  /** Upper bound only: processes started before enabledAt, some of which may be audited and some not (not listed); else null. */
  possible: number | null;
  detail: string;
}

/** A way of watching kills (lib/rules/ways.ts): audit rules, the kernel's tracepoints, or both. */
export type WatchWay = "audit" | "tracepoints" | "both";

/** A way of watching: what it needs, whether this host has it, what it gives. */
export interface StatusWay {
  kind: "status";
  topic: "way";
  way: WatchWay;
  /** This host can watch this way (now, or after setup-rule install). */
  possible: boolean;
  /** Set up now: nothing more to do before capture. */
  ready: boolean;
  /** Each need (audit, audit-unlocked, rules, tracefs, tracepoints, audit-control) and whether the host has it. */
  checks: { need: string; ok: boolean; detail: string }[];
  /** What this way sees and what it cannot. */
  gives: string;
  detail: string;
}

/** `status --probe`: the measured cost of one state on an unrelated syscall (lib/rules/probe.ts). Noisy: a hint, not a benchmark. */
export interface StatusCost {
  kind: "status";
  topic: "cost";
  state: "nothing" | "audit" | "tracepoints";
  /** Median ns per getppid() call from this process; null when skipped. */
  nsPerCall: number | null;
  /** nsPerCall against "nothing"; null when skipped. */
  ratio: number | null;
  /** Calls timed in this state. */
  calls: number;
  /** Why not measured, or null. */
  skipped: string | null;
  detail: string;
}

export type AnyLine = RecordLine | GapLine | CoverageLine | EventLine | SignalLine | BaitLine | RuleLine | BlindSpotLine | StatusLine;
