#!/usr/bin/env bun
/**
 * Deterministic synthetic audit.log for the benchmark.
 *
 * The same seed and line target always give the same bytes, so timings from
 * different machines or commits compare the same input. Records follow what
 * a Linux kernel plus auditd 3.x write: kernel field order, hex encoding of
 * untrusted strings (uppercase, whenever a byte is `"`, <= 0x20 or >= 0x7f),
 * 128-byte proctitle truncation, no EOE lines (auditd drops them), and in
 * ENRICHED stretches a 0x1d byte followed by the UPPERCASE interpretations of
 * uid/gid/arch/syscall/saddr fields, exactly the field kinds auditd enriches.
 *
 * The log alternates between RAW and ENRICHED stretches (as happens when an
 * admin switches log_format, or when logs from two hosts are concatenated),
 * so both parser paths are exercised in one file.
 *
 * Usage: bun bench/gen-log.ts [OUT] [--lines N] [--seed S] [--force]
 * Writes OUT and OUT.stamp.json (generator version, seed, expected counts);
 * an existing OUT with a matching stamp is reused.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync, renameSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";

/** Bump whenever the output bytes for a given seed change. */
export const GENERATOR_VERSION = 1;
export const DEFAULT_SEED = 0x5eed_a0d1;
export const DEFAULT_LINES = 1_000_000;
export const DEFAULT_OUT = "bench/.data/audit-1m.log";

// ---------------------------------------------------------------- PRNG

/** sfc32 seeded through splitmix32: fast, 32-bit, identical on every JS engine. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** [0, 1) */
  float(): number {
    return this.u32() / 4294967296;
  }
  /** Integer in [lo, hi] inclusive. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }
  chance(p: number): boolean {
    return this.float() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }
  weighted<T>(items: readonly (readonly [number, T])[]): T {
    let total = 0;
    for (const [w] of items) total += w;
    let r = this.float() * total;
    for (const [w, v] of items) {
      r -= w;
      if (r < 0) return v;
    }
    return items[items.length - 1]![1];
  }
  /** Exponential with the given mean. */
  exp(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }
  hex(digits: number): string {
    let s = "";
    while (s.length < digits) s += this.u32().toString(16).padStart(8, "0");
    return s.slice(0, digits);
  }
}

// ---------------------------------------------------------------- encoding

const utf8 = new TextEncoder();

/** The kernel's audit_string_contains_control test. */
export function needsHex(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c <= 0x20 || c === 0x22 || c >= 0x7f) return true;
  }
  return false;
}

export function hexUpper(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex").toUpperCase();
}

/** An untrusted string as the kernel logs it: `"value"` or uppercase hex. */
export function untrusted(value: string): string {
  return needsHex(value) ? hexUpper(utf8.encode(value)) : `"${value}"`;
}

/** PROCTITLE: argv joined by NUL, cut at 128 bytes, then the same rule. */
export function proctitle(argv: readonly string[]): string {
  let bytes = utf8.encode(argv.join("\0"));
  if (bytes.length > 128) bytes = bytes.subarray(0, 128);
  for (const b of bytes) if (b <= 0x20 || b === 0x22 || b >= 0x7f) return hexUpper(bytes);
  return `"${new TextDecoder().decode(bytes)}"`;
}

/** Two's-complement hex of a negative pid as the kernel prints a register. */
function regHex(value: number, bits: 32 | 64): string {
  if (value >= 0) return value.toString(16);
  return (BigInt.asUintN(bits, BigInt(value))).toString(16);
}

// ---------------------------------------------------------------- world model

const UNSET = 4294967295;
const GROUP_FIELDS = new Set(["GID", "EGID", "SGID", "FSGID"]);
/** Users the log refers to (bench.ts gives ausearch a passwd with these, see there). */
export const USERS: Record<number, string> = {
  0: "root",
  33: "www-data",
  113: "postgres",
  114: "redis",
  998: "prometheus",
  1000: "alice",
  1001: "bob",
  1002: "carol",
  1003: "deploy",
  65534: "nobody",
};
export const GROUPS: Record<number, string> = {
  0: "root",
  33: "www-data",
  120: "postgres",
  121: "redis",
  998: "prometheus",
  1000: "alice",
  1001: "bob",
  1002: "carol",
  1003: "deploy",
  65534: "nogroup",
};
function userName(uid: number): string {
  if (uid === UNSET || uid === -1) return "unset";
  return USERS[uid] ?? `unknown(${uid})`;
}
function groupName(gid: number): string {
  return GROUPS[gid] ?? `unknown(${gid})`;
}
const USER_GID: Record<number, number> = { 0: 0, 33: 33, 113: 120, 114: 121, 998: 998, 1000: 1000, 1001: 1001, 1002: 1002, 1003: 1003, 65534: 65534 };

interface Proc {
  pid: number;
  ppid: number;
  comm: string;
  exe: string;
  argv: string[];
  uid: number;
  gid: number;
  euid: number;
  auid: number;
  ses: number;
  tty: string;
  cwd: string;
  subj?: string;
}

interface Arch {
  abi: "b64" | "b32";
  hex: string;
  name: string;
  bits: 32 | 64;
}
const X86_64: Arch = { abi: "b64", hex: "c000003e", name: "x86_64", bits: 64 };
const I386: Arch = { abi: "b32", hex: "40000003", name: "i386", bits: 32 };

export const KILL_SYSCALLS = ["kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_send_signal"] as const;
export type KillSyscall = (typeof KILL_SYSCALLS)[number];
const KILL_NR: Record<"b64" | "b32", Record<KillSyscall, number>> = {
  b64: { kill: 62, tkill: 200, tgkill: 234, rt_sigqueueinfo: 129, rt_tgsigqueueinfo: 297, pidfd_send_signal: 424 },
  b32: { kill: 37, tkill: 238, tgkill: 270, rt_sigqueueinfo: 178, rt_tgsigqueueinfo: 335, pidfd_send_signal: 424 },
};
const NR = {
  b64: { execve: 59, openat: 257, connect: 42, write: 1, sendto: 44 },
  b32: { execve: 11, openat: 295, connect: 362, write: 4, sendto: 369 },
};

/** Programs that get exec'd; exe paths with spaces and odd comms on purpose. */
const PROGRAMS: readonly { exe: string; comm: string; argv: readonly (readonly string[])[] }[] = [
  { exe: "/usr/bin/ls", comm: "ls", argv: [["ls", "--color=auto", "-la"], ["ls", "/var/log"], ["ls", "-1", "My Documents"]] },
  { exe: "/usr/bin/cat", comm: "cat", argv: [["cat", "/etc/os-release"], ["cat", "/proc/meminfo"]] },
  { exe: "/usr/bin/grep", comm: "grep", argv: [["grep", "-r", "TODO", "src/"], ["grep", "--color=auto", "-e", "[:alpha:]", "/etc/passwd"], ["grep", "-i", "out of memory", "/var/log/syslog"]] },
  { exe: "/usr/bin/python3.11", comm: "python3", argv: [["python3", "manage.py", "runserver"], ["/usr/bin/python3", "-m", "pip", "list"], ["python3", "/opt/jobs/report.py", "--since", "yesterday 00:00"]] },
  { exe: "/usr/bin/git", comm: "git", argv: [["git", "status"], ["git", "fetch", "--all"], ["git", "commit", "-m", "fix: don't drop the last line"]] },
  { exe: "/usr/bin/curl", comm: "curl", argv: [["curl", "-fsS", "https://api.example.com/v1/health"], ["curl", "-o", "/tmp/x.tar.gz", "https://example.org/x.tar.gz"]] },
  { exe: "/usr/bin/sleep", comm: "sleep", argv: [["sleep", "30"], ["sleep", "infinity"], ["sleep", "3600"]] },
  { exe: "/usr/bin/bash", comm: "bash", argv: [["bash"], ["-bash"], ["/bin/bash", "-c", "echo hello; sleep 5"]] },
  { exe: "/usr/bin/dash", comm: "sh", argv: [["/bin/sh", "-c", "run-parts --report /etc/cron.hourly"], ["sh", "-c", "test -x /usr/sbin/anacron || ( cd / && run-parts --report /etc/cron.daily )"]] },
  { exe: "/usr/sbin/logrotate", comm: "logrotate", argv: [["/usr/sbin/logrotate", "/etc/logrotate.conf"]] },
  { exe: "/usr/bin/ssh", comm: "ssh", argv: [["ssh", "-o", "BatchMode=yes", "backup@10.0.0.7", "uptime"]] },
  { exe: "/usr/bin/node", comm: "node", argv: [["node", "server.js"], ["/usr/bin/node", "/srv/app/dist/index.js", "--port", "8080"]] },
  { exe: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", comm: "java", argv: [["java", "-Xmx2g", "-jar", "/opt/svc/app.jar"]] },
  { exe: "/opt/Sync Agent/bin/agentd", comm: "agentd", argv: [["/opt/Sync Agent/bin/agentd", "--config", "/etc/sync agent.conf"]] },
  { exe: "/usr/bin/tmux", comm: "tmux: client", argv: [["tmux", "attach", "-t", "main"]] },
  { exe: "/usr/lib/firefox/firefox", comm: "Web Content", argv: [["/usr/lib/firefox/firefox", "-contentproc", "-childID", "3", "-isForBrowser", "tab"]] },
  { exe: "/usr/local/bin/naïve-sync", comm: "naïve-sync", argv: [["naïve-sync", "--watch", "/srv/data"]] },
  { exe: "/usr/bin/systemctl", comm: "systemctl", argv: [["systemctl", "restart", "nginx.service"], ["systemctl", "status", "cron"]] },
  { exe: "/usr/bin/apt-get", comm: "apt-get", argv: [["apt-get", "update"], ["apt-get", "-y", "install", "htop"]] },
];

const DAEMONS: readonly { comm: string; exe: string; argv: string[]; uid: number }[] = [
  { comm: "nginx", exe: "/usr/sbin/nginx", argv: ["nginx: master process /usr/sbin/nginx -g daemon on; master_process on;"], uid: 0 },
  { comm: "nginx", exe: "/usr/sbin/nginx", argv: ["nginx: worker process"], uid: 33 },
  { comm: "postgres", exe: "/usr/lib/postgresql/16/bin/postgres", argv: ["postgres: 16/main: checkpointer "], uid: 113 },
  { comm: "redis-server", exe: "/usr/bin/redis-server", argv: ["/usr/bin/redis-server 127.0.0.1:6379"], uid: 114 },
  { comm: "node_exporter", exe: "/usr/local/bin/node_exporter", argv: ["/usr/local/bin/node_exporter", "--collector.systemd"], uid: 998 },
  { comm: "containerd", exe: "/usr/bin/containerd", argv: ["/usr/bin/containerd"], uid: 0 },
  { comm: "dockerd", exe: "/usr/bin/dockerd", argv: ["/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"], uid: 0 },
  { comm: "sshd", exe: "/usr/sbin/sshd", argv: ["sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"], uid: 0 },
  { comm: "cron", exe: "/usr/sbin/cron", argv: ["/usr/sbin/cron", "-f", "-P"], uid: 0 },
  { comm: "java", exe: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java", argv: ["java", "-Xmx2g", "-jar", "/opt/svc/app.jar"], uid: 1003 },
  { comm: "python3", exe: "/usr/bin/python3.11", argv: ["/usr/bin/python3", "/usr/bin/supervisord", "-n", "-c", "/etc/supervisor/supervisord.conf"], uid: 0 },
  { comm: "agentd", exe: "/opt/Sync Agent/bin/agentd", argv: ["/opt/Sync Agent/bin/agentd", "--daemon"], uid: 0 },
  { comm: "tmux: server", exe: "/usr/bin/tmux", argv: ["tmux", "new-session", "-d", "-s", "main"], uid: 1000 },
];

const VICTIM_COMMS = ["sleep", "python3", "nginx", "node", "java", "postgres", "bash", "Web Content", "chrome", "tmux: server", "make", "cc1plus", "rsync", "worker\"1", "naïve-sync", "stress-ng"];

const SERVICES = ["apt-daily", "apt-daily-upgrade", "logrotate", "man-db", "systemd-tmpfiles-clean", "fstrim", "motd-news", "certbot", "nginx", "phpsessionclean", "sysstat-collect", "user@1000", "user-runtime-dir@1000", "session-42.scope"];

const FILES = ["/etc/shadow", "/etc/passwd", "/etc/sudoers", "/etc/ssh/sshd_config", "/var/log/auth.log", "/root/.ssh/authorized_keys", "/home/alice/.bash_history", "/etc/ld.so.cache", "/etc/nsswitch.conf", "/srv/data/report 2024.csv", "/tmp/.X11-unix/X0", "/var/lib/dpkg/lock-frontend"];

const REMOTE_V4 = ["10.0.0.7", "10.0.3.15", "192.168.1.20", "172.17.0.2", "93.184.216.34", "140.82.121.4", "127.0.0.1", "169.254.169.254"];
const UNIX_SOCKETS = ["/run/systemd/journal/socket", "/var/run/nscd/socket", "/run/dbus/system_bus_socket", "/var/run/docker.sock", "/run/user/1000/bus", "/tmp/.X11-unix/X0"];

// ---------------------------------------------------------------- output bookkeeping

export interface KillCounts {
  /** Kill-family SYSCALL records (one per event). */
  total: number;
  /** Those with signal 0 (existence probes). */
  probes: number;
  failed: number;
  esrch: number;
  eperm: number;
  group: number;
  /** Keyed `b64 kill`, `b32 tgkill`, … */
  byAbiName: Record<string, number>;
}

export interface GenStats {
  generatorVersion: number;
  seed: number;
  targetLines: number;
  lines: number;
  bytes: number;
  /** Distinct event ids (time:serial). */
  events: number;
  /**
   * What `ausearch` counts as events (`----` blocks): auparse ends an event at
   * a LOGIN record, so LOGIN + SYSCALL + PROCTITLE sharing one id count twice.
   */
  ausearchEvents: number;
  /** Lines carrying the 0x1d-separated ENRICHED tail. */
  enrichedLines: number;
  /** Lines written inside ENRICHED stretches (with or without a tail: EXECVE, CWD… have none). */
  enrichedFormatLines: number;
  recordTypes: Record<string, number>;
  kill: KillCounts;
  firstTime: string;
  lastTime: string;
}

interface Profile {
  enriched: boolean;
  lsm: "none" | "selinux" | "apparmor";
}

/** Builds events one by one; `emit` receives whole lines without "\n". */
export class AuditLogGenerator {
  private readonly rng: Rng;
  private readonly emit: (line: string) => void;
  private ms: number;
  private serial: number;
  private nextPid = 2400;
  private nextSes = 3;
  private profile: Profile = { enriched: false, lsm: "none" };
  private profileLeft = 0;
  private readonly daemons: Proc[] = [];
  private readonly shells: Proc[] = [];
  readonly stats: GenStats;

  constructor(seed: number, emit: (line: string) => void, targetLines = 0) {
    this.rng = new Rng(seed);
    this.emit = emit;
    // 2025-03-02T08:00:00Z: fixed, so output is independent of the clock.
    this.ms = 1_740_902_400_000;
    this.serial = 1_000_000 + this.rng.int(0, 99_999);
    this.stats = {
      generatorVersion: GENERATOR_VERSION,
      seed,
      targetLines,
      lines: 0,
      bytes: 0,
      events: 0,
      ausearchEvents: 0,
      enrichedLines: 0,
      enrichedFormatLines: 0,
      recordTypes: {},
      kill: { total: 0, probes: 0, failed: 0, esrch: 0, eperm: 0, group: 0, byAbiName: {} },
      firstTime: "",
      lastTime: "",
    };
    for (const abi of ["b64", "b32"]) for (const name of KILL_SYSCALLS) this.stats.kill.byAbiName[`${abi} ${name}`] = 0;
    for (const d of DAEMONS) {
      this.daemons.push({
        pid: this.allocPid(),
        ppid: 1,
        comm: d.comm,
        exe: d.exe,
        argv: d.argv,
        uid: d.uid,
        gid: USER_GID[d.uid] ?? d.uid,
        euid: d.uid,
        auid: UNSET,
        ses: UNSET,
        tty: "(none)",
        cwd: "/",
      });
    }
    for (const uid of [1000, 1001, 1002, 0, 1003]) this.shells.push(this.newShell(uid));
  }

  // --- helpers

  private allocPid(): number {
    this.nextPid += this.rng.int(1, 40);
    if (this.nextPid > 4_194_000) this.nextPid = 300 + this.rng.int(0, 1000);
    return this.nextPid;
  }

  private newShell(uid: number): Proc {
    const tty = `pts${this.rng.int(0, 9)}`;
    return {
      pid: this.allocPid(),
      ppid: this.allocPid(),
      comm: "bash",
      exe: "/usr/bin/bash",
      argv: ["-bash"],
      uid,
      gid: USER_GID[uid] ?? uid,
      euid: uid,
      auid: uid === 0 ? 1000 : uid,
      ses: this.nextSes++,
      tty,
      cwd: uid === 0 ? "/root" : `/home/${USERS[uid] ?? "user"}`,
    };
  }

  private subj(kind: "user" | "daemon" | "init" = "user"): string {
    if (this.profile.lsm === "selinux") {
      if (kind === "init") return "system_u:system_r:init_t:s0";
      if (kind === "daemon") return "system_u:system_r:unconfined_service_t:s0";
      return "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023";
    }
    if (this.profile.lsm === "apparmor") return "unconfined";
    return "";
  }

  private advance(meanMs: number): void {
    this.ms += Math.round(this.rng.exp(meanMs));
  }

  private stamp(): string {
    const sec = Math.floor(this.ms / 1000);
    const milli = this.ms % 1000;
    return `${sec}.${String(milli).padStart(3, "0")}:${this.serial}`;
  }

  /** Start a new event: new serial (with the occasional gap real logs show). */
  private beginEvent(meanGapMs = 40): string {
    this.advance(meanGapMs);
    this.serial += this.rng.chance(0.03) ? this.rng.int(2, 6) : 1;
    if (this.profileLeft-- <= 0) {
      this.profile = {
        enriched: !this.profile.enriched,
        lsm: this.rng.weighted([[5, "none"], [3, "apparmor"], [2, "selinux"]] as const),
      };
      this.profileLeft = 200 + this.rng.int(0, 1800);
    }
    this.stats.events++;
    this.stats.ausearchEvents++;
    const id = this.stamp();
    if (this.stats.firstTime === "") this.stats.firstTime = id;
    this.stats.lastTime = id;
    return id;
  }

  private record(id: string, type: string, body: string, enrich?: string): void {
    let line = `type=${type} msg=audit(${id}): ${body}`;
    if (this.profile.enriched) this.stats.enrichedFormatLines++;
    if (this.profile.enriched && enrich) {
      line += `\x1d${enrich}`;
      this.stats.enrichedLines++;
    }
    this.stats.lines++;
    // Every non-ASCII byte goes through untrusted()/proctitle() and comes out hex, so length == bytes.
    this.stats.bytes += line.length + 1;
    this.stats.recordTypes[type] = (this.stats.recordTypes[type] ?? 0) + 1;
    this.emit(line);
  }

  private uidTail(pairs: readonly (readonly [string, number])[], group = new Set<string>()): string {
    return pairs.map(([k, v]) => `${k}="${group.has(k) ? groupName(v) : userName(v)}"`).join(" ");
  }

  private syscall(id: string, p: Proc, arch: Arch, nr: number, name: string, exit: number, args: readonly string[], items: number, key: string | null): void {
    const success = exit >= 0 ? "yes" : "no";
    const per = arch.abi === "b32" && this.rng.chance(0.2) ? " per=400000" : "";
    const subj = p.subj ?? this.subj(p.auid === UNSET ? "daemon" : "user");
    const body =
      `arch=${arch.hex} syscall=${nr}${per} success=${success} exit=${exit} a0=${args[0]} a1=${args[1]} a2=${args[2]} a3=${args[3]} items=${items} ` +
      `ppid=${p.ppid} pid=${p.pid} auid=${p.auid} uid=${p.uid} gid=${p.gid} euid=${p.euid} suid=${p.euid} fsuid=${p.euid} ` +
      `egid=${p.gid} sgid=${p.gid} fsgid=${p.gid} tty=${p.tty} ses=${p.ses} comm=${untrusted(p.comm)} exe=${untrusted(p.exe)}` +
      `${subj ? ` subj=${subj}` : ""} key=${key === null ? "(null)" : `"${key}"`}`;
    const tail =
      `ARCH=${arch.name} SYSCALL=${name} ` +
      this.uidTail(
        [["AUID", p.auid], ["UID", p.uid], ["GID", p.gid], ["EUID", p.euid], ["SUID", p.euid], ["FSUID", p.euid], ["EGID", p.gid], ["SGID", p.gid], ["FSGID", p.gid]],
        GROUP_FIELDS,
      );
    this.record(id, "SYSCALL", body, tail);
  }

  private ptr(arch: Arch): string {
    return arch.bits === 64 ? `7ff${this.rng.hex(9)}` : `ff${this.rng.hex(6)}`;
  }
  private heapPtr(arch: Arch): string {
    return arch.bits === 64 ? `5${this.rng.hex(11)}` : `${this.rng.int(8, 9)}${this.rng.hex(7)}`;
  }

  private proctitleRecord(id: string, argv: readonly string[]): void {
    this.record(id, "PROCTITLE", `proctitle=${proctitle(argv)}`);
  }

  private cwdRecord(id: string, cwd: string): void {
    this.record(id, "CWD", `cwd=${untrusted(cwd)}`);
  }

  private pathRecord(id: string, item: number, name: string, nametype: string, ouid = 0, ogid = 0, mode = "0100755"): void {
    if (nametype === "UNKNOWN") {
      this.record(id, "PATH", `item=${item} name=${untrusted(name)} nametype=UNKNOWN cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`);
      return;
    }
    const obj = this.profile.lsm === "selinux" ? " obj=system_u:object_r:bin_t:s0" : "";
    this.record(
      id,
      "PATH",
      `item=${item} name=${untrusted(name)} inode=${this.rng.int(1000, 9_999_999)} dev=fd:0${this.rng.int(0, 3)} mode=${mode} ouid=${ouid} ogid=${ogid} rdev=00:00${obj} nametype=${nametype} cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`,
      `OUID="${userName(ouid)}" OGID="${groupName(ogid)}"`,
    );
  }

  private child(parent: Proc, prog: { exe: string; comm: string }, argv: string[]): Proc {
    return { ...parent, pid: this.allocPid(), ppid: parent.pid, comm: prog.comm.slice(0, 15), exe: prog.exe, argv, subj: undefined };
  }

  private anyProc(): Proc {
    return this.rng.chance(0.5) ? this.rng.pick(this.shells) : this.rng.pick(this.daemons);
  }

  // --- scenarios

  private execve(parent: Proc, prog = this.rng.pick(PROGRAMS), argv = [...this.rng.pick(prog.argv)]): Proc {
    const arch = this.rng.chance(0.03) ? I386 : X86_64;
    const proc = this.child(parent, prog, argv);
    const id = this.beginEvent();
    const key = this.rng.weighted([[6, null], [3, "exec"], [1, "susp_exec"]] as const);
    if (this.rng.chance(0.03)) {
      this.syscall(id, proc, arch, NR[arch.abi].execve, "execve", -2, [this.heapPtr(arch), this.heapPtr(arch), this.heapPtr(arch), "0"], 1, key);
      this.cwdRecord(id, proc.cwd);
      this.pathRecord(id, 0, `/usr/local/bin/${prog.comm.replace(/\W/g, "")}`, "UNKNOWN");
      this.proctitleRecord(id, parent.argv);
      return proc;
    }
    this.syscall(id, proc, arch, NR[arch.abi].execve, "execve", 0, [this.heapPtr(arch), this.heapPtr(arch), this.heapPtr(arch), arch.bits === 64 ? "fffffffffffff000" : "0"], 2, key);
    this.record(id, "EXECVE", `argc=${argv.length} ` + argv.map((a, i) => `a${i}=${untrusted(a)}`).join(" "));
    this.cwdRecord(id, proc.cwd);
    this.pathRecord(id, 0, prog.exe, "NORMAL");
    this.pathRecord(id, 1, arch.bits === 64 ? "/lib64/ld-linux-x86-64.so.2" : "/lib/ld-linux.so.2", "NORMAL");
    this.proctitleRecord(id, argv);
    return proc;
  }

  private openat(): void {
    const p = this.anyProc();
    const arch = this.rng.chance(0.02) ? I386 : X86_64;
    const id = this.beginEvent();
    const file = this.rng.pick(FILES);
    const create = this.rng.chance(0.15);
    const exit = this.rng.weighted([[6, this.rng.int(3, 40)], [2, -13], [1, -2]] as const);
    const flags = create ? "241" : this.rng.pick(["0", "80000", "2", "902"]);
    const items = create ? 2 : 1;
    this.syscall(id, p, arch, NR[arch.abi].openat, "openat", exit, [arch.bits === 64 ? "ffffff9c" : "ffffff9c", this.heapPtr(arch), flags, create ? "1b6" : "0"], items, this.rng.pick(["perm_access", "identity", null, null]));
    this.cwdRecord(id, p.cwd);
    if (create) {
      const dir = file.slice(0, file.lastIndexOf("/")) || "/";
      this.pathRecord(id, 0, dir, "PARENT", 0, 0, "040755");
      this.pathRecord(id, 1, file, exit === -2 ? "UNKNOWN" : "CREATE", p.uid, p.gid, "0100644");
    } else if (exit === -2) {
      this.pathRecord(id, 0, file, "UNKNOWN");
    } else {
      this.pathRecord(id, 0, file, "NORMAL", 0, 0, "0100640");
    }
    this.proctitleRecord(id, p.argv);
  }

  private connect(): void {
    const p = this.anyProc();
    const id = this.beginEvent();
    const fam = this.rng.weighted([[5, "inet"], [2, "inet6"], [4, "local"]] as const);
    let saddr: string;
    let interp: string;
    let len: number;
    if (fam === "inet") {
      const ip = this.rng.pick(REMOTE_V4);
      const port = this.rng.pick([80, 443, 5432, 6379, 53, 22, 9100]);
      saddr = "0200" + port.toString(16).padStart(4, "0") + ip.split(".").map((o) => Number(o).toString(16).padStart(2, "0")).join("") + "0000000000000000";
      interp = `{ saddr_fam=inet laddr=${ip} lport=${port} }`;
      len = 16;
    } else if (fam === "inet6") {
      const port = this.rng.pick([443, 80, 53]);
      const tail = this.rng.int(1, 0xffff);
      saddr = "0A00" + port.toString(16).padStart(4, "0") + "00000000" + "2a02cf4000000000000000000000" + tail.toString(16).padStart(4, "0") + "00000000";
      interp = `{ saddr_fam=inet6 laddr=2a02:cf40::${tail.toString(16)} lport=${port} }`;
      len = 28;
    } else {
      const path = this.rng.pick(UNIX_SOCKETS);
      saddr = "0100" + hexUpper(utf8.encode(path)) + "00";
      interp = `{ saddr_fam=local path=${path} }`;
      len = 2 + path.length + 1;
    }
    saddr = saddr.toUpperCase();
    const exit = fam === "local" ? this.rng.weighted([[8, 0], [1, -2], [1, -111]] as const) : this.rng.weighted([[5, 0], [4, -115], [1, -111]] as const);
    this.syscall(id, p, X86_64, NR.b64.connect, "connect", exit, [this.rng.int(3, 60).toString(16), this.ptr(X86_64), len.toString(16), "0"], 0, this.rng.pick(["network_connect", null]));
    this.record(id, "SOCKADDR", `saddr=${saddr}`, `SADDR=${interp}`);
    this.proctitleRecord(id, p.argv);
  }

  /** A user-space record with nested msg='…' (pam, systemd, sudo). */
  private userRecord(type: string, pid: number, uid: number, auid: number, ses: number, msg: string, subjKind: "user" | "daemon" | "init" = "daemon", extraTail = ""): void {
    const id = this.beginEvent(this.rng.chance(0.7) ? 3 : 40);
    const subj = this.subj(subjKind);
    this.record(
      id,
      type,
      `pid=${pid} uid=${uid} auid=${auid} ses=${ses}${subj ? ` subj=${subj}` : ""} msg='${msg}'`,
      `UID="${userName(uid)}" AUID="${userName(auid)}"${extraTail}`,
    );
  }

  private loginRecord(pid: number, auid: number, ses: number): void {
    const id = this.beginEvent(2);
    const subj = this.subj("daemon");
    this.record(id, "LOGIN", `pid=${pid} uid=0${subj ? ` subj=${subj}` : ""} old-auid=4294967295 auid=${auid} tty=(none) old-ses=4294967295 ses=${ses} res=1`, `UID="root" OLD-AUID="unset" AUID="${userName(auid)}"`);
    if (this.rng.chance(0.4)) {
      // The kernel logs the loginuid write together with the syscall when a rule matches it.
      const p: Proc = { pid, ppid: 1, comm: "cron", exe: "/usr/sbin/cron", argv: ["/usr/sbin/CRON", "-f", "-P"], uid: 0, gid: 0, euid: 0, auid, ses, tty: "(none)", cwd: "/" };
      this.syscall(id, p, X86_64, NR.b64.write, "write", 4, ["7", this.ptr(X86_64), "4", "0"], 0, null);
      this.stats.ausearchEvents++;
      this.proctitleRecord(id, p.argv);
    }
  }

  private cronJob(): void {
    const pid = this.allocPid();
    const user = this.rng.pick([0, 0, 1003, 33]);
    const acct = userName(user);
    const pam = (op: string, grantors: string) => `op=PAM:${op} grantors=${grantors} acct="${acct}" exe="/usr/sbin/cron" hostname=? addr=? terminal=cron res=success`;
    this.userRecord("USER_ACCT", pid, 0, UNSET, UNSET, pam("accounting", "pam_permit"));
    this.userRecord("CRED_ACQ", pid, 0, UNSET, UNSET, pam("setcred", "pam_permit,pam_cap"));
    const ses = this.nextSes++;
    this.loginRecord(pid, user, ses);
    this.userRecord("USER_START", pid, 0, user, ses, pam("session_open", "pam_loginuid,pam_env,pam_env,pam_permit,pam_unix,pam_limits"));
    this.userRecord("CRED_REFR", pid, 0, user, ses, pam("setcred", "pam_permit,pam_cap"));
    const job: Proc = { pid, ppid: this.daemons[8]!.pid, comm: "cron", exe: "/usr/sbin/cron", argv: ["/usr/sbin/CRON", "-f", "-P"], uid: user, gid: USER_GID[user] ?? user, euid: user, auid: user, ses, tty: "(none)", cwd: user === 0 ? "/root" : "/" };
    const sh = this.execve(job, PROGRAMS[8]!);
    if (this.rng.chance(0.5)) this.execve(sh);
    this.userRecord("CRED_DISP", pid, 0, user, ses, pam("setcred", "pam_permit,pam_cap"));
    this.userRecord("USER_END", pid, 0, user, ses, pam("session_close", "pam_loginuid,pam_env,pam_env,pam_permit,pam_unix,pam_limits"));
  }

  private sudo(): void {
    const shell = this.rng.pick(this.shells.filter((s) => s.uid !== 0));
    const pid = this.allocPid();
    const acct = userName(shell.uid);
    const term = `/dev/${shell.tty.replace("pts", "pts/")}`;
    const prog = this.rng.pick(PROGRAMS);
    const argv = [...this.rng.pick(prog.argv)];
    this.userRecord("USER_ACCT", pid, shell.uid, shell.auid, shell.ses, `op=PAM:accounting grantors=pam_permit acct="${acct}" exe="/usr/bin/sudo" hostname=? addr=? terminal=${term} res=success`, "user");
    this.userRecord(
      "USER_CMD",
      pid,
      shell.uid,
      shell.auid,
      shell.ses,
      `cwd=${untrusted(shell.cwd)} cmd=${hexUpper(utf8.encode(argv.join(" ")))} exe="/usr/bin/sudo" terminal=${shell.tty.replace("pts", "pts/")} res=success`,
      "user",
    );
    this.userRecord("CRED_REFR", pid, 0, shell.auid, shell.ses, `op=PAM:setcred grantors=pam_permit acct="root" exe="/usr/bin/sudo" hostname=? addr=? terminal=${term} res=success`, "user");
    this.userRecord("USER_START", pid, 0, shell.auid, shell.ses, `op=PAM:session_open grantors=pam_limits,pam_permit,pam_unix acct="root" exe="/usr/bin/sudo" hostname=? addr=? terminal=${term} res=success`, "user");
    const rootProc: Proc = { ...shell, pid, ppid: shell.pid, comm: "sudo", exe: "/usr/bin/sudo", argv: ["sudo", ...argv], uid: 0, gid: 0, euid: 0 };
    this.execve(rootProc, prog, argv);
    this.userRecord("USER_END", pid, 0, shell.auid, shell.ses, `op=PAM:session_close grantors=pam_limits,pam_permit,pam_unix acct="root" exe="/usr/bin/sudo" hostname=? addr=? terminal=${term} res=success`, "user");
    this.userRecord("CRED_DISP", pid, 0, shell.auid, shell.ses, `op=PAM:setcred grantors=pam_permit acct="root" exe="/usr/bin/sudo" hostname=? addr=? terminal=${term} res=success`, "user");
  }

  private sshLogin(): void {
    const pid = this.allocPid();
    const uid = this.rng.pick([1000, 1001, 1002, 1003]);
    const acct = userName(uid);
    const addr = this.rng.pick(["10.0.0.23", "192.168.1.50", "203.0.113.9"]);
    const sshd = (op: string, extra = "") => `op=${op}${extra} acct="${acct}" exe="/usr/sbin/sshd" hostname=${addr} addr=${addr} terminal=ssh res=success`;
    this.userRecord("USER_AUTH", pid, 0, UNSET, UNSET, `op=pubkey_auth grantors=auth-key acct="${acct}" exe="/usr/sbin/sshd" hostname=? addr=${addr} terminal=? res=success`);
    this.userRecord("USER_ACCT", pid, 0, UNSET, UNSET, sshd("PAM:accounting", " grantors=pam_permit"));
    this.userRecord("CRED_ACQ", pid, 0, UNSET, UNSET, sshd("PAM:setcred", " grantors=pam_permit,pam_cap"));
    const ses = this.nextSes++;
    this.loginRecord(pid, uid, ses);
    this.userRecord("USER_START", pid, 0, uid, ses, sshd("PAM:session_open", " grantors=pam_selinux,pam_loginuid,pam_keyinit,pam_permit,pam_umask,pam_unix,pam_systemd,pam_mail,pam_limits,pam_env,pam_env,pam_selinux,pam_keyinit"));
    this.userRecord("CRED_REFR", pid, 0, uid, ses, sshd("PAM:setcred", " grantors=pam_permit,pam_cap"));
    this.userRecord("USER_LOGIN", pid, 0, uid, ses, `op=login id=${uid} exe="/usr/sbin/sshd" hostname=${addr} addr=${addr} terminal=/dev/pts/${this.rng.int(0, 9)} res=success`, "daemon", ` ID="${acct}"`);
    // The shell this login produced replaces an old one, so kill victims and killers rotate.
    const slot = this.rng.int(0, this.shells.length - 1);
    const shell = this.newShell(uid);
    shell.ses = ses;
    this.shells[slot] = shell;
    this.execve({ ...shell, pid: pid, comm: "sshd", exe: "/usr/sbin/sshd" }, PROGRAMS[7]!, ["-bash"]);
  }

  private sshFail(): void {
    const pid = this.allocPid();
    const acct = this.rng.pick(["admin", "oracle", "test", "ubuntu", "root", "git", "user's"]);
    const addr = `198.51.100.${this.rng.int(1, 254)}`;
    this.userRecord("USER_AUTH", pid, 0, UNSET, UNSET, `op=PAM:authentication grantors=? acct="${acct}" exe="/usr/sbin/sshd" hostname=${addr} addr=${addr} terminal=ssh res=failed`);
    if (this.rng.chance(0.5)) this.userRecord("USER_ERR", pid, 0, UNSET, UNSET, `op=PAM:bad_ident grantors=? acct="?" exe="/usr/sbin/sshd" hostname=${addr} addr=${addr} terminal=ssh res=failed`);
    this.userRecord("USER_LOGIN", pid, 0, UNSET, UNSET, `op=login acct="${acct}" exe="/usr/sbin/sshd" hostname=? addr=${addr} terminal=sshd res=failed`);
  }

  private service(): void {
    const unit = this.rng.pick(SERVICES);
    const msg = (res: string) => `unit=${unit} comm="systemd" exe="/usr/lib/systemd/systemd" hostname=? addr=? terminal=? res=${res}`;
    const res = this.rng.chance(0.95) ? "success" : "failed";
    this.userRecord("SERVICE_START", 1, 0, UNSET, UNSET, msg(res), "init");
    if (this.rng.chance(0.7)) this.userRecord("SERVICE_STOP", 1, 0, UNSET, UNSET, msg("success"), "init");
  }

  /**
   * An SELinux denial with its syscall. AppArmor-style AVCs (apparmor="DENIED")
   * are left out on purpose: ausearch 3.0.9 drops every event containing one,
   * which would break the "ausearch sees every event" cross-check.
   */
  private avc(): void {
    if (this.profile.lsm !== "selinux") {
      this.openat();
      return;
    }
    const p = this.rng.pick(this.daemons);
    const id = this.beginEvent();
    const file = this.rng.pick(FILES);
    const name = file.slice(file.lastIndexOf("/") + 1);
    this.record(
      id,
      "AVC",
      `avc:  denied  { read } for  pid=${p.pid} comm=${untrusted(p.comm)} name=${untrusted(name)} dev="dm-0" ino=${this.rng.int(1000, 9_999_999)} scontext=system_u:system_r:httpd_t:s0 tcontext=unconfined_u:object_r:user_home_t:s0 tclass=file permissive=0`,
    );
    this.syscall(id, p, X86_64, NR.b64.openat, "openat", -13, ["ffffff9c", this.heapPtr(X86_64), "80000", "0"], 1, null);
    this.cwdRecord(id, p.cwd);
    this.pathRecord(id, 0, file, "NORMAL", 0, 0, "0100640");
    this.proctitleRecord(id, p.argv);
  }

  private abend(): void {
    const p = this.anyProc();
    const id = this.beginEvent();
    const subj = this.subj("user");
    this.record(
      id,
      "ANOM_ABEND",
      `auid=${p.auid} uid=${p.uid} gid=${p.gid} ses=${p.ses}${subj ? ` subj=${subj}` : ""} pid=${p.pid} comm=${untrusted(p.comm)} exe=${untrusted(p.exe)} sig=${this.rng.pick([11, 6, 7])} res=1`,
      `AUID="${userName(p.auid)}" UID="${userName(p.uid)}" GID="${groupName(p.gid)}"`,
    );
  }

  private configChange(): void {
    const pid = this.allocPid();
    const id = this.beginEvent();
    const op = this.rng.pick(["add_rule", "remove_rule"]);
    this.record(id, "CONFIG_CHANGE", `auid=1000 ses=${this.shells[0]!.ses} op=${op} key="wk-kill" list=4 res=1`, `AUID="alice"`);
    const p: Proc = { ...this.shells[0]!, pid, ppid: this.shells[0]!.pid, comm: "auditctl", exe: "/usr/sbin/auditctl", argv: ["auditctl", "-a", "always,exit", "-F", "arch=b64", "-S", "kill", "-k", "wk-kill"], uid: 0, gid: 0, euid: 0 };
    this.syscall(id, p, X86_64, NR.b64.sendto, "sendto", 1076, ["4", this.ptr(X86_64), "434", "0"], 0, null);
    this.record(id, "SOCKADDR", "saddr=100000000000000000000000", "SADDR={ saddr_fam=netlink nlnk-fam=16 nlnk-pid=0 }");
    this.proctitleRecord(id, p.argv);
  }

  /** One kill-family syscall (or a short burst of them, as pkill/systemd do). */
  private killFamily(): void {
    const arch = this.rng.chance(0.15) ? I386 : X86_64;
    type Killer = { proc: Proc; calls: readonly (readonly [number, KillSyscall])[]; sigs: readonly (readonly [number, number])[] };
    const shell = this.rng.pick(this.shells);
    const d = this.daemons;
    const killers: readonly (readonly [number, () => Killer])[] =
      arch.abi === "b64"
        ? [
            [20, () => ({ proc: shell, calls: [[1, "kill"]], sigs: [[5, 15], [4, 9], [1, 2], [1, 1], [1, 19], [1, 18]] })],
            [8, () => ({ proc: { ...this.child(shell, { exe: "/usr/bin/kill", comm: "kill" }, ["kill", "-9", String(this.rng.int(300, 4_000_000))]) }, calls: [[1, "kill"]], sigs: [[1, 9]] })],
            [8, () => ({ proc: this.child(shell, { exe: "/usr/bin/pkill", comm: "pkill" }, ["pkill", "-f", "worker --queue default"]), calls: [[1, "kill"]], sigs: [[1, 15]] })],
            [14, () => ({ proc: { ...systemd }, calls: [[3, "pidfd_send_signal"], [1, "kill"]], sigs: [[6, 15], [3, 18], [2, 9], [1, 1]] })],
            [10, () => ({ proc: this.rng.pick([d[5]!, d[6]!, d[4]!]), calls: [[1, "tgkill"]], sigs: [[1, 23]] })],
            [5, () => ({ proc: d[9]!, calls: [[2, "tgkill"], [1, "tkill"]], sigs: [[1, 3], [1, 10]] })],
            [6, () => ({ proc: d[10]!, calls: [[1, "kill"]], sigs: [[3, 15], [1, 9], [1, 0]] })],
            [6, () => ({ proc: this.rng.pick([d[8]!, d[0]!, d[11]!]), calls: [[1, "kill"]], sigs: [[1, 0]] })],
            [4, () => ({ proc: d[12]!, calls: [[1, "kill"]], sigs: [[1, 1]] })],
            [3, () => ({ proc: this.child(shell, { exe: "/usr/bin/timeout", comm: "timeout" }, ["timeout", "30s", "rsync", "-a", "/srv/", "backup:/srv/"]), calls: [[1, "kill"]], sigs: [[3, 15], [1, 9]] })],
            [3, () => ({ proc: this.child(shell, { exe: "/usr/lib/firefox/firefox", comm: "firefox" }, ["/usr/lib/firefox/firefox"]), calls: [[2, "kill"], [1, "tgkill"]], sigs: [[1, 9], [1, 15]] })],
            [4, () => ({ proc: d[11]!, calls: [[3, "rt_sigqueueinfo"], [1, "rt_tgsigqueueinfo"]], sigs: [[3, 34], [1, 35], [1, 10]] })],
            [2, () => ({ proc: this.child(shell, { exe: "/usr/local/bin/naïve-sync", comm: "naïve-sync" }, ["naïve-sync", "--stop"]), calls: [[1, "kill"], [1, "rt_tgsigqueueinfo"]], sigs: [[1, 15], [1, 36]] })],
          ]
        : [
            [10, () => ({ proc: legacy, calls: [[6, "kill"], [1, "tkill"], [2, "tgkill"], [1, "rt_sigqueueinfo"], [1, "rt_tgsigqueueinfo"], [1, "pidfd_send_signal"]], sigs: [[5, 9], [3, 15], [1, 0], [1, 10], [1, 34]] })],
            [3, () => ({ proc: wine, calls: [[2, "tgkill"], [1, "tkill"], [1, "kill"]], sigs: [[2, 10], [1, 15], [1, 9]] })],
          ];
    const systemd: Proc = { pid: 1, ppid: 0, comm: "systemd", exe: "/usr/lib/systemd/systemd", argv: ["/sbin/init", "splash"], uid: 0, gid: 0, euid: 0, auid: UNSET, ses: UNSET, tty: "(none)", cwd: "/", subj: this.subj("init") };
    const legacy: Proc = {
      pid: 4299,
      ppid: 4274,
      comm: "roxen",
      exe: "/usr/local/roxen/server-4.5.241/pike/bin/pike",
      argv: ["/usr/local/roxen/server-4.5.241/pike/bin/pike", "-DRUN_SELF_TEST", "roxen.pike"],
      uid: 0,
      gid: 0,
      euid: 0,
      auid: UNSET,
      ses: UNSET,
      tty: "(none)",
      cwd: "/usr/local/roxen",
    };
    const wine: Proc = { ...shell, pid: 70123, ppid: shell.pid, comm: "Old App.exe", exe: "/opt/wine/bin/wine-preloader", argv: ["C:\\Program Files\\Old App\\Old App.exe"] };
    const killer = this.rng.weighted(killers)();
    const burst = killer.proc.comm === "pkill" ? this.rng.int(1, 4) : killer.proc.pid === 1 && this.rng.chance(0.3) ? 2 : 1;
    const groupPids = Array.from({ length: this.rng.int(2, 5) }, () => this.allocPid());
    for (let i = 0; i < burst; i++) {
      const name = this.rng.weighted(killer.calls);
      let sig = this.rng.weighted(killer.sigs);
      if (i === 1 && killer.proc.pid === 1) sig = 18; // systemd follows SIGTERM with SIGCONT
      this.killEvent(arch, killer.proc, name, sig, i === 0 ? undefined : groupPids[i % groupPids.length]);
    }
  }

  private killEvent(arch: Arch, killer: Proc, name: KillSyscall, sig: number, fixedTarget?: number): void {
    const id = this.beginEvent(this.rng.chance(0.5) ? 5 : 60);
    const k = this.stats.kill;
    k.total++;
    k.byAbiName[`${arch.abi} ${name}`]!++;
    if (sig === 0) k.probes++;
    const selfThread = name === "tgkill" || name === "tkill" || name === "rt_tgsigqueueinfo";
    const victimComm = selfThread && this.rng.chance(0.7) ? killer.comm : this.rng.pick(VICTIM_COMMS);
    const victimUid = this.rng.pick([0, 1000, 1001, 33, 113, 1003]);
    const victimPid = fixedTarget ?? (selfThread && victimComm === killer.comm ? killer.pid : this.allocPid());
    const tid = victimPid + this.rng.int(1, 60);
    // Outcome: ESRCH (gone; no OBJ_PID), EPERM (other user's process; OBJ_PID still logged), or success.
    const outcome = this.rng.weighted([[85, "ok"], [9, "esrch"], [killer.euid !== 0 ? 6 : 0, "eperm"]] as const);
    const group = name === "kill" && sig !== 0 && this.rng.chance(killer.comm === "tmux: server" ? 0.8 : 0.06);
    const everyone = group && this.rng.chance(0.05);
    let targets: number[] = [];
    if (outcome !== "esrch") targets = group ? Array.from({ length: everyone ? this.rng.int(6, 14) : this.rng.int(2, 5) }, (_, i) => (i === 0 ? victimPid : this.allocPid())) : [victimPid];
    if (group) k.group++;
    const exit = outcome === "ok" ? 0 : outcome === "esrch" ? -3 : -1;
    if (exit < 0) k.failed++;
    if (outcome === "esrch") k.esrch++;
    if (outcome === "eperm") k.eperm++;
    const bits = arch.bits;
    const junk = () => (this.rng.chance(0.5) ? "0" : this.ptr(arch));
    const pidArg = group ? regHex(everyone ? -1 : -victimPid, bits) : victimPid.toString(16);
    const sigHex = sig.toString(16);
    let args: string[];
    switch (name) {
      case "kill":
        args = [pidArg, sigHex, junk(), junk()];
        break;
      case "tkill":
        args = [tid.toString(16), sigHex, junk(), junk()];
        break;
      case "tgkill":
        args = [victimPid.toString(16), tid.toString(16), sigHex, junk()];
        break;
      case "rt_sigqueueinfo":
        args = [victimPid.toString(16), sigHex, this.ptr(arch), junk()];
        break;
      case "rt_tgsigqueueinfo":
        args = [victimPid.toString(16), tid.toString(16), sigHex, this.ptr(arch)];
        break;
      case "pidfd_send_signal":
        args = [this.rng.int(3, 90).toString(16), sigHex, "0", "0"];
        break;
    }
    const key = this.rng.weighted([[7, "wk-kill"], [2, null], [1, "kill_signals"]] as const);
    this.syscall(id, killer, arch, KILL_NR[arch.abi][name], name, exit, args, 0, key);
    const subjObj = this.profile.lsm === "selinux" ? " obj=unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023" : this.profile.lsm === "apparmor" ? " obj=unconfined" : "";
    for (const [i, opid] of targets.entries()) {
      const comm = i === 0 ? victimComm : this.rng.pick(VICTIM_COMMS);
      const ouid = outcome === "eperm" ? 0 : i === 0 ? victimUid : this.rng.pick([victimUid, 0]);
      const oauid = ouid === 0 && this.rng.chance(0.5) ? -1 : ouid;
      const oses = oauid === -1 ? -1 : this.rng.int(1, 900);
      this.record(id, "OBJ_PID", `opid=${opid} oauid=${oauid} ouid=${ouid} oses=${oses}${subjObj} ocomm=${untrusted(comm.slice(0, 15))}`, `OAUID="${userName(oauid)}" OUID="${userName(ouid)}"`);
    }
    this.proctitleRecord(id, killer.argv);
  }

  /** Emit one scenario (one or more events). */
  step(): void {
    const r = this.rng.float() * 1000;
    if (r < 240) this.execve(this.anyProc());
    else if (r < 470) this.openat();
    else if (r < 640) this.connect();
    else if (r < 700) this.cronJob();
    else if (r < 740) this.sudo();
    else if (r < 752) this.sshLogin();
    else if (r < 800) this.sshFail();
    else if (r < 900) this.service();
    else if (r < 970) this.avc();
    else if (r < 974) this.abend();
    else if (r < 975) this.configChange();
    else this.killFamily(); // ~1.5 % of events
  }
}

/** Generate about `lines` lines (the last event is completed). */
export function generate(opts: { seed: number; lines: number }, emit: (line: string) => void): GenStats {
  const gen = new AuditLogGenerator(opts.seed, emit, opts.lines);
  while (gen.stats.lines < opts.lines) gen.step();
  return gen.stats;
}

/** The whole log as one string (small sizes only: tests). */
export function generateString(opts: { seed: number; lines: number }): { text: string; stats: GenStats } {
  const parts: string[] = [];
  const stats = generate(opts, (line) => parts.push(line));
  const text = parts.join("\n") + "\n";
  stats.bytes = Buffer.byteLength(text);
  return { text, stats };
}

export function stampPath(logPath: string): string {
  return `${logPath}.stamp.json`;
}

/** The stamp of an existing log if it matches this generator, seed and size. */
export function readStamp(logPath: string, seed: number, lines: number): GenStats | null {
  return reusableStamp<GenStats>(logPath, (stats) => stats.generatorVersion === GENERATOR_VERSION && stats.seed === seed && stats.targetLines === lines);
}

/**
 * The stamp beside a generated log, if `current` accepts it and the log is
 * still there at the size the stamp records; else null (generate anew).
 */
export function reusableStamp<Stats extends { bytes: number }>(logPath: string, current: (stats: Stats) => boolean): Stats | null {
  try {
    const stats = JSON.parse(readFileSync(stampPath(logPath), "utf8")) as Stats;
    if (!current(stats)) return null;
    if (!existsSync(logPath) || statSync(logPath).size !== stats.bytes) return null;
    return stats;
  } catch {
    return null;
  }
}

/**
 * The lines `produce` writes, to `path`: through a temp file in 4 MB writes,
 * renamed into place only when complete and when `verify` (given what
 * produce returned and the bytes written) does not throw.
 */
export function writeLogFile<T>(path: string, produce: (write: (line: string) => void) => T, verify?: (result: T, bytes: number) => void): T {
  const dir = dirname(resolve(path));
  mkdirSync(dir, { recursive: true });
  // Keep 200 MB logs out of git even before the root .gitignore knows bench/.data/.
  if (dir.endsWith("/bench/.data") && !existsSync(`${dir}/.gitignore`)) writeFileSync(`${dir}/.gitignore`, "*\n");
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w");
  let buffered: string[] = [];
  let size = 0;
  const flush = () => {
    if (buffered.length === 0) return;
    writeSync(fd, buffered.join(""));
    buffered = [];
    size = 0;
  };
  let result: T;
  try {
    result = produce((line) => {
      buffered.push(line, "\n");
      size += line.length + 1;
      if (size >= 4 << 20) flush();
    });
    flush();
  } finally {
    closeSync(fd);
  }
  try {
    verify?.(result, statSync(tmp).size);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
  renameSync(tmp, path);
  return result;
}

/** Write the log to `logPath` (via a temp file) and its stamp; reuse if current. */
export function ensureLog(logPath: string, opts: { seed: number; lines: number; force?: boolean }): { stats: GenStats; reused: boolean; seconds: number } {
  if (!opts.force) {
    const existing = readStamp(logPath, opts.seed, opts.lines);
    if (existing) return { stats: existing, reused: true, seconds: 0 };
  }
  const started = performance.now();
  const stats = writeLogFile(
    logPath,
    (write) => generate(opts, write),
    (result, bytes) => {
      if (bytes !== result.bytes) throw new Error(`gen-log: wrote ${bytes} bytes, expected ${result.bytes} (a non-ASCII byte escaped hex encoding)`);
    },
  );
  writeFileSync(stampPath(logPath), JSON.stringify(stats, null, 2) + "\n");
  return { stats, reused: false, seconds: (performance.now() - started) / 1000 };
}

export function defaultLogPath(lines: number): string {
  return lines === DEFAULT_LINES ? DEFAULT_OUT : `bench/.data/audit-${lines}.log`;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    options: {
      lines: { type: "string" },
      seed: { type: "string" },
      force: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write("usage: bun bench/gen-log.ts [OUT] [--lines N] [--seed S] [--force]\n");
    process.exit(0);
  }
  const lines = values.lines ? Number(values.lines) : DEFAULT_LINES;
  const seed = values.seed ? Number(values.seed) : DEFAULT_SEED;
  if (!Number.isInteger(lines) || lines <= 0 || !Number.isInteger(seed)) {
    process.stderr.write("gen-log: --lines and --seed must be whole numbers\n");
    process.exit(2);
  }
  const out = positionals[0] ?? defaultLogPath(lines);
  const { stats, reused, seconds } = ensureLog(out, { seed, lines, force: values.force });
  process.stderr.write(
    `${reused ? "reused" : `generated in ${seconds.toFixed(1)} s:`} ${out}: ${stats.lines} lines, ${(stats.bytes / 1e6).toFixed(1)} MB, ${stats.events} events, ${stats.kill.total} kill-family (${stats.enrichedLines} enriched lines)\n`,
  );
}
