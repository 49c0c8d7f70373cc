/**
 * The kernel log's line for a crash, when `debug.exception-trace` (x86:
 * show_unhandled_signals) is on: the process, its pid and what faulted.
 * arch/x86/mm/fault.c show_signal_msg() and arch/x86/kernel/traps.c:
 *
 *   segvx[19977]: segfault at 0 ip 000055d1c0a1d139 sp 00007ffd5b0e5c70 error 6 in segvx[1139,55d1c0a1d000+1000] likely on CPU 1 (core 1, socket 0)
 *   traps: crunch[2210] trap divide error ip:401136 sp:7ffc8c3d7e40 error:0 in crunch[401000+1000]
 *   traps: app[77] general protection fault ip:7f… sp:7ffd… error:0 in libc.so.6[…]
 *
 * Pure parsing of one kernel-log message (after lib/sources/kernel-oom.ts
 * `kernelLogStamp` took its stamp off).
 */
export interface KernelFault {
  comm: string;
  pid: number;
  /** segfault, a trap's name (divide error, invalid opcode…), or general protection fault. */
  what: string;
  /** The signal the kernel sends for it. */
  signal: "SIGSEGV" | "SIGFPE" | "SIGILL" | "SIGTRAP" | "SIGBUS";
  address: string | null;
}

const SEGFAULT = /^(.+)\[(\d+)\]: segfault at ([0-9a-f]+) ip /;
const TRAP = /^traps: (.+)\[(\d+)\] (?:trap )?(.+?) ip:/;

const TRAP_SIGNALS: ReadonlyArray<[RegExp, KernelFault["signal"]]> = [
  [/divide error|overflow|simd|coprocessor/i, "SIGFPE"],
  [/invalid opcode|illegal/i, "SIGILL"],
  [/int3|debug/i, "SIGTRAP"],
  [/alignment|bus/i, "SIGBUS"],
];

export function parseKernelFault(message: string): KernelFault | null {
  let m = SEGFAULT.exec(message);
  if (m) return { comm: m[1]!, pid: Number(m[2]), what: "segfault", signal: "SIGSEGV", address: m[3]! };
  m = TRAP.exec(message);
  if (!m) return null;
  const what = m[3]!;
  const signal = TRAP_SIGNALS.find(([re]) => re.test(what))?.[1] ?? "SIGSEGV";
  return { comm: m[1]!, pid: Number(m[2]), what, signal, address: null };
}
