/**
 * Who really sent a tracefs signal. The `signal_generate` tracepoint names
 * the task that was running, which for a kernel-sent signal is often an
 * unrelated task (`<idle>`, whatever ran when a timer fired) or the task
 * closing a terminal. The rules in lib/tables/kernel-signals.ts read si_code,
 * the signal and that context; this module applies them to one line and
 * says who to name as the killer.
 */
import type { Killer, SignalCause, SignalLine } from "../schema.ts";
import { signalOrigin } from "../sources/tracefs-line.ts";
import { KERNEL_SIGNAL_RULES, SEQUENCE_RULES, SI_KERNEL, SI_QUEUE, SI_TIMER, SI_TKILL, SI_USER, matchKernelSignalRule, type KillerIs } from "../tables/kernel-signals.ts";
import { signalLabel } from "../tables/signals.ts";
import { signalNr } from "./keys.ts";
import { setBounded } from "./tally.ts";

/** The killer of a signal the kernel sent on its own account. */
export const KERNEL_KILLER: Readonly<Killer> = Object.freeze({ pid: null, ppid: null, comm: "[kernel]", exe: null, uid: null, user: null, auid: null, argv: [] });

const CODE_NAMES: Readonly<Record<number, string>> = { [SI_USER]: "SI_USER", [SI_KERNEL]: "SI_KERNEL", [SI_QUEUE]: "SI_QUEUE", [SI_TIMER]: "SI_TIMER", [SI_TKILL]: "SI_TKILL" };

export interface TaskRef {
  pid: number | null;
  comm: string | null;
}

export interface Classified {
  cause: SignalCause;
  killerIs: KillerIs;
  /** A kill-family call could have made it: audit may hold its twin. */
  viaSyscall: boolean;
}

function taskText(task: TaskRef): string {
  if (task.pid === 0) return "<idle> (an interrupt on an idle CPU)";
  return `${task.comm ?? "<...>"}[${task.pid ?? "?"}]`;
}

/** Classify one tracefs signal from si_code, signal number, the running task and the victim. */
export function classifySignal(code: number, sig: number, context: TaskRef, victim: TaskRef): Classified {
  const name = signalLabel(sig);
  const self = context.pid !== null && context.pid !== 0 && context.pid === victim.pid;
  const rule = matchKernelSignalRule(code, name, self);
  const origin = signalOrigin(code, sig);
  const evidence = [`si_code ${code}${CODE_NAMES[code] ? ` (${CODE_NAMES[code]})` : ""}`, `signal ${name}`];
  const killerIs = rule?.killer ?? "kernel";
  if (self) evidence.push(`generated in the victim's own context (${taskText(context)})`);
  else if (killerIs === "context") evidence.push(`sent from ${taskText(context)}`);
  else evidence.push(`generated while ${taskText(context)} was running: context, not the sender`);
  if (!rule) {
    return {
      cause: {
        kind: "kernel",
        rule: "unknown",
        label: `sent by the kernel (cause unknown): ${origin.label}`,
        evidence,
        settle: "the kernel log around this time (`dmesg -T`); docs/KERNEL-SIGNALS.md lists the si_codes whokilled knows",
      },
      killerIs: "kernel",
      viaSyscall: false,
    };
  }
  // A fault's own code says what faulted (SEGV_MAPERR: address not mapped…).
  const label = rule.cause === "fault" && code > 0 && code !== SI_KERNEL ? origin.label : rule.label;
  const cause: SignalCause = { kind: rule.cause, rule: rule.id, label, evidence };
  if (rule.settle) cause.settle = rule.settle;
  return { cause, killerIs, viaSyscall: rule.viaSyscall };
}

/** Could a kill-family call have made this line (a process-sent or self-sent signal)? */
export function causeViaSyscall(cause: SignalCause): boolean {
  return KERNEL_SIGNAL_RULES.find((rule) => rule.id === cause.rule)?.viaSyscall ?? false;
}

/**
 * Give a tracefs signal line its cause, context and real killer, in place.
 * `killer` must still be the running task, as attribute builds it first.
 * Lines that already have a cause, and audit lines, are left alone.
 */
export function explainTracefsSignal(line: SignalLine): SignalLine {
  if (line.source !== "tracefs" || line.cause || !line.origin) return line;
  const context: TaskRef = { pid: line.killer.pid, comm: line.killer.comm };
  const victimPid = line.target.tid ?? line.target.pid;
  const victim: TaskRef = { pid: victimPid, comm: line.victims[0]?.comm ?? null };
  const { cause, killerIs } = classifySignal(line.origin.code, signalNr(line.signal), context, victim);
  line.cause = cause;
  if (context.pid !== null) line.context = { pid: context.pid, comm: context.comm };
  if (killerIs === "kernel") line.killer = { ...KERNEL_KILLER, argv: [] };
  else if (killerIs === "victim") line.killer = { pid: victim.pid, ppid: null, comm: victim.comm, exe: null, uid: null, user: null, auid: null, argv: [] };
  // `self` means a process signalled itself; a fault or a timer is told by `cause` instead.
  if (cause.kind === "self") line.self = true;
  else delete line.self;
  return line;
}

/** How long a first signal (SIGXCPU) counts for a sequence rule. RLIMIT_CPU's soft and hard limits are seconds to hours apart. */
const SEQUENCE_WINDOW_MS = 24 * 3600 * 1000;
const MAX_SEQUENCE_VICTIMS = 10_000;

/**
 * The table's sequence rules (a SIGKILL in the victim's own context after a
 * SIGXCPU to it is RLIMIT_CPU's hard limit) over a stream. Feed every line in
 * order with `refine`; memory is bounded by MAX_SEQUENCE_VICTIMS victims.
 */
export class CauseSequences {
  /** `${rule}\n${node}\n${pid}` → time (ms, NaN unknown) of the first signal. */
  private readonly seen = new Map<string, number>();

  refine(line: SignalLine, ms: number | null): void {
    const cause = line.cause;
    if (!cause || line.source !== "tracefs") return;
    const pid = line.target.tid ?? line.target.pid;
    const at = ms ?? Number.NaN;
    for (const sequence of SEQUENCE_RULES) {
      if (cause.rule === sequence.after) {
        setBounded(this.seen, `${sequence.after}\n${line.node}\n${pid}`, at, MAX_SEQUENCE_VICTIMS);
      } else if (cause.rule === sequence.refines) {
        const first = this.seen.get(`${sequence.after}\n${line.node}\n${pid}`);
        if (first === undefined || (Number.isFinite(first) && Number.isFinite(at) && (at < first || at - first > SEQUENCE_WINDOW_MS))) continue;
        const { rule } = sequence;
        line.cause = { kind: rule.cause, rule: rule.id, label: rule.label, evidence: [...cause.evidence, `after ${sequence.after} (${KERNEL_SIGNAL_RULES.find((r) => r.id === sequence.after)!.signals.toString()}) to the same process`] };
      }
    }
  }
}
