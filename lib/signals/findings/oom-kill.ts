/**
 * oom-kill: the kernel's OOM killer killed a process, confirmed by the
 * kernel's own report (a KERNEL_OOM record from the kernel log: the
 * `oom-kill:` and `Killed process N (COMM)` lines), never guessed from a
 * SIGKILL alone. Names the memory cgroup, its limit where the kernel printed
 * it (`memory: usage …, limit …`), and the victim's memory when it died.
 * Nothing here reads /sys: the log says what it says, for this host or not.
 */
import type { OomFacts, SignalLine } from "../../schema.ts";
import { isoTime } from "../keys.ts";
import { defineDetector, type DetectedFinding } from "./types.ts";

const MAX_KILLS = 1000;

interface OomState {
  kills: Array<{ signal: SignalLine; oom: OomFacts; ms: number | null }>;
  more: number;
}

/** kB as people read it: 50944 → "49.8 MiB". */
export function formatKb(kb: number): string {
  if (kb < 1024) return `${kb} kB`;
  const mib = kb / 1024;
  if (mib < 1024) return `${mib < 10 ? mib.toFixed(1) : Math.round(mib * 10) / 10} MiB`;
  return `${(mib / 1024).toFixed(1)} GiB`;
}

function rssText(oom: OomFacts): string | null {
  const parts: string[] = [];
  if (oom.anonRssKb !== null) parts.push(`anon-rss ${formatKb(oom.anonRssKb)}`);
  if (oom.fileRssKb !== null) parts.push(`file-rss ${formatKb(oom.fileRssKb)}`);
  if (oom.shmemRssKb !== null && oom.shmemRssKb > 0) parts.push(`shmem-rss ${formatKb(oom.shmemRssKb)}`);
  if (oom.totalVmKb !== null) parts.push(`total-vm ${formatKb(oom.totalVmKb)}`);
  return parts.length > 0 ? parts.join(", ") : null;
}

export const oomKill = defineDetector<OomState>({
  id: "oom-kill",
  title: "Killed by the kernel's OOM killer",
  init: () => ({ kills: [], more: 0 }),
  observe(state, observed) {
    const oom = observed.signal.cause?.oom;
    if (observed.signal.cause?.kind !== "oom" || oom === undefined) return;
    if (state.kills.length >= MAX_KILLS) state.more++;
    else state.kills.push({ signal: observed.signal, oom, ms: observed.ms });
  },
  detect({ state }) {
    const findings: DetectedFinding[] = [];
    for (const { signal, oom, ms } of state.kills) {
      const victim = signal.victims[0];
      // systemd's word in the journal names the unit, not the process.
      const who = victim === undefined && signal.unit !== undefined ? `a process of ${signal.unit}` : `${victim?.comm ?? "?"} (pid ${victim?.pid ?? signal.target.pid ?? "?"})`;
      const memcg = oom.constraint === "CONSTRAINT_MEMCG" && oom.memcg !== null;
      const where = memcg ? ` in memory cgroup ${oom.memcg}` : "";
      const limit = oom.limitKb !== null ? `, limit ${formatKb(oom.limitKb)}${oom.usageKb !== null ? ` (usage ${formatKb(oom.usageKb)})` : ""}` : "";
      const why = memcg ? `the cgroup hit its memory limit${limit}` : oom.constraint === "CONSTRAINT_NONE" ? "the whole system ran out of memory" : `memory ran out (${oom.constraint ?? "constraint not in the log"})`;
      const rss = rssText(oom);
      const notes: string[] = [];
      if (oom.taskMemcg !== null && oom.taskMemcg !== oom.memcg) notes.push(`The victim's own memory cgroup: ${oom.taskMemcg}`);
      if (oom.invokedBy !== null && oom.invokedBy !== victim?.comm) notes.push(`The allocation that invoked the OOM killer was ${oom.invokedBy}'s: it is not always the victim`);
      if (memcg && oom.limitKb === null) notes.push("The log does not state the cgroup's limit: read memory.max (cgroup v2) or memory.limit_in_bytes (v1) of that cgroup on its host");
      if (signal.bootSeconds !== undefined) notes.push(`Time: ${signal.bootSeconds} s after boot (dmesg's clock); the wall time is not in this log`);
      notes.push(...oom.lines.map((line) => (signal.source === "kernel-log" ? `Kernel log: ${line}` : line)));
      const time = isoTime(ms);
      findings.push({
        severity: "critical",
        headline: `The kernel's OOM killer killed ${who}${where}: ${why}${rss ? `; its memory then: ${rss}` : ""}`,
        explanation:
          (memcg
            ? `The processes of memory cgroup ${oom.memcg} together reached the cgroup's memory limit, and the kernel could not reclaim enough. `
            : "The system as a whole had no memory left to give, and the kernel could not reclaim enough. ") +
          "The kernel's OOM killer then chose the process with the highest badness score (mostly its memory use, shifted by oom_score_adj) and sent it SIGKILL. " +
          "No process called kill(), so audit has no record of it; the kernel's own report in its log is the evidence.",
        advice:
          (memcg ? `If the workload needs more, raise the limit of ${oom.memcg} (memory.max on cgroup v2, memory.limit_in_bytes on v1, or the container's --memory / the unit's MemoryMax=). ` : "Add memory or swap, or cap the biggest consumers in memory cgroups so one of them cannot take the whole system. ") +
          "If it should not need that much, find the leak: watch its RSS grow (ps, /proc/PID/status, smem) before the next kill. " +
          "To protect a process that must survive, lower its oom_score_adj (down to -1000: never chosen); to sacrifice one first, raise it.",
        killer: null,
        target: { pid: victim?.pid ?? signal.target.pid },
        evidence: { count: 1, first: time, last: time, examples: [signal.id], counts: { SIGKILL: 1 }, notes },
      });
    }
    if (state.more > 0 && findings.length > 0) findings[findings.length - 1]!.evidence.notes.push(`…and ${state.more} more OOM kills not listed`);
    return findings;
  },
});
