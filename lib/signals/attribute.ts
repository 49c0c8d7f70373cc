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

/** Is this event one attribute turns into a signal line? */
export function isSignalEvent(event: EventLine): boolean {
  if (event.type === "SIGNAL_GENERATE") return event.syscall?.signal !== undefined;
  const name = event.syscall?.name;
  return name != null && isKillFamily(name);
}

export function eventToSignal(event: EventLine): SignalLine | null {
  if (!isSignalEvent(event)) return null;
  const syscall = event.syscall!;
  const process = event.process;
  const fromTracefs = event.type === "SIGNAL_GENERATE";
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
  let target: SignalLine["target"];
  if (syscall.name === "pidfd_send_signal") {
    // a0 is a file descriptor; the process it names is only in OBJ_PID.
    const fd = syscall.target?.pid ?? null;
    target = { pid: victims[0]?.pid ?? null, scope: "pidfd", ...(fd !== null ? { fd } : {}) };
  } else {
    target = syscall.target ? { ...syscall.target } : { pid: null, scope: "process" };
  }
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
    target,
    victims,
    key: event.key,
    source: fromTracefs ? "tracefs" : "audit",
  };
  if (signal.nr === 0) line.probe = true;
  if (killer.pid !== null && (target.pid === killer.pid || (victims.length > 0 && victims.every((v) => v.pid === killer.pid)))) line.self = true;
  if (event.origin) line.origin = event.origin;
  return line;
}
