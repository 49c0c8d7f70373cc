/**
 * The trace_pipe lines of `capture --tracepoints`, parsed. Pure: no I/O.
 * The instance records thread group ids (options/record-tgid), so each head
 * says which process the running thread belongs to. Lines seen on this
 * kernel (6.18):
 *
 *   wk-sender64-21099   (  21099) [001] ..... 17704.553962: sys_kill(pid: 0xf423f, sig: 9)
 *   wk-sender64-21099   (  21099) [001] ..... 17704.553964: sys_kill -> 0xfffffffffffffffd
 *   bun.exe-20960   (  20960) [001] d..1. 17704.448581: signal_generate: sig=15 errno=0 code=0 comm=rogue-httpd pid=20970 grp=1 res=0
 *   bash-21001   (  21001) [001] ..... 17704.511266: sched_process_fork: comm=bash pid=21001 child_comm=bash child_pid=21089
 *   wk-sender64-21089   (  21089) [000] ..... 17704.512369: sched_process_exec: filename=./wk-sender64 pid=21089 old_pid=21089
 *   bash-25882   (  25882) [000] ..... 19021.610199: task_newtask: pid=25883 comm=bash clone_flags=1200000 oom_score_adj=0
 *   kill-25883   (  25883) [000] ..... 19021.610576: task_rename: pid=25883 oldcomm=bash newcomm=kill oom_score_adj=0
 *
 * A syscall argument prints as decimal below 10 and as 0x-hex above; the
 * exit value as 0x-hex of the 64-bit return (-3 is 0xfffffffffffffffd).
 */
import { parseTraceHead, signalGenerateOf, type SignalGenerate, type TraceHead } from "./tracefs-line.ts";

export type TracepointLine =
  | { event: "enter"; head: TraceHead; call: string; args: Array<{ name: string; value: bigint }> }
  | { event: "exit"; head: TraceHead; call: string; ret: bigint }
  | { event: "signal_generate"; head: TraceHead; generate: SignalGenerate }
  | { event: "exec"; head: TraceHead; filename: string; pid: number; oldPid: number }
  | { event: "fork"; head: TraceHead; parentComm: string; parentPid: number; childComm: string; childPid: number }
  | { event: "newtask"; head: TraceHead; pid: number; comm: string; cloneFlags: bigint }
  | { event: "rename"; head: TraceHead; pid: number; oldComm: string; newComm: string };

const ENTER = /^sys_([a-z0-9_]+)\((.*)\)\s*$/;
const EXIT = /^sys_([a-z0-9_]+) -> (0x[0-9a-f]+|-?\d+)\s*$/;
const ARG = /^([a-z0-9_]+): (0x[0-9a-f]+|\d+)$/;
const EXEC = /^sched_process_exec: filename=(.*) pid=(\d+) old_pid=(\d+)\s*$/s;
const FORK = /^sched_process_fork: comm=(.*) pid=(\d+) child_comm=(.*) child_pid=(\d+)\s*$/s;
const NEWTASK = /^task_newtask: pid=(\d+) comm=(.*) clone_flags=([0-9a-f]+) oom_score_adj=-?\d+\s*$/s;
const RENAME = /^task_rename: pid=(\d+) oldcomm=(.*) newcomm=(.*) oom_score_adj=-?\d+\s*$/s;

/** One trace_pipe line of the events capture --tracepoints enables; null for any other line. */
export function parseTracepointLine(raw: string): TracepointLine | null {
  const parsed = parseTraceHead(raw);
  if (!parsed) return null;
  const { head, body } = parsed;
  const generate = signalGenerateOf(head, body);
  if (generate) return { event: "signal_generate", head, generate };
  if (body.startsWith("sys_")) {
    const exit = EXIT.exec(body);
    if (exit) return { event: "exit", head, call: exit[1]!, ret: BigInt.asIntN(64, BigInt(exit[2]!)) };
    const enter = ENTER.exec(body);
    if (!enter) return null;
    const args: Array<{ name: string; value: bigint }> = [];
    if (enter[2]!.trim() !== "") {
      for (const part of enter[2]!.split(", ")) {
        const arg = ARG.exec(part.trim());
        if (!arg) return null;
        args.push({ name: arg[1]!, value: BigInt(arg[2]!) });
      }
    }
    return { event: "enter", head, call: enter[1]!, args };
  }
  const exec = EXEC.exec(body);
  if (exec) return { event: "exec", head, filename: exec[1]!, pid: Number(exec[2]), oldPid: Number(exec[3]) };
  const newtask = NEWTASK.exec(body);
  if (newtask) return { event: "newtask", head, pid: Number(newtask[1]), comm: newtask[2]!, cloneFlags: BigInt(`0x${newtask[3]}`) };
  const rename = RENAME.exec(body);
  if (rename) return { event: "rename", head, pid: Number(rename[1]), oldComm: rename[2]!, newComm: rename[3]! };
  const fork = FORK.exec(body);
  if (fork) return { event: "fork", head, parentComm: fork[1]!, parentPid: Number(fork[2]), childComm: fork[3]!, childPid: Number(fork[4]) };
  return null;
}

/**
 * Was the line's event generated in interrupt context (hardirq, softirq, NMI)?
 * The flags column's third character says so: `h`, `s`, `H`, `z`… A signal
 * generated there (a timer's) is not the running task's call, even when that
 * task is inside kill().
 */
export function inInterrupt(head: TraceHead): boolean {
  const flag = head.flags?.[2];
  return flag !== undefined && flag !== ".";
}

/** A syscall argument as the kernel's int: the low 32 bits, signed (a pid of -5 prints as 0xfffffffb or 0xfffffffffffffffb). */
export function intArg(value: bigint): number {
  return Number(BigInt.asIntN(32, value));
}

/** A syscall argument as audit writes it: lower-case hex with 0x. */
export function hexArg(value: bigint): string {
  return `0x${BigInt.asUintN(64, value).toString(16)}`;
}
