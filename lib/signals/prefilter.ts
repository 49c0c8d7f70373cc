/**
 * attribute's fast path over raw audit text: decide from a line's bytes,
 * before it becomes a string, whether it can matter for a signal line.
 *
 * Only SYSCALL records of the kill family (and pidfd_open, rare, for pidfd
 * targets), their OBJ_PID, PROCTITLE and EOE records, and our
 * SIGNAL_GENERATE are kept for decoding. On a typical log
 * that is about one line in a hundred; the rest are counted and skipped.
 * capture's `record` lines are judged the same way on the raw text inside
 * them, without parsing the JSON (lib/audit/bytes/record-line.ts). Other
 * lines (other JSON, kernel-log forms, ausearch separators, garbage) are
 * always kept, so the normal path still handles or reports them.
 *
 * It is fed lines as bytes by decode's reader (lib/sources/slot-reader.ts)
 * and reads type names, stamps and syscall numbers in place, so a line it
 * skips costs a few byte comparisons.
 * Each line it skips is still told to the assembler (`pass`), in order with
 * the lines it keeps, so events close where decode would close them: one
 * answer whatever the pipeline (lib/audit/assemble.ts).
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
import { digitsValue, indexWithin, hexAt, hexDigitsValue, isAsciiRange, startsWithAt } from "../bytes/read.ts";
import { ascii, bytesAre } from "../bytes/json.ts";
import { parseLine } from "../audit/line.ts";
import { stampKeyAt } from "../audit/bytes/stamp.ts";
import { LastText } from "../audit/bytes/header.ts";
import { RecordLineReader } from "../audit/bytes/record-line.ts";
import { ByteArena } from "../bytes/arena.ts";
import type { LinePrefilter, PassRecord } from "../sources/inputs.ts";
import type { SlotLineSink } from "../sources/slot-reader.ts";
import { EXEC, KILL, signalInterest, SKIP, type SignalInterest } from "../tables/kill-family.ts";
import { enrichedTailAt, FieldCursor } from "../audit/bytes/field-cursor.ts";
import { isOwnRecordTypeAt } from "../sources/registry.ts";
import { ProcessSightings, unescapedJson } from "./ancestry.ts";
import type { SignalTimeWindow } from "./filter.ts";

const HELD_LIMIT = 16;
const WANTED_LIMIT = 4096;
/** Room for the execve sightings' lines (lib/signals/ancestry.ts): its pages are touched as it fills. */
const ARENA_BYTES = 8 << 20;

const NODE = ascii("node=");
const SYSCALL = ascii("SYSCALL ");
const OBJ_PID = ascii("OBJ_PID ");
const PROCTITLE = ascii("PROCTITLE ");
const EXECVE = ascii("EXECVE ");
const EOE = ascii("EOE ");
const ANOM_ABEND_TYPE = ascii("ANOM_ABEND ");
const MSG_AUDIT = ascii("msg=audit(");
const AUDIT_OPEN = ascii("audit(");
const ARCH_FIRST = ascii(": arch=");
const SYSCALL_NEXT = ascii(" syscall=");
const PID_NAME = ascii("pid");
const ESCAPED_GS = ascii("\\u001d");
const SUCCESS_NAME = ascii("success");
const NO = ascii("no");

/** A held line's record text: the raw text of a JSON `record` line (none when it is not JSON), or the line. */
function recordText(line: string): string {
  if (!line.startsWith("{")) return line;
  try {
    const raw = (JSON.parse(line) as { raw?: unknown }).raw;
    return typeof raw === "string" ? raw : "";
  } catch {
    return ""; // not JSON after all (a bare quote or control byte in its raw text): no title from it
  }
}

const ARCH_NAME = ascii("arch");
const SYSCALL_NAME = ascii("syscall");
const fields = new FieldCursor();

/** Is the field under the cursor named `name`? */
function fieldIs(bytes: Uint8Array, name: Uint8Array): boolean {
  return fields.nameEnd - fields.nameStart === name.length && startsWithAt(bytes, name, fields.nameStart, fields.nameEnd);
}

/**
 * signalInterest of the SYSCALL record body bytes[start, end), its arch and
 * syscall read by the one field grammar (the first of each); -1 when either
 * is missing or not a plain number: the decoder then judges the event.
 */
export function syscallInterestAt(bytes: Uint8Array, start: number, end: number): SignalInterest | -1 {
  let arch = -2;
  let nr = -2;
  fields.reset(bytes, start, end);
  while ((arch === -2 || nr === -2) && fields.next()) {
    if (arch === -2 && fieldIs(bytes, ARCH_NAME)) arch = hexDigitsValue(bytes, fields.valueStart, fields.valueEnd);
    else if (nr === -2 && fieldIs(bytes, SYSCALL_NAME)) nr = digitsValue(bytes, fields.valueStart, fields.valueEnd);
  }
  return arch < 0 || nr < 0 ? -1 : signalInterest(arch, nr);
}

/**
 * The pid of an execve SYSCALL body bytes[from, stop) worth a sighting, or
 * -1 for a failed call or none. Read as the interpreter reads it (decode |
 * attribute must see the same process): by the field grammar, before the
 * ENRICHED tail, the first `pid` and `success`, each value whole.
 */
export function execvePid(bytes: Buffer, from: number, stop: number, escaped: boolean): number {
  const plain = plainExecvePid(bytes, from, stop);
  return plain !== NOT_PLAIN ? plain : cursorExecvePid(bytes, from, stop, escaped);
}

/** execvePid by the field cursor, whatever the line holds. */
export function cursorExecvePid(bytes: Buffer, from: number, stop: number, escaped: boolean): number {
  // In a `record` line's raw text the 0x1d is JSON-escaped.
  const tail = escaped ? indexWithin(bytes, ESCAPED_GS, from, stop) : enrichedTailAt(bytes, from, stop);
  fields.reset(bytes, from, tail < 0 ? stop : tail);
  let pid = -2;
  let success = false;
  while ((pid === -2 || !success) && fields.next()) {
    if (pid === -2 && fieldIs(bytes, PID_NAME)) pid = digitsValue(bytes, fields.valueStart, fields.valueEnd);
    else if (!success && fieldIs(bytes, SUCCESS_NAME)) {
      if (bytesAre(bytes, fields.valueStart, fields.valueEnd, NO)) return -1;
      success = true;
    }
  }
  return pid < 0 ? -1 : pid;
}

const NOT_PLAIN = -3;

/**
 * execvePid on the plain case of the field grammar, as the kernel writes a
 * SYSCALL: up to its first `pid` and `success`, fields parted by spaces
 * alone, bare values, no quote, backslash or 0x1d (so no ENRICHED tail yet,
 * JSON-escaped or not). The cursor would read just these fields; this reads
 * them without its per-field state. NOT_PLAIN otherwise.
 */
function plainExecvePid(bytes: Buffer, from: number, stop: number): number {
  let pid = -2;
  let success = false;
  let at = from;
  while (at < stop && (pid === -2 || !success)) {
    let c = bytes[at]!;
    if (c === 0x20) {
      at++;
      continue;
    }
    const nameStart = at;
    while (at < stop && (c = bytes[at]!) !== 0x3d /* = */ && c !== 0x20) {
      if (c === 0x22 || c === 0x27 || c === 0x5c || c === 0x1d) return NOT_PLAIN;
      at++;
    }
    const nameEnd = at;
    let valueStart = at;
    if (at < stop && c === 0x3d) {
      valueStart = ++at;
      while (at < stop && (c = bytes[at]!) !== 0x20) {
        if (c === 0x22 || c === 0x27 || c === 0x5c || c === 0x1d) return NOT_PLAIN;
        at++;
      }
    }
    if (pid === -2 && bytesAre(bytes, nameStart, nameEnd, PID_NAME)) pid = digitsValue(bytes, valueStart, at);
    else if (!success && bytesAre(bytes, nameStart, nameEnd, SUCCESS_NAME)) {
      if (bytesAre(bytes, valueStart, at, NO)) return -1;
      success = true;
    }
  }
  return pid < 0 ? -1 : pid;
}

/**
 * The last HELD_LIMIT stamps of one kind, exact (key, ms, node: see
 * isStamp), in a ring: a new one takes the oldest slot. Key -1: an empty slot.
 */
class StampRing {
  readonly key = new Float64Array(HELD_LIMIT).fill(-1);
  readonly ms = new Float64Array(HELD_LIMIT);
  readonly node = new Int32Array(HELD_LIMIT);
  /** The slot the next stamp takes. */
  next = 0;

  /** A stamp in the oldest slot; returns that slot. */
  add(key: number, ms: number, node: number): number {
    const at = this.next;
    this.key[at] = key;
    this.ms[at] = ms;
    this.node[at] = node;
    this.next = (at + 1) % HELD_LIMIT;
    return at;
  }
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
  private readonly outside = new StampRing();

  readonly sightings = new ProcessSightings(new ByteArena(ARENA_BYTES));

  /** The line being judged: its number and reader slot (-1: a buffer of its own), and whether its chunk is all ASCII. */
  private lineNumber = 0;
  private lineSlot = -1;
  private lineAscii = false;
  /** Where kept lines go, as bytes. */
  private takeBytes: SlotLineSink["line"] = () => {};
  /** The line being judged, whole, and whether its record text is JSON-escaped (a `record` line). */
  private lineStart = 0;
  private lineStop = 0;
  private escaped = false;
  /** The line's node name (`node=NAME ` before the type, else a record line's "node"), as a byte range; -1: none. */
  private nodeStart = -1;
  private nodeEnd = -1;
  private readonly nodeNames = new LastText();
  /** The last node name (nodeNames gives the same string while the bytes repeat) and its number, for lineNode. */
  private lastNodeName: string | null = null;
  private lastNode = 0;
  private readonly recordLines = new RecordLineReader();
  private readonly cursor = { end: 0, ms: 0, seconds: 0 };
  /**
   * Told of each audit record left unread (its stamp's seconds; EOE or not),
   * in order with the lines kept, so the assembler counts it and moves audit
   * time as decode does (lib/audit/assemble.ts pass): events then close in
   * the same places whatever the pipeline. A held line is told when held,
   * and again ("counted") just before it is released.
   */
  private passed: PassRecord = () => {};
  /**
   * The run of records left unread not yet told: how many, their one
   * seconds, and whether one was an EOE. Told as one before anything else
   * reaches the assembler: a call per skipped line costs more than the rest
   * of its judging.
   */
  private runCount = 0;
  private runSeconds = 0;
  private runEoe = false;
  /**
   * The last SYSCALLs left unread, by exact stamp: a kill under the same
   * stamp (a damaged or merged log) starts a second event in decode, and
   * must here too (lib/audit/assemble.ts syscallBefore).
   */
  private readonly unread = new StampRing();

  /** Stamp keys of kept kill-family SYSCALLs, to keep the rest of their events (two generations). */
  private wantedNow = new Set<number>();
  private wantedBefore = new Set<number>();
  /** How many keys in the two sets end in each 16 bits: most SYSCALLs are told unwanted here, without a set lookup. */
  private readonly wantedEndings = new Uint16Array(1 << 16);
  /** execve sightings waiting for their EXECVE and PROCTITLE: exact stamp and sequence number. */
  private readonly pending = new StampRing();
  private readonly pendingSeq = new Float64Array(HELD_LIMIT);
  /**
   * The last HELD_LIMIT skipped PROCTITLE lines, held in case their SYSCALL
   * comes later: a ring of stamp keys and positions in the reader's memory,
   * copied out only if still held when their slot is reused (bytes, not
   * text: a released line is checked as the stage checks any line).
   */
  private readonly held = new StampRing();
  private readonly heldSlot = new Int32Array(HELD_LIMIT).fill(-1);
  private readonly heldBytes: Array<Buffer | null> = new Array(HELD_LIMIT).fill(null);
  private readonly heldStart = new Int32Array(HELD_LIMIT);
  private readonly heldStop = new Int32Array(HELD_LIMIT);
  private readonly heldLine = new Float64Array(HELD_LIMIT);
  private readonly heldAscii = new Uint8Array(HELD_LIMIT);

  constructor(window: SignalTimeWindow = {}) {
    this.sinceMs = window.sinceMs ?? Number.NEGATIVE_INFINITY;
    this.untilMs = window.untilMs ?? Number.POSITIVE_INFINITY;
  }

  /**
   * The sink for one input's lines (lib/sources/slot-reader.ts). Kept lines
   * go to `takeBytes` as bytes: in reader memory, or a held line's copy.
   */
  sink(takeBytes: SlotLineSink["line"], pass: PassRecord): Omit<SlotLineSink, "inputError"> {
    return {
      line: (bytes, start, end, line, slot, ascii) => {
        this.lineNumber = line;
        this.lineSlot = slot;
        this.lineAscii = ascii;
        this.takeBytes = takeBytes;
        this.passed = pass;
        this.line(bytes, start, end);
      },
      reuse: (slot) => {
        // Held lines in that slot are copied out before it is overwritten.
        for (let i = 0; i < HELD_LIMIT; i++) if (this.held.key[i] !== -1 && this.heldSlot[i] === slot) this.copyHeld(i);
      },
    };
  }

  /** A record left unread, stamped `seconds`: joins the run not yet told, or tells it and starts the next. */
  private skippedRecord(seconds: number, eoe: boolean): void {
    if (this.runCount > 0 && seconds !== this.runSeconds) this.flushPassed();
    this.runSeconds = seconds;
    this.runCount++;
    if (eoe) this.runEoe = true;
  }

  /** The current record (an EOE or not), unread: counted as skipped, and joins the run not yet told. */
  private skipRecord(eoe = false): void {
    this.skipped++;
    this.skippedRecord(this.cursor.seconds, eoe);
  }

  /** Tell the run not yet told (LinePrefilter): before a kept line, a note, a chunk's end, the end. */
  flushPassed(): void {
    if (this.runCount === 0) return;
    this.passed(this.runSeconds, this.runEoe ? "eoe" : "record", this.runCount);
    this.runCount = 0;
    this.runEoe = false;
  }

  /** A note about the next line kept (see PassKind), after the records left unread before it. */
  private tell(kind: "syscall-before" | "counted"): void {
    this.flushPassed();
    this.passed(0, kind, 1);
  }

  /** End of all input: held lines never claimed were skipped. */
  finish(): void {
    this.flushPassed();
    for (let i = 0; i < HELD_LIMIT; i++) if (this.held.key[i] !== -1) this.dropHeld(i);
  }

  private line(bytes: Buffer, start: number, stop: number): void {
    this.lineStart = start;
    this.lineStop = stop;
    this.escaped = false;
    this.nodeStart = -1;
    if (bytes[start] === 0x7b /* { */) {
      // A `record` line (capture | attribute) in the exact shape capture
      // writes, to its last byte: judged on its raw text, still JSON-escaped
      // (type, stamp, arch, syscall and pid never hold an escape). Any other
      // JSON is kept, for the stage to check and use or report.
      const reader = this.recordLines;
      if (!reader.read(bytes, start, stop) || reader.isOwnType()) return this.keep(bytes);
      const shape = reader.shape;
      this.escaped = true;
      this.nodeStart = shape.nodeStart;
      this.nodeEnd = shape.nodeEnd;
      return this.record(bytes, shape.rawStart, shape.rawEnd);
    }
    this.record(bytes, start, stop);
  }

  /** Judge one record's text, bytes[start, stop): the line itself, or a record line's raw text. */
  private record(bytes: Buffer, start: number, stop: number): void {
    let typeAt = start;
    if (bytes[start] === 0x6e /* n */ && startsWithAt(bytes, NODE, start, stop)) {
      let space = start;
      while (space < stop && bytes[space] !== 0x20) space++;
      if (space >= stop) return this.keepOther(bytes, start, stop);
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
      return this.keepOther(bytes, start, stop);
    }
    const name = typeAt + 5;
    switch (bytes[name]) {
      case 0x53 /* S */:
        if (startsWithAt(bytes, SYSCALL, name, stop)) return this.syscall(bytes, start, stop, name + SYSCALL.length);
        break;
      case 0x4f /* O */:
        if (startsWithAt(bytes, OBJ_PID, name, stop)) return this.objPid(bytes, stop, name + OBJ_PID.length);
        break;
      case 0x50 /* P */:
        if (startsWithAt(bytes, PROCTITLE, name, stop)) return this.execvePart("title", bytes, start, stop, name + PROCTITLE.length);
        break;
      case 0x41 /* A */:
        // Audit's ANOM_ABEND: a core-dumping signal ended a process (lib/signals/core-dump.ts).
        if (startsWithAt(bytes, ANOM_ABEND_TYPE, name, stop)) return this.keep(bytes);
        break;
      case 0x45 /* E */:
        if (startsWithAt(bytes, EXECVE, name, stop)) return this.execvePart("execve", bytes, start, stop, name + EXECVE.length);
        if (startsWithAt(bytes, EOE, name, stop)) return this.eoe(bytes, start, stop, name + EOE.length);
        break;
    }
    this.skip(bytes, start, stop, name);
  }

  /**
   * Any other form (a kernel log's wrapper, a damaged prefix): kept, and read
   * as the decoder reads it (parseLine), so that a SYSCALL in it keeps the
   * rest of its event as a plain one would (its PROCTITLE, OBJ_PID, EOE).
   */
  private keepOther(bytes: Buffer, start: number, stop: number): void {
    const text = this.escaped ? unescapedJson(bytes.toString("utf8", start, stop)) : bytes.toString("utf8", start, stop);
    const parsed = text === null ? null : parseLine(text);
    if (parsed?.kind === "record" && parsed.type === "SYSCALL" && parsed.serial! <= 0xffffffff) this.want(parsed.serial! * 1000 + parsed.millis!);
    this.keep(bytes);
  }

  private want(key: number): void {
    if (this.wantedNow.has(key)) return;
    this.wantedNow.add(key);
    this.wantedEndings[key % 65536]!++;
    if (this.wantedNow.size >= WANTED_LIMIT) {
      for (const old of this.wantedBefore) this.wantedEndings[old % 65536]!--;
      this.wantedBefore = this.wantedNow;
      this.wantedNow = new Set();
    }
  }

  /** Keep the whole line, as bytes (so the consumer checks a JSON line's UTF-8 on them). */
  private keep(bytes: Buffer): void {
    this.flushPassed();
    this.takeBytes(bytes, this.lineStart, this.lineStop, this.lineNumber, this.lineSlot, this.lineAscii);
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
  private skip(bytes: Buffer, start: number, stop: number, name: number): void {
    let space = name;
    while (space < stop && bytes[space] !== 0x20) space++;
    // A source's own record (tracefs): not audit text, always decoded.
    if (space < stop && isOwnRecordTypeAt(bytes, name, space)) return this.keep(bytes);
    if (space > name && this.stampKey(bytes, space + 1, stop) >= 0) this.skipRecord();
    else this.keep(bytes);
  }

  private syscall(bytes: Buffer, start: number, stop: number, from: number): void {
    const key = this.stampKey(bytes, from, stop);
    if (key < 0) return this.keep(bytes);
    let arch = -1;
    let nr = -1;
    // The kernel writes `): arch=… syscall=…` first; read it in place, else search.
    const after = this.cursor.end;
    if (startsWithAt(bytes, ARCH_FIRST, after, stop)) {
      arch = hexAt(bytes, after + ARCH_FIRST.length, stop);
      const next = bytes.indexOf(0x20, after + ARCH_FIRST.length);
      if (arch >= 0 && startsWithAt(bytes, SYSCALL_NEXT, next, stop)) {
        // The whole value, as the field grammar reads it (eventInterest, decode): `6g2` is no number, not 6.
        const at = next + SYSCALL_NEXT.length;
        let end = at;
        while (end < stop && bytes[end] !== 0x20) end++;
        nr = digitsValue(bytes, at, end);
      }
    }
    const kind = arch >= 0 && nr >= 0 ? signalInterest(arch, nr) : syscallInterestAt(bytes, after, stop);
    if (kind >= 0) {
      // A second SYSCALL under a kill's stamp ends the kill's event (lib/audit/assemble.ts): the decoder must see it.
      if ((kind === SKIP || kind === EXEC) && !this.isWanted(key)) {
        this.unread.add(key, this.cursor.ms, this.lineNode(bytes));
        this.skippedRecord(this.cursor.seconds, false);
        if (kind === EXEC) return this.sight(bytes, start, stop, from, key);
        this.skipped++;
        return;
      }
      // A kill outside --since/--until: its event stays unread (its other records are skipped as unwanted).
      if (kind === KILL && (this.cursor.ms < this.sinceMs || this.cursor.ms >= this.untilMs)) {
        this.outsideWindow++;
        this.outside.add(key, this.cursor.ms, this.lineNode(bytes));
        this.skippedRecord(this.cursor.seconds, false);
        return;
      }
    }
    // The kill family, or a SYSCALL we cannot judge: decode it.
    this.keepSyscall(bytes, key);
  }

  /** A SYSCALL to decode (rare: apart from the judging, so the judging compiles small), with what its stamp holds back. */
  private keepSyscall(bytes: Buffer, key: number): void {
    this.want(key);
    if (this.slotOf(bytes, key, this.unread) >= 0) {
      // Its stamp's first SYSCALL went unread: what came before this one is that event's (decode splits there).
      for (let held = this.heldWith(bytes, key); held >= 0; held = this.heldWith(bytes, key)) this.dropHeld(held);
      this.tell("syscall-before");
    } else {
      const held = this.heldWith(bytes, key);
      if (held >= 0) this.release(held);
    }
    this.keep(bytes);
  }

  /** A held line's SYSCALL came: hand it over, as bytes (its slot's, or its copy). */
  private release(hold: number): void {
    this.tell("counted");
    const slot = this.heldSlot[hold]!;
    const bytes = this.heldBytes[hold]!;
    this.held.key[hold] = -1;
    this.heldBytes[hold] = null;
    this.takeBytes(bytes, this.heldStart[hold]!, this.heldStop[hold]!, this.heldLine[hold]!, slot, this.heldAscii[hold] === 1);
  }

  /**
   * An OBJ_PID is kept, also before its SYSCALL (as ausearch pastes put
   * it), unless its SYSCALL was a kill left unread for the time window.
   */
  private objPid(bytes: Buffer, stop: number, from: number): void {
    const key = this.outsideWindow === 0 ? -1 : this.stampKey(bytes, from, stop);
    if (key >= 0 && this.slotOf(bytes, key, this.outside) >= 0) this.skipRecord();
    else this.keep(bytes);
  }

  /** An execve SYSCALL: note the process, decode nothing. */
  private sight(bytes: Buffer, start: number, stop: number, from: number, key: number): void {
    this.sighted++;
    const pid = execvePid(bytes, from, stop, this.escaped);
    if (pid < 0) return;
    const node = this.lineNode(bytes);
    const ms = this.cursor.ms;
    const seq = this.sightings.addRaw(bytes, start, stop, pid, this.escaped, node, ms);
    if (seq < 0) return;
    const held = this.heldWith(bytes, key);
    if (held >= 0) {
      // Its PROCTITLE came first (an ausearch paste): read for ancestry too, and counted so.
      this.sighted++;
      const text = Buffer.from(recordText(this.claim(held)), "utf8");
      this.sightings.attach(seq, "title", text, 0, text.length, false);
    }
    this.pendingSeq[this.pending.add(key, ms, node)] = seq;
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
    if (this.nodeStart < 0) return 0;
    // Asked of every unread SYSCALL: a log names one host, or a few, line after line.
    const name = this.nodeName(bytes);
    if (name !== this.lastNodeName) {
      this.lastNodeName = name;
      this.lastNode = this.sightings.nodeIndex(name);
    }
    return this.lastNode;
  }

  /**
   * Is the current line's stamp (`key`, with cursor.ms just read) the one
   * `ring` holds in `slot`? The key alone (serial and milliseconds) can be
   * shared by events of other seconds or hosts: enough to keep a line for
   * the decoder, not to tie a line to a sighting or to drop it.
   */
  private isStamp(bytes: Buffer, key: number, ring: StampRing, slot: number): boolean {
    return key === ring.key[slot] && this.cursor.ms === ring.ms[slot] && this.lineNode(bytes) === ring.node[slot];
  }

  /** The slot of `ring` with the current line's stamp (`key`: a sound one), searched from slot `first` on; -1 when none has it. */
  private slotOf(bytes: Buffer, key: number, ring: StampRing, first = 0): number {
    for (let age = 0; age < HELD_LIMIT; age++) {
      const slot = (first + age) % HELD_LIMIT;
      if (this.isStamp(bytes, key, ring, slot)) return slot;
    }
    return -1;
  }

  private isWanted(key: number): boolean {
    if (this.wantedEndings[key % 65536] === 0) return false;
    return this.wantedNow.has(key) || this.wantedBefore.has(key);
  }

  /** An EXECVE or PROCTITLE: read into its execve's sighting, kept for a wanted event, else left unread (a PROCTITLE held). */
  private execvePart(part: "execve" | "title", bytes: Buffer, start: number, stop: number, from: number): void {
    const key = this.stampKey(bytes, from, stop);
    const slot = key < 0 ? -1 : this.slotOf(bytes, key, this.pending);
    if (slot >= 0) {
      this.sighted++;
      this.skippedRecord(this.cursor.seconds, false);
      this.sightings.attach(this.pendingSeq[slot]!, part, bytes, start, stop, this.escaped);
      // An execve's PROCTITLE ends its event: the sighting is complete.
      if (part === "title") this.pending.key[slot] = -1;
      return;
    }
    if (key < 0 || this.isWanted(key)) return this.keep(bytes);
    if (part === "title") return this.hold(bytes, key);
    this.skipRecord();
  }

  /** A PROCTITLE left unread, held in case its SYSCALL comes later (ausearch pastes). */
  private hold(bytes: Buffer, key: number): void {
    const hold = this.held.next;
    if (this.held.key[hold] !== -1) this.dropHeld(hold); // the oldest held line was never claimed
    this.held.add(key, this.cursor.ms, this.lineNode(bytes));
    this.heldLine[hold] = this.lineNumber;
    this.heldSlot[hold] = this.lineSlot;
    this.heldBytes[hold] = bytes;
    this.heldStart[hold] = this.lineStart;
    this.heldStop[hold] = this.lineStop;
    this.heldAscii[hold] = this.lineAscii ? 1 : 0;
    // A line in a buffer of its own is valid only during this call: copied now.
    if (this.lineSlot < 0) this.copyHeld(hold);
    // Counted where it stands, as decode counts it; if released, it is placed without counting again.
    this.skippedRecord(this.cursor.seconds, false);
  }

  /** The held PROCTITLE of the current line's stamp (oldest first): its slot, or -1. */
  private heldWith(bytes: Buffer, key: number): number {
    return this.slotOf(bytes, key, this.held, this.held.next);
  }

  /** A held line's own copy of its bytes, no longer tied to a reader slot. */
  private copyHeld(hold: number): void {
    const start = this.heldStart[hold]!;
    const stop = this.heldStop[hold]!;
    this.heldBytes[hold] = Buffer.from(this.heldBytes[hold]!.subarray(start, stop));
    this.heldStart[hold] = 0;
    this.heldStop[hold] = stop - start;
    this.heldSlot[hold] = -1;
  }

  /** Release a held line: its text. */
  private claim(hold: number): string {
    const text = this.heldBytes[hold]!.toString("utf8", this.heldStart[hold], this.heldStop[hold]);
    this.held.key[hold] = -1;
    this.heldBytes[hold] = null;
    return text;
  }

  private eoe(bytes: Buffer, start: number, stop: number, from: number): void {
    const key = this.stampKey(bytes, from, stop);
    if (key < 0 || this.isWanted(key)) return this.keep(bytes);
    this.skipRecord(true);
  }

  /** A held line never claimed: its slot freed, and the line skipped after all (the assembler was told of it when it was held). */
  private dropHeld(hold: number): void {
    this.held.key[hold] = -1;
    this.heldBytes[hold] = null;
    this.skipped++;
  }
}
