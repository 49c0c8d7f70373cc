/**
 * Events → `signal` lines: who signalled whom, with what, and how it ended.
 *
 * One signal line per kill-family syscall event (kill, tkill, tgkill,
 * rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal, either ABI) and
 * per tracefs signal_generate record. Victims come from OBJ_PID records:
 * none on ESRCH (the stale-PID case), one per member for a group kill. The
 * target says what was aimed at even when nothing was hit.
 */
import type { EventLine, Killer, SignalLine, Victim } from "../schema.ts";
import { isKillFamily } from "../tables/kill-family.ts";
import { isAuditText, sourceOfType } from "../sources/registry.ts";
import type { PidfdTable } from "./pidfd.ts";
import { applySignalRules, emptyFacts, type SignalFacts } from "./signal-facts.ts";
import { anomAbendRecord, anomAbendSignal } from "./core-dump.ts";
import { factsTid, signalNr } from "./keys.ts";

/** Is this event one attribute turns into a signal line? */
export function isSignalEvent(event: EventLine): boolean {
  // A source's own record (tracefs, the kernel log's OOM report) is a signal when it was understood.
  if (!isAuditText(event.type)) return event.syscall?.signal !== undefined;
  // Audit's ANOM_ABEND: a process ended by a core-dumping signal (lib/signals/core-dump.ts).
  if (anomAbendRecord(event) !== undefined) return true;
  const name = event.syscall?.name;
  return name != null && isKillFamily(name);
}

/** eventToSignal's facts: one set, filled per event. */
const facts = emptyFacts();

/**
 * The event's signal line, or null: its facts read from the event, the
 * signal rules applied (signal-facts.ts), the line written from them.
 * `stream`: what the stream said before (a failed pidfd_send_signal's
 * target is inferred from it, lib/signals/pidfd.ts), as of audit time `atMs`.
 */
export function eventToSignal(event: EventLine, stream?: { pidfds: PidfdTable; atMs: number }): SignalLine | null {
  if (!isSignalEvent(event)) return null;
  const abend = anomAbendRecord(event);
  if (abend !== undefined) return anomAbendSignal(event, abend);
  const syscall = event.syscall!;
  const process = event.process;
  const spec = sourceOfType(event.type);
  const victims: Victim[] = event.targets.map((t) => ({ pid: t.pid, comm: t.comm, uid: t.uid, user: t.user }));
  const killer: Killer = {
    pid: process?.pid ?? null,
    ppid: process?.ppid ?? null,
    comm: process?.comm ?? null,
    exe: process?.exe ?? null,
    uid: process?.uid ?? null,
    user: process?.user ?? null,
    auid: process?.auid ?? null,
    argv: event.proctitle ?? [],
  };
  const signal = syscall.signal ?? { nr: 0, name: null };
  facts.killerPid = killer.pid;
  facts.killerPpid = killer.ppid;
  facts.killerExe = killer.exe;
  facts.pidfd = syscall.name === "pidfd_send_signal";
  facts.callTarget = syscall.target?.pid ?? null;
  facts.scope = syscall.target?.scope ?? "process";
  facts.tid = factsTid(syscall.target?.tid);
  facts.victimCount = victims.length;
  for (let v = 0; v < victims.length; v++) facts.victimPids[v] = victims[v]!.pid;
  facts.signalNr = signalNr(signal);
  facts.success = syscall.success;
  facts.node = event.node;
  applySignalRules(facts, stream?.pidfds ?? null, stream?.atMs ?? Number.POSITIVE_INFINITY);
  const line: SignalLine = {
    kind: "signal",
    id: event.id,
    node: event.node,
    time: event.time,
    syscall: syscall.name,
    arch: syscall.arch,
    signal,
    result: { success: syscall.success, errno: syscall.errno },
    killer,
    target: targetOf(facts),
    victims,
    key: event.key,
    source: spec.name,
  };
  if (facts.probe) line.probe = true;
  if (facts.self) line.self = true;
  if (event.namesUnknown) line.namesUnknown = true;
  if (event.origin) line.origin = event.origin;
  // A source's own signal: its rules say who really sent it, and why.
  spec.finishSignal?.(line, event);
  return line;
}

/** The line's target, from the facts: {pid, scope, tid?}, or a pidfd's {pid, scope, fd?, pidFrom?} (the byte writer's putTarget writes the same). */
function targetOf(facts: SignalFacts): SignalLine["target"] {
  const target: SignalLine["target"] = { pid: facts.targetPid, scope: facts.scope };
  if (facts.pidfd) {
    if (facts.callTarget !== null) target.fd = facts.callTarget;
    if (facts.pidFrom !== null) target.pidFrom = facts.pidFrom;
  } else if (facts.tid !== undefined) target.tid = facts.tid;
  return target;
}
