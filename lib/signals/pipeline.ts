/**
 * Upstream forms → `signal` lines: the stage attribute and report share.
 * Raw audit text and `record` lines are decoded first, but only events that
 * can matter (kill-family syscalls, execve for ancestry, tracefs signals) are
 * interpreted; everything else is grouped and counted, never parsed, which
 * is what makes attribute fast on a large log.
 */
import type { AssembledEvent } from "../audit/assemble.ts";
import { interpretEvent } from "../audit/interpret.ts";
import { summarizeSignalEvent } from "../audit/interpret-summary.ts";
import { InputErrors } from "../audit/input-errors.ts";
import { readInputs, type InputItem } from "../jsonl.ts";
import { EventStage, type DecodeSettings } from "../pipeline.ts";
import type { AnyLine, EventLine, GapLine, SignalLine } from "../schema.ts";
import { StreamAncestry } from "./ancestry.ts";
import { eventToSignal } from "./attribute.ts";
import { compileSignalFilter, timeWindow, type SignalFilterOptions } from "./filter.ts";
import { SignalLinePrefilter, signalSyscallNumbers } from "./prefilter.ts";
import { enrichFromProc, ProcReader } from "./proc.ts";
import { log } from "../log.ts";
import { escapeControl } from "../render/escape.ts";
import { isoMs } from "../time-spec.ts";

export interface SignalStageOptions extends DecodeSettings {
  filter: SignalFilterOptions;
  /** Enrich killers from live /proc (only when the process predates the event). */
  proc?: boolean;
}

export interface SignalStageStats {
  signals: number;
  filtered: number;
  gaps: number;
  ignored: number;
}

/** Field value by name from a raw record, without parsing the rest. */
function rawField(raw: string, name: string, from: number): string | null {
  const at = raw.indexOf(` ${name}=`, from - 1);
  if (at < 0) return null;
  const start = at + name.length + 2;
  let end = raw.indexOf(" ", start);
  if (end < 0) end = raw.length;
  return raw.slice(start, end);
}

/** Does this event need interpreting for attribution? */
export function mattersForSignals(event: AssembledEvent): boolean {
  for (const record of event.records) {
    if (record.type === "SIGNAL_GENERATE") return true;
    if (record.type !== "SYSCALL") continue;
    const arch = rawField(record.raw, "arch", record.bodyStart);
    const nr = rawField(record.raw, "syscall", record.bodyStart);
    if (arch === null || nr === null) return true; // odd record: let the interpreter judge it
    const numbers = signalSyscallNumbers(arch);
    if (numbers === null || numbers.has(Number(nr))) return true;
  }
  return false;
}

export class SignalStage {
  private readonly events: EventStage;
  private readonly accept: (signal: SignalLine) => boolean;
  private readonly proc: ProcReader | null;
  private readonly counts = { signals: 0, filtered: 0, gaps: 0, ignored: 0 };
  /** Give this to readInputs: raw lines that cannot matter are skipped before decoding. */
  readonly prefilter: SignalLinePrefilter;
  private readonly ancestry: StreamAncestry;

  constructor(options: SignalStageOptions, errors: InputErrors) {
    // Read once for the filter and the prefilter, so `--since 2h` means one instant to both.
    const window = timeWindow(options.filter);
    this.prefilter = new SignalLinePrefilter(window);
    this.ancestry = new StreamAncestry(this.prefilter.sightings);
    this.events = new EventStage(
      {
        ...options,
        eventFilter: mattersForSignals,
        // A kill-family event needs only its summary; anything else (execve, for ancestry) is interpreted in full.
        interpret: (event, interpretOptions) => summarizeSignalEvent(event, interpretOptions) ?? interpretEvent(event, interpretOptions),
      },
      errors,
    );
    this.accept = compileSignalFilter(options.filter, window);
    this.proc = options.proc ? new ProcReader() : null;
  }

  push(items: readonly InputItem[]): Array<SignalLine | GapLine> {
    return this.convert(this.events.push(items));
  }

  flush(): Array<SignalLine | GapLine> {
    this.prefilter.finish();
    return this.convert(this.events.flush());
  }

  /** Signals written and dropped by the filters (kills outside --since/--until that the prefilter left unread count as dropped). */
  get stats(): SignalStageStats {
    return { ...this.counts, filtered: this.counts.filtered + this.prefilter.outsideWindow };
  }

  /** Raw lines skipped unread by the prefilter, plus events grouped but not interpreted. */
  get unrelated(): { lines: number; events: number; ancestry: number } {
    return { lines: this.prefilter.skipped, events: this.events.stats.skipped, ancestry: this.prefilter.sighted };
  }

  get eventStats() {
    return this.events.stats;
  }

  private convert(lines: AnyLine[]): Array<SignalLine | GapLine> {
    const out: Array<SignalLine | GapLine> = [];
    for (const line of lines) {
      if (line.kind === "event") {
        const signal = this.fromEvent(line);
        if (signal) this.keep(signal, out);
      } else if (line.kind === "signal") {
        this.keep(line, out);
      } else if (line.kind === "gap") {
        this.counts.gaps++;
        out.push(line);
      } else {
        this.counts.ignored++;
      }
    }
    return out;
  }

  private fromEvent(event: EventLine): SignalLine | null {
    const signal = eventToSignal(event);
    if (!signal) {
      this.ancestry.observe(event);
      return null;
    }
    if (signal.source === "audit") {
      // The processes as they were at the kill: the prefilter reads ahead, and the assembler can emit later events first.
      const atMs = signal.time === null ? Number.POSITIVE_INFINITY : isoMs(signal.time);
      const chain = this.ancestry.ancestry(signal.killer.ppid, Number.isNaN(atMs) ? Number.POSITIVE_INFINITY : atMs, event.node);
      if (chain.length > 0) signal.killer.ancestry = chain;
    }
    return signal;
  }

  private readonly otherHosts = new Set<string>();

  /** Said once a node: --proc leaves that host's signals as the log has them. */
  private noteOtherHost(node: string, proc: ProcReader): void {
    if (this.otherHosts.has(node) || this.otherHosts.size >= 100) return;
    this.otherHosts.add(node);
    log.warn(`--proc: signals from node ${escapeControl(node)} are left as the log has them: this /proc is ${escapeControl(proc.hostName)}'s`);
  }

  private keep(signal: SignalLine, out: Array<SignalLine | GapLine>): void {
    if (!this.accept(signal)) {
      this.counts.filtered++;
      return;
    }
    if (this.proc && signal.killer.ancestry?.[0]?.from !== "proc") {
      if (this.proc.isThisHost(signal.node)) enrichFromProc(signal.killer, signal.time, this.proc);
      else this.noteOtherHost(signal.node!, this.proc);
    }
    this.counts.signals++;
    out.push(signal);
  }
}

/** Every signal line from these inputs (report's and tests' entry point). */
export async function* signalsFrom(
  inputs: readonly string[],
  options: SignalStageOptions & { errors: InputErrors; signal?: AbortSignal },
): AsyncGenerator<SignalLine | GapLine> {
  const stage = new SignalStage(options, options.errors);
  for await (const batch of readInputs(inputs, options.errors, { signal: options.signal, prefilter: stage.prefilter })) {
    yield* stage.push(batch);
  }
  yield* stage.flush();
}
