/**
 * The killer catalogue's shared state: what each catalogue killer did to
 * each victim, in order (the stop signal, SIGCONT, the SIGKILL after a grace
 * period). One table serves every catalogue finding (timeout, pkill,
 * supervisor, systemd, container, memory-pressure); each asks for its kind.
 *
 * A signal belongs to a kind by its sender (lib/tables/killers.ts), or, for
 * a sender the table does not know, by the victim's parent: a sender that is
 * the victim's parent (its execve event in the log names the sender as
 * ppid) is a supervisor, and so is a kill(1) whose parent is the victim's.
 *
 * Bounded: at most `maxSequences` sequences (one per kind and victim); past
 * that, the oldest goes (`notKept` counts them). Each sequence keeps its
 * first few steps and counts the rest.
 */
import type { AncestorInfo, SignalLine, Victim } from "../../schema.ts";
import { SI_TIMER } from "../../tables/kernel-signals.ts";
import { killerProgram, type KillerKind, type KillerProgram } from "../../tables/killers.ts";
import { blamedKiller, signalName, signalNr } from "../keys.ts";
import { BoundedMap } from "../tally.ts";
import { defineSharedDetector, type DetectorSpec, type FindingDetector, type FindingProcess, type ObservedSignal } from "./types.ts";
import { SIG } from "../../tables/signals.ts";

/** First signals of one stop are at most this far apart (stopEpisodes). */
const EPISODE_GAP_MS = 5000;
const MAX_STEPS = 8;

export interface SequenceStep {
  name: string;
  ms: number | null;
  id: string;
}

export interface KillSequence {
  key: string;
  kind: KillerKind;
  /** The catalogue row of the sender, null when it is a supervisor only by being the victim's parent. */
  program: KillerProgram | null;
  /** The sender of the first signal. */
  killer: FindingProcess;
  killerPid: number | null;
  killerPpid: number | null;
  killerArgv: string[];
  killerAncestry: AncestorInfo[];
  /** The supervisor's pid: the sender, or for kill(1) run by the victim's parent, that parent. */
  parentPid: number | null;
  /** How the parent is known: the victim's execve names the sender (or kill(1)'s parent) as its parent. */
  parentKnown: boolean;
  victim: Victim;
  steps: SequenceStep[];
  total: number;
  firstMs: number | null;
  /** The first signal that asks the victim to stop (not SIGKILL, SIGCONT or a probe). */
  stop: SequenceStep | null;
  /** The first SIGKILL. */
  kill: SequenceStep | null;
  /** The systemd unit a journal signal names (the victim's). */
  unit?: string;
}

export interface TimerFire {
  ms: number | null;
  id: string;
}

export class SequenceTable {
  readonly sequences: BoundedMap<KillSequence>;
  /** SIGALRM timers that fired on a process named timeout (SI_TIMER; from tracefs): (node, pid) → when. */
  readonly timers: BoundedMap<TimerFire & { key: string }>;
  private last: ObservedSignal | null = null;
  /** Each killer's last argv and ancestry: its sequences share one copy instead of each keeping its own signal's (see sharedOrigin). */
  private readonly origins = new Map<string, { argv: string[]; ancestry: AncestorInfo[] }>();

  constructor(
    private readonly maxSequences: number,
    private readonly maxExamples: number,
  ) {
    this.sequences = new BoundedMap<KillSequence>(maxSequences, (s) => s.key, () => true);
    this.timers = new BoundedMap<TimerFire & { key: string }>(maxSequences, (t) => t.key, () => true);
  }

  /** Every sequence of one kind. */
  *of(kind: KillerKind): Generator<KillSequence> {
    for (const seq of this.sequences.values()) if (seq.kind === kind) yield seq;
  }

  timerOf(node: string | null, pid: number | null): TimerFire | undefined {
    return pid === null ? undefined : this.timers.get(JSON.stringify([node, pid]));
  }

  /** Count one signal. Safe to call from several detectors: the same signal counts once. */
  add(observed: ObservedSignal): void {
    if (observed === this.last) return;
    this.last = observed;
    const { signal, ms } = observed;
    if (signal.signal.nr === 0 || signal.probe) return;
    if (signal.source === "tracefs") {
      this.noteTimer(signal, ms);
      // Only signals tracefs saw sent by a task: the kernel's own have no sender here.
      const kind = signal.origin?.kind;
      if (kind !== undefined && kind !== "user" && kind !== "tkill" && kind !== "queue") return;
    }
    const killer = blamedKiller(signal);
    const program = killerProgram(killer);
    // systemd-oomd's journal line names the cgroup it killed, not a pid: the unit stands for its processes.
    const unitOnly = signal.victims.length === 0 && signal.unit !== undefined && program !== null;
    const victims: readonly Victim[] = unitOnly ? [{ pid: null, comm: signal.unit!, uid: null, user: null }] : signal.victims;
    for (const victim of victims) {
      if ((victim.pid === null && !unitOnly) || victim.pid === killer.pid) continue;
      const place = classify(killer, program, victim);
      if (place === null) continue;
      this.step(observed, place, victim, ms);
    }
  }

  private noteTimer(signal: SignalLine, ms: number | null): void {
    if (signal.signal.nr !== SIG.ALRM || signal.origin?.code !== SI_TIMER) return;
    for (const victim of signal.victims) {
      if (victim.comm !== "timeout" || victim.pid === null) continue;
      const key = JSON.stringify([signal.node, victim.pid]);
      if (this.timers.get(key) || !this.timers.makeRoom()) continue;
      this.timers.add({ key, ms, id: signal.id });
    }
  }

  /**
   * The argv and ancestry a new sequence keeps, as arrays shared with the killer's sequences before
   * when they hold the same: every signal carries its own copies, and one process killing thousands of victims would keep thousands.
   */
  private sharedOrigin(kKey: string, argv: string[], ancestry: AncestorInfo[]): { killerArgv: string[]; killerAncestry: AncestorInfo[] } {
    let origin = this.origins.get(kKey);
    if (origin === undefined || !Bun.deepEquals(origin.argv, argv) || !Bun.deepEquals(origin.ancestry, ancestry)) {
      // Killers are as many as sequences at most, but a log can rename its killers endlessly: start over rather than grow.
      if (this.origins.size >= this.maxSequences) this.origins.clear();
      this.origins.set(kKey, (origin = { argv, ancestry }));
    }
    return { killerArgv: origin.argv, killerAncestry: origin.ancestry };
  }

  private step(observed: ObservedSignal, place: Placement, victim: Victim, ms: number | null): void {
    const { signal } = observed;
    const key = JSON.stringify([signal.node, place.kind, victim.pid, victim.comm]);
    let seq = this.sequences.get(key);
    if (!seq) {
      if (!this.sequences.makeRoom()) return;
      const who = blamedKiller(signal);
      seq = {
        key,
        kind: place.kind,
        program: place.program,
        killer: { key: observed.killerKey, node: signal.node, pids: who.pid === null ? [] : [who.pid], comm: who.comm, exe: who.exe, uid: who.uid, user: who.user },
        killerPid: who.pid,
        killerPpid: who.ppid,
        ...this.sharedOrigin(observed.killerKey, who.argv, who.ancestry ?? []),
        parentPid: place.parentPid,
        parentKnown: place.parentKnown,
        victim: { ...victim },
        steps: [],
        total: 0,
        firstMs: ms,
        stop: null,
        kill: null,
      };
      this.sequences.add(seq);
    }
    seq.total++;
    if (signal.unit !== undefined) seq.unit ??= signal.unit;
    const pid = signal.killer.pid;
    if (pid !== null && seq.killer.pids.length < 10 && !seq.killer.pids.includes(pid)) seq.killer.pids.push(pid);
    if (ms !== null && (seq.firstMs === null || ms < seq.firstMs)) seq.firstMs = ms;
    const nr = signalNr(signal.signal);
    const step: SequenceStep = { name: signalName(signal.signal), ms, id: signal.id };
    if (seq.steps.length < Math.max(MAX_STEPS, this.maxExamples)) seq.steps.push(step);
    if (nr === SIG.KILL) seq.kill ??= step;
    else if (nr !== SIG.CONT) seq.stop ??= step;
  }
}

interface Placement {
  kind: KillerKind;
  program: KillerProgram | null;
  parentPid: number | null;
  parentKnown: boolean;
}

/**
 * Which catalogue kind a signal to this victim is. The sender's program
 * first; kill(1) whose parent also started the victim is that parent
 * stopping its child; an unknown sender that is the victim's parent is a
 * supervisor (a shell loop, a custom one).
 */
function classify(killer: SignalLine["killer"], program: KillerProgram | null, victim: Victim): Placement | null {
  const isParent = victim.ppid !== undefined && killer.pid !== null && victim.ppid === killer.pid;
  if (program && program.kind !== "pkill") return { kind: program.kind, program, parentPid: program.kind === "supervisor" ? killer.pid : null, parentKnown: isParent };
  if (program && program.names.includes("kill") && victim.ppid !== undefined && victim.ppid === killer.ppid) {
    return { kind: "supervisor", program: null, parentPid: killer.ppid, parentKnown: true };
  }
  if (program) return { kind: "pkill", program, parentPid: null, parentKnown: false };
  if (isParent) return { kind: "supervisor", program: null, parentPid: killer.pid, parentKnown: true };
  return null;
}

/** A catalogue detector: its state is the run's one SequenceTable, which every catalogue detector reads. */
export function defineSequenceDetector(detector: Pick<DetectorSpec<SequenceTable>, "id" | "title" | "detect">): FindingDetector<SequenceTable> {
  return defineSharedDetector("sequences", (options) => new SequenceTable(options.maxSequences, options.maxExamples), detector);
}

/** How long after the stop signal the SIGKILL came, ms; null without both. */
export function graceMs(seq: KillSequence): number | null {
  if (!seq.stop || !seq.kill || seq.stop.ms === null || seq.kill.ms === null || seq.kill.ms < seq.stop.ms) return null;
  return seq.kill.ms - seq.stop.ms;
}

/** Sequences grouped by sender and time: the processes one stop acted on (first signals within EPISODE_GAP_MS of the one before). */
export function stopEpisodes(sequences: Iterable<KillSequence>): KillSequence[][] {
  const episodes: KillSequence[][] = [];
  for (const group of groupBy(sequences, (seq) => seq.killer.key)) {
    let current: KillSequence[] = [];
    let lastMs: number | null = null;
    for (const seq of group) {
      if (current.length > 0 && (seq.firstMs === null || lastMs === null || seq.firstMs - lastMs > EPISODE_GAP_MS)) {
        episodes.push(current);
        current = [];
      }
      current.push(seq);
      lastMs = seq.firstMs;
    }
    if (current.length > 0) episodes.push(current);
  }
  return episodes;
}

/** Sequences grouped by one key (a sender, its pid, a supervisor's pid), each group in order of its first signal. */
export function groupBy(sequences: Iterable<KillSequence>, keyOf: (seq: KillSequence) => string): KillSequence[][] {
  const groups = new Map<string, KillSequence[]>();
  for (const seq of sequences) {
    const key = keyOf(seq);
    const group = groups.get(key);
    if (group) group.push(seq);
    else groups.set(key, [seq]);
  }
  return [...groups.values()].map((group) => group.sort((a, b) => (a.firstMs ?? 0) - (b.firstMs ?? 0)));
}
