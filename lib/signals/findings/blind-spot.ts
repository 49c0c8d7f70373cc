/**
 * blind-spot: signals that only tracefs saw. Either the kernel sent them
 * itself (OOM killer, faults: audit never records these), or a process sent
 * them while audit was running yet audit has no matching call (a process
 * forked before audit was enabled, a syscall no rule covers).
 */
import { describeProcess, plural } from "../describe.ts";
import { isoTime, signalName, victimKey } from "../keys.ts";
import type { SignalLine } from "../../schema.ts";
import { CALL_NOT_SEEN } from "../../sources/tracefs-line.ts";
import { bump, countSignal, MAX_CONTEXTS, noSignals, type SignalCounts, type TaskCount } from "./cause-groups.ts";
import { defineDetector, findingProcess, type DetectedFinding, type FindingProcess, type Severity } from "./types.ts";

/**
 * Signals that end (or are meant to end) a process. Job control, SIGCHLD,
 * SIGWINCH and timer signals are routine kernel traffic, not who-killed
 * material.
 */
export const FATAL_SIGNALS = new Set([
  "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGIOT", "SIGBUS", "SIGFPE", "SIGKILL",
  "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGTERM", "SIGSTKFLT", "SIGXCPU", "SIGXFSZ", "SIGPWR", "SIGSYS",
]);

const MAX_VICTIMS = 10;
const MAX_GROUPS = 1000;

interface GroupAcc extends SignalCounts {
  kind: "kernel" | "fault" | "unmatched";
  label: string;
  /** What would settle an uncertain cause (the rule's `settle`). */
  settle: string | null;
  /** Kernel signals: tasks that were running when they were generated (context, not senders). */
  contexts: Map<string, TaskCount>;
  killer: FindingProcess | null;
  selfSent: number;
  victims: Map<string, TaskCount>;
  moreVictims: number;
  /** Written by capture --tracepoints: its syscall tracepoints saw no call, rather than audit (a 32-bit caller). */
  untraced: boolean;
}

interface BlindState {
  groups: Map<string, GroupAcc>;
  /** Signals dropped because MAX_GROUPS was reached. */
  overflow: number;
  maxExamples: number;
}

/**
 * Kernel-sent signals whose cause is known (a hangup, a timer, a limit, a
 * fault, the process itself) have their own findings; this one keeps the
 * kernel's signals of unknown or uncertain cause, and process signals audit
 * missed.
 */
function classify(signal: SignalLine, crossCheck: string | null): GroupAcc["kind"] | null {
  if (signal.source !== "tracefs" && signal.source !== "tracepoints") return null;
  if (!FATAL_SIGNALS.has(signalName(signal.signal))) return null;
  // A call the syscall tracepoints saw is a process's by construction.
  if (signal.source === "tracepoints") return crossCheck === "unmatched" ? "unmatched" : null;
  const kind = signal.cause?.kind ?? signal.origin?.kind;
  if (kind === "kernel") return "kernel";
  if (kind === "fault") return signal.cause ? null : "fault";
  if (signal.cause && signal.cause.kind !== "process") return null;
  return crossCheck === "unmatched" ? "unmatched" : null;
}

export const blindSpot = defineDetector<BlindState>({
  id: "blind-spot",
  title: "Signals audit did not record",
  init: (options) => ({ groups: new Map(), overflow: 0, maxExamples: options.maxExamples }),
  observe(state, { signal, ms, crossCheck }) {
    const kind = classify(signal, crossCheck);
    if (!kind) return;
    const name = signalName(signal.signal);
    const untraced = kind === "unmatched" && signal.warnings?.includes(CALL_NOT_SEEN) === true;
    // The kernel's signals group by what it did; a process's by who sent them.
    const key =
      kind === "unmatched"
        ? `${untraced ? "t" : "u"}\n${signal.killer.comm}\n${signal.killer.exe}\n${signal.killer.uid}${signal.node === null ? "" : `\n${signal.node}`}`
        : `k\n${kind}\n${name}\n${signal.cause?.label ?? signal.origin?.label ?? ""}${signal.node === null ? "" : `\n${signal.node}`}`;
    let group = state.groups.get(key);
    if (!group) {
      if (state.groups.size >= MAX_GROUPS) {
        state.overflow++;
        return;
      }
      group = {
        kind,
        label: signal.cause?.label ?? signal.origin?.label ?? kind,
        settle: signal.cause?.settle ?? null,
        contexts: new Map(),
        killer:
          kind === "unmatched"
            ? { key, node: signal.node, pids: [], comm: signal.killer.comm, exe: signal.killer.exe, uid: signal.killer.uid, user: signal.killer.user }
            : null,
        ...noSignals(),
        selfSent: 0,
        victims: new Map(),
        moreVictims: 0,
        untraced,
      };
      state.groups.set(key, group);
    }
    countSignal(group, name, ms, signal.id, state.maxExamples);
    const senderPid = signal.killer.pid;
    if (group.killer && senderPid !== null && !group.killer.pids.includes(senderPid) && group.killer.pids.length < 10) group.killer.pids.push(senderPid);
    const context = signal.context;
    if (kind === "kernel" && context && context.pid !== (signal.target.tid ?? signal.target.pid)) bump(group.contexts, `${context.pid}\n${context.comm}`, context.pid, context.comm, MAX_CONTEXTS);
    const victims = signal.victims.length > 0 ? signal.victims : [{ pid: signal.target.tid ?? signal.target.pid, comm: null, uid: null, user: null }];
    for (const v of victims) {
      // For kernel/fault signals the "sender" is just the running task: self-sending means nothing there.
      if (kind === "unmatched" && senderPid !== null && v.pid === senderPid) group.selfSent++;
      bump(group.victims, victimKey(v, signal.node), v.pid, v.comm, MAX_VICTIMS, () => group!.moreVictims++);
    }
  },
  detect({ state }) {
    const findings: DetectedFinding[] = [];
    for (const g of state.groups.values()) {
      const signals = [...g.signals].sort((a, b) => b[1] - a[1]);
      const sigText = signals.map(([n]) => n).join("/");
      const victims = [...g.victims.values()].sort((a, b) => b.count - a.count);
      const victimText = victims.map((v) => `${v.comm ?? "?"}[${v.pid ?? "?"}]${v.count > 1 ? ` ×${v.count}` : ""}`).join(", ") + (g.moreVictims ? `, … (${g.moreVictims} more)` : "");
      const counts: Record<string, number> = { signals: g.count };
      for (const [n, c] of signals) counts[n] = c;
      if (g.selfSent) counts.selfSent = g.selfSent;
      const notes = [`Hit: ${victimText}`];
      let severity: Severity;
      let headline: string;
      let explanation: string;
      let advice: string;
      // The process signals the kernel sends a sender in its own context, as both kinds of unmatched signal may be.
      const selfSentText = g.selfSent ? `(${g.selfSent} of these were sent to the sender itself, like SIGPIPE or SIGXFSZ)` : "(like SIGPIPE on a closed pipe)";
      if (g.kind === "kernel") {
        severity = g.signals.has("SIGKILL") ? "warning" : "info";
        headline = `The kernel itself sent ${sigText} to ${victimText} (${plural(g.count, "signal")}): ${g.label}`;
        explanation =
          "These signals were generated by the kernel (si_code SI_KERNEL), not by a kill() call, so audit has no record of them, " +
          "and the task that happened to be running is not their sender. " +
          (g.settle ? "The signal alone does not say which kernel path sent it." : "");
        advice =
          (g.settle ? `To settle it: ${g.settle}. ` : "") +
          (g.signals.has("SIGKILL")
            ? "If it was the OOM killer, look at the memory limit of the process's cgroup or container and its usage, or tune oom_score_adj. " +
              "Give report the kernel log of that time as well (`dmesg`, kern.log or `journalctl -k`, through capture or as they are): an OOM kill is then confirmed by its own report (the oom-kill finding) and counted once." +
              (g.label.includes("RLIMIT_CPU") ? " If it was RLIMIT_CPU, find who set `ulimit -t` (or LimitCPU=)." : "")
            : "Look at the kernel log around these times (`dmesg -T`).");
        if (g.contexts.size > 0) {
          const shown = [...g.contexts.values()].map((c) => `${c.pid === 0 ? "<idle>" : (c.comm ?? "?")}[${c.pid}]${c.count > 1 ? ` ×${c.count}` : ""}`);
          notes.push(`Running when the kernel generated them (context, not a sender): ${shown.join(", ")}`);
        }
      } else if (g.kind === "fault") {
        severity = "info";
        headline = `${sigText} raised by a fault in ${victimText} (${plural(g.count, "signal")}; ${g.label})`;
        explanation =
          "These signals come from the process's own fault (a bad memory access, an illegal instruction, a division by zero…): " +
          "the kernel raises them in the process itself, so no other process killed it and audit has no kill() record.";
        advice =
          "This is a crash, not a murder: look for a core dump (`coredumpctl list`), the program's logs, and the kernel log (segfault lines in `dmesg`).";
      } else if (g.untraced) {
        severity = "warning";
        headline = `${describeProcess(g.killer!)} sent ${sigText} ${plural(g.count, "time")} with no kill-family call the syscall tracepoints saw, to: ${victimText}`;
        explanation =
          "signal_generate saw these signals, but no kill-family syscall tracepoint fired around them. On a 64-bit kernel a 32-bit (compat) program's calls fire none: " +
          "its failed attempts (ESRCH on a free PID, EPERM) and probes leave no trace at all, and its uid and argv are not known. " +
          "Or the kernel sent the signal in the process's own context " +
          selfSentText +
          ", or it was a child's parent-death signal (PR_SET_PDEATHSIG).";
        advice =
          "Where a 32-bit program may be the sender, use whokilled's audit rules (scripts/setup-rule.ts install: both ABIs), alone or beside the tracepoints: " +
          "audit logs each of its calls, failed ones included, with uid and auid (docs/TRACEPOINTS.md).";
      } else {
        severity = "warning";
        headline = `${describeProcess(g.killer!)} sent ${sigText} ${plural(g.count, "time")} that audit did not record, to: ${victimText}`;
        explanation =
          "The kernel's tracepoints (tracefs) saw these signals, and audit was running at the time, but audit has no matching kill-family call from this sender. " +
          "Either the sender was started before audit was enabled (such processes are never audited), no audit rule covers the syscall it used " +
          "(tkill, tgkill, rt_sigqueueinfo, pidfd_send_signal…), or the kernel sent the signal in the process's own context " +
          selfSentText +
          ", or the signal was a child's parent-death signal (PR_SET_PDEATHSIG), which the kernel sends as the parent exits. Audit alone would have missed who did this.";
        advice =
          "Install the whokilled rule for every kill-family syscall and both ABIs (scripts/setup-rule.ts), " +
          "restart long-running senders after audit is enabled, or boot with audit=1 so every process is audited. " +
          "Keep tracefs capture running alongside audit to cover what audit cannot see.";
      }
      findings.push({
        severity,
        headline,
        explanation,
        advice,
        killer: g.killer && findingProcess(g.killer),
        target: victims.length === 1 ? { pid: victims[0]!.pid } : null,
        evidence: {
          count: g.count,
          first: isoTime(g.first),
          last: isoTime(g.last),
          examples: g.examples,
          counts,
          notes,
        },
      });
    }
    if (state.overflow > 0 && findings.length > 0) {
      findings[findings.length - 1]!.evidence.notes.push(`${state.overflow} more such signals from other senders were not grouped (too many distinct senders)`);
    }
    return findings;
  },
});
