/**
 * Words and evidence the killer catalogue's findings share: who the victims
 * were, what a sender did to each in order ("SIGTERM, then SIGKILL 90 s
 * later"), who ran the sender, and the evidence block. Strings are not
 * escaped (comm/argv are attacker-controlled; renderers escape).
 */
import { describeAncestry, formatSpan, plural } from "../describe.ts";
import { isoTime, widen, type Span } from "../keys.ts";
import { graceMs, type KillSequence } from "./sequences.ts";
import type { Evidence, Finding, FindingProcess } from "./types.ts";

const LISTED_VICTIMS = 8;

/** `sleep (pid 301)` for one victim. */
export function victimText(seq: KillSequence): string {
  // A unit named by the journal, whose processes' pids it does not give.
  if (seq.victim.pid === null && seq.unit !== undefined) return `every process of ${seq.unit}`;
  return `${seq.victim.comm ?? "?"} (pid ${seq.victim.pid})`;
}

/** `nginx (pid 100), nginx (pid 101), …and 3 more`. */
export function victimList(seqs: readonly KillSequence[], max = LISTED_VICTIMS): string {
  const shown = seqs.slice(0, max).map(victimText).join(", ");
  return seqs.length > max ? `${shown}, …and ${seqs.length - max} more` : shown;
}

/** What one victim got, in order: `SIGTERM, then SIGCONT, then SIGKILL 5.0 s later`. */
export function sequenceText(seq: KillSequence): string {
  const parts: string[] = [];
  let previous: number | null = null;
  for (const step of seq.steps) {
    const delay = previous !== null && step.ms !== null && step.ms - previous >= 1000 ? ` ${formatSpan(step.ms - previous)} later` : "";
    if (parts.length === 0 || parts[parts.length - 1] !== step.name + delay) parts.push(step.name + delay);
    if (step.ms !== null) previous = step.ms;
  }
  const more = seq.total > seq.steps.length ? ` (${seq.total} signals in all)` : "";
  return parts.join(", then ") + more;
}

/** The sender, with every pid the sequences saw. */
export function catalogueKiller(seqs: readonly KillSequence[]): FindingProcess {
  const first = seqs[0]!.killer;
  const pids = new Set<number>();
  for (const seq of seqs) for (const pid of seq.killer.pids) if (pids.size < 10) pids.add(pid);
  return { ...first, pids: [...pids].sort((a, b) => a - b) };
}

/** The sender's parents, as one phrase: `run by sh[300] "sh -c pkill -f x" ← cron[200]`, or its parent pid alone. */
export function launcherText(seq: KillSequence): string | null {
  if (seq.killerAncestry.length > 0) return `run by ${describeAncestry(seq.killerAncestry)}`;
  if (seq.killerPpid !== null && seq.killerPpid > 0) return `its parent was pid ${seq.killerPpid} (no execve event or --proc said more)`;
  return null;
}

const SCHEDULERS = /^(cron|crond|anacron|atd|fcron|systemd)$/;

/** `a cron job` when the chain holds a scheduler, else null. */
export function scheduledBy(seq: KillSequence): string | null {
  const scheduler = seq.killerAncestry.find((a) => a.comm !== null && SCHEDULERS.test(a.comm) && a.pid !== 1);
  if (!scheduler) return null;
  return scheduler.comm === "atd" ? "an at job" : scheduler.comm === "systemd" ? "a systemd timer or service" : "a cron job";
}

/** The argv as one quoted command line, cut at 120 characters. */
export function commandText(argv: readonly string[]): string {
  const text = argv.join(" ");
  return `"${text.length > 120 ? `${text.slice(0, 119)}…` : text}"`;
}

export interface StopStory {
  /** Distinct stop signals sent first (SIGTERM, SIGINT…). */
  stopNames: string[];
  /** Victims that got SIGKILL after a stop signal, with the delay. */
  forced: Array<{ seq: KillSequence; graceMs: number }>;
  /** Victims that got a stop signal and no SIGKILL (they ended, or were left). */
  stoppedOnly: KillSequence[];
  /** Victims that got SIGKILL with no stop signal before. */
  killedOnly: KillSequence[];
}

export function stopStory(seqs: readonly KillSequence[]): StopStory {
  const names = new Set<string>();
  const story: StopStory = { stopNames: [], forced: [], stoppedOnly: [], killedOnly: [] };
  for (const seq of seqs) {
    if (seq.stop) names.add(seq.stop.name);
    const grace = graceMs(seq);
    if (grace !== null) story.forced.push({ seq, graceMs: grace });
    else if (seq.stop) story.stoppedOnly.push(seq);
    else if (seq.kill) story.killedOnly.push(seq);
  }
  story.stopNames = [...names];
  return story;
}

/** The median grace period used, ms. */
export function typicalGrace(story: StopStory): number | null {
  if (story.forced.length === 0) return null;
  const sorted = story.forced.map((f) => f.graceMs).sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/** Does a measured grace match a documented default (within 2 s: audit's clock is coarse, and the manager's timer is not exact)? */
export function matchesDefault(measuredMs: number, defaultMs: number): boolean {
  return Math.abs(measuredMs - defaultMs) <= 2000;
}

/** Evidence for a group of sequences: signals counted, the first and last, ids of the stop and kill signals first. */
function catalogueEvidence(seqs: readonly KillSequence[], maxExamples: number, notes: string[], extra: Record<string, number> = {}): Evidence {
  let count = 0;
  const span: Span = { first: null, last: null };
  const counts: Record<string, number> = { victims: seqs.length, ...extra };
  const bySignal: Record<string, number> = {};
  const examples: string[] = [];
  for (const seq of seqs) {
    count += seq.total;
    for (const step of seq.steps) {
      bySignal[step.name] = (bySignal[step.name] ?? 0) + 1;
      widen(span, step.ms);
    }
  }
  // One id per victim first (its stop, then its kill), so the examples cover several victims.
  for (const pick of [(s: KillSequence) => s.stop ?? s.steps[0], (s: KillSequence) => s.kill]) {
    for (const seq of seqs) {
      const step = pick(seq);
      if (step && examples.length < maxExamples && !examples.includes(step.id)) examples.push(step.id);
    }
  }
  for (const [name, n] of Object.entries(bySignal).sort((a, b) => b[1] - a[1])) counts[name] = n;
  return { count, first: isoTime(span.first), last: isoTime(span.last), examples, counts, notes };
}

/** What a catalogue finding says of its sequences besides its words: the sender, the one victim's PID when there is one, the evidence. */
export function catalogueFacts(seqs: readonly KillSequence[], maxExamples: number, notes: string[], extra?: Record<string, number>): Pick<Finding, "killer" | "target" | "evidence"> {
  return { killer: catalogueKiller(seqs), target: seqs.length === 1 ? { pid: seqs[0]!.victim.pid } : null, evidence: catalogueEvidence(seqs, maxExamples, notes, extra) };
}

/** One note per victim (a few): what it got, in order. */
export function perVictimNotes(seqs: readonly KillSequence[]): string[] {
  const notes = seqs.slice(0, LISTED_VICTIMS).map((seq) => `${victimText(seq)}: ${sequenceText(seq)}, first in ${(seq.stop ?? seq.steps[0])?.id ?? "?"}`);
  if (seqs.length > LISTED_VICTIMS) notes.push(`…and ${plural(seqs.length - LISTED_VICTIMS, "more process", "more processes")}`);
  return notes;
}

/**
 * The "stop signal, then SIGKILL after a grace period" sentence that
 * systemd, container runtimes and supervisors share, with the grace period
 * compared with the program's documented default.
 */
export function graceSentence(story: StopStory, defaultMs: number | null, setting: string | null): string {
  const parts: string[] = [];
  const stop = story.stopNames.length > 0 ? story.stopNames.join("/") : null;
  const typical = typicalGrace(story);
  if (typical !== null) {
    const which = story.stoppedOnly.length === 0 && story.killedOnly.length === 0 ? "" : ` to ${story.forced.length} of them`;
    let why = "";
    if (setting !== null && defaultMs !== null) {
      why = matchesDefault(typical, defaultMs)
        ? `: the grace period ran out (${setting})`
        : `: a grace period of ${formatSpan(typical)}, not the default ${formatSpan(defaultMs)} (${setting})`;
    }
    parts.push(`${stop ?? "a stop signal"}, then SIGKILL ${formatSpan(typical)} later${which}${why}`);
  }
  if (story.stoppedOnly.length > 0) {
    const names = [...new Set(story.stoppedOnly.map((s) => s.stop!.name))].join("/");
    parts.push(
      typical === null
        ? `${names}, and no SIGKILL followed (it stopped within the grace period, or was left running)`
        : `${names} alone to ${story.stoppedOnly.length} (no SIGKILL followed)`,
    );
  }
  if (story.killedOnly.length > 0) parts.push(`SIGKILL with no stop signal first${typical !== null || story.stoppedOnly.length > 0 ? ` to ${story.killedOnly.length}` : ""}`);
  return parts.join("; ");
}
