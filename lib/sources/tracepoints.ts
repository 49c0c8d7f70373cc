/**
 * The tracepoints source (lib/sources/registry.ts): one TRACEPOINT_KILL
 * record per kill-family call capture --tracepoints saw, read into the same
 * event and signal lines as audit's SYSCALL + OBJ_PID + PROCTITLE. Pure: no
 * I/O. Its raw text is the call's trace lines, `\n`-separated, as read:
 *
 *   wk-sender64-21099   (  21099) [001] ..... 17704.553962: sys_kill(pid: 0xf423f, sig: 9)
 *   wk-sender64-21099   (  21099) [001] ..... 17704.553964: sys_kill -> 0xfffffffffffffffd
 *   wk-sender64-21099   (  21099) [001] ..... 17704.553480: sched_process_exec: filename=./wk-sender64 pid=21099 old_pid=21099
 *   whokilled-sender {"pid":21099,…}
 *
 * the sys_enter line; the signal_generate lines of its victims; its
 * sys_exit line (absent when it never came); the sender's creation and exec
 * lines where they are the source of its parent or exe; and last what
 * capture knew of the sender (lib/sources/tracepoint-calls.ts SenderFacts).
 *
 * What it cannot know, it says: a fact left null gets a warning on the
 * event and on the signal line. Signals no traced call made come as
 * SIGNAL_GENERATE records (the tracefs source), saying so.
 */
import type { AssembledEvent, PendingRecord } from "../audit/assemble.ts";
import type { IdScope } from "../audit/ids.ts";
import { isoClock } from "../audit/spelling.ts";
import type { AncestorInfo, EventLine, SignalLine, SyscallInfo, TargetInfo } from "../schema.ts";
import { errnoName } from "../tables/errno.ts";
import { isKillFamily, KILL_FAMILY, killScope } from "../tables/kill-family.ts";
import { signalName } from "../tables/signals.ts";
import { syscallNumber } from "../tables/syscalls.ts";
import { ownEvent, ownRecord, unreadRecordEvent } from "./own-record.ts";
import type { SourceSpec } from "./registry.ts";
import { senderFactsOf, TRACEPOINT_KILL } from "./tracepoint-calls.ts";
import { hexArg, intArg, parseTracepointLine } from "./tracepoint-line.ts";

/** A TRACEPOINT_KILL record as an event: the call, its sender as the process, its signal_generate lines as the targets. */
function interpretTracepointKill(event: AssembledEvent, record: PendingRecord, ids?: IdScope): EventLine {
  const userOf = (uid: number | null) => (uid === null || ids === undefined ? null : ids.user(uid));
  const decoded = ownRecord(record);
  const time = record.time ?? isoClock.text(event.seconds, event.millis);
  const lines = record.raw.split("\n");
  const enter = parseTracepointLine(lines[0] ?? "");
  if (!enter || enter.event !== "enter" || !isKillFamily(enter.call)) return unreadRecordEvent(event, decoded, time, "its first line is no sys_enter line of a kill-family call");
  const facts = senderFactsOf(record.raw);
  if (!facts) return unreadRecordEvent(event, decoded, time, "its last line is not capture's sender line");
  const spec = KILL_FAMILY[enter.call];
  const args = enter.args.map((arg) => hexArg(arg.value));
  const targetArg = enter.args[spec.targetArg];
  const signalArg = enter.args[spec.signalArg];
  if (targetArg === undefined || signalArg === undefined) return unreadRecordEvent(event, decoded, time, `sys_enter_${enter.call} has too few arguments`);
  const targetPid = intArg(targetArg.value);
  const tidValue = spec.tidArg !== null && spec.tidArg !== spec.targetArg ? enter.args[spec.tidArg] : undefined;
  const target: NonNullable<SyscallInfo["target"]> = { pid: targetPid, scope: killScope(spec, targetPid) };
  if (tidValue !== undefined) target.tid = intArg(tidValue.value);
  const sig = intArg(signalArg.value);

  let ret: bigint | null = null;
  const targets: TargetInfo[] = [];
  const warnings = facts.warnings.map((warning) => `${TRACEPOINT_KILL}: ${warning}`);
  for (const line of lines.slice(1, -1)) {
    const parsed = parseTracepointLine(line);
    if (parsed?.event === "exit" && parsed.call === enter.call) ret = parsed.ret;
    else if (parsed?.event === "signal_generate") {
      const g = parsed.generate;
      // A thread-directed signal names the thread; audit's OBJ_PID names its process: tgkill's tgid, or the one /proc showed.
      const seen = facts.victims?.[targets.length];
      const pid = !g.group && target.tid !== undefined && g.target.pid === target.tid ? targetPid : (seen?.tgid ?? g.target.pid);
      const uid = seen?.uid ?? null;
      targets.push({ pid, comm: g.target.comm, uid, user: userOf(uid), auid: null, ses: null });
    } else if (parsed === null) warnings.push(`${TRACEPOINT_KILL}: a line that does not read as a trace line: ${JSON.stringify(line.slice(0, 200))}`);
  }
  const f = decoded.fields;
  f.syscall = enter.call;
  args.forEach((arg, i) => (f[`a${i}`] = arg));
  if (ret !== null) f.exit = String(ret);
  f.pid = String(facts.pid);
  f.tid = String(facts.tid);
  if (facts.comm !== null) f.comm = facts.comm;
  if (facts.exe !== null) f.exe = facts.exe;
  if (facts.ppid !== null) f.ppid = String(facts.ppid);
  if (facts.uid !== null) f.uid = String(facts.uid);
  const name = signalName(sig);
  decoded.decoded.sig = name ?? String(sig);
  const exit = ret === null ? null : Number(ret);
  const syscall: SyscallInfo = {
    arch: facts.arch,
    nr: facts.arch === null ? null : syscallNumber(facts.arch, enter.call),
    name: enter.call,
    success: exit === null ? null : exit >= 0,
    exit,
    errno: exit !== null && exit < 0 ? (errnoName(-exit) ?? String(-exit)) : null,
    args,
    signal: { nr: sig, name },
    target,
  };
  if (warnings.length > 0) decoded.warnings = warnings.map((w) => w.slice(TRACEPOINT_KILL.length + 2));
  const line: EventLine = {
    ...ownEvent(event, decoded, time),
    syscall,
    process: { pid: facts.pid, ppid: facts.ppid, comm: facts.comm, exe: facts.exe, uid: facts.uid, user: userOf(facts.uid), euid: facts.euid, auid: null, ses: null, tty: null },
    proctitle: facts.argv,
    targets,
  };
  if (warnings.length > 0) line.warnings = warnings;
  return line;
}

/** The signal line eventToSignal made, finished: the parents capture read, a failed pidfd call's pid, what could not be known. */
function finishTracepointSignal(line: SignalLine, event: EventLine): void {
  const facts = senderFactsOf(event.records[0]?.raw ?? "");
  if (facts && facts.ancestry.length > 0) {
    line.killer.ancestry = facts.ancestry.map((a): AncestorInfo => ({ pid: a.pid, comm: a.comm, exe: a.exe, ...(a.argv ? { argv: a.argv } : {}), from: "proc" }));
  }
  // No signal_generate (the call failed): the descriptor's process is the one the sender's pidfd_open named.
  if (facts?.pidfdPid !== undefined && line.target.scope === "pidfd" && line.target.pid === null) {
    line.target.pid = facts.pidfdPid;
    line.target.pidFrom = "pidfd_open";
  }
  const prefix = `${TRACEPOINT_KILL}: `;
  const warnings = (event.warnings ?? []).map((w) => (w.startsWith(prefix) ? w.slice(prefix.length) : w));
  if (warnings.length > 0) line.warnings = warnings;
}

export const TRACEPOINTS_SOURCE: SourceSpec = {
  name: "tracepoints",
  label: "tracepoints",
  ownRecordTypes: [TRACEPOINT_KILL],
  standalone: true,
  // The running task of a call's lines is its sender: a process sighting, as audit's SYSCALL is.
  kernelTrace: false,
  // Its parents come from capture's /proc reads (finishSignal), not from audit's execve events.
  streamAncestry: false,
  liveFiles: ["tracepoints"],
  interpret: interpretTracepointKill,
  finishSignal: finishTracepointSignal,
};
