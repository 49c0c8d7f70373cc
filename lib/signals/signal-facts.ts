/**
 * One signal, from an assembled event or an event line: what the filters
 * read of it (SignalFacts), the rules both forms share (self, probe; the
 * pidfd target is lib/signals/pidfd.ts), and SignalMaker, the one place a
 * stage turns events into signals. A kill-family event whose records read
 * plainly is made by bytes/signal-writer.ts from its bytes, as bytes (attribute) or
 * as the object those bytes parse to; anything else is interpreted in full
 * and made by eventToSignal (signal-line.ts), with the same stream rules.
 */
import type { AssembledEvent } from "../audit/assemble.ts";
import { interpretEvent } from "../audit/interpret.ts";
import type { LineWriter } from "../bytes/line-writer.ts";
import type { EventLine, PidFrom, SignalLine, TargetScope } from "../schema.ts";
import { PidfdTable, type PidfdCaller } from "./pidfd.ts";
import { sourceNamed } from "../sources/registry.ts";
import { isoMs } from "./time-spec.ts";
import { eventToSignal, isSignalEvent } from "./signal-line.ts";
import { SignalJsonWriter, type SignalJsonOptions } from "./bytes/signal-writer.ts";

/**
 * A signal, between the event it is read from and the line it is written
 * as. Each driver (eventToSignal from an event line, the byte writer from
 * the records' bytes) fills in the call, the killer and the victims;
 * applySignalRules answers the target, self and probe; the SignalLine
 * object (signal-line.ts targetOf) and the byte writer both write the line
 * from it. The byte writer's filters read it too; a signal line read as a
 * line gives its own (filter.ts factsOf). `victimPids` and `victimComms`
 * hold `victimCount` entries; the text members need only be filled for a
 * filter that says it reads them (FactFilter.needsText). `timeMs` is NaN
 * for a signal without a time.
 */
export interface SignalFacts {
  killerPid: number | null;
  killerPpid: number | null;
  /** pidfd_send_signal: the call's target is a descriptor, and the process it names comes from OBJ_PID or the stream. */
  pidfd: boolean;
  /** The call's target argument (a pid; pidfd_send_signal's descriptor), null when it has none. */
  callTarget: number | null;
  /** The target's scope: the call's (killScope), "process" without a target, "pidfd" by the rules. */
  scope: TargetScope;
  /** The process targeted: the call's target, or the one a pidfd names (applySignalRules). */
  targetPid: number | null;
  /** Where a pidfd's target pid comes from (applySignalRules). */
  pidFrom: PidFrom | null;
  tid: number | undefined;
  victimPids: Array<number | null>;
  victimCount: number;
  signalNr: number;
  probe: boolean;
  success: boolean | null;
  self: boolean;
  node: string | null;
  /** Audit time in epoch ms. */
  timeMs: number;
  killerComm: string | null;
  killerExe: string | null;
  victimComms: Array<string | null>;
  key: string | null;
}

/** Facts with nothing in them, to fill in (a writer keeps one and reuses it). */
export function emptyFacts(): SignalFacts {
  return {
    killerPid: null, killerPpid: null, pidfd: false, callTarget: null, scope: "process", targetPid: null, pidFrom: null, tid: undefined, victimPids: [], victimCount: 0,
    signalNr: 0, probe: false, success: null, self: false, node: null, timeMs: Number.NaN, killerComm: null, killerExe: null, victimComms: [], key: null,
  };
}

/** `self`: the killer signalled itself, or every victim is the killer. */
export function isSelf(killerPid: number | null, targetPid: number | null, victimPids: ReadonlyArray<number | null>, victimCount: number): boolean {
  if (killerPid === null) return false;
  if (targetPid === killerPid) return true;
  if (victimCount === 0) return false;
  for (let v = 0; v < victimCount; v++) if (victimPids[v] !== killerPid) return false;
  return true;
}

/** Without a stream, a pidfd target is only what OBJ_PID says (no caller: nothing is noted or looked up). */
const OBJ_PID_ONLY = new PidfdTable(0);

/**
 * The signal rules, on facts whose call, killer and victims are filled in:
 * the target (pidfd_send_signal's from its OBJ_PID, else inferred from what
 * the stream's `pidfds` said before audit time `atMs`; null: no stream),
 * self and probe.
 */
export function applySignalRules(facts: SignalFacts, pidfds: PidfdTable | null, atMs: number): void {
  // Signal 0 sends nothing: it asks whether the process exists and may be signalled.
  facts.probe = facts.signalNr === 0;
  const killerPid = facts.killerPid;
  if (!facts.pidfd) {
    facts.targetPid = facts.callTarget;
    facts.pidFrom = null;
    facts.self = isSelf(killerPid, facts.callTarget, facts.victimPids, facts.victimCount);
    return;
  }
  // a0 is a file descriptor; the process it names is only in OBJ_PID (without one, the stream may tell).
  // An a0 that is no number (NaN on bytes, null once through JSON: decode | attribute) names no descriptor.
  const fd = facts.callTarget !== null && Number.isNaN(facts.callTarget) ? null : facts.callTarget;
  facts.callTarget = fd;
  const objPid = facts.victimCount > 0 ? facts.victimPids[0]! : null;
  facts.self = isSelf(killerPid, objPid, facts.victimPids, facts.victimCount);
  // Before the filters: a call with OBJ_PID is evidence for later ones.
  const caller: PidfdCaller | null = pidfds !== null && fd !== null && killerPid !== null ? { node: facts.node, pid: killerPid, ppid: facts.killerPpid, exe: facts.killerExe } : null;
  const table = pidfds ?? OBJ_PID_ONLY;
  table.resolve(caller, fd, objPid, facts.success, atMs);
  facts.targetPid = table.targetPid;
  facts.pidFrom = table.pidFrom;
  facts.scope = "pidfd";
  facts.tid = undefined;
}

export interface SignalMakerOptions extends SignalJsonOptions {
  /** Where signal lines may be written as bytes; null: every signal is made as an object (report, --proc, tests). */
  writer: LineWriter | null;
}

/**
 * Events → signals. `event` takes an assembled event: "written" (its line
 * is in the writer), "filtered" (the filters dropped it there), a
 * SignalLine for the caller to filter and emit, or null (not a signal: any
 * process it shows was noted for ancestry). `line` does the same for an
 * event line.
 */
export class SignalMaker {
  private readonly writer: SignalJsonWriter;
  private readonly toBytes: boolean;

  constructor(private readonly options: SignalMakerOptions) {
    this.writer = new SignalJsonWriter(options.writer, options);
    this.toBytes = options.writer !== null;
  }

  event(event: AssembledEvent): SignalLine | "written" | "filtered" | null {
    const made = this.toBytes ? this.writer.write(event) : this.writer.signal(event);
    if (made !== "declined") return made;
    // Not a kill-family event the fields can be read from directly (execve for ancestry, tracefs, odd quoting): interpreted in full.
    return this.line(interpretEvent(event, this.options));
  }

  line(event: EventLine): SignalLine | null {
    const ancestry = this.options.ancestry;
    if (!isSignalEvent(event)) {
      ancestry.observe(event);
      return null;
    }
    // The processes as they were at the kill: the prefilter reads ahead, and the assembler can emit later events first.
    const parsed = event.time === null ? Number.POSITIVE_INFINITY : isoMs(event.time);
    const atMs = Number.isNaN(parsed) ? Number.POSITIVE_INFINITY : parsed;
    const signal = eventToSignal(event, { pidfds: ancestry.pidfds, atMs })!;
    if (sourceNamed(signal.source).streamAncestry) {
      const chain = ancestry.ancestry(signal.killer.ppid, atMs, event.node);
      if (chain.length > 0) signal.killer.ancestry = chain;
      // Who started each victim (supervisors kill their own children).
      for (const victim of signal.victims) {
        const ppid = ancestry.parentOf(victim.pid, victim.comm, atMs, event.node);
        if (ppid !== null) victim.ppid = ppid;
      }
    }
    return signal;
  }
}
