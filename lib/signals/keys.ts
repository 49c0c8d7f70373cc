/**
 * Identity and time helpers shared by the summary, the finding detectors and
 * the renderers, so that "the same killer" means the same thing everywhere.
 */
import { isoOfMs } from "../audit/spelling.ts";
import type { Killer, SignalInfo, SignalLine, Victim } from "../schema.ts";
import { KERNEL_KILLER } from "./cause.ts";
import { isoMs } from "./time-spec.ts";

/**
 * A killer is its program (exe), its name (comm) and its uid, not its pid:
 * a daemon that forks workers, or restarts, is still the same culprit.
 * JSON keeps the key unambiguous whatever bytes comm or exe hold.
 *
 * In a log gathered from several hosts (`node=`), each host has its own PIDs
 * and processes, so the node is part of every identity here: PID 500 on web1
 * and PID 500 on web2 are not one recycled PID. A log without nodes keeps
 * the keys it always had.
 */
export function killerKey(killer: Pick<Killer, "exe" | "comm" | "uid">, node: string | null = null): string {
  return JSON.stringify(node === null ? [killer.exe, killer.comm, killer.uid] : [killer.exe, killer.comm, killer.uid, node]);
}

/** killerKey's exe, comm and uid, read back from the key (as comm, exe, uid: the order a report lists them in). */
export function killerOfKey(key: string): Pick<Killer, "comm" | "exe" | "uid"> {
  const [exe, comm, uid] = JSON.parse(key) as [string | null, string | null, number | null];
  return { comm, exe, uid };
}

/**
 * Who to blame for a signal. A tracefs line with a `cause` already names its
 * real killer (lib/signals/cause.ts). On an older line without one, for a
 * signal the kernel raised itself (SI_KERNEL; a fault) the task tracefs names
 * is only whatever was running at the time: the kernel is counted instead.
 */
export function blamedKiller(signal: SignalLine): Killer {
  if (signal.cause) return signal.killer;
  const kind = signal.origin?.kind;
  if (signal.source === "tracefs" && (kind === "kernel" || kind === "fault")) {
    return kind === "kernel" ? { ...KERNEL_KILLER, argv: [] } : { ...KERNEL_KILLER, comm: "[fault]", argv: [] };
  }
  return signal.killer;
}

/** A victim is the process that held the PID: pid + comm + uid (+ node, as for killerKey). */
export function victimKey(victim: Pick<Victim, "pid" | "comm" | "uid">, node: string | null = null): string {
  return JSON.stringify(node === null ? [victim.pid, victim.comm, victim.uid] : [victim.pid, victim.comm, victim.uid, node]);
}

/** The signal's number for comparing: NaN where the log's argument was no number (null in JSON), as the byte path reads it. */
export function signalNr(signal: SignalInfo): number {
  return signal.nr ?? Number.NaN;
}

/** A target's tid for SignalFacts: NaN where the log's argument was no number (null in JSON), undefined when the call has none. */
export function factsTid(tid: number | null | undefined): number | undefined {
  return tid === null ? Number.NaN : tid;
}

/** `SIGKILL` whether upstream wrote `KILL`, `SIGKILL` or only the number. */
export function signalName(signal: SignalInfo): string {
  const name = signal.name?.trim();
  if (name) return /^SIG/i.test(name) ? name.toUpperCase() : `SIG${name.toUpperCase()}`;
  return signal.nr === 0 ? "0 (probe)" : `SIG${signal.nr ?? "?"}`;
}

const AUDIT_ID = /^(\d+)(?:\.(\d{1,9}))?:\d+$/;

/**
 * Epoch milliseconds of a signal, or null. `time` is ISO; an audit id
 * (`SEC.MS:SERIAL`) carries the same instant, so it stands in when an
 * upstream stage left `time` empty.
 */
export function signalTimeMs(signal: Pick<SignalLine, "time" | "id">): number | null {
  if (signal.time) {
    const ms = isoMs(signal.time);
    if (Number.isFinite(ms)) return ms;
    if (/^\d+(\.\d+)?$/.test(signal.time)) return Math.round(Number(signal.time) * 1000);
  }
  const match = AUDIT_ID.exec(signal.id);
  if (match) {
    const frac = (match[2] ?? "0").padEnd(3, "0").slice(0, 3);
    return Number(match[1]) * 1000 + Number(frac);
  }
  return null;
}

/** The first and last time (epoch ms) of some lines. */
export interface Span {
  first: number | null;
  last: number | null;
}

/** Widen the span to take in `ms` (null: no time, no change). */
export function widen(span: Span, ms: number | null): void {
  if (ms === null) return;
  span.first = span.first === null ? ms : Math.min(span.first, ms);
  span.last = span.last === null ? ms : Math.max(span.last, ms);
}

export function isoTime(ms: number | null): string | null {
  return ms === null ? null : isoOfMs(ms);
}

/** Did the call fail because nobody held the target PID? */
export function isEsrch(signal: SignalLine): boolean {
  return signal.result.success === false && (signal.result.errno ?? "").toUpperCase() === "ESRCH";
}

/**
 * The processes a signal actually hit. A successful process-directed call
 * whose OBJ_PID record is missing (grep'd logs, old kernels) still hit
 * whoever held the PID: keep that as a victim with unknown comm and uid.
 */
export function victimsOf(signal: SignalLine): Victim[] {
  if (signal.victims.length > 0) return signal.victims;
  const pid = signal.target.tid ?? signal.target.pid;
  if (signal.result.success !== false && pid !== null && pid > 0 && signal.target.scope !== "group" && signal.target.scope !== "all") {
    return [{ pid, comm: null, uid: null, user: null }];
  }
  return [];
}
