/**
 * attribute's fast path over raw audit text: decide from a line's text in its
 * chunk, before it is cut out and parsed, whether it can matter for a signal
 * line.
 *
 * Only SYSCALL records of the kill family (and execve, for ancestry), their
 * OBJ_PID and PROCTITLE records, EOE, and our SIGNAL_GENERATE are kept. On a
 * typical log that is a few per cent of the lines; the rest are counted and
 * skipped without being parsed. Lines that do not start with `type=` or
 * `node=… type=` (JSON lines, kernel-log forms, ausearch separators, garbage)
 * are always kept, so the normal path still handles or reports them.
 *
 * A PROCTITLE or EOE is kept when its event's SYSCALL was kept. ausearch
 * pastes sometimes put PROCTITLE first, so the last few skipped PROCTITLE
 * lines are held and released if their SYSCALL turns up.
 */
import type { LinePrefilter } from "../jsonl.ts";
import { detach } from "../strings.ts";
import { archName } from "../tables/arch.ts";
import { killFamilyNumbers } from "../tables/kill-family.ts";
import { syscallNumber } from "../tables/syscalls.ts";

const HELD_LIMIT = 16;
const WANTED_LIMIT = 4096;

type Take = (text: string, start: number, end: number, line: number) => void;

const interestingByArch = new Map<string, ReadonlySet<number> | null>();

/**
 * The syscall numbers attribute interprets on this `arch=` value (hex): the
 * kill family, plus execve/execveat for ancestry. null for an arch we cannot
 * judge, whose events are then kept.
 */
export function signalSyscallNumbers(archHex: string): ReadonlySet<number> | null {
  const cached = interestingByArch.get(archHex);
  if (cached !== undefined) return cached;
  const arch = archName(archHex);
  let numbers: ReadonlySet<number> | null = null;
  if (arch !== null) {
    const set = new Set(killFamilyNumbers(arch));
    for (const name of ["execve", "execveat"]) {
      const nr = syscallNumber(arch, name);
      if (nr !== null) set.add(nr);
    }
    numbers = set;
  }
  // Bounded: arbitrary input cannot grow the cache past a handful of arches.
  if (interestingByArch.size < 64) interestingByArch.set(detach(archHex), numbers);
  return numbers;
}

/** `name=value` inside text[from, end): the value, or null. */
function fieldIn(text: string, name: string, from: number, end: number): string | null {
  const at = text.indexOf(name, from);
  if (at < 0 || at >= end) return null;
  const start = at + name.length;
  let stop = text.indexOf(" ", start);
  if (stop < 0 || stop > end) stop = end;
  return text.slice(start, stop);
}

/** The `SEC.MS:SERIAL` of `audit(…)` inside text[from, end). */
function stampIn(text: string, from: number, end: number): string | null {
  const open = text.indexOf("audit(", from);
  if (open < 0 || open >= end) return null;
  const close = text.indexOf(")", open + 6);
  return close < 0 || close > end ? null : text.slice(open + 6, close);
}

export class SignalLinePrefilter implements LinePrefilter {
  /** Lines judged irrelevant and not parsed. */
  skipped = 0;
  private wantedNow = new Set<string>();
  private wantedBefore = new Set<string>();
  private held: Array<{ id: string; text: string; line: number }> = [];

  filter(text: string, start: number, end: number, line: number, take: Take): void {
    let typeAt = start;
    if (text.startsWith("node=", start)) {
      const space = text.indexOf(" ", start);
      if (space < 0 || space >= end) return take(text, start, end, line);
      typeAt = space + 1;
    }
    if (!text.startsWith("type=", typeAt)) return take(text, start, end, line);
    const nameAt = typeAt + 5;
    if (text.startsWith("SYSCALL ", nameAt)) return this.syscall(text, start, end, line, nameAt, take);
    if (text.startsWith("OBJ_PID ", nameAt) || text.startsWith("SIGNAL_GENERATE ", nameAt)) return take(text, start, end, line);
    const proctitle = text.startsWith("PROCTITLE ", nameAt);
    if (proctitle || text.startsWith("EOE ", nameAt)) {
      const id = stampIn(text, nameAt, end);
      if (id === null || this.isWanted(id)) return take(text, start, end, line);
      if (proctitle) {
        // Copies of just this line: a slice would keep its whole chunk alive.
        this.held.push({ id: detach(id), text: detach(text.slice(start, end)), line });
        if (this.held.length > HELD_LIMIT) {
          this.held.shift();
          this.skipped++;
        }
        return;
      }
    }
    this.skipped++;
  }

  /** End of input: held lines never claimed are skipped lines. */
  finish(): void {
    this.skipped += this.held.length;
    this.held = [];
  }

  private syscall(text: string, start: number, end: number, line: number, from: number, take: Take): void {
    const id = stampIn(text, from, end);
    const arch = fieldIn(text, " arch=", from, end);
    const nr = fieldIn(text, " syscall=", from, end);
    if (id !== null && arch !== null && nr !== null) {
      const numbers = signalSyscallNumbers(arch);
      if (numbers !== null && !numbers.has(Number(nr))) {
        this.skipped++;
        return;
      }
    }
    if (id !== null) {
      // Copies: these sets outlive the chunk the id was cut from.
      this.wantedNow.add(detach(id));
      if (this.wantedNow.size >= WANTED_LIMIT) {
        this.wantedBefore = this.wantedNow;
        this.wantedNow = new Set();
      }
      const index = this.held.findIndex((h) => h.id === id);
      if (index >= 0) {
        const [claimed] = this.held.splice(index, 1);
        take(claimed!.text, 0, claimed!.text.length, claimed!.line);
      }
    }
    take(text, start, end, line);
  }

  private isWanted(id: string): boolean {
    return this.wantedNow.has(id) || this.wantedBefore.has(id);
  }
}
