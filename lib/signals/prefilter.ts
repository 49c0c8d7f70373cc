/**
 * attribute's fast path over raw audit text: decide from a line's bytes,
 * before it becomes a string, whether it can matter for a signal line.
 *
 * Only SYSCALL records of the kill family, their OBJ_PID, PROCTITLE and EOE
 * records, and our SIGNAL_GENERATE are kept for decoding. On a typical log
 * that is about one line in a hundred; the rest are counted and skipped.
 * capture's `record` lines are judged the same way on the raw text inside
 * them, without parsing the JSON (lib/audit/record-line-bytes.ts). Other
 * lines (other JSON, kernel-log forms, ausearch separators, garbage) are
 * always kept, so the normal path still handles or reports them.
 *
 * It is fed lines as bytes by decode's reader (lib/sources/slot-reader.ts)
 * and reads type names, stamps and syscall numbers in place; a 210 MB log
 * costs little more than reading it.
 *
 * A PROCTITLE or EOE is kept when its event's SYSCALL was kept. ausearch
 * pastes sometimes put PROCTITLE first, so the last few skipped PROCTITLE
 * lines are held and released if their SYSCALL turns up.
 *
 * execve events only feed the killers' ancestry, and a log has many of them,
 * so they are not decoded at all: their SYSCALL, EXECVE and PROCTITLE lines
 * go to `sightings` as bytes (lib/signals/ancestry.ts), by host where the
 * log names one (`node=`).
 *
 * With --since/--until, a kill outside the window is not decoded either; it
 * counts as filtered out, and its OBJ_PID lines go unread with it.
 *
 * Lines are tied to an event by stamp. The number kept for a stamp (serial
 * and milliseconds) can recur in other seconds or on other hosts: good
 * enough to keep a line, which the decoder then groups exactly, but a line
 * is only tied to a sighting or dropped on the exact stamp (and node).
 */
import { ascii, decimalAt, decimalIn, hexAt, hexIn, indexWithin, isAsciiRange, stampKeyAt, startsWithAt } from "../audit/line-bytes.ts";
import { LastText } from "../audit/header-bytes.ts";
import { isSignalGenerateRecord, matchFileLineSource, matchRecordLine, unescapeAsciiInPlace, type RecordLineShape } from "../audit/record-line-bytes.ts";
import { ByteArena } from "../byte-arena.ts";
import type { KeptLine, LinePrefilter } from "../jsonl.ts";
import type { RecordLine } from "../schema.ts";
import type { SlotLineSink } from "../sources/slot-reader.ts";
import { archName } from "../tables/arch.ts";
import { killFamilyNumbers } from "../tables/kill-family.ts";
import { syscallNumber } from "../tables/syscalls.ts";
import { ProcessSightings } from "./ancestry.ts";
import type { SignalTimeWindow } from "./filter.ts";

type Take = (kept: KeptLine, line: number) => void;
/** A kept line still in reader memory (attribute's byte path): bytes[start, end), its number, slot and the chunk's ASCII flag. */
export type TakeBytes = (bytes: Buffer, start: number, end: number, line: number, slot: number, ascii: boolean) => void;

const HELD_LIMIT = 16;
const WANTED_LIMIT = 4096;
/** Room for the execve sightings' lines (lib/signals/ancestry.ts): its pages are touched as it fills. */
const ARENA_BYTES = 8 << 20;

const NODE = ascii("node=");
const SYSCALL = ascii("SYSCALL ");
const SIGNAL_GENERATE = ascii("SIGNAL_GENERATE ");
const OBJ_PID = ascii("OBJ_PID ");
const PROCTITLE = ascii("PROCTITLE ");
const EXECVE = ascii("EXECVE ");
const EOE = ascii("EOE ");
const MSG_AUDIT = ascii("msg=audit(");
const AUDIT_OPEN = ascii("audit(");
const ARCH_FIRST = ascii(": arch=");
const SYSCALL_NEXT = ascii(" syscall=");
const ARCH = ascii(" arch=");
const PID = ascii(" pid=");
const SUCCESS_NO = ascii(" success=no");

/** A held line's record text: the raw text of a JSON `record` line, or the line. */
function recordText(line: string): string {
  if (!line.startsWith("{")) return line;
  try {
    const raw = (JSON.parse(line) as { raw?: unknown }).raw;
    return typeof raw === "string" ? raw : line;
  } catch {
    return line;
  }
}

/** What a syscall number means to attribute, per arch. */
const SKIP = 0;
const KILL = 1;
const EXEC = 2;

/** Per AUDIT_ARCH value: kind by syscall number (null: an arch we cannot judge, whose events are kept). */
const kindsByArch = new Map<number, Uint8Array | null>();

/** The last arch asked about: a log is nearly all one arch, and a Map lookup per SYSCALL line was 5 % of the prefilter. */
let lastArch = -1;
let lastKinds: Uint8Array | null = null;

function syscallKinds(arch: number): Uint8Array | null {
  if (arch === lastArch) return lastKinds;
  const kinds = syscallKindsOf(arch);
  lastArch = arch;
  lastKinds = kinds;
  return kinds;
}

function syscallKindsOf(arch: number): Uint8Array | null {
  const cached = kindsByArch.get(arch);
  if (cached !== undefined) return cached;
  const name = archName(arch.toString(16));
  let kinds: Uint8Array | null = null;
  if (name !== null) {
    const kill = [...killFamilyNumbers(name)];
    const exec = ["execve", "execveat"].map((syscall) => syscallNumber(name, syscall)).filter((nr) => nr !== null);
    kinds = new Uint8Array(Math.max(0, ...kill, ...exec) + 1);
    for (const nr of kill) kinds[nr] = KILL;
    for (const nr of exec) kinds[nr] = EXEC;
  }
  // Bounded: arbitrary input cannot grow the cache past a handful of arches.
  if (kindsByArch.size < 64) kindsByArch.set(arch, kinds);
  return kinds;
}

/**
 * The syscall numbers attribute interprets on this `arch=` value (hex): the
 * kill family, plus execve/execveat for ancestry. null for an arch we cannot
 * judge, whose events are then kept.
 */
export function signalSyscallNumbers(archHex: string): ReadonlySet<number> | null {
  const cached = numbersByArchHex.get(archHex);
  if (cached !== undefined) return cached;
  const value = /^[0-9a-f]{1,8}$/i.test(archHex) ? Number.parseInt(archHex, 16) : -1;
  const kinds = value < 0 ? null : syscallKinds(value);
  let numbers: Set<number> | null = null;
  if (kinds !== null) {
    numbers = new Set<number>();
    for (let nr = 0; nr < kinds.length; nr++) if (kinds[nr] !== SKIP) numbers.add(nr);
  }
  if (numbersByArchHex.size < 64) numbersByArchHex.set(archHex, numbers);
  return numbers;
}

const numbersByArchHex = new Map<string, ReadonlySet<number> | null>();

/**
 * signalSyscallNumbers by the arch's value (its hex digits read): does
 * attribute interpret syscall `nr` on it? True for an arch it cannot judge.
 */
export function isSignalSyscall(arch: number, nr: number): boolean {
  const kinds = syscallKinds(arch);
  return kinds === null || (nr < kinds.length && kinds[nr] !== SKIP);
}

export class SignalLinePrefilter implements LinePrefilter {
  /** Lines judged irrelevant and not decoded. */
  skipped = 0;
  /** Lines read only for ancestry (execve SYSCALL, EXECVE and PROCTITLE), not decoded. */
  sighted = 0;
  /** Kill-family SYSCALLs outside the time window: signals the filter would drop, never decoded. */
  outsideWindow = 0;

  private readonly sinceMs: number;
  private readonly untilMs: number;
  /**
   * The last kills left unread for the window, by exact stamp (see
   * isStamp): their OBJ_PID lines (one per victim) go unread too.
   */
  private readonly outsideKeys = new Float64Array(HELD_LIMIT).fill(-1);
  private readonly outsideMs = new Float64Array(HELD_LIMIT);
  private readonly outsideNodes = new Int32Array(HELD_LIMIT);
  private outsideNext = 0;

  readonly sightings = new ProcessSightings(new ByteArena(ARENA_BYTES));

  /** The line being judged: its number and reader slot (-1: a buffer of its own), and whether its chunk is all ASCII. */
  private lineNumber = 0;
  private lineSlot = -1;
  private lineAscii = false;
  /** Where kept lines go as bytes, when the consumer reads them so (else as text, to `take`). */
  private takeBytes: TakeBytes | null = null;
  /** The line being judged, whole, and whether its record text is JSON-escaped (a `record` line). */
  private lineStart = 0;
  private lineStop = 0;
  private escaped = false;
  /** The line's node name (`node=NAME ` before the type, else a record line's "node"), as a byte range; -1: none. */
  private nodeStart = -1;
  private nodeEnd = -1;
  private readonly nodeNames = new LastText();
  private readonly shape: RecordLineShape = { typeStart: 0, typeEnd: 0, idStart: 0, idEnd: 0, nodeStart: -1, nodeEnd: -1, rawStart: 0, rawEnd: 0 };
  private readonly cursor = { end: 0, ms: 0 };

  /** Stamp keys of kept kill-family SYSCALLs, to keep the rest of their events (two generations). */
  private wantedNow = new Set<number>();
  private wantedBefore = new Set<number>();
  /** execve sightings waiting for their EXECVE and PROCTITLE: exact stamp (key, ms, node) and sequence number. */
  private readonly pendingKey = new Float64Array(HELD_LIMIT).fill(-1);
  private readonly pendingMs = new Float64Array(HELD_LIMIT);
  private readonly pendingNode = new Int32Array(HELD_LIMIT);
  private readonly pendingSeq = new Float64Array(HELD_LIMIT);
  private pendingNext = 0;
  /**
   * The last HELD_LIMIT skipped PROCTITLE lines, held in case their SYSCALL
   * comes later: a ring of stamp keys and positions in the reader's memory,
   * made text only if still held when their slot is reused.
   */
  private readonly heldKey = new Float64Array(HELD_LIMIT).fill(-1);
  private readonly heldMs = new Float64Array(HELD_LIMIT);
  private readonly heldNode = new Int32Array(HELD_LIMIT);
  private readonly heldSlot = new Int32Array(HELD_LIMIT).fill(-1);
  private readonly heldBytes: Array<Buffer | null> = new Array(HELD_LIMIT).fill(null);
  private readonly heldStart = new Int32Array(HELD_LIMIT);
  private readonly heldStop = new Int32Array(HELD_LIMIT);
  private readonly heldLine = new Float64Array(HELD_LIMIT);
  private readonly heldText: Array<string | null> = new Array(HELD_LIMIT).fill(null);
  private readonly heldAscii = new Uint8Array(HELD_LIMIT);
  private heldNext = 0;

  constructor(window: SignalTimeWindow = {}) {
    this.sinceMs = window.sinceMs ?? Number.NEGATIVE_INFINITY;
    this.untilMs = window.untilMs ?? Number.POSITIVE_INFINITY;
  }

  /**
   * The sink for one input's lines (lib/sources/slot-reader.ts). Kept lines
   * go to `take` as text, or, given `takeBytes`, those still in reader
   * memory go there as bytes (held lines claimed later are text either way).
   */
  sink(take: Take, takeBytes: TakeBytes | null = null): Omit<SlotLineSink, "inputError"> {
    return {
      line: (bytes, start, end, line, slot, ascii) => {
        this.lineNumber = line;
        this.lineSlot = slot;
        this.lineAscii = ascii;
        this.takeBytes = takeBytes;
        this.line(bytes, start, end, take);
      },
      reuse: (slot) => {
        // Held lines in that slot become text before it is overwritten.
        for (let i = 0; i < HELD_LIMIT; i++) {
          if (this.heldKey[i] !== -1 && this.heldSlot[i] === slot && this.heldText[i] === null) this.heldText[i] = this.heldTextNow(i);
        }
      },
    };
  }

  /** End of all input: held lines never claimed were skipped. */
  finish(): void {
    for (let i = 0; i < HELD_LIMIT; i++) {
      if (this.heldKey[i] === -1) continue;
      this.heldKey[i] = -1;
      this.heldText[i] = null;
      this.heldBytes[i] = null;
      this.skipped++;
    }
  }

  private line(bytes: Buffer, start: number, stop: number, take: Take): void {
    this.lineStart = start;
    this.lineStop = stop;
    this.escaped = false;
    this.nodeStart = -1;
    if (bytes[start] === 0x7b /* { */) {
      // A `record` line (capture | attribute): judged on its raw text, still
      // JSON-escaped (type, stamp, arch, syscall and pid never hold an escape).
      const shape = this.shape;
      if (!matchRecordLine(bytes, start, stop, shape)) return this.keep(bytes, take);
      if (isSignalGenerateRecord(bytes, shape)) return this.keep(bytes, take);
      this.escaped = true;
      this.nodeStart = shape.nodeStart;
      this.nodeEnd = shape.nodeEnd;
      return this.record(bytes, this.shape.rawStart, this.shape.rawEnd, take);
    }
    this.record(bytes, start, stop, take);
  }

  /** Judge one record's text, bytes[start, stop): the line itself, or a record line's raw text. */
  private record(bytes: Buffer, start: number, stop: number, take: Take): void {
    let typeAt = start;
    if (bytes[start] === 0x6e /* n */ && startsWithAt(bytes, NODE, start, stop)) {
      let space = start;
      while (space < stop && bytes[space] !== 0x20) space++;
      if (space >= stop) return this.keep(bytes, take);
      typeAt = space + 1;
      this.nodeStart = start + NODE.length;
      this.nodeEnd = space;
    }
    if (
      stop - typeAt < 6 ||
      bytes[typeAt] !== 0x74 /* t */ ||
      bytes[typeAt + 1] !== 0x79 /* y */ ||
      bytes[typeAt + 2] !== 0x70 /* p */ ||
      bytes[typeAt + 3] !== 0x65 /* e */ ||
      bytes[typeAt + 4] !== 0x3d /* = */
    ) {
      return this.keep(bytes, take);
    }
    const name = typeAt + 5;
    switch (bytes[name]) {
      case 0x53 /* S */:
        if (startsWithAt(bytes, SYSCALL, name, stop)) return this.syscall(bytes, start, stop, name + SYSCALL.length, take);
        if (startsWithAt(bytes, SIGNAL_GENERATE, name, stop)) return this.keep(bytes, take);
        break;
      case 0x4f /* O */:
        if (startsWithAt(bytes, OBJ_PID, name, stop)) return this.objPid(bytes, stop, name + OBJ_PID.length, take);
        break;
      case 0x50 /* P */:
        if (startsWithAt(bytes, PROCTITLE, name, stop)) return this.proctitle(bytes, start, stop, name + PROCTITLE.length, take);
        break;
      case 0x45 /* E */:
        if (startsWithAt(bytes, EXECVE, name, stop)) return this.execve(bytes, start, stop, name + EXECVE.length, take);
        if (startsWithAt(bytes, EOE, name, stop)) return this.eoe(bytes, start, stop, name + EOE.length, take);
        break;
    }
    this.skip(bytes, start, stop, name, take);
  }

  /** Keep the whole line: as bytes, as text, or a `record` line as the object JSON.parse would make of it. */
  private keep(bytes: Buffer, take: Take): void {
    if (this.takeBytes !== null && this.lineSlot >= 0) return this.takeBytes(bytes, this.lineStart, this.lineStop, this.lineNumber, this.lineSlot, this.lineAscii);
    const record = this.escaped ? this.recordLine(bytes) : null;
    take(record ?? bytes.toString("utf8", this.lineStart, this.lineStop), this.lineNumber);
  }

  private readonly source = { fileStart: 0, fileEnd: 0, line: 0 };
  private readonly fileNames = new LastText();
  private rawScratch = Buffer.allocUnsafe(4096);

  /**
   * The current `record` line (matched by matchRecordLine) as JSON.parse
   * would read it, without parsing it: on a log of kills nearly every line
   * is kept, and JSON.parse of each was a tenth of `capture | attribute`
   * (the kill storm: 3.4 → 3.2 s). null for a source other than
   * {file, line} or an escape that is not ASCII: those are parsed.
   */
  private recordLine(bytes: Buffer): RecordLine | null {
    const shape = this.shape;
    const source = this.source;
    if (!matchFileLineSource(bytes, shape.rawEnd, this.lineStop, source)) return null;
    const length = shape.rawEnd - shape.rawStart;
    if (this.rawScratch.length < length) this.rawScratch = Buffer.allocUnsafe(2 * length);
    const raw = this.rawScratch;
    // Unescaped in a copy: the line's own bytes may still be read (a held line becomes text later).
    bytes.copy(raw, 0, shape.rawStart, shape.rawEnd);
    const rawEnd = unescapeAsciiInPlace(raw, 0, length);
    if (rawEnd < 0) return null;
    const file = isAsciiRange(bytes, source.fileStart, source.fileEnd)
      ? this.fileNames.of(bytes, source.fileStart, source.fileEnd)
      : bytes.toString("utf8", source.fileStart, source.fileEnd);
    return {
      kind: "record",
      type: bytes.toString("utf8", shape.typeStart, shape.typeEnd),
      id: bytes.toString("utf8", shape.idStart, shape.idEnd),
      node: shape.nodeStart < 0 ? null : bytes.toString("utf8", shape.nodeStart, shape.nodeEnd),
      raw: raw.toString("utf8", 0, rawEnd),
      source: { file, line: source.line },
    };
  }

  /**
   * The stamp key of the record whose `msg=audit(` (or `audit(`) starts at
   * `from`, just after its type; cursor.end is then after the `)`. -1 where
   * parseLine would find no sound stamp: the line is kept, so the decoder
   * reports it just as it would without the prefilter.
   */
  private stampKey(bytes: Buffer, from: number, stop: number): number {
    if (startsWithAt(bytes, MSG_AUDIT, from, stop)) return stampKeyAt(bytes, from + MSG_AUDIT.length, stop, this.cursor);
    if (startsWithAt(bytes, AUDIT_OPEN, from, stop)) return stampKeyAt(bytes, from + AUDIT_OPEN.length, stop, this.cursor);
    return -1;
  }

  /** A line of a type attribute never needs: counted, unless its stamp is unsound (then kept, to be reported). */
  private skip(bytes: Buffer, start: number, stop: number, name: number, take: Take): void {
    let space = name;
    while (space < stop && bytes[space] !== 0x20) space++;
    if (space > name && this.stampKey(bytes, space + 1, stop) >= 0) this.skipped++;
    else this.keep(bytes, take);
  }

  private syscall(bytes: Buffer, start: number, stop: number, from: number, take: Take): void {
    const key = this.stampKey(bytes, from, stop);
    if (key < 0) return this.keep(bytes, take);
    let arch = -1;
    let nr = -1;
    // The kernel writes `): arch=… syscall=…` first; read it in place, else search.
    const after = this.cursor.end;
    if (startsWithAt(bytes, ARCH_FIRST, after, stop)) {
      arch = hexAt(bytes, after + ARCH_FIRST.length, stop);
      const next = bytes.indexOf(0x20, after + ARCH_FIRST.length);
      if (arch >= 0 && startsWithAt(bytes, SYSCALL_NEXT, next, stop)) nr = decimalAt(bytes, next + SYSCALL_NEXT.length, stop);
    }
    if (arch < 0 || nr < 0) {
      arch = hexIn(bytes, ARCH, from, stop);
      nr = decimalIn(bytes, SYSCALL_NEXT, from, stop);
    }
    if (arch >= 0 && nr >= 0) {
      const kinds = syscallKinds(arch);
      if (kinds !== null) {
        const kind = nr < kinds.length ? kinds[nr] : SKIP;
        if (kind === SKIP) {
          this.skipped++;
          return;
        }
        if (kind === EXEC) return this.sight(bytes, start, stop, from, key);
        // A kill outside --since/--until: its event stays unread (its other records are skipped as unwanted).
        if (this.cursor.ms < this.sinceMs || this.cursor.ms >= this.untilMs) {
          this.outsideWindow++;
          this.outsideKeys[this.outsideNext] = key;
          this.outsideMs[this.outsideNext] = this.cursor.ms;
          this.outsideNodes[this.outsideNext] = this.lineNode(bytes);
          this.outsideNext = (this.outsideNext + 1) % HELD_LIMIT;
          return;
        }
      }
    }
    // The kill family, or a SYSCALL we cannot judge: decode it.
    this.wantedNow.add(key);
    if (this.wantedNow.size >= WANTED_LIMIT) {
      this.wantedBefore = this.wantedNow;
      this.wantedNow = new Set();
    }
    const held = this.heldWith(bytes, key);
    if (held >= 0) this.release(held, take);
    this.keep(bytes, take);
  }

  /** A held line's SYSCALL came: hand it over, as bytes while its slot still holds it, else as its text. */
  private release(hold: number, take: Take): void {
    const slot = this.heldSlot[hold]!;
    if (this.takeBytes === null || slot < 0 || this.heldText[hold] !== null) return take(this.claim(hold), this.heldLine[hold]!);
    const bytes = this.heldBytes[hold]!;
    this.heldKey[hold] = -1;
    this.heldBytes[hold] = null;
    this.takeBytes(bytes, this.heldStart[hold]!, this.heldStop[hold]!, this.heldLine[hold]!, slot, this.heldAscii[hold] === 1);
  }

  /**
   * An OBJ_PID is kept, also before its SYSCALL (as ausearch pastes put
   * it), unless its SYSCALL was a kill left unread for the time window.
   */
  private objPid(bytes: Buffer, stop: number, from: number, take: Take): void {
    const key = this.outsideWindow === 0 ? -1 : this.stampKey(bytes, from, stop);
    if (key >= 0) {
      for (let i = 0; i < HELD_LIMIT; i++) {
        if (this.isStamp(bytes, key, this.outsideKeys[i]!, this.outsideMs[i]!, this.outsideNodes[i]!)) {
          this.skipped++;
          return;
        }
      }
    }
    this.keep(bytes, take);
  }

  /** An execve SYSCALL: note the process, decode nothing. */
  private sight(bytes: Buffer, start: number, stop: number, from: number, key: number): void {
    this.sighted++;
    if (indexWithin(bytes, SUCCESS_NO, from, stop) >= 0) return;
    const pid = decimalIn(bytes, PID, from, stop);
    if (pid < 0) return;
    const node = this.lineNode(bytes);
    const ms = this.cursor.ms;
    const seq = this.sightings.addRaw(bytes, start, stop, pid, this.escaped, node, ms);
    if (seq < 0) return;
    const held = this.heldWith(bytes, key);
    if (held >= 0) {
      const text = Buffer.from(recordText(this.claim(held)), "utf8");
      this.sightings.attach(seq, "title", text, 0, text.length, false);
    }
    this.pendingKey[this.pendingNext] = key;
    this.pendingMs[this.pendingNext] = ms;
    this.pendingNode[this.pendingNext] = node;
    this.pendingSeq[this.pendingNext] = seq;
    this.pendingNext = (this.pendingNext + 1) % HELD_LIMIT;
  }

  /**
   * The current line's node name as the decoder reads it. A hostname is
   * ASCII; a name with a JSON escape (inside a record line) stays escaped
   * here and so matches no event's node: its sightings go unused, never
   * mixed with another host's.
   */
  private nodeName(bytes: Buffer): string {
    return isAsciiRange(bytes, this.nodeStart, this.nodeEnd)
      ? this.nodeNames.of(bytes, this.nodeStart, this.nodeEnd)
      : bytes.toString("utf8", this.nodeStart, this.nodeEnd);
  }

  /** The current line's node as the sightings number it (0: none). */
  private lineNode(bytes: Buffer): number {
    return this.nodeStart < 0 ? 0 : this.sightings.nodeIndex(this.nodeName(bytes));
  }

  /**
   * Is the current line's stamp (`key`, with cursor.ms just read) the one
   * remembered as key, ms and node? The key alone (serial and milliseconds)
   * can be shared by events of other seconds or hosts: enough to keep a line
   * for the decoder, not to tie a line to a sighting or to drop it.
   */
  private isStamp(bytes: Buffer, key: number, storedKey: number, storedMs: number, storedNode: number): boolean {
    return key === storedKey && this.cursor.ms === storedMs && this.lineNode(bytes) === storedNode;
  }

  /** The pending execve sighting of the current line's stamp: its slot, or -1. */
  private pending(bytes: Buffer, key: number): number {
    if (key < 0) return -1;
    for (let i = 0; i < HELD_LIMIT; i++) if (this.isStamp(bytes, key, this.pendingKey[i]!, this.pendingMs[i]!, this.pendingNode[i]!)) return i;
    return -1;
  }

  private isWanted(key: number): boolean {
    return this.wantedNow.has(key) || this.wantedBefore.has(key);
  }

  private execve(bytes: Buffer, start: number, stop: number, from: number, take: Take): void {
    const key = this.stampKey(bytes, from, stop);
    const slot = this.pending(bytes, key);
    if (slot >= 0) {
      this.sighted++;
      this.sightings.attach(this.pendingSeq[slot]!, "execve", bytes, start, stop, this.escaped);
      return;
    }
    if (key < 0 || this.isWanted(key)) return this.keep(bytes, take);
    this.skipped++;
  }

  private proctitle(bytes: Buffer, start: number, stop: number, from: number, take: Take): void {
    const key = this.stampKey(bytes, from, stop);
    const slot = this.pending(bytes, key);
    if (slot >= 0) {
      // An execve's PROCTITLE ends its event: the sighting is complete.
      this.sighted++;
      this.sightings.attach(this.pendingSeq[slot]!, "title", bytes, start, stop, this.escaped);
      this.pendingKey[slot] = -1;
      return;
    }
    if (key < 0 || this.isWanted(key)) return this.keep(bytes, take);
    const hold = this.heldNext;
    this.heldNext = (hold + 1) % HELD_LIMIT;
    if (this.heldKey[hold] !== -1) this.skipped++; // the oldest held line was never claimed
    this.heldKey[hold] = key;
    this.heldMs[hold] = this.cursor.ms;
    this.heldNode[hold] = this.lineNode(bytes);
    this.heldLine[hold] = this.lineNumber;
    this.heldSlot[hold] = this.lineSlot;
    this.heldBytes[hold] = bytes;
    this.heldStart[hold] = this.lineStart;
    this.heldStop[hold] = this.lineStop;
    this.heldAscii[hold] = this.lineAscii ? 1 : 0;
    // A line in a buffer of its own is not the reader's to reuse: text now.
    this.heldText[hold] = this.lineSlot < 0 ? this.heldTextNow(hold) : null;
  }

  /** The held PROCTITLE of the current line's stamp (oldest first): its slot, or -1. */
  private heldWith(bytes: Buffer, key: number): number {
    for (let age = 0; age < HELD_LIMIT; age++) {
      const slot = (this.heldNext + age) % HELD_LIMIT;
      if (this.isStamp(bytes, key, this.heldKey[slot]!, this.heldMs[slot]!, this.heldNode[slot]!)) return slot;
    }
    return -1;
  }

  private heldTextNow(hold: number): string {
    return this.heldBytes[hold]!.toString("utf8", this.heldStart[hold], this.heldStop[hold]);
  }

  /** Release a held line: its text. */
  private claim(hold: number): string {
    const text = this.heldText[hold] ?? this.heldTextNow(hold);
    this.heldKey[hold] = -1;
    this.heldText[hold] = null;
    this.heldBytes[hold] = null;
    return text;
  }

  private eoe(bytes: Buffer, start: number, stop: number, from: number, take: Take): void {
    const key = this.stampKey(bytes, from, stop);
    if (key < 0 || this.isWanted(key)) return this.keep(bytes, take);
    this.skipped++;
  }
}
