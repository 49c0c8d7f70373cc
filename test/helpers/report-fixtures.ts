/**
 * Hand-made SignalLines for the report tests: the seed scenario (roxen
 * SIGKILLing PID 26880) and a builder for variations.
 */
import type { Killer, SignalLine, Victim } from "../../lib/schema.ts";

export const ROXEN: Killer = {
  pid: 4299,
  ppid: 4274,
  comm: "roxen",
  exe: "/usr/local/roxen/server-4.5.241/pike/bin/pike",
  uid: 0,
  user: "root",
  auid: null,
  argv: [],
};

export interface SigSpec {
  id: string;
  /** ISO time, or epoch seconds. */
  time: string | number | null;
  killer?: Partial<Killer>;
  nr?: number;
  name?: string | null;
  success?: boolean | null;
  errno?: string | null;
  target?: number | null;
  scope?: SignalLine["target"]["scope"];
  victims?: Array<Partial<Victim>>;
  source?: "audit" | "tracefs" | "tracepoints";
  origin?: SignalLine["origin"];
  syscall?: string | null;
}

const NAMES: Record<number, string> = { 0: "", 1: "SIGHUP", 9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 15: "SIGTERM", 17: "SIGCHLD" };

export function sig(spec: SigSpec): SignalLine {
  const nr = spec.nr ?? 9;
  const time = typeof spec.time === "number" ? new Date(spec.time * 1000).toISOString() : spec.time;
  const success = spec.success === undefined ? true : spec.success;
  const target = spec.target === undefined ? 26880 : spec.target;
  const line: SignalLine = {
    kind: "signal",
    id: spec.id,
    node: null,
    time,
    syscall: spec.syscall === undefined ? (spec.source === "tracefs" ? null : "kill") : spec.syscall,
    arch: spec.source === "tracefs" ? null : "x86_64",
    signal: { nr, name: spec.name === undefined ? NAMES[nr] || null : spec.name },
    result: { success, errno: spec.errno ?? (success === false ? "ESRCH" : null) },
    killer: { ...ROXEN, ...spec.killer },
    target: { pid: target, scope: spec.scope ?? "process" },
    victims: (spec.victims ?? []).map((v) => ({ pid: v.pid ?? target, comm: v.comm ?? null, uid: v.uid ?? null, user: v.user ?? null })),
    key: null,
    source: spec.source ?? "audit",
  };
  if (nr === 0) line.probe = true;
  if (spec.origin) line.origin = spec.origin;
  return line;
}

/** The three SYSCALL records of the seed (ausearch-grep-kill.log), as attribute writes them. */
export function seedSignals(): SignalLine[] {
  return [
    sig({ id: "1285245427.433:22", time: "2010-09-23T12:37:07.433Z", victims: [{ pid: 26880, comm: "findpid", uid: 1010 }] }),
    sig({ id: "1285245427.433:23", time: "2010-09-23T12:37:07.433Z" }),
    sig({ id: "1285245430.434:34", time: "2010-09-23T12:37:10.434Z", success: false, errno: "ESRCH" }),
  ];
}

export const ORIGIN_USER = { code: 0, kind: "user", label: "sent by a process with kill(2) (SI_USER)" };
export const ORIGIN_KERNEL = { code: 128, kind: "kernel", label: "sent by the kernel (SI_KERNEL)" };
export const ORIGIN_FAULT = { code: 1, kind: "fault", label: "a fault in the process itself (SEGV_MAPERR: address not mapped)" };
