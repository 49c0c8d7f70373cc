/** Interpretation tables: arches, syscalls, the kill family, signals, errno, audit record types. */
export { ARCH_NAMES, archBits, archForRules, archHex, archName } from "./arch.ts";
export { errnoName } from "./errno.ts";
export {
  KILL_FAMILY,
  KILL_SYSCALLS,
  type KillScope,
  type KillSpec,
  type KillSyscall,
  isKillFamily,
  killFamilyNumbers,
  killScope,
  toSigned32,
} from "./kill-family.ts";
export { recordTypeName, recordTypeNumber } from "./record-types.ts";
export { SIGNALS, SIGRTMAX, SIGRTMIN, rtSignalName, signalName, signalNumber } from "./signals.ts";
export { SYSCALL_ARCHES, syscallName, syscallNumber } from "./syscalls.ts";
