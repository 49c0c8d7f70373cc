/**
 * Audit's ANOM_ABEND record as a signal line. The kernel writes it with no
 * rule loaded, whenever audit is enabled and a process ends by a signal that
 * dumps core (audit_core_dumps(), kernel/auditsc.c; never for SIGKILL):
 *
 *   type=ANOM_ABEND msg=audit(…): auid=4294967295 uid=0 gid=0 ses=4294967295 pid=19977 comm="segvx" exe="/srv/segvx" sig=11 res=1
 *
 * It names the victim and the signal, not the sender: the cause is read
 * from the signal alone, by the kernel-signal table's rules
 * (lib/tables/kernel-signals.ts), and said as "self or kernel", with what
 * would settle it.
 */
import type { DecodedRecord, EventLine, Killer, SignalCause, SignalLine } from "../schema.ts";
import { matchKernelSignalRule, SI_TKILL } from "../tables/kernel-signals.ts";
import { signalLabel, signalName } from "../tables/signals.ts";
import { KERNEL_KILLER } from "./cause.ts";
import { buildProcess } from "../audit/event-head.ts";
import { num } from "../audit/spelling.ts";

export const ANOM_ABEND = "ANOM_ABEND";

/**
 * The event's ANOM_ABEND record, when the event is one (it never comes with
 * a SYSCALL of its own) and names a pid and a signal: one without them
 * (a damaged line) is an event like any other, and no signal.
 */
export function anomAbendRecord(event: EventLine): DecodedRecord | undefined {
  if (event.syscall !== null) return undefined;
  const record = event.records.find((r) => r.type === ANOM_ABEND);
  if (record === undefined || num(record.fields.sig) === null || num(record.fields.pid) === null) return undefined;
  return record;
}

const NOT_SETTLED =
  "ANOM_ABEND does not say who sent the signal: a process may send a core-dumping signal with kill() too. " +
  "The kernel log's line for the crash (`segfault at …`, `trap …`: `dmesg | grep -w PID`) confirms a fault; audit's kill rules (setup-rule install) would show a sender";

/** Who or what a core-dumping signal most likely came from, by the kernel-signal table, from the signal alone. */
function coreDumpCause(sig: number): { cause: SignalCause; killerIs: "victim" | "kernel" | "unknown" } {
  const name = signalLabel(sig);
  // A fault's code is positive (SEGV_MAPERR = 1…); abort() is a tgkill to itself; the rest as the kernel sends them.
  const rule = matchKernelSignalRule(1, name, true) ?? matchKernelSignalRule(name === "SIGABRT" ? SI_TKILL : 0x80, name, true);
  const evidence = ["audit's ANOM_ABEND record: the process ended by a signal that dumps core", `signal ${name}`];
  if (rule === null || rule.cause === "kernel" || rule.cause === "process") {
    return {
      cause: { kind: "unknown", rule: "core-dump", label: `ended by ${name}, which dumps core: sent by a process or the kernel (the record does not say which)`, evidence, settle: NOT_SETTLED },
      killerIs: "unknown",
    };
  }
  const cause: SignalCause = { kind: rule.cause, rule: rule.id, label: `${rule.label} (self or kernel: the cause read from the signal)`, evidence, settle: NOT_SETTLED };
  return { cause, killerIs: rule.killer === "kernel" ? "kernel" : "victim" };
}

/** An ANOM_ABEND event's signal line (its record from anomAbendRecord): the victim, its signal, and the cause read from the signal. */
export function anomAbendSignal(event: EventLine, record: DecodedRecord): SignalLine {
  // Its pid, comm, exe and ids read as a SYSCALL record's process is (lib/audit/event-head.ts).
  const { pid, comm, exe, uid, user, auid } = buildProcess(record);
  const sig = num(record.fields.sig)!;
  const { cause, killerIs } = coreDumpCause(sig);
  const victimAsKiller: Killer = { pid, ppid: null, comm, exe, uid, user, auid, argv: [] };
  const killer: Killer =
    killerIs === "victim" ? victimAsKiller : killerIs === "kernel" ? { ...KERNEL_KILLER, argv: [] } : { pid: null, ppid: null, comm: null, exe: null, uid: null, user: null, auid: null, argv: [] };
  const line: SignalLine = {
    kind: "signal",
    id: event.id,
    node: event.node,
    time: event.time,
    syscall: null,
    arch: null,
    signal: { nr: sig, name: signalName(sig) },
    result: { success: true, errno: null },
    killer,
    target: { pid, scope: "process" },
    victims: [{ pid, comm, uid, user }],
    key: null,
    source: "audit",
    cause,
  };
  if (cause.kind === "self") line.self = true;
  if (event.namesUnknown) line.namesUnknown = true;
  return line;
}
