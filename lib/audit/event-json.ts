/**
 * decode's output path: an assembled event → its `event` line, written as
 * UTF-8 straight into the LineWriter's buffer.
 *
 * The bytes are exactly JSON.stringify(interpretEvent(event)) plus a newline
 * (test/event-json.test.ts holds the two side by side over the fixtures, the
 * corpus, a generated log and a mutated one), but no EventLine, field map or
 * intermediate string is made. Measured on a 1M-line log, building those
 * objects, stringifying and encoding them cost ~3× what this does:
 *  - a record's line is copied to bytes once (native, and it tells ASCII
 *    lines apart); one pass over the bytes then writes the fields' JSON and
 *    the escaped raw line (JS loops over bytes cost a third of charCodeAt's);
 *  - field names are interned (field-names.ts) with their interpretation,
 *    and each is first compared with the name that followed the previous
 *    one last time, which is nearly always right;
 *  - decoded values and the event summary (syscall, process, targets…) are
 *    written from byte ranges of what was already written, or small caches.
 *
 * ASCII lines take this path, with repeated names and unterminated quotes
 * (records run together, lines cut short: they are in real logs). An event
 * with anything rarer (non-ASCII text, array-index or `__proto__` names, a
 * tracefs record…) is written the reference way, whole, so those cases keep
 * a single implementation (interpret.ts, fields.ts).
 * Field semantics mirror fields.ts `scan` and interpret.ts `decodeRecord`,
 * `buildSyscall`, `buildProcess`, `buildTarget`: change them together (the
 * equivalence test will tell).
 */
import type { LineWriter } from "../jsonl.ts";
import {
  ascii,
  ByteBuffer,
  bytesAre,
  concatBytes,
  copyEscaped,
  copyEscapedArgs,
  escapeAscii,
  IsoTimeBytes,
  jsonBytes,
  PLAIN,
  putBytes,
  putJsonText,
  putNumber,
  writeString,
} from "../json-bytes.ts";
import type { DecodedRecord, FieldMap } from "../schema.ts";
import { archName } from "../tables/arch.ts";
import { errnoName } from "../tables/errno.ts";
import { isKillFamily, KILL_FAMILY, toSigned32 } from "../tables/kill-family.ts";
import { signalName } from "../tables/signals.ts";
import { syscallName } from "../tables/syscalls.ts";
import type { AssembledEvent, PendingRecord } from "./assemble.ts";
import { ByteRecord } from "./byte-record.ts";
import { FieldKind } from "./field-types.ts";
import { FieldNames, hashOf, MAX_NAMES } from "./field-names.ts";
import type { IdNames } from "./ids.ts";
import {
  buildSyscall,
  decodeEscaped,
  decodeProctitle,
  HEX,
  idName,
  interpretEvent,
  type InterpretOptions,
} from "./interpret.ts";
import { canonicalDigitsValue, digitsValue, isNullishAt, isUnsetIdAt, isUserNameAt, NOT_ASCII, NOT_HEX, numAt, unhexInto } from "./line-bytes.ts";

/** What the writer needs of a record's text: slices (a string, or the line's bytes read as Latin-1). */
interface TextSource {
  slice(start: number, end: number): string;
}

const SPACE = 0x20;
const GS = 0x1d;
const EQ = 0x3d;
const QUOTE = 0x22;
const APOSTROPHE = 0x27;
const COMMA = 0x2c;
const COLON = 0x3a;
const NUL = 0;

/**
 * Repeats of one name a record may have on this path (real records run
 * together a few times over; more goes the reference way).
 */
const MAX_SUFFIX = 64;

/** uid/gid → name bytes cached at most (per kind). */
const MAX_ID_CACHE = 4096;
/** Record types given a first-field guess of their own (a log has a few dozen). */
const MAX_TYPE_STARTS = 512;
/** Fields of a record type whose names are guessed from its last record (longer records go on by the name that followed). */
const SEQUENCE_LENGTH = 64;

const B = {
  recordOpen: ascii('{"type":"'),
  fieldsOpen: ascii('","fields":{'),
  decodedOpen: ascii('},"decoded":{'),
  rawOpen: ascii('},"raw":"'),
  enrichedOpen: ascii(',"enriched":{'),
  msgOpen: ascii(',"msg":{'),
  sourceOpen: ascii(',"source":'),
  fileOpen: ascii('{"file":'),
  lineOpen: ascii(',"line":'),
  text: ascii('"_text":"'),
  eventOpen: ascii('{"kind":"event","id":"'),
  node: ascii('","node":'),
  time: ascii(',"time":"'),
  type: ascii(',"type":"'),
  noSyscall: ascii('","syscall":null,"process":null'),
  syscallOpen: ascii('","syscall":'),
  proctitle: ascii(',"proctitle":'),
  targets: ascii(',"targets":['),
  key: ascii('],"key":'),
  records: ascii(',"records":['),
  warnings: ascii('],"warnings":['),
  recordWarnings: ascii(',"warnings":['),
  arch: ascii('{"arch":'),
  nr: ascii(',"nr":'),
  name: ascii(',"name":'),
  success: ascii(',"success":'),
  exit: ascii(',"exit":'),
  errno: ascii(',"errno":'),
  args: ascii(',"args":['),
  process: ascii(',"process":'),
  null: ascii("null"),
  true: ascii("true"),
  false: ascii("false"),
  unset: ascii("unset"),
};
const NULL_TEXT = ascii("(null)");
const YES = ascii("yes");
const NO = ascii("no");

const MAIN = 0;
const MSG = 1;
const ENRICHED = 2;

function grownInt32(array: Int32Array, size: number): Int32Array {
  return array.length >= size ? array : new Int32Array(Math.max(size, array.length * 2));
}

/** Number(value) as interpret.ts computes it, without slicing when the value is plain digits. */
function numberOf(text: TextSource, line: Uint8Array, start: number, end: number): number {
  const n = digitsValue(line, start, end);
  return n >= 0 ? n : Number(text.slice(start, end));
}

/** fields.ts findSingleQuoteEnd: the `'` followed by a space, 0x1d or the end. */
function singleQuoteEnd(line: Uint8Array, from: number, end: number): number {
  for (let i = from; i < end; i++) {
    if (line[i] !== APOSTROPHE) continue;
    if (i + 1 >= end) return i;
    const next = line[i + 1];
    if (next === SPACE || next === GS) return i;
  }
  return -1;
}

/** How a summary member is read (interpret.ts buildProcess, buildTarget). */
const enum Member {
  /** num(fields[name]) */
  Number,
  /** idOrNull(fields[name]) */
  Id,
  /** nullish(decoded[name] ?? fields[name]) */
  Text,
  /** nullish(fields[name]) */
  RawText,
  /** userName(decoded[name]) */
  User,
}

/** A summary object: its members in order, as `"key":` bytes, the field each reads, and how. */
interface Shape {
  keys: Uint8Array[];
  ids: number[];
  kinds: Member[];
}

const PROCESS: readonly [string, string, Member][] = [
  ["pid", "pid", Member.Number],
  ["ppid", "ppid", Member.Number],
  ["comm", "comm", Member.Text],
  ["exe", "exe", Member.Text],
  ["uid", "uid", Member.Id],
  ["user", "uid", Member.User],
  ["euid", "euid", Member.Id],
  ["auid", "auid", Member.Id],
  ["ses", "ses", Member.Id],
  ["tty", "tty", Member.RawText],
];

const TARGET: readonly [string, string, Member][] = [
  ["pid", "opid", Member.Number],
  ["comm", "ocomm", Member.Text],
  ["uid", "ouid", Member.Id],
  ["user", "ouid", Member.User],
  ["auid", "oauid", Member.Id],
  ["ses", "oses", Member.Id],
];

interface WellKnown {
  msg: number;
  text: number;
  arch: number;
  syscall: number;
  success: number;
  exit: number;
  args: number[];
  key: number;
  proctitle: number;
}

export class EventJsonWriter {
  private readonly names = new FieldNames();
  private readonly id: WellKnown;
  /** The event's records, as JSON. */
  private readonly rec = new ByteBuffer(1 << 18);
  /** Per record: the raw line escaped, the ENRICHED tail's and the nested msg's fields. */
  private readonly raw = new ByteBuffer();
  private readonly enr = new ByteBuffer();
  private readonly msg = new ByteBuffer();
  /** Event summary pieces: syscall + process, proctitle, targets, key. */
  private readonly head = new ByteBuffer();
  private readonly title = new ByteBuffer();
  private readonly targets = new ByteBuffer();
  private readonly keyOut = new ByteBuffer();
  /** Decoded hex bytes. */
  private bytes = new Uint8Array(4096);
  /** The record's line as bytes (ASCII: one per UTF-16 unit). */
  private line = Buffer.allocUnsafe(1 << 16);
  /** Slices of `line` as strings, for a record read as bytes (no `raw` string made). */
  private readonly lineText: TextSource = { slice: (start, end) => this.line.toString("latin1", start, end) };

  // The current record's main fields, in order: name id, value in the line, value in rec, quoted.
  private fName = new Int32Array(256);
  private fStart = new Int32Array(256);
  private fEnd = new Int32Array(256);
  private fOutStart = new Int32Array(256);
  private fOutEnd = new Int32Array(256);
  private fQuoted = new Uint8Array(256);
  private fields = 0;
  // Which names a map has (seen[id] === that scan's stamp) and where.
  private readonly seenMain = new Int32Array(MAX_NAMES);
  private readonly seenMsg = new Int32Array(MAX_NAMES);
  private readonly seenEnr = new Int32Array(MAX_NAMES);
  private readonly indexMain = new Int32Array(MAX_NAMES);
  private readonly enrStart = new Int32Array(MAX_NAMES);
  private readonly enrEnd = new Int32Array(MAX_NAMES);
  // Decoded values written for the current record, by name id: range in rec.
  private readonly seenDecoded = new Int32Array(MAX_NAMES);
  private readonly decodedStart = new Int32Array(MAX_NAMES);
  private readonly decodedEnd = new Int32Array(MAX_NAMES);
  /** For each name id, the name that followed it last time (a guess for the next field); the last slots start a map. */
  private readonly nextName = new Int32Array(MAX_NAMES + 3 + MAX_TYPE_STARTS);
  /**
   * Per record type, its slot in nextName for the first field's guess (a
   * SYSCALL starts with arch, a PATH with item, a CWD with cwd…): with one
   * slot for all types, nearly every record of a mixed log missed its first
   * name. Types past MAX_TYPE_STARTS share the generic slot.
   */
  private readonly typeStarts = new Map<string, number>();
  /** The slot the current record's main scan starts from. */
  private mainStart = MAX_NAMES + MAIN;
  /**
   * Per record type (by its slot), the names of its last record's fields in
   * order (-1: none yet): records of one type mostly repeat them, where the
   * name that followed a shared one (pid, uid, ses…) depends on the type.
   */
  private readonly typeSequences: Int32Array[] = [];
  /** The current record's, when its type has one. */
  private sequence: Int32Array | null = null;
  /** Per name id: the scan (stamp) that last numbered a repeat of it, and the suffix to try next. */
  private readonly suffixStamp = new Int32Array(MAX_NAMES);
  private readonly suffixNext = new Int32Array(MAX_NAMES);
  /** Per name id, the ids of `name#2`… once interned (index = suffix), -1 before. */
  private readonly numberedIds: Int32Array[] = [];
  /** The current record's warnings, and the event's so far (`TYPE: warning`, as interpretEvent lists them). */
  private recordWarnings: string[] = [];
  private eventWarnings: string[] = [];
  private stamp = 0;
  private mainStamp = 0;
  /** Out-values of textRange/userRange. */
  private rangeStart = 0;
  private rangeEnd = 0;
  private enrStamp = 0;
  private hasMsg = false;
  // Words without `=` (→ `_text`), a stack shared by the nested scans.
  private wordStart: Int32Array = new Int32Array(64);
  private wordEnd: Int32Array = new Int32Array(64);
  private words = 0;
  // The decoded map being written.
  private decodedFirst = true;
  private decodedArch: string | null = null;
  private decodedSyscall: string | null = null;
  // Per event.
  private hasSyscall = false;
  private hasTitle = false;
  private targetCount = 0;
  // Caches.
  private readonly userNames = new Map<number, Uint8Array>();
  private readonly groupNames = new Map<number, Uint8Array>();
  private archBytes: Uint8Array = new Uint8Array(0);
  private archResult: string | null = null;
  private readonly time = new IsoTimeBytes();
  private sourceFile: string | null = null;
  /** `,"source":{"file":"…","line":` for sourceFile. */
  private sourcePrefix: Uint8Array = new Uint8Array(0);

  private readonly processShape: Shape;
  private readonly targetShape: Shape;

  constructor(
    private readonly writer: LineWriter,
    private readonly options: InterpretOptions,
  ) {
    const n = (name: string) => this.names.intern(name);
    const shape = (members: readonly [string, string, Member][]): Shape => ({
      keys: members.map(([key], m) => ascii(`${m === 0 ? "{" : ","}"${key}":`)),
      ids: members.map(([, field]) => n(field)),
      kinds: members.map(([, , kind]) => kind),
    });
    this.processShape = shape(PROCESS);
    this.targetShape = shape(TARGET);
    this.id = {
      msg: n("msg"), text: n("_text"), arch: n("arch"), syscall: n("syscall"), success: n("success"), exit: n("exit"),
      args: [n("a0"), n("a1"), n("a2"), n("a3")], key: n("key"), proctitle: n("proctitle"),
    };
  }

  private get ids(): IdNames {
    return this.options.ids;
  }

  /** Events written by the fast path and by the reference one (for tests and tuning). */
  readonly counts = { fast: 0, reference: 0 };

  /** One event line, the same bytes as writer.write(interpretEvent(event)). */
  write(event: AssembledEvent): void {
    if (this.writeFast(event)) this.counts.fast++;
    else {
      this.counts.reference++;
      this.writer.write(interpretEvent(event, this.options));
    }
  }

  private writeFast(event: AssembledEvent): boolean {
    const { node, seconds, millis, records } = event;
    if (node !== null && typeof node !== "string") return false;
    if (!Number.isInteger(seconds) || seconds < 0 || seconds >= 2 ** 42 || !Number.isInteger(millis) || millis < 0 || millis > 999) return false;
    this.rec.pos = 0;
    this.head.pos = 0;
    this.title.pos = 0;
    this.targets.pos = 0;
    this.keyOut.pos = 0;
    this.hasSyscall = false;
    this.hasTitle = false;
    this.targetCount = 0;
    if (this.eventWarnings.length > 0) this.eventWarnings = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (record.type === "SIGNAL_GENERATE" || !this.record(record, i === 0)) return false;
    }
    this.writeLine(event);
    return true;
  }

  private writeLine(event: AssembledEvent): void {
    const { node, id, records } = event;
    const warnings = this.eventWarnings.length === 0 ? event.warnings : [...(event.warnings ?? []), ...this.eventWarnings];
    const type = this.hasSyscall ? "SYSCALL" : records[0]!.type;
    let bound = 256 + 6 * (id.length + (node?.length ?? 0) + type.length);
    bound += this.head.pos + this.title.pos + this.targets.pos + this.keyOut.pos + this.rec.pos;
    if (warnings) for (const w of warnings) bound += 6 * w.length + 3;
    const out = this.writer.reserve(bound);
    let p = this.writer.offset;
    p = putBytes(out, p, B.eventOpen);
    p = writeString(out, p, id);
    p = putBytes(out, p, B.node);
    if (node === null) p = putBytes(out, p, B.null);
    else {
      out[p++] = QUOTE;
      p = writeString(out, p, node);
      out[p++] = QUOTE;
    }
    p = putBytes(out, p, B.time);
    p = this.time.put(out, p, event.seconds, event.millis);
    p = putBytes(out, p, B.type);
    p = writeString(out, p, type);
    if (this.hasSyscall) {
      p = putBytes(out, p, B.syscallOpen);
      p += this.head.buf.copy(out, p, 0, this.head.pos);
    } else p = putBytes(out, p, B.noSyscall);
    p = putBytes(out, p, B.proctitle);
    if (this.hasTitle) p += this.title.buf.copy(out, p, 0, this.title.pos);
    else p = putBytes(out, p, B.null);
    p = putBytes(out, p, B.targets);
    p += this.targets.buf.copy(out, p, 0, this.targets.pos);
    p = putBytes(out, p, B.key);
    if (this.keyOut.pos > 0) p += this.keyOut.buf.copy(out, p, 0, this.keyOut.pos);
    else p = putBytes(out, p, B.null);
    p = putBytes(out, p, B.records);
    p += this.rec.buf.copy(out, p, 0, this.rec.pos);
    if (warnings) {
      p = putBytes(out, p, B.warnings);
      for (let i = 0; i < warnings.length; i++) {
        if (i > 0) out[p++] = COMMA;
        out[p++] = QUOTE;
        p = writeString(out, p, warnings[i]!);
        out[p++] = QUOTE;
      }
    }
    out[p++] = 0x5d; // ]
    out[p++] = 0x7d; // }
    out[p++] = 0x0a;
    this.writer.commit(p);
  }

  /** One record into `rec`, and into the summary when it feeds it. False: leave the event to the reference path. */
  private record(record: PendingRecord, first: boolean): boolean {
    let text: TextSource;
    let length: number;
    if (record instanceof ByteRecord && record.bytes !== null) {
      // Read as ASCII bytes: copied as they are, and sliced into strings only where a value needs one.
      length = record.length;
      this.reserveRecord(length, record.type.length);
      record.bytes.copy(this.line, 0, record.start, record.end);
      text = this.lineText;
    } else {
      const raw = record.raw;
      length = raw.length;
      this.reserveRecord(length, record.type.length);
      // One native copy to bytes, which also tells ASCII lines (one byte per unit) from the rest.
      if (this.line.write(raw, 0, "utf8") !== length) return false;
      text = raw;
    }
    const line = this.line;
    // The prefix (type, stamp) to raw here; the scans write the rest.
    this.raw.pos = copyEscaped(line, 0, record.bodyStart, this.raw.buf, 0);
    const recordStart = this.rec.pos;
    let out = this.rec.buf;
    let p = recordStart;
    if (!first) out[p++] = COMMA;
    p = putBytes(out, p, B.recordOpen);
    p = writeString(out, p, record.type);
    p = putBytes(out, p, B.fieldsOpen);
    this.rec.pos = p;
    // A sentinel: past `length` the scratch buffer holds older lines (reserveRecord left room).
    line[length] = GS;
    const gsAt = line.indexOf(GS, record.bodyStart);
    const gs = gsAt < length ? gsAt : -1;
    this.hasMsg = false;
    this.msg.pos = 0;
    this.enr.pos = 0;
    this.enrStamp = 0;
    if (this.recordWarnings.length > 0) this.recordWarnings = [];
    this.mainStart = this.typeStart(record.type);
    this.sequence = this.mainStart === MAX_NAMES + MAIN ? null : this.typeSequences[this.mainStart - MAX_NAMES - 3]!;
    if (!this.scan(line, record.bodyStart, gs < 0 ? length : gs, MAIN)) return false;
    if (gs >= 0) {
      this.raw.pos = escapeAscii(this.raw.buf, this.raw.pos, GS);
      if (!this.scan(line, gs + 1, length, ENRICHED)) return false;
    }
    out = this.rec.ensure(B.decodedOpen.length);
    this.rec.pos = putBytes(out, this.rec.pos, B.decodedOpen);
    if (!this.decode(text, line, record.type)) return false;

    out = this.rec.ensure(this.raw.pos + this.enr.pos + this.msg.pos + 64);
    p = putBytes(out, this.rec.pos, B.rawOpen);
    p += this.raw.buf.copy(out, p, 0, this.raw.pos);
    out[p++] = QUOTE;
    if (gs >= 0) {
      p = putBytes(out, p, B.enrichedOpen);
      p += this.enr.buf.copy(out, p, 0, this.enr.pos);
      out[p++] = 0x7d;
    }
    if (this.hasMsg) {
      p = putBytes(out, p, B.msgOpen);
      p += this.msg.buf.copy(out, p, 0, this.msg.pos);
      out[p++] = 0x7d;
    }
    this.rec.pos = p;
    if (record.source) this.putSource(record);
    if (this.recordWarnings.length > 0) this.putRecordWarnings(record.type);
    out = this.rec.buf;
    out[this.rec.pos++] = 0x7d;

    const type = record.type;
    if (type === "SYSCALL") {
      if (!this.hasSyscall) this.summarizeSyscall(text, line, this.rec.pos - recordStart);
    } else if (type === "OBJ_PID") this.summarizeTarget(text, line, this.rec.pos - recordStart);
    return true;
  }

  /** The nextName slot whose guess is a record type's first field name. */
  private typeStart(type: string): number {
    const known = this.typeStarts.get(type);
    if (known !== undefined) return known;
    const slot = this.typeStarts.size < MAX_TYPE_STARTS ? MAX_NAMES + 3 + this.typeStarts.size : MAX_NAMES + MAIN;
    // Bounded: types past the limit are not remembered, they use the generic slot.
    if (this.typeStarts.size < MAX_TYPE_STARTS) {
      this.typeStarts.set(type, slot);
      this.typeSequences.push(new Int32Array(SEQUENCE_LENGTH).fill(-1));
    }
    return slot;
  }

  private reserveRecord(length: number, typeLength: number): void {
    if (this.stamp > 0x3fff0000) {
      // The stamps stay int32: start over (after a billion records or so).
      for (const seen of [this.seenMain, this.seenMsg, this.seenEnr, this.seenDecoded, this.suffixStamp]) seen.fill(0);
      this.stamp = 0;
    }
    // Worst cases: every unit escaped to 6 bytes, a field (≥ 1 unit) adds 6 bytes of quotes and commas.
    this.rec.ensure(20 * length + 6 * typeLength + 256);
    this.raw.pos = 0;
    this.raw.ensure(6 * length + 16);
    this.msg.pos = 0;
    this.msg.ensure(20 * length + 64);
    this.enr.pos = 0;
    this.enr.ensure(20 * length + 64);
    if (this.fName.length < length + 2) {
      const size = 2 * length + 2;
      this.fName = new Int32Array(size);
      this.fStart = new Int32Array(size);
      this.fEnd = new Int32Array(size);
      this.fOutStart = new Int32Array(size);
      this.fOutEnd = new Int32Array(size);
      this.fQuoted = new Uint8Array(size);
    }
    this.wordStart = grownInt32(this.wordStart, length + 2);
    this.wordEnd = grownInt32(this.wordEnd, length + 2);
    if (this.bytes.length < length) this.bytes = new Uint8Array(2 * length);
    if (this.line.length < 3 * length) this.line = Buffer.allocUnsafe(6 * length);
  }

  /**
   * fields.ts `scan` over line[start, end), writing the map's JSON (without
   * braces) to rec (MAIN), msg or enr, and every unit it passes, escaped, to
   * raw: one pass makes both. False for what the reference would treat
   * differently: a special name, a second `_text`, a full name table.
   */
  private scan(line: Uint8Array, start: number, end: number, mode: number): boolean {
    const out = mode === MAIN ? this.rec : mode === MSG ? this.msg : this.enr;
    const d = out.buf;
    let p = out.pos;
    const r = this.raw.buf;
    let rp = this.raw.pos;
    const names = this.names;
    const seen = mode === MAIN ? this.seenMain : mode === MSG ? this.seenMsg : this.seenEnr;
    const stamp = ++this.stamp;
    if (mode === MAIN) {
      this.mainStamp = stamp;
      this.fields = 0;
    } else if (mode === ENRICHED) this.enrStamp = stamp;
    const wordBase = this.words;
    const next = this.nextName;
    let previous = mode === MAIN ? this.mainStart : MAX_NAMES + mode;
    const sequence = mode === MAIN ? this.sequence : null;
    let named = 0;
    let comma = false;
    let i = start;
    while (i < end) {
      let c = line[i]!;
      if (c === SPACE) {
        r[rp++] = c;
        i++;
        continue;
      }
      if (c === GS) {
        rp = escapeAscii(r, rp, c);
        i++;
        continue;
      }
      // The name, up to "=" or a space (then it is a word without a value),
      // compared on the way with the name that followed the previous one last time.
      const nameStart = i;
      const mark = p;
      if (comma) d[p++] = COMMA;
      d[p++] = QUOTE;
      // Two guesses: this type's name at this place last time, else the name that followed the previous one.
      const followed = next[previous]!;
      const guess = sequence !== null && named < SEQUENCE_LENGTH && sequence[named]! >= 0 ? sequence[named]! : followed;
      const expected = names.bytes[guess]!;
      // Reads stay in bounds: an out-of-bounds read takes JSC's slow path.
      const last = nameStart + expected.length;
      let same = true;
      while (i < end) {
        c = line[i]!;
        if (c === EQ || c === SPACE) break;
        if (i >= last || expected[i - nameStart] !== c) same = false;
        if (PLAIN[c] === 1) {
          d[p++] = c;
          r[rp++] = c;
        } else {
          p = escapeAscii(d, p, c);
          rp = escapeAscii(r, rp, c);
        }
        i++;
      }
      if (i >= end || c === SPACE) {
        p = mark;
        this.wordStart[this.words] = nameStart;
        this.wordEnd[this.words++] = i;
        continue;
      }
      // `written`: the name as the line has it; `id`: as the map stores it (a repeat is `name#2`…).
      const written =
        same && i === last
          ? guess
          : followed !== guess && bytesAre(line, nameStart, i, names.bytes[followed]!)
            ? followed
            : names.find(line, nameStart, i, hashOf(line, nameStart, i));
      next[previous] = written < 0 ? 0 : written;
      previous = written < 0 ? 0 : written;
      if (sequence !== null && named < SEQUENCE_LENGTH) sequence[named] = written;
      named++;
      if (written < 0 || names.special[written]) return false;
      let id = written;
      if (seen[written] === stamp) {
        id = this.numbered(written, seen, stamp);
        if (id < 0) return false;
        // The key again, as stored; the raw text keeps the name as written.
        p = mark;
        if (comma) d[p++] = COMMA;
        const key = names.json[id]!;
        for (let k = 0, n = key.length - 3; k < n; k++) d[p++] = key[k]!;
      }
      seen[id] = stamp;
      d[p++] = QUOTE;
      d[p++] = COLON;
      d[p++] = QUOTE;
      r[rp++] = EQ;
      const valueOut = p;
      let v = i + 1;
      const q = v < end ? line[v]! : 0;
      let quoted = 0;
      let valueStart: number;
      let valueEnd: number;
      if (q === QUOTE) {
        // Up to the next '"' (none inside: the kernel hex-encodes such values).
        r[rp++] = 0x5c;
        r[rp++] = QUOTE;
        valueStart = ++v;
        while (v < end) {
          c = line[v]!;
          if (c === QUOTE) break;
          if (PLAIN[c] === 1) {
            d[p++] = c;
            r[rp++] = c;
          } else {
            p = escapeAscii(d, p, c);
            rp = escapeAscii(r, rp, c);
          }
          v++;
        }
        valueEnd = v;
        if (v >= end) {
          this.warn(mode, written);
          i = end;
        } else {
          r[rp++] = 0x5c;
          r[rp++] = QUOTE;
          i = v + 1;
        }
        quoted = 1;
      } else if (q === APOSTROPHE) {
        const close = singleQuoteEnd(line, v + 1, end);
        if (close < 0) this.warn(mode, written);
        r[rp++] = APOSTROPHE;
        valueStart = v + 1;
        valueEnd = close < 0 ? end : close;
        if (mode === MAIN && written === this.id.msg && !this.hasMsg) {
          // The nested fields write the raw text; the value is that, copied.
          this.hasMsg = true;
          this.raw.pos = rp;
          if (!this.scan(line, valueStart, valueEnd, MSG)) return false;
          for (let k = rp; k < this.raw.pos; k++) d[p++] = r[k]!;
          rp = this.raw.pos;
        } else {
          for (let k = valueStart; k < valueEnd; k++) {
            c = line[k]!;
            if (PLAIN[c] === 1) {
              d[p++] = c;
              r[rp++] = c;
            } else {
              p = escapeAscii(d, p, c);
              rp = escapeAscii(r, rp, c);
            }
          }
        }
        if (close >= 0) r[rp++] = APOSTROPHE;
        i = close < 0 ? end : close + 1;
      } else {
        valueStart = v;
        while (v < end) {
          c = line[v]!;
          if (c === SPACE) break;
          if (PLAIN[c] === 1) {
            d[p++] = c;
            r[rp++] = c;
          } else {
            p = escapeAscii(d, p, c);
            rp = escapeAscii(r, rp, c);
          }
          v++;
        }
        valueEnd = v;
        i = v;
      }
      if (mode === MAIN) {
        const k = this.fields++;
        this.fName[k] = id;
        this.fStart[k] = valueStart;
        this.fEnd[k] = valueEnd;
        this.fOutStart[k] = valueOut;
        this.fOutEnd[k] = p;
        this.fQuoted[k] = quoted;
        this.indexMain[id] = k;
      } else if (mode === ENRICHED) {
        this.enrStart[id] = valueOut;
        this.enrEnd[id] = p;
      }
      d[p++] = QUOTE;
      comma = true;
    }
    if (this.words > wordBase) {
      // Words without a value, joined, as the last field.
      if (seen[this.id.text] === stamp) return false;
      if (comma) d[p++] = COMMA;
      p = putBytes(d, p, B.text);
      for (let w = wordBase; w < this.words; w++) {
        if (w > wordBase) d[p++] = SPACE;
        p = copyEscaped(line, this.wordStart[w]!, this.wordEnd[w]!, d, p);
      }
      d[p++] = QUOTE;
      this.words = wordBase;
    }
    out.pos = p;
    this.raw.pos = rp;
    return true;
  }

  /**
   * The stored name of a repeat of name `written` in the map being scanned
   * (fields.ts build): `name#N`, N from 2 up, skipping any taken; -1 past
   * MAX_SUFFIX or when the name table is full.
   */
  private numbered(written: number, seen: Int32Array, stamp: number): number {
    // Where the last repeat of this name in this scan stopped: every suffix below is taken (build's nextSuffix).
    let n = this.suffixStamp[written] === stamp ? this.suffixNext[written]! : 2;
    const known = (this.numberedIds[written] ??= new Int32Array(MAX_SUFFIX + 1).fill(-1));
    for (;;) {
      // Numbered names are interned for good: a record repeating a name thousands of times must not fill the table.
      if (n > MAX_SUFFIX) return -1;
      let id = known[n]!;
      if (id < 0) {
        id = this.names.intern(`${this.names.names[written]!}#${n}`);
        if (id < 0) return -1;
        known[n] = id;
      }
      if (seen[id] !== stamp) {
        this.suffixStamp[written] = stamp;
        this.suffixNext[written] = n + 1;
        return id;
      }
      n++;
    }
  }

  /** fields.ts's warning for an unterminated quote in name `written` (a nested msg's are prefixed). */
  private warn(mode: number, written: number): void {
    const warning = `unterminated quote in ${this.names.names[written]!}`;
    this.recordWarnings.push(mode === MSG ? `msg: ${warning}` : warning);
  }

  /** Where a main field is (index into the f* arrays), or -1. */
  private field(id: number): number {
    return this.seenMain[id] === this.mainStamp ? this.indexMain[id]! : -1;
  }

  // ------------------------------------------------------------ decoded

  /** interpret.ts decodeRecord's `decoded` map, written to rec. */
  private decode(text: TextSource, line: Uint8Array, type: string): boolean {
    const isSyscall = type === "SYSCALL";
    const isExecve = type === "EXECVE";
    const isProctitle = type === "PROCTITLE";
    const names = this.names;
    this.decodedFirst = true;
    this.decodedArch = null;
    this.decodedSyscall = null;
    let arch: string | null = null;
    let signalArg = -1;
    for (let k = 0; k < this.fields; k++) {
      const id = this.fName[k]!;
      const start = this.fStart[k]!;
      const end = this.fEnd[k]!;
      switch (names.kind[id]) {
        case FieldKind.Escaped:
          this.decodeEscapedField(id, text, line, start, end, this.fQuoted[k] === 1);
          break;
        case FieldKind.Proctitle:
          this.decodeProctitleField(id, k, text, line, isProctitle && id === this.id.proctitle && !this.hasTitle);
          break;
        case FieldKind.Uid:
        case FieldKind.Gid:
          this.decodeIdField(id, text, line, start, end);
          break;
        case FieldKind.Session:
          if (isUnsetIdAt(line, start, end)) this.putDecodedBytes(id, B.unset);
          break;
        case FieldKind.Arch:
          if (isSyscall) {
            if (!bytesAre(line, start, end, this.archBytes)) {
              this.archBytes = Uint8Array.from(line.subarray(start, end));
              this.archResult = archName(text.slice(start, end));
            }
            arch = this.archResult;
            if (arch) {
              this.putDecodedString(id, arch);
              if (id === this.id.arch) this.decodedArch = arch;
            }
          }
          break;
        case FieldKind.Syscall:
          if (isSyscall && arch) {
            const name = syscallName(arch, numberOf(text, line, start, end));
            if (name) {
              this.putDecodedString(id, name);
              if (id === this.id.syscall) {
                this.decodedSyscall = name;
                if (isKillFamily(name)) {
                  // decodeRecord names the signal argument once all fields are in; here
                  // it is written in order, so it must come after syscall (it always does).
                  signalArg = this.id.args[KILL_FAMILY[name].signalArg]!;
                  const at = this.field(signalArg);
                  if (at >= 0 && at < k) return false;
                }
              }
            }
          }
          break;
        case FieldKind.Exit:
          if (isSyscall && end > start && line[start] === 0x2d) {
            const errno = errnoName(-numberOf(text, line, start, end));
            if (errno) this.putDecodedString(id, errno);
          }
          break;
        case FieldKind.Arg:
          if (isSyscall) {
            if (id === signalArg) {
              const value = text.slice(start, end);
              const sig = HEX.test(value) ? signalName(toSigned32(value)) : null;
              if (sig) {
                this.putDecodedString(id, sig);
                break;
              }
            }
            this.putDecodedRange(id, this.rec.buf, this.fOutStart[k]!, this.fOutEnd[k]!, true);
          } else if (isExecve) this.decodeEscapedField(id, text, line, start, end, this.fQuoted[k] === 1);
          break;
        case FieldKind.Signal: {
          const sig = signalName(numberOf(text, line, start, end));
          if (sig) this.putDecodedString(id, sig);
          break;
        }
        default:
          if (isExecve && names.execveArg[id]) this.decodeEscapedField(id, text, line, start, end, this.fQuoted[k] === 1);
      }
    }
    return true;
  }

  /** Start a decoded entry for name `id` with room for `n` value bytes; returns the value's position. */
  private openDecoded(id: number, n: number): number {
    const json = this.names.json[id]!;
    const out = this.rec.ensure(json.length + n + 2);
    let p = this.rec.pos;
    if (!this.decodedFirst) out[p++] = COMMA;
    this.decodedFirst = false;
    return putBytes(out, p, json);
  }

  private closeDecoded(id: number, start: number, end: number): void {
    this.rec.buf[end] = QUOTE;
    this.rec.pos = end + 1;
    this.seenDecoded[id] = this.mainStamp;
    this.decodedStart[id] = start;
    this.decodedEnd[id] = end;
  }

  private putDecodedString(id: number, value: string): void {
    const start = this.openDecoded(id, 6 * value.length);
    this.closeDecoded(id, start, writeString(this.rec.buf, start, value));
  }

  private putDecodedBytes(id: number, value: Uint8Array): void {
    const start = this.openDecoded(id, value.length);
    this.closeDecoded(id, start, putBytes(this.rec.buf, start, value));
  }

  private putDecodedRange(id: number, source: Uint8Array, from: number, to: number, hexPrefix: boolean): void {
    const start = this.openDecoded(id, to - from + 2);
    const out = this.rec.buf;
    // source may be rec itself: its range lies before the entry, so a forward copy is safe.
    let p = start;
    if (hexPrefix) {
      out[p++] = 0x30;
      out[p++] = 0x78;
    }
    for (let i = from; i < to; i++) out[p++] = source[i]!;
    this.closeDecoded(id, start, p);
  }

  /** decodeEscaped: a hex-encoded untrusted string (unquoted, even, all hex) is decoded; otherwise nothing. */
  private decodeEscapedField(id: number, text: TextSource, line: Uint8Array, start: number, end: number, quoted: boolean): void {
    if (quoted) return;
    // `bytes` has room: reserveRecord sized it to the line.
    const n = unhexInto(line, start, end, this.bytes);
    if (n === NOT_HEX) return;
    if (n === NOT_ASCII) {
      const value = text.slice(start, end);
      const decoded = decodeEscaped(value, false);
      if (decoded !== value) this.putDecodedString(id, decoded);
      return;
    }
    const begin = this.openDecoded(id, 6 * n);
    const out = this.rec.buf;
    const bytes = this.bytes;
    let p = begin;
    for (let i = 0; i < n; i++) {
      const c = bytes[i]!;
      if (PLAIN[c] === 1) out[p++] = c;
      else p = escapeAscii(out, p, c);
    }
    this.closeDecoded(id, begin, p);
  }

  /**
   * decodeProctitle → argv joined with spaces; for the event's first
   * PROCTITLE also the argv array (`summary`).
   */
  private decodeProctitleField(id: number, k: number, text: TextSource, line: Uint8Array, summary: boolean): void {
    const start = this.fStart[k]!;
    const end = this.fEnd[k]!;
    if (start === end || bytesAre(line, start, end, NULL_TEXT)) return;
    const quoted = this.fQuoted[k] === 1;
    let n = quoted ? NOT_HEX : unhexInto(line, start, end, this.bytes);
    if (n === NOT_HEX) {
      // As written: one argument, unless it holds a NUL (or any control character: take the general path).
      let plain = true;
      for (let i = start; i < end; i++) if (line[i]! < 0x20) plain = false;
      if (plain) {
        this.putDecodedRange(id, this.rec.buf, this.fOutStart[k]!, this.fOutEnd[k]!, false);
        if (summary) {
          const out = this.title.ensure(2 * (end - start) + 8);
          let p = this.title.pos;
          out[p++] = 0x5b;
          out[p++] = QUOTE;
          p = copyEscaped(line, start, end, out, p);
          out[p++] = QUOTE;
          out[p++] = 0x5d;
          this.title.pos = p;
          this.hasTitle = true;
        }
        return;
      }
      n = NOT_ASCII;
    }
    if (n === NOT_ASCII) {
      const argv = decodeProctitle(text.slice(start, end), quoted);
      if (argv === null) return;
      this.putDecodedString(id, argv.join(" "));
      if (summary) {
        let size = 8;
        for (const arg of argv) size += 6 * arg.length + 3;
        const out = this.title.ensure(size);
        let p = this.title.pos;
        out[p++] = 0x5b;
        for (let a = 0; a < argv.length; a++) {
          if (a > 0) out[p++] = COMMA;
          out[p++] = QUOTE;
          p = writeString(out, p, argv[a]!);
          out[p++] = QUOTE;
        }
        out[p++] = 0x5d;
        this.title.pos = p;
        this.hasTitle = true;
      }
      return;
    }
    // Hex, ASCII: NULs separate arguments; a trailing one (the kernel may cut before it) ends the last.
    const bytes = this.bytes;
    const last = bytes[n - 1] === NUL ? n - 1 : n;
    const begin = this.openDecoded(id, 6 * n);
    let out = this.rec.buf;
    let p = begin;
    for (let i = 0; i < last; i++) {
      const c = bytes[i]!;
      if (c === NUL) out[p++] = SPACE;
      else if (PLAIN[c] === 1) out[p++] = c;
      else p = escapeAscii(out, p, c);
    }
    this.closeDecoded(id, begin, p);
    if (!summary) return;
    out = this.title.ensure(6 * n + 8);
    p = this.title.pos;
    out[p++] = 0x5b;
    p = copyEscapedArgs(bytes, 0, last, out, p);
    out[p++] = 0x5d;
    this.title.pos = p;
    this.hasTitle = true;
  }

  /** idName: unset, the ENRICHED tail's name, the local name, or unknown(N). */
  private decodeIdField(id: number, text: TextSource, line: Uint8Array, start: number, end: number): void {
    if (isUnsetIdAt(line, start, end)) {
      this.putDecodedBytes(id, B.unset);
      return;
    }
    const upper = this.names.enriched[id]!;
    if (this.enrStamp !== 0 && upper >= 0 && this.seenEnr[upper] === this.enrStamp) {
      this.putDecodedRange(id, this.enr.buf, this.enrStart[upper]!, this.enrEnd[upper]!, false);
      return;
    }
    const user = this.names.kind[id] === FieldKind.Uid;
    const value = canonicalDigitsValue(line, start, end);
    if (value < 0) {
      // Not a plain number: as interpret.ts does it (the ENRICHED tail has no name for it, seen above).
      this.putDecodedString(id, idName(this.names.names[id]!, text.slice(start, end), undefined, this.ids, user ? "user" : "group"));
      return;
    }
    const cache = user ? this.userNames : this.groupNames;
    let bytes: Uint8Array | undefined = cache.get(value);
    if (bytes === undefined) {
      const name = (user ? this.ids.user(value) : this.ids.group(value)) ?? `unknown(${value})`;
      bytes = jsonBytes(name).subarray(1, -1);
      if (cache.size < MAX_ID_CACHE) cache.set(value, bytes);
    }
    this.putDecodedBytes(id, bytes);
  }

  // ------------------------------------------------------------ summary

  /** num(): an optional minus and digits, else null (NaN here). */
  private numberField(id: number, line: Uint8Array): number {
    const k = this.field(id);
    return k < 0 ? Number.NaN : numAt(line, this.fStart[k]!, this.fEnd[k]!);
  }

  /** idOrNull(): NaN for unset or not a number. */
  private idField(id: number, line: Uint8Array): number {
    const k = this.field(id);
    if (k >= 0 && isUnsetIdAt(line, this.fStart[k]!, this.fEnd[k]!)) return Number.NaN;
    return this.numberField(id, line);
  }

  private putNumberOrNull(out: Buffer, p: number, n: number): number {
    return Number.isNaN(n) ? putBytes(out, p, B.null) : putNumber(out, p, n);
  }

  /**
   * num(fields[id]) (or idOrNull, `id` true) as JSON. A plain decimal (no
   * leading zero, no -0, up to 15 digits) is its own JSON text: copied.
   */
  private putNumberField(out: Buffer, p: number, id: number, text: TextSource, line: Uint8Array, unsetIsNull: boolean): number {
    const k = this.field(id);
    if (k >= 0) {
      const start = this.fStart[k]!;
      const end = this.fEnd[k]!;
      const digits = line[start] === 0x2d ? start + 1 : start;
      const plain = end - digits >= 1 && end - digits <= 15 && (line[digits] !== 0x30 || end - digits === 1) && !(digits > start && line[digits] === 0x30);
      if (plain && !(unsetIsNull && isUnsetIdAt(line, start, end))) {
        let i = digits;
        while (i < end && line[i]! >= 0x30 && line[i]! <= 0x39) i++;
        if (i === end) {
          for (let j = start; j < end; j++) out[p++] = line[j]!;
          return p;
        }
      }
    }
    return this.putNumberOrNull(out, p, unsetIsNull ? this.idField(id, line) : this.numberField(id, line));
  }

  /** nullish(decoded[id] ?? fields[id]) as a range of rec, in rangeStart/rangeEnd; false for null. */
  private textRange(id: number, useDecoded: boolean): boolean {
    if (useDecoded && this.seenDecoded[id] === this.mainStamp) {
      this.rangeStart = this.decodedStart[id]!;
      this.rangeEnd = this.decodedEnd[id]!;
    } else {
      const k = this.field(id);
      if (k < 0) return false;
      this.rangeStart = this.fOutStart[k]!;
      this.rangeEnd = this.fOutEnd[k]!;
    }
    return !isNullishAt(this.rec.buf, this.rangeStart, this.rangeEnd);
  }

  /** userName(decoded[id]) as a range of rec, in rangeStart/rangeEnd; false for none, unset, unknown(N). */
  private userRange(id: number): boolean {
    if (this.seenDecoded[id] !== this.mainStamp) return false;
    const start = this.decodedStart[id]!;
    const end = this.decodedEnd[id]!;
    if (!isUserNameAt(this.rec.buf, start, end)) return false;
    this.rangeStart = start;
    this.rangeEnd = end;
    return true;
  }

  /** The range found by textRange/userRange as a JSON string, or null. */
  private putRange(out: Buffer, p: number, found: boolean): number {
    if (!found) return putBytes(out, p, B.null);
    const rec = this.rec.buf;
    out[p++] = QUOTE;
    for (let i = this.rangeStart; i < this.rangeEnd; i++) out[p++] = rec[i]!;
    out[p++] = QUOTE;
    return p;
  }

  /** interpret.ts buildSyscall + buildProcess, and the key, for the event's first SYSCALL record. */
  private summarizeSyscall(text: TextSource, line: Uint8Array, recordBytes: number): void {
    this.hasSyscall = true;
    const id = this.id;
    let out = this.head.ensure(16 * recordBytes + 1024);
    let p = 0;
    const name = this.decodedSyscall;
    if (name !== null && isKillFamily(name)) {
      // Signal and target: rare, so the reference code builds them.
      const fields: FieldMap = {};
      for (const n of [id.syscall, id.exit, id.success, ...id.args]) {
        const k = this.field(n);
        if (k >= 0) fields[this.names.names[n]!] = text.slice(this.fStart[k]!, this.fEnd[k]!);
      }
      const decoded: FieldMap = { syscall: name };
      if (this.decodedArch !== null) decoded.arch = this.decodedArch;
      const json = JSON.stringify(buildSyscall({ type: "SYSCALL", fields, decoded, raw: "" } satisfies DecodedRecord));
      out = this.head.ensure(3 * json.length + 16 * recordBytes + 1024);
      p = putJsonText(out, p, json);
      p = putBytes(out, p, B.process);
    } else {
      p = putBytes(out, p, B.arch);
      if (this.decodedArch === null) p = putBytes(out, p, B.null);
      else {
        out[p++] = QUOTE;
        p = writeString(out, p, this.decodedArch);
        out[p++] = QUOTE;
      }
      p = putBytes(out, p, B.nr);
      p = this.putNumberField(out, p, id.syscall, text, line, false);
      p = putBytes(out, p, B.name);
      if (name === null) p = putBytes(out, p, B.null);
      else {
        out[p++] = QUOTE;
        p = writeString(out, p, name);
        out[p++] = QUOTE;
      }
      p = putBytes(out, p, B.success);
      const success = this.field(id.success);
      p = putBytes(
        out,
        p,
        success < 0 ? B.null : bytesAre(line, this.fStart[success]!, this.fEnd[success]!, YES) ? B.true : bytesAre(line, this.fStart[success]!, this.fEnd[success]!, NO) ? B.false : B.null,
      );
      p = putBytes(out, p, B.exit);
      const exit = this.numberField(id.exit, line);
      p = this.putNumberOrNull(out, p, exit);
      p = putBytes(out, p, B.errno);
      const errno = !Number.isNaN(exit) && exit < 0 ? errnoName(-exit) : null;
      if (errno === null) p = putBytes(out, p, B.null);
      else {
        out[p++] = QUOTE;
        p = writeString(out, p, errno);
        out[p++] = QUOTE;
      }
      p = putBytes(out, p, B.args);
      let comma = false;
      for (const arg of id.args) {
        const k = this.field(arg);
        if (k < 0) continue;
        if (comma) out[p++] = COMMA;
        comma = true;
        out[p++] = QUOTE;
        out[p++] = 0x30;
        out[p++] = 0x78;
        const rec = this.rec.buf;
        for (let i = this.fOutStart[k]!; i < this.fOutEnd[k]!; i++) out[p++] = rec[i]!;
        out[p++] = QUOTE;
      }
      out[p++] = 0x5d;
      out[p++] = 0x7d;
      p = putBytes(out, p, B.process);
    }
    p = this.putObject(out, p, this.processShape, text, line);
    this.head.pos = p;

    // The key: several keys on one rule are joined with 0x01 by the kernel, with "," here.
    if (this.textRange(id.key, true)) {
      const rec = this.rec.buf;
      const end = this.rangeEnd;
      out = this.keyOut.ensure(end - this.rangeStart + 2);
      p = 0;
      out[p++] = QUOTE;
      for (let i = this.rangeStart; i < end; i++) {
        const c = rec[i]!;
        if (c !== 0x5c) {
          out[p++] = c;
          continue;
        }
        // An escape: \u0001 becomes ",", any other is copied whole.
        const length = rec[i + 1] === 0x75 ? 6 : 2;
        if (length === 6 && rec[i + 2] === 0x30 && rec[i + 3] === 0x30 && rec[i + 4] === 0x30 && rec[i + 5] === 0x31) out[p++] = COMMA;
        else for (let j = 0; j < length; j++) out[p++] = rec[i + j]!;
        i += length - 1;
      }
      out[p++] = QUOTE;
      this.keyOut.pos = p;
    }
  }

  /** interpret.ts buildTarget for an OBJ_PID record. */
  private summarizeTarget(text: TextSource, line: Uint8Array, recordBytes: number): void {
    const out = this.targets.ensure(4 * recordBytes + 256);
    let p = this.targets.pos;
    if (this.targetCount++ > 0) out[p++] = COMMA;
    this.targets.pos = this.putObject(out, p, this.targetShape, text, line);
  }

  /** An object of the summary, its members taken from the record as `shape` says. */
  private putObject(out: Buffer, p: number, shape: Shape, text: TextSource, line: Uint8Array): number {
    for (let m = 0; m < shape.ids.length; m++) {
      p = putBytes(out, p, shape.keys[m]!);
      const id = shape.ids[m]!;
      switch (shape.kinds[m]) {
        case Member.Number:
          p = this.putNumberField(out, p, id, text, line, false);
          break;
        case Member.Id:
          p = this.putNumberField(out, p, id, text, line, true);
          break;
        case Member.Text:
          p = this.putRange(out, p, this.textRange(id, true));
          break;
        case Member.RawText:
          p = this.putRange(out, p, this.textRange(id, false));
          break;
        case Member.User:
          p = this.putRange(out, p, this.userRange(id));
          break;
      }
    }
    out[p++] = 0x7d;
    return p;
  }

  /** The record's `warnings` member, and each warning again for the event's, as interpretEvent does. */
  private putRecordWarnings(type: string): void {
    const warnings = this.recordWarnings;
    let bound = 16;
    for (const w of warnings) bound += 6 * w.length + 3;
    const out = this.rec.ensure(bound);
    let p = putBytes(out, this.rec.pos, B.recordWarnings);
    for (let i = 0; i < warnings.length; i++) {
      if (i > 0) out[p++] = COMMA;
      out[p++] = QUOTE;
      p = writeString(out, p, warnings[i]!);
      out[p++] = QUOTE;
      this.eventWarnings.push(`${type}: ${warnings[i]!}`);
    }
    out[p++] = 0x5d;
    this.rec.pos = p;
  }

  private putSource(record: PendingRecord): void {
    if (record instanceof ByteRecord) return this.putFileLine(record.file, record.line);
    const source = record.source!;
    if (record.fromJson) {
      const json = JSON.stringify(source);
      const out = this.rec.ensure(3 * json.length + 16);
      let p = putBytes(out, this.rec.pos, B.sourceOpen);
      p = putJsonText(out, p, json);
      this.rec.pos = p;
      return;
    }
    // readInputs makes every source {file, line}, with one file string per input.
    this.putFileLine(source.file, source.line);
  }

  private putFileLine(file: string, line: number): void {
    if (file !== this.sourceFile) {
      this.sourceFile = file;
      this.sourcePrefix = concatBytes(concatBytes(B.sourceOpen, B.fileOpen), concatBytes(jsonBytes(file), B.lineOpen));
    }
    const out = this.rec.ensure(this.sourcePrefix.length + 32);
    let p = putBytes(out, this.rec.pos, this.sourcePrefix);
    p = putNumber(out, p, line);
    out[p++] = 0x7d;
    this.rec.pos = p;
  }
}
