/**
 * The six syscalls that send a signal, and where each keeps its arguments.
 * Argument indexes are N in the SYSCALL record's aN fields.
 */
import type { TargetScope } from "../schema.ts";
import { archName } from "./arch.ts";
import { syscallNumber } from "./syscalls.ts";

export type KillSyscall = "kill" | "tkill" | "tgkill" | "rt_sigqueueinfo" | "rt_tgsigqueueinfo" | "pidfd_send_signal";

export interface KillSpec {
  readonly name: KillSyscall;
  /** aN holding the signal number. */
  readonly signalArg: number;
  /** aN holding the target: pid, pgid (kill), tid (tkill), tgid (tg*) or pidfd. Always a0. */
  readonly targetArg: number;
  /** aN holding the thread id, for thread-directed calls. */
  readonly tidArg: number | null;
  /** The scope when a0 > 0. Only kill widens it for a0 <= 0: see killScope. */
  readonly scope: TargetScope;
  /** kill(2) alone reads a0's sign as process / own group / all / group −a0. */
  readonly signedTarget: boolean;
}

export const KILL_FAMILY: Readonly<Record<KillSyscall, KillSpec>> = {
  kill: { name: "kill", signalArg: 1, targetArg: 0, tidArg: null, scope: "process", signedTarget: true },
  tkill: { name: "tkill", signalArg: 1, targetArg: 0, tidArg: 0, scope: "thread", signedTarget: false },
  tgkill: { name: "tgkill", signalArg: 2, targetArg: 0, tidArg: 1, scope: "thread", signedTarget: false },
  rt_sigqueueinfo: { name: "rt_sigqueueinfo", signalArg: 1, targetArg: 0, tidArg: null, scope: "process", signedTarget: false },
  rt_tgsigqueueinfo: { name: "rt_tgsigqueueinfo", signalArg: 2, targetArg: 0, tidArg: 1, scope: "thread", signedTarget: false },
  pidfd_send_signal: { name: "pidfd_send_signal", signalArg: 1, targetArg: 0, tidArg: null, scope: "pidfd", signedTarget: false },
};

export const KILL_SYSCALLS: readonly KillSyscall[] = Object.keys(KILL_FAMILY) as KillSyscall[];

export function isKillFamily(name: string): name is KillSyscall {
  return Object.hasOwn(KILL_FAMILY, name);
}

/** The scope of one call, given a0 already read with toSigned32. */
export function killScope(spec: KillSpec, a0: number): TargetScope {
  if (!spec.signedTarget || a0 > 0) return spec.scope;
  if (a0 === -1) return "all";
  return "group";
}

const EMPTY: ReadonlySet<number> = new Set();
const numbersByArch = new Map<string, ReadonlySet<number>>();

/** The family's syscall numbers on this arch (empty for an unknown arch). The same Set each call: do not mutate. */
export function killFamilyNumbers(arch: string): ReadonlySet<number> {
  const cached = numbersByArch.get(arch);
  if (cached !== undefined) return cached;
  const numbers = KILL_SYSCALLS.map((name) => syscallNumber(arch, name)).filter((nr) => nr !== null);
  // Unknown arches are not cached, so arbitrary input cannot grow the map.
  if (numbers.length === 0) return EMPTY;
  const set: ReadonlySet<number> = new Set(numbers);
  numbersByArch.set(arch, set);
  return set;
}

/** What a syscall means to attribute (signalInterest). */
export const SKIP = 0;
/** A kill-family call: decoded into a signal line. */
export const KILL = 1;
/** execve/execveat: read for the killers' ancestry. */
export const EXEC = 2;
/** pidfd_open: which process a pidfd names (lib/signals/pidfd.ts). Decoded, whatever --since/--until say. */
export const PIDFD = 3;
/** An arch we cannot judge: its events are decoded, to be judged there. */
export const UNJUDGED = 4;
export type SignalInterest = typeof SKIP | typeof KILL | typeof EXEC | typeof PIDFD | typeof UNJUDGED;

/** Per AUDIT_ARCH value: interest by syscall number (null: an arch we cannot judge). */
const kindsByArch = new Map<number, Uint8Array | null>();
/** The last arch asked about: a log is nearly all one arch, so most SYSCALL lines need no Map lookup. */
let lastArch = -1;
let lastKinds: Uint8Array | null = null;

function kindsOf(arch: number): Uint8Array | null {
  const cached = kindsByArch.get(arch);
  if (cached !== undefined) return cached;
  const name = archName(arch.toString(16));
  let kinds: Uint8Array | null = null;
  if (name !== null) {
    const kill = [...killFamilyNumbers(name)];
    const exec = ["execve", "execveat"].map((syscall) => syscallNumber(name, syscall)).filter((nr) => nr !== null);
    const pidfd = syscallNumber(name, "pidfd_open");
    kinds = new Uint8Array(Math.max(0, ...kill, ...exec, pidfd ?? 0) + 1);
    for (const nr of kill) kinds[nr] = KILL;
    for (const nr of exec) kinds[nr] = EXEC;
    if (pidfd !== null) kinds[pidfd] = PIDFD;
  }
  // Bounded: arbitrary input cannot grow the cache past a handful of arches.
  if (kindsByArch.size < 64) kindsByArch.set(arch, kinds);
  return kinds;
}

/**
 * The one judgement of what syscall `nr` on AUDIT_ARCH value `arch` means to
 * attribute: the kill family, execve for ancestry, pidfd_open for pidfd
 * targets, or nothing. The prefilter and the decoder's event filter both ask here.
 */
export function signalInterest(arch: number, nr: number): SignalInterest {
  let kinds: Uint8Array | null;
  if (arch === lastArch) kinds = lastKinds;
  else {
    kinds = kindsOf(arch);
    lastArch = arch;
    lastKinds = kinds;
  }
  if (kinds === null) return UNJUDGED;
  return nr < kinds.length ? (kinds[nr] as SignalInterest) : SKIP;
}
