/**
 * blind-spot: signals that only tracefs saw. Either the kernel sent them
 * itself (OOM killer, faults: audit never records these), or a process sent
 * them while audit was running yet audit has no matching call (a process
 * forked before audit was enabled, a syscall no rule covers).
 */
import { describeProcess, plural } from "../describe.ts";
import { isoTime, signalName, victimKey } from "../keys.ts";
import type { SignalLine } from "../../schema.ts";
import { defineDetector, type Finding, type FindingProcess, type Severity } from "./types.ts";

const TITLE = "Signals audit did not record";

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

interface GroupAcc {
  kind: "kernel" | "fault" | "unmatched";
  label: string;
  killer: FindingProcess | null;
  count: number;
  selfSent: number;
  signals: Map<string, number>;
  first: number | null;
  last: number | null;
  examples: string[];
  victims: Map<string, { pid: number | null; comm: string | null; count: number }>;
  moreVictims: number;
}

interface BlindState {
  groups: Map<string, GroupAcc>;
  /** Signals dropped because MAX_GROUPS was reached. */
  overflow: number;
  maxExamples: number;
}

function classify(signal: SignalLine, crossCheck: string | null): GroupAcc["kind"] | null {
  if (signal.source !== "tracefs") return null;
  if (!FATAL_SIGNALS.has(signalName(signal.signal))) return null;
  const kind = signal.origin?.kind;
  if (kind === "kernel") return "kernel";
  if (kind === "fault") return "fault";
  return crossCheck === "unmatched" ? "unmatched" : null;
}

export const blindSpot = defineDetector<BlindState>({
  id: "blind-spot",
  title: TITLE,
  description: "tracefs saw a signal from the kernel, or from a process, that audit has no record of",
  init: (options) => ({ groups: new Map(), overflow: 0, maxExamples: options.maxExamples }),
  observe(state, { signal, ms, crossCheck }) {
    const kind = classify(signal, crossCheck);
    if (!kind) return;
    const name = signalName(signal.signal);
    // The kernel's signals group by what it did; a process's by who sent them.
    const key =
      kind === "unmatched"
        ? `u\n${signal.killer.comm}\n${signal.killer.exe}\n${signal.killer.uid}${signal.node === null ? "" : `\n${signal.node}`}`
        : `k\n${kind}\n${name}\n${signal.origin?.label ?? ""}`;
    let group = state.groups.get(key);
    if (!group) {
      if (state.groups.size >= MAX_GROUPS) {
        state.overflow++;
        return;
      }
      group = {
        kind,
        label: signal.origin?.label ?? kind,
        killer:
          kind === "unmatched"
            ? { key, node: signal.node, pids: [], comm: signal.killer.comm, exe: signal.killer.exe, uid: signal.killer.uid, user: signal.killer.user }
            : null,
        count: 0,
        selfSent: 0,
        signals: new Map(),
        first: null,
        last: null,
        examples: [],
        victims: new Map(),
        moreVictims: 0,
      };
      state.groups.set(key, group);
    }
    group.count++;
    group.signals.set(name, (group.signals.get(name) ?? 0) + 1);
    const senderPid = signal.killer.pid;
    if (group.killer && senderPid !== null && !group.killer.pids.includes(senderPid) && group.killer.pids.length < 10) group.killer.pids.push(senderPid);
    if (ms !== null) {
      group.first = group.first === null ? ms : Math.min(group.first, ms);
      group.last = group.last === null ? ms : Math.max(group.last, ms);
    }
    if (group.examples.length < state.maxExamples) group.examples.push(signal.id);
    const victims = signal.victims.length > 0 ? signal.victims : [{ pid: signal.target.tid ?? signal.target.pid, comm: null, uid: null, user: null }];
    for (const v of victims) {
      // For kernel/fault signals the "sender" is just the running task: self-sending means nothing there.
      if (kind === "unmatched" && senderPid !== null && v.pid === senderPid) group.selfSent++;
      const vKey = victimKey(v, signal.node);
      const acc = group.victims.get(vKey);
      if (acc) acc.count++;
      else if (group.victims.size < MAX_VICTIMS) group.victims.set(vKey, { pid: v.pid, comm: v.comm, count: 1 });
      else group.moreVictims++;
    }
  },
  detect({ state }) {
    const findings: Finding[] = [];
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
      if (g.kind === "kernel") {
        severity = g.signals.has("SIGKILL") ? "warning" : "info";
        headline = `The kernel itself sent ${sigText} to ${victimText} (${plural(g.count, "signal")}; ${g.label})`;
        explanation =
          "These signals were generated by the kernel (si_code SI_KERNEL), not by a kill() call, so audit has no record of them. " +
          "A SIGKILL from the kernel usually means the OOM killer chose this process because memory ran out; " +
          "other kernel senders are cgroup.kill, a seccomp kill, or a CPU/file-size limit.";
        advice =
          "Check the kernel log around these times (`journalctl -k` or `dmesg -T`, look for \"Out of memory: Killed process\"), " +
          "the memory limits of the process's cgroup or container, and its resource limits (ulimit). " +
          "Give the process more memory or lower its usage, or tune oom_score_adj.";
      } else if (g.kind === "fault") {
        severity = "info";
        headline = `${sigText} raised by a fault in ${victimText} (${plural(g.count, "signal")}; ${g.label})`;
        explanation =
          "These signals come from the process's own fault (a bad memory access, an illegal instruction, a division by zero…): " +
          "the kernel raises them in the process itself, so no other process killed it and audit has no kill() record.";
        advice =
          "This is a crash, not a murder: look for a core dump (`coredumpctl list`), the program's logs, and the kernel log (segfault lines in `dmesg`).";
      } else {
        severity = "warning";
        headline = `${describeProcess(g.killer!)} sent ${sigText} ${plural(g.count, "time")} that audit did not record, to: ${victimText}`;
        explanation =
          "tracefs saw these signals, and audit was running at the time, but audit has no matching kill-family call from this sender. " +
          "Either the sender was started before audit was enabled (such processes are never audited), no audit rule covers the syscall it used " +
          "(tkill, tgkill, rt_sigqueueinfo, pidfd_send_signal…), or the kernel sent the signal in the process's own context " +
          (g.selfSent ? `(${g.selfSent} of these were sent to the sender itself, like SIGPIPE or SIGXFSZ)` : "(like SIGPIPE on a closed pipe)") +
          ". Audit alone would have missed who did this.";
        advice =
          "Install the whokilled rule for every kill-family syscall and both ABIs (scripts/setup-rule.ts), " +
          "restart long-running senders after audit is enabled, or boot with audit=1 so every process is audited. " +
          "Keep tracefs capture running alongside audit to cover what audit cannot see.";
      }
      findings.push({
        id: "blind-spot",
        title: TITLE,
        severity,
        headline,
        explanation,
        advice,
        killer: g.killer ? { ...g.killer, pids: [...g.killer.pids].sort((a, b) => a - b) } : null,
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
