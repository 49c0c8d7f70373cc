/**
 * attribute's fast path over raw audit text: decide from a line's bytes,
 * before it becomes a string, whether it can matter for a signal line.
 *
 * Only SYSCALL records of the kill family (and execve, for ancestry), their
 * OBJ_PID and PROCTITLE records, EOE, and our SIGNAL_GENERATE are kept. On a
 * typical log that is a few per cent of the lines; the rest are counted and
 * skipped without being decoded. Lines that do not start with `type=` or
 * `node=… type=` (JSON lines, kernel-log forms, ausearch separators, garbage)
 * are always kept, so the normal path still handles or reports them.
 *
 * A PROCTITLE or EOE is kept when its event's SYSCALL was kept. ausearch
 * pastes sometimes put PROCTITLE first, so the last few skipped PROCTITLE
 * lines are held and released if their SYSCALL turns up.
 *
 * execve events only feed the killers' ancestry, and a log has many of them,
 * so they are not decoded at all: pid, ppid, comm and exe are read off the
 * SYSCALL line's bytes, and the argv from its PROCTITLE, and handed to
 * `onProcess` (lib/signals/attribute.ts StreamAncestry).
 */
import type { LinePrefilter } from "../jsonl.ts";
import { archName } from "../tables/arch.ts";
import { killFamilyNumbers } from "../tables/kill-family.ts";
import { syscallNumber } from "../tables/syscalls.ts";

const HELD_LIMIT = 16;
const WANTED_LIMIT = 4096;

type Take = (text: string, line: number) => void;

const bytesOf = (text: string) => Buffer.from(text, "latin1");
const TYPE = bytesOf("type=");
const NODE = bytesOf("node=");
const SYSCALL = bytesOf("SYSCALL ");
const OBJ_PID = bytesOf("OBJ_PID ");
const PROCTITLE = bytesOf("PROCTITLE ");
const EXECVE = bytesOf("EXECVE ");
const EOE = bytesOf("EOE ");
const SIGNAL_GENERATE = bytesOf("SIGNAL_GENERATE ");
const ARCH = bytesOf(" arch=");
const SYSCALL_FIELD = bytesOf(" syscall=");
const STAMP = bytesOf("audit(");

const PID = bytesOf(" pid=");
const PPID = bytesOf(" ppid=");
const COMM = bytesOf(" comm=");
const EXE = bytesOf(" exe=");
const SUCCESS_NO = bytesOf(" success=no");
const PROCTITLE_FIELD = bytesOf(" proctitle=");

/** What an execve event says about a process, for ancestry. */
export interface ProcessSighting {
  pid: number;
  ppid: number | null;
  comm: string | null;
  exe: string | null;
  /** The raw proctitle value (hex or quoted), when its record has been seen. */
  proctitle?: string;
  /** The EXECVE record's whole line: the new program's argv (PROCTITLE may still show the old one). */
  execve?: string;
}

/** A field's raw value (hex, or quoted with the quotes removed) and whether it was quoted. */
function rawValueIn(bytes: Buffer, name: Buffer, from: number, stop: number): string | null {
  const at = bytes.indexOf(name, from);
  if (at < 0 || at >= stop) return null;
  const start = at + name.length;
  if (bytes[start] === 0x22 /* " */) {
    const close = bytes.indexOf(0x22, start + 1);
    return close < 0 || close > stop ? null : `"${bytes.toString("utf8", start + 1, close)}"`;
  }
  let end = bytes.indexOf(0x20, start);
  if (end < 0 || end > stop) end = stop;
  return bytes.toString("latin1", start, end);
}

/** Per `arch=` value (hex): the syscalls attribute interprets, and which of them are execve. */
interface ArchNumbers {
  /** The kill family plus execve/execveat (for ancestry). */
  all: ReadonlySet<number>;
  execve: ReadonlySet<number>;
}

const numbersByArch = new Map<string, ArchNumbers | null>();

function archNumbers(archHex: string): ArchNumbers | null {
  const cached = numbersByArch.get(archHex);
  if (cached !== undefined) return cached;
  const arch = archName(archHex);
  let numbers: ArchNumbers | null = null;
  if (arch !== null) {
    const execve = new Set(["execve", "execveat"].map((name) => syscallNumber(arch, name)).filter((nr) => nr !== null));
    numbers = { all: new Set([...killFamilyNumbers(arch), ...execve]), execve };
  }
  // Bounded: arbitrary input cannot grow the cache past a handful of arches.
  if (numbersByArch.size < 64) numbersByArch.set(archHex, numbers);
  return numbers;
}

/**
 * The syscall numbers attribute interprets on this `arch=` value (hex): the
 * kill family, plus execve/execveat for ancestry. null for an arch we cannot
 * judge, whose events are then kept.
 */
export function signalSyscallNumbers(archHex: string): ReadonlySet<number> | null {
  return archNumbers(archHex)?.all ?? null;
}

function startsWithAt(bytes: Buffer, prefix: Buffer, at: number, stop: number): boolean {
  if (stop < at + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}

/** `name=value` in bytes[from, stop): the value as a (fresh) string, or null. */
function fieldIn(bytes: Buffer, name: Buffer, from: number, stop: number): string | null {
  const at = bytes.indexOf(name, from);
  if (at < 0 || at >= stop) return null;
  const start = at + name.length;
  let end = bytes.indexOf(0x20, start);
  if (end < 0 || end > stop) end = stop;
  return bytes.toString("latin1", start, end);
}

/** The unsigned decimal at bytes[from…], or -1: no string made. */
function decimalIn(bytes: Buffer, name: Buffer, from: number, stop: number): number {
  const at = bytes.indexOf(name, from);
  if (at < 0 || at >= stop) return -1;
  let value = 0;
  let i = at + name.length;
  for (; i < stop; i++) {
    const c = bytes[i]!;
    if (c < 0x30 || c > 0x39) break;
    value = value * 10 + c - 0x30;
  }
  return i === at + name.length ? -1 : value;
}

/** The `SEC.MS:SERIAL` of `audit(…)` in bytes[from, stop). */
function stampIn(bytes: Buffer, from: number, stop: number): string | null {
  const open = bytes.indexOf(STAMP, from);
  if (open < 0 || open >= stop) return null;
  const close = bytes.indexOf(0x29 /* ) */, open + STAMP.length);
  return close < 0 || close > stop ? null : bytes.toString("latin1", open + STAMP.length, close);
}

export class SignalLinePrefilter implements LinePrefilter {
  /** Lines judged irrelevant and not decoded. */
  skipped = 0;
  /** Lines read only for ancestry (execve SYSCALL and PROCTITLE), not decoded. */
  sighted = 0;
  /** execve ids whose PROCTITLE should complete a sighting. */
  private sightings = new Map<string, ProcessSighting>();

  constructor(private readonly onProcess: (sighting: ProcessSighting) => void = () => {}) {}
  private wantedNow = new Set<string>();
  private wantedBefore = new Set<string>();
  private held: Array<{ id: string; text: string; line: number }> = [];

  filter(bytes: Buffer, start: number, stop: number, line: number, take: Take): void {
    let typeAt = start;
    if (startsWithAt(bytes, NODE, start, stop)) {
      const space = bytes.indexOf(0x20, start);
      if (space < 0 || space >= stop) return take(bytes.toString("utf8", start, stop), line);
      typeAt = space + 1;
    }
    if (!startsWithAt(bytes, TYPE, typeAt, stop)) return take(bytes.toString("utf8", start, stop), line);
    const nameAt = typeAt + TYPE.length;
    if (startsWithAt(bytes, SYSCALL, nameAt, stop)) return this.syscall(bytes, start, stop, line, nameAt, take);
    if (startsWithAt(bytes, OBJ_PID, nameAt, stop) || startsWithAt(bytes, SIGNAL_GENERATE, nameAt, stop)) {
      return take(bytes.toString("utf8", start, stop), line);
    }
    if (this.sightings.size > 0 && startsWithAt(bytes, EXECVE, nameAt, stop)) {
      const id = stampIn(bytes, nameAt, stop);
      const sighting = id === null ? undefined : this.sightings.get(id);
      if (sighting) {
        this.sighted++;
        sighting.execve = bytes.toString("utf8", start, stop);
        return;
      }
    }
    const proctitle = startsWithAt(bytes, PROCTITLE, nameAt, stop);
    if (proctitle || startsWithAt(bytes, EOE, nameAt, stop)) {
      const id = stampIn(bytes, nameAt, stop);
      if (proctitle && id !== null && this.completeSighting(id, bytes, nameAt, stop)) return;
      if (id === null || this.isWanted(id)) return take(bytes.toString("utf8", start, stop), line);
      if (proctitle) {
        this.held.push({ id, text: bytes.toString("utf8", start, stop), line });
        if (this.held.length > HELD_LIMIT) {
          this.held.shift();
          this.skipped++;
        }
        return;
      }
    }
    this.skipped++;
  }

  /** End of input: held lines never claimed are skipped lines; sightings without argv still count. */
  finish(): void {
    this.skipped += this.held.length;
    this.held = [];
    for (const sighting of this.sightings.values()) this.onProcess(sighting);
    this.sightings.clear();
  }

  private completeSighting(id: string, bytes: Buffer, from: number, stop: number): boolean {
    const sighting = this.sightings.get(id);
    if (!sighting) return false;
    this.sightings.delete(id);
    this.sighted++;
    const proctitle = rawValueIn(bytes, PROCTITLE_FIELD, from, stop);
    if (proctitle !== null) sighting.proctitle = proctitle;
    this.onProcess(sighting);
    return true;
  }

  /** An execve SYSCALL: note the process, decode nothing. */
  private sight(bytes: Buffer, from: number, stop: number): void {
    this.sighted++;
    const id = stampIn(bytes, from, stop);
    const pid = decimalIn(bytes, PID, from, stop);
    if (pid < 0) return;
    const ppid = decimalIn(bytes, PPID, from, stop);
    const sighting: ProcessSighting = { pid, ppid: ppid < 0 ? null : ppid, comm: rawValueIn(bytes, COMM, from, stop), exe: rawValueIn(bytes, EXE, from, stop) };
    if (bytes.indexOf(SUCCESS_NO, from) >= 0 && bytes.indexOf(SUCCESS_NO, from) < stop) return;
    if (id === null) return this.onProcess(sighting);
    const held = this.held.findIndex((h) => h.id === id);
    if (held >= 0) {
      const [claimed] = this.held.splice(held, 1);
      const title = /proctitle=(\S+)/.exec(claimed!.text);
      if (title) sighting.proctitle = title[1]!;
      return this.onProcess(sighting);
    }
    // Bounded: a PROCTITLE normally follows within a few lines.
    if (this.sightings.size >= HELD_LIMIT) {
      const oldest = this.sightings.keys().next().value;
      if (oldest !== undefined) {
        this.onProcess(this.sightings.get(oldest)!);
        this.sightings.delete(oldest);
      }
    }
    this.sightings.set(id, sighting);
  }

  private syscall(bytes: Buffer, start: number, stop: number, line: number, from: number, take: Take): void {
    const nr = decimalIn(bytes, SYSCALL_FIELD, from, stop);
    const arch = fieldIn(bytes, ARCH, from, stop);
    if (arch !== null && nr >= 0) {
      const numbers = archNumbers(arch);
      if (numbers !== null && !numbers.all.has(nr)) {
        this.skipped++;
        return;
      }
      if (numbers?.execve.has(nr)) return this.sight(bytes, from, stop);
    }
    const id = stampIn(bytes, from, stop);
    if (id !== null) {
      this.wantedNow.add(id);
      if (this.wantedNow.size >= WANTED_LIMIT) {
        this.wantedBefore = this.wantedNow;
        this.wantedNow = new Set();
      }
      const index = this.held.findIndex((h) => h.id === id);
      if (index >= 0) {
        const [claimed] = this.held.splice(index, 1);
        take(claimed!.text, claimed!.line);
      }
    }
    take(bytes.toString("utf8", start, stop), line);
  }

  private isWanted(id: string): boolean {
    return this.wantedNow.has(id) || this.wantedBefore.has(id);
  }
}
