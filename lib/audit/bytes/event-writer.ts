/**
 * decode's output path: an assembled event → its `event` line, written as
 * UTF-8 straight into the LineWriter's buffer: exactly the bytes of
 * JSON.stringify(interpretEvent(event)) and a newline, without making the
 * EventLine, its field maps or any intermediate string (several times cheaper).
 * - The field grammar is field-cursor.ts's. scan() walks it fused with
 *   writing the fields' JSON and the escaped raw line in one pass: driving
 *   the cursor and copying after it made decode 10-15% slower.
 * - Field names are interned (field-names.ts) and guessed from the record
 *   type's last sequence, so a name is compared, not looked up.
 * - The decoded values are field-rules.ts's, with this writer as the sink
 *   (interpret.ts drives the same rules into strings). The spelling rules are
 *   spelling.ts's byte forms; the event head (syscall, process, targets, key)
 *   is written from ranges already written.
 * An event with anything rarer (non-ASCII text, `__proto__` or array-index
 * names, a source's own record type) goes the reference way, whole
 * (interpret.ts); test/event-json.test.ts holds the two paths equal.
 */
import type { LineWriter } from "../../bytes/line-writer.ts";
import {
  ascii,
  ByteBuffer,
  bytesAre,
  concatBytes,
  copyEscaped,
  copyEscapedArgs,
  escapeAscii,
  jsonBytes,
  PLAIN,
  putBytes,
  putStringOrNull,
  putJsonText,
  putNumber,
  writeString,
} from "../../bytes/json.ts";
import type { DecodedRecord, FieldMap } from "../../schema.ts";
import { isKillFamily } from "../../tables/kill-family.ts";
import type { AssembledEvent, PendingRecord } from "../assemble.ts";
import { ByteRecord } from "./record.ts";
import { isAuditText } from "../../sources/registry.ts";
import { enrichedTailAt, singleQuoteEnd } from "./field-cursor.ts";
import { type HeadMembers, Member, PROCESS, SYSCALL, TARGET } from "../event-head.ts";
import { type DecodedSink, interpretField, localIdName, RecordContext, type TextSource } from "../field-rules.ts";
import { FieldNames, hashOf, MAX_NAMES } from "./field-names.ts";
import { FIRST_REPEAT, inMsg, NESTED_FIELD, repeatName, unterminatedQuote, WORDS_FIELD } from "../fields.ts";
import { ARG_NAMES } from "../field-types.ts";
import type { IdScope } from "../ids.ts";
import { buildSyscall, eventScope, interpretEvent, type InterpretOptions } from "../interpret.ts";
import { canonicalDigitsValue, HEX_DIGIT } from "../../bytes/read.ts";
import {
  errnoOfExit,
  idAt,
  IsoClock,
  isKeySeparator,
  isNullishAt,
  isUnsetIdAt,
  isUserNameAt,
  KEY_JOIN_BYTE,
  numAt,
  successAt,
} from "../spelling.ts";

const SPACE = 0x20;
const QUOTE = 0x22;
const GS = 0x1d;
const EQ = 0x3d;
const COLON = 0x3a;
const APOSTROPHE = 0x27;
const COMMA = 0x2c;

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
  text: ascii(`"${WORDS_FIELD}":"`),
  eventOpen: ascii('{"kind":"event","id":"'),
  node: ascii('","node":'),
  time: ascii(',"time":"'),
  type: ascii(',"type":"'),
  noSyscall: ascii('","syscall":null,"process":null'),
  syscallOpen: ascii('","syscall":'),
  proctitle: ascii(',"proctitle":'),
  targets: ascii(',"targets":['),
  key: ascii('],"key":'),
  namesUnknown: ascii(',"namesUnknown":true'),
  records: ascii(',"records":['),
  warnings: ascii('],"warnings":['),
  recordWarnings: ascii(',"warnings":['),
  args: ascii(',"args":['),
  process: ascii(',"process":'),
  null: ascii("null"),
  true: ascii("true"),
  false: ascii("false"),
  space: ascii(" "),
  hex: ascii("0x"),
  quotedHex: ascii('"0x'),
};

const MAIN = 0;
const MSG = 1;
const ENRICHED = 2;

function grownInt32(array: Int32Array, size: number): Int32Array {
  return array.length >= size ? array : new Int32Array(Math.max(size, array.length * 2));
}

/** src[from, to) into d at p (short ranges: a loop beats a native call); the new p. */
function copyBytes(src: Uint8Array, from: number, to: number, d: Uint8Array, p: number): number {
  for (let i = from; i < to; i++) d[p++] = src[i]!;
  return p;
}

/** Strings as JSON, comma-separated (no brackets). Needs room for 6 bytes per unit and 3 per string. */
export function putStrings(out: Uint8Array, p: number, strings: readonly string[]): number {
  for (let i = 0; i < strings.length; i++) {
    if (i > 0) out[p++] = COMMA;
    out[p++] = QUOTE;
    p = writeString(out, p, strings[i]!);
    out[p++] = QUOTE;
  }
  return p;
}

/** A summary object: its members in order, as `"key":` bytes, the field each reads, and how. */
interface Shape {
  keys: Uint8Array[];
  ids: number[];
  kinds: Member[];
}

export class EventJsonWriter implements DecodedSink {
  private readonly names = new FieldNames();
  /** The ids of the names this writer reads by name. */
  private readonly id = {
    msg: this.names.intern(NESTED_FIELD),
    text: this.names.intern(WORDS_FIELD),
    syscall: this.names.intern("syscall"),
    exit: this.names.intern("exit"),
    success: this.names.intern("success"),
    args: ARG_NAMES.map((arg) => this.names.intern(arg)),
    key: this.names.intern("key"),
    proctitle: this.names.intern("proctitle"),
  };
  /** The event's records, as JSON. */
  private readonly rec = new ByteBuffer(1 << 18);
  /** Per record: the raw line escaped, the ENRICHED tail's and the nested msg's fields. */
  private readonly raw = new ByteBuffer();
  private readonly enr = new ByteBuffer();
  private readonly msg = new ByteBuffer();
  /** Event summary pieces: syscall + process, proctitle, targets, key (each empty until the event has one). */
  private readonly head = new ByteBuffer();
  private readonly title = new ByteBuffer();
  private readonly targets = new ByteBuffer();
  private readonly keyOut = new ByteBuffer();
  /** The record's line as bytes (ASCII: one per UTF-16 unit). */
  private line = Buffer.allocUnsafe(1 << 16);
  /** Slices of `line` as strings, for a record read as bytes (no `raw` string made). */
  private readonly lineText: TextSource = { slice: (start, end) => this.line.toString("latin1", start, end) };

  // The current record's main fields, in order: name id, value in the line, value in rec, quoted.
  private fName: Int32Array = new Int32Array(256);
  private fStart: Int32Array = new Int32Array(256);
  private fEnd: Int32Array = new Int32Array(256);
  private fOutStart: Int32Array = new Int32Array(256);
  private fOutEnd: Int32Array = new Int32Array(256);
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
  /** Where copyTwice stopped. */
  private stopped = 0;
  /** Out-values of textRange/userRange. */
  private rangeStart = 0;
  private rangeEnd = 0;
  private enrStamp = 0;
  private hasMsg = false;
  // Words without `=` (→ `_text`), a stack shared by the nested scans.
  private wordStart: Int32Array = new Int32Array(64);
  private wordEnd: Int32Array = new Int32Array(64);
  private words = 0;
  // The decoded map being written: field-rules.ts's facts of the record, the field it is on (index into the f* arrays).
  private readonly context = new RecordContext();
  private at = 0;
  private decodedFirst = true;
  /** The field at is the event's first PROCTITLE's proctitle: its argv is the event head's too. */
  private wantTitle = false;
  // Per event.
  private hasSyscall = false;
  /** The names this event's ids may take (interpret.ts eventScope). */
  private scope!: IdScope;
  /** A summary user (process, target) had a uid but no name. */
  private userMissing = false;
  // Id names as JSON bytes, per scope (IdScope.index).
  private readonly userNames = [new Map<number, Uint8Array>(), new Map<number, Uint8Array>()];
  private readonly groupNames = [new Map<number, Uint8Array>(), new Map<number, Uint8Array>()];
  private readonly time = new IsoClock();
  private sourceFile: string | null = null;
  /** `,"source":{"file":"…","line":` for sourceFile. */
  private sourcePrefix: Uint8Array = new Uint8Array(0);

  private readonly syscallShape = this.shape(SYSCALL);
  private readonly processShape = this.shape(PROCESS);
  private readonly targetShape = this.shape(TARGET);

  constructor(
    private readonly writer: LineWriter,
    private readonly options: InterpretOptions,
  ) {}

  private shape(members: HeadMembers): Shape {
    return {
      keys: members.map(([key], m) => ascii(`${m === 0 ? "{" : ","}"${key}":`)),
      ids: members.map(([, field]) => this.names.intern(field)),
      kinds: members.map(([, , kind]) => kind),
    };
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
    this.userMissing = false;
    this.scope = eventScope(event, this.options.ids);
    if (this.eventWarnings.length > 0) this.eventWarnings = [];
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!;
      if (!isAuditText(record.type) || !this.record(record, i === 0)) return false;
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
    p = putStringOrNull(out, p, node);
    p = putBytes(out, p, B.time);
    p = this.time.put(out, p, event.seconds, event.millis);
    out[p++] = QUOTE;
    p = putBytes(out, p, B.type);
    p = writeString(out, p, type);
    if (this.hasSyscall) {
      p = putBytes(out, p, B.syscallOpen);
      p += this.head.buf.copy(out, p, 0, this.head.pos);
    } else p = putBytes(out, p, B.noSyscall);
    p = putBytes(out, p, B.proctitle);
    if (this.title.pos > 0) p += this.title.buf.copy(out, p, 0, this.title.pos);
    else p = putBytes(out, p, B.null);
    p = putBytes(out, p, B.targets);
    p += this.targets.buf.copy(out, p, 0, this.targets.pos);
    p = putBytes(out, p, B.key);
    if (this.keyOut.pos > 0) p += this.keyOut.buf.copy(out, p, 0, this.keyOut.pos);
    else p = putBytes(out, p, B.null);
    // interpret.ts namesUnknown.
    if (this.userMissing && this.scope.unnamed) p = putBytes(out, p, B.namesUnknown);
    p = putBytes(out, p, B.records);
    p += this.rec.buf.copy(out, p, 0, this.rec.pos);
    if (warnings) p = putStrings(out, putBytes(out, p, B.warnings), warnings);
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
    const recordStart = this.rec.pos;
    let out = this.rec.buf;
    let p = recordStart;
    if (!first) out[p++] = COMMA;
    p = putBytes(out, p, B.recordOpen);
    p = writeString(out, p, record.type);
    p = putBytes(out, p, B.fieldsOpen);
    this.rec.pos = p;
    const gs = enrichedTailAt(line, record.bodyStart, length);
    this.hasMsg = false;
    this.enrStamp = 0;
    if (this.recordWarnings.length > 0) this.recordWarnings = [];
    this.mainStart = this.typeStart(record.type);
    this.sequence = this.mainStart === MAX_NAMES + MAIN ? null : this.typeSequences[this.mainStart - MAX_NAMES - 3]!;
    this.raw.pos = copyEscaped(line, 0, record.bodyStart, this.raw.buf, 0);
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
    } else if (type === "OBJ_PID") this.summarizeTarget(line, this.rec.pos - recordStart);
    return true;
  }

  /** The nextName slot whose guess is a record type's first field name. */
  private typeStart(type: string): number {
    const known = this.typeStarts.get(type);
    if (known !== undefined) return known;
    // Bounded: types past the limit are not remembered, they use the generic slot.
    if (this.typeStarts.size >= MAX_TYPE_STARTS) return MAX_NAMES + MAIN;
    const slot = MAX_NAMES + 3 + this.typeStarts.size;
    this.typeStarts.set(type, slot);
    this.typeSequences.push(new Int32Array(SEQUENCE_LENGTH).fill(-1));
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
    this.fName = grownInt32(this.fName, length + 2);
    this.fStart = grownInt32(this.fStart, length + 2);
    this.fEnd = grownInt32(this.fEnd, length + 2);
    this.fOutStart = grownInt32(this.fOutStart, length + 2);
    this.fOutEnd = grownInt32(this.fOutEnd, length + 2);
    if (this.fQuoted.length < length + 2) this.fQuoted = new Uint8Array(this.fName.length);
    this.wordStart = grownInt32(this.wordStart, length + 2);
    this.wordEnd = grownInt32(this.wordEnd, length + 2);
    if (this.line.length < 3 * length) this.line = Buffer.allocUnsafe(6 * length);
  }

  /**
   * FieldCursor's grammar over line[start, end), writing the map's JSON (without
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
      // The name, up to "=" or a space (then it is a word without a value).
      const nameStart = i;
      const mark = p;
      if (comma) d[p++] = COMMA;
      d[p++] = QUOTE;
      const nameOut = p;
      p = this.copyTwice(line, nameStart, end, EQ, SPACE, d, p, r, rp);
      rp += p - nameOut;
      i = this.stopped;
      if (i >= end || line[i] === SPACE) {
        p = mark;
        this.wordStart[this.words] = nameStart;
        this.wordEnd[this.words++] = i;
        continue;
      }
      // `written`: the name as the line has it; `id`: as the map stores it (a repeat is `name#2`…).
      // Two guesses first: this type's name at this place last time, else the name that followed the previous one.
      const followed = next[previous]!;
      const guess = sequence !== null && named < SEQUENCE_LENGTH && sequence[named]! >= 0 ? sequence[named]! : followed;
      const written = bytesAre(line, nameStart, i, names.bytes[guess]!)
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
        p = copyBytes(names.json[id]!, 0, names.json[id]!.length - 3, d, nameOut - 1);
      }
      seen[id] = stamp;
      d[p++] = QUOTE;
      d[p++] = COLON;
      d[p++] = QUOTE;
      r[rp++] = EQ;
      // The value: up to the next '"' (none inside: the kernel hex-encodes such values), the `'` singleQuoteEnd finds, or a space.
      const valueOut = p;
      const first = i + 1 < end ? line[i + 1]! : 0;
      const q = first === QUOTE || first === APOSTROPHE ? first : 0;
      const valueStart = q === 0 ? i + 1 : i + 2;
      let valueEnd: number;
      if (q === QUOTE) rp = escapeAscii(r, rp, QUOTE);
      else if (q === APOSTROPHE) r[rp++] = APOSTROPHE;
      if (q === APOSTROPHE) {
        const close = singleQuoteEnd(line, valueStart, end);
        if (close < 0) this.warn(mode, written);
        valueEnd = close < 0 ? end : close;
        if (mode === MAIN && written === this.id.msg && !this.hasMsg) {
          // The nested fields write the raw text; the value is that, copied.
          this.hasMsg = true;
          this.raw.pos = rp;
          if (!this.scan(line, valueStart, valueEnd, MSG)) return false;
          p = copyBytes(r, rp, this.raw.pos, d, p);
          rp = this.raw.pos;
        } else {
          p = this.copyTwice(line, valueStart, valueEnd, -1, -1, d, p, r, rp);
          rp += p - valueOut;
        }
      } else {
        const stop = q === QUOTE ? QUOTE : SPACE;
        p = this.copyTwice(line, valueStart, end, stop, stop, d, p, r, rp);
        rp += p - valueOut;
        valueEnd = this.stopped;
        if (q === QUOTE && valueEnd >= end) this.warn(mode, written);
      }
      const closed = q !== 0 && valueEnd < end;
      i = closed ? valueEnd + 1 : valueEnd;
      if (closed && q === QUOTE) rp = escapeAscii(r, rp, QUOTE);
      else if (closed) r[rp++] = APOSTROPHE;
      if (mode === MAIN) {
        const k = this.fields++;
        this.fName[k] = id;
        this.fStart[k] = valueStart;
        this.fEnd[k] = valueEnd;
        this.fOutStart[k] = valueOut;
        this.fOutEnd[k] = p;
        this.fQuoted[k] = q === QUOTE ? 1 : 0;
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
   * ASCII line[from, …) up to `end` or the first byte `stopA` or `stopB`
   * (where: `stopped`), escaped as JSON into d at p and, the same bytes, into
   * r at rp. Returns the new p; r's moved as much.
   */
  private copyTwice(line: Uint8Array, from: number, end: number, stopA: number, stopB: number, d: Uint8Array, p: number, r: Uint8Array, rp: number): number {
    let i = from;
    for (; i < end; i++) {
      const c = line[i]!;
      if (c === stopA || c === stopB) break;
      if (PLAIN[c] === 1) {
        d[p++] = c;
        r[rp++] = c;
      } else {
        p = escapeAscii(d, p, c);
        rp = escapeAscii(r, rp, c);
      }
    }
    this.stopped = i;
    return p;
  }

  /**
   * The stored name of a repeat of name `written` in the map being scanned
   * (fields.ts build): `name#N`, N from 2 up, skipping any taken; -1 past
   * MAX_SUFFIX or when the name table is full.
   */
  private numbered(written: number, seen: Int32Array, stamp: number): number {
    // Where the last repeat of this name in this scan stopped: every suffix below is taken (build's nextSuffix).
    let n = this.suffixStamp[written] === stamp ? this.suffixNext[written]! : FIRST_REPEAT;
    const known = (this.numberedIds[written] ??= new Int32Array(MAX_SUFFIX + 1).fill(-1));
    for (;;) {
      // Numbered names are interned for good: a record repeating a name thousands of times must not fill the table.
      if (n > MAX_SUFFIX) return -1;
      let id = known[n]!;
      if (id < 0) {
        id = this.names.intern(repeatName(this.names.names[written]!, n));
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
    const warning = unterminatedQuote(this.names.names[written]!);
    this.recordWarnings.push(mode === MSG ? inMsg(warning) : warning);
  }

  /** Where a main field is (index into the f* arrays), or -1. */
  private field(id: number): number {
    return this.seenMain[id] === this.mainStamp ? this.indexMain[id]! : -1;
  }

  // ------------------------------------------------------------ decoded

  /** The record's `decoded` map by field-rules.ts, this writer its sink, into rec. False: leave the event to the reference path. */
  private decode(text: TextSource, line: Uint8Array, type: string): boolean {
    const ctx = this.context.begin(type, this.scope);
    ctx.text = text;
    ctx.bytes = line;
    const isProctitle = type === "PROCTITLE";
    const names = this.names;
    this.decodedFirst = true;
    for (let k = 0; k < this.fields; k++) {
      const id = this.fName[k]!;
      const kind = names.kind[id]!;
      if (kind === 0) continue;
      this.at = k;
      this.wantTitle = isProctitle && id === this.id.proctitle && this.title.pos === 0;
      interpretField(kind, names.names[id]!, this.fStart[k]!, this.fEnd[k]!, this.fQuoted[k] === 1, ctx, this);
      // decodeRecord names the signal argument once all fields are in; written in order here, it must come after syscall (it always does).
      if (id === this.id.syscall && ctx.signalArg >= 0) {
        const at = this.field(this.id.args[ctx.signalArg]!);
        if (at >= 0 && at < k) return false;
      }
    }
    return true;
  }

  // DecodedSink (field-rules.ts): the value of field `at`, as a member of rec's decoded map.

  text(value: string): void {
    const start = this.openDecoded(6 * value.length);
    this.closeDecoded(start, writeString(this.rec.buf, start, value));
  }

  ascii(bytes: Buffer, from: number, to: number, argv: boolean): void {
    const start = this.openDecoded(6 * (to - from));
    this.closeDecoded(start, copyEscaped(bytes, from, to, this.rec.buf, start, argv ? B.space : undefined));
    if (this.wantTitle) this.putTitle(bytes, from, to);
  }

  argv(argv: string[]): void {
    this.text(argv.join(" "));
    if (!this.wantTitle) return;
    let size = 8;
    for (const arg of argv) size += 6 * arg.length + 3;
    const out = this.title.ensure(size);
    let p = this.title.pos;
    out[p++] = 0x5b;
    p = putStrings(out, p, argv);
    out[p++] = 0x5d;
    this.title.pos = p;
  }

  asWritten(hexPrefix: boolean): void {
    this.putDecodedRange(this.rec.buf, this.fOutStart[this.at]!, this.fOutEnd[this.at]!, hexPrefix);
    if (this.wantTitle) this.putTitle(this.context.bytes, this.fStart[this.at]!, this.fEnd[this.at]!);
  }

  enrichedName(): boolean {
    const upper = this.names.enriched[this.fName[this.at]!]!;
    if (this.enrStamp === 0 || upper < 0 || this.seenEnr[upper] !== this.enrStamp) return false;
    this.putDecodedRange(this.enr.buf, this.enrStart[upper]!, this.enrEnd[upper]!, false);
    return true;
  }

  localId(id: number, user: boolean, scope: IdScope): void {
    const cache = (user ? this.userNames : this.groupNames)[scope.index]!;
    let name = cache.get(id);
    if (name === undefined) {
      name = jsonBytes(localIdName(String(id), scope, user)).subarray(1, -1);
      if (cache.size < MAX_ID_CACHE) cache.set(id, name);
    }
    const start = this.openDecoded(name.length);
    this.closeDecoded(start, putBytes(this.rec.buf, start, name));
  }

  /** Start field `at`'s decoded entry with room for `n` value bytes; returns the value's position. */
  private openDecoded(n: number): number {
    const json = this.names.json[this.fName[this.at]!]!;
    const out = this.rec.ensure(json.length + n + 2);
    let p = this.rec.pos;
    if (!this.decodedFirst) out[p++] = COMMA;
    this.decodedFirst = false;
    return putBytes(out, p, json);
  }

  private closeDecoded(start: number, end: number): void {
    const id = this.fName[this.at]!;
    this.rec.buf[end] = QUOTE;
    this.rec.pos = end + 1;
    this.seenDecoded[id] = this.mainStamp;
    this.decodedStart[id] = start;
    this.decodedEnd[id] = end;
  }

  private putDecodedRange(source: Uint8Array, from: number, to: number, hexPrefix: boolean): void {
    const start = this.openDecoded(to - from + 2);
    const out = this.rec.buf;
    // source may be rec itself: its range lies before the entry, so a forward copy is safe.
    const p = hexPrefix ? putBytes(out, start, B.hex) : start;
    this.closeDecoded(start, copyBytes(source, from, to, out, p));
  }

  /** The event head's proctitle: the argv in ASCII bytes[from, to), NUL-separated. */
  private putTitle(bytes: Uint8Array, from: number, to: number): void {
    const out = this.title.ensure(6 * (to - from) + 8);
    let p = this.title.pos;
    out[p++] = 0x5b;
    p = copyEscapedArgs(bytes, from, to, out, p);
    out[p++] = 0x5d;
    this.title.pos = p;
  }

  // ------------------------------------------------------------ summary

  /** num(): an optional minus and digits, else null (NaN here); idOrNull() when `unsetIsNull`: NaN for unset too. */
  private numberField(id: number, line: Uint8Array, unsetIsNull: boolean): number {
    const k = this.field(id);
    if (k < 0) return Number.NaN;
    return unsetIsNull ? idAt(line, this.fStart[k]!, this.fEnd[k]!) : numAt(line, this.fStart[k]!, this.fEnd[k]!);
  }

  /**
   * num(fields[id]) (or idOrNull, `id` true) as JSON. A plain decimal (no
   * leading zero, no -0, up to 15 digits) is its own JSON text: copied.
   */
  private putNumberField(out: Buffer, p: number, id: number, line: Uint8Array, unsetIsNull: boolean): number {
    const k = this.field(id);
    if (k >= 0) {
      const start = this.fStart[k]!;
      const end = this.fEnd[k]!;
      const digits = line[start] === 0x2d ? start + 1 : start;
      const plain = canonicalDigitsValue(line, digits, end) >= 0 && !(digits > start && line[digits] === 0x30);
      if (plain && !(unsetIsNull && isUnsetIdAt(line, start, end))) return copyBytes(line, start, end, out, p);
    }
    const n = this.numberField(id, line, unsetIsNull);
    return Number.isNaN(n) ? putBytes(out, p, B.null) : putNumber(out, p, n);
  }

  /** decoded[id] as a range of rec, in rangeStart/rangeEnd; false when the record has none. */
  private decodedRange(id: number): boolean {
    if (this.seenDecoded[id] !== this.mainStamp) return false;
    this.rangeStart = this.decodedStart[id]!;
    this.rangeEnd = this.decodedEnd[id]!;
    return true;
  }

  /** nullish(decoded[id] ?? fields[id]) (or of fields[id] alone) as a range of rec, in rangeStart/rangeEnd; false for null. */
  private textRange(id: number, useDecoded: boolean): boolean {
    if (!useDecoded || !this.decodedRange(id)) {
      const k = this.field(id);
      if (k < 0) return false;
      this.rangeStart = this.fOutStart[k]!;
      this.rangeEnd = this.fOutEnd[k]!;
    }
    return !isNullishAt(this.rec.buf, this.rangeStart, this.rangeEnd);
  }

  /** userName(decoded[id]) as a range of rec, in rangeStart/rangeEnd; false for none, unset, unknown(N). */
  private userRange(id: number): boolean {
    return this.decodedRange(id) && isUserNameAt(this.rec.buf, this.rangeStart, this.rangeEnd);
  }

  /** The range found by decodedRange/textRange/userRange as a JSON string, or null. */
  private putRange(out: Buffer, p: number, found: boolean): number {
    if (!found) return putBytes(out, p, B.null);
    out[p++] = QUOTE;
    p = copyBytes(this.rec.buf, this.rangeStart, this.rangeEnd, out, p);
    out[p++] = QUOTE;
    return p;
  }

  /** interpret.ts buildSyscall + buildProcess (event-head.ts tables), and the key, for the event's first SYSCALL record. */
  private summarizeSyscall(text: TextSource, line: Uint8Array, recordBytes: number): void {
    this.hasSyscall = true;
    const id = this.id;
    let out = this.head.ensure(16 * recordBytes + 1024);
    let p = 0;
    const name = this.context.syscall;
    const arch = this.context.archField;
    if (name !== null && isKillFamily(name)) {
      // Signal and target: rare, so the reference code builds them.
      const fields: FieldMap = {};
      for (const n of [id.syscall, id.exit, id.success, ...id.args]) {
        const k = this.field(n);
        if (k >= 0) fields[this.names.names[n]!] = text.slice(this.fStart[k]!, this.fEnd[k]!);
      }
      const decoded: FieldMap = { syscall: name };
      if (arch !== null) decoded.arch = arch;
      const json = JSON.stringify(buildSyscall({ type: "SYSCALL", fields, decoded, raw: "" } satisfies DecodedRecord));
      out = this.head.ensure(3 * json.length + 16 * recordBytes + 1024);
      p = putJsonText(out, p, json);
      p = putBytes(out, p, B.process);
    } else {
      p = putBytes(out, this.putObject(out, p, this.syscallShape, line), B.args);
      let comma = false;
      for (const arg of id.args) {
        const k = this.field(arg);
        if (k < 0) continue;
        if (comma) out[p++] = COMMA;
        comma = true;
        p = putBytes(out, p, B.quotedHex);
        p = copyBytes(this.rec.buf, this.fOutStart[k]!, this.fOutEnd[k]!, out, p);
        out[p++] = QUOTE;
      }
      out[p++] = 0x5d;
      out[p++] = 0x7d;
      p = putBytes(out, p, B.process);
    }
    p = this.putObject(out, p, this.processShape, line);
    out[p++] = 0x7d;
    this.head.pos = p;

    // The key, its separators joined as spelling.ts keysText does, read here in their JSON escape.
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
        // An escape: \u00XX of a key separator becomes the join, any other is copied whole.
        const length = rec[i + 1] === 0x75 ? 6 : 2;
        if (length === 6 && rec[i + 2] === 0x30 && rec[i + 3] === 0x30 && isKeySeparator((HEX_DIGIT[rec[i + 4]!]! << 4) | HEX_DIGIT[rec[i + 5]!]!)) out[p++] = KEY_JOIN_BYTE;
        else p = copyBytes(rec, i, i + length, out, p);
        i += length - 1;
      }
      out[p++] = QUOTE;
      this.keyOut.pos = p;
    }
  }

  /** interpret.ts buildTarget for an OBJ_PID record. */
  private summarizeTarget(line: Uint8Array, recordBytes: number): void {
    const out = this.targets.ensure(4 * recordBytes + 256);
    let p = this.targets.pos;
    if (p > 0) out[p++] = COMMA;
    p = this.putObject(out, p, this.targetShape, line);
    out[p++] = 0x7d;
    this.targets.pos = p;
  }

  /** An object of the event head, its members taken from the record as `shape` says (left open). */
  private putObject(out: Buffer, p: number, shape: Shape, line: Uint8Array): number {
    for (let m = 0; m < shape.ids.length; m++) {
      p = putBytes(out, p, shape.keys[m]!);
      const id = shape.ids[m]!;
      const kind = shape.kinds[m];
      switch (kind) {
        case Member.Number:
        case Member.Id:
          p = this.putNumberField(out, p, id, line, kind === Member.Id);
          break;
        case Member.Text:
        case Member.RawText:
          p = this.putRange(out, p, this.textRange(id, kind === Member.Text));
          break;
        case Member.User: {
          const found = this.userRange(id);
          if (!found && !Number.isNaN(this.numberField(id, line, true))) this.userMissing = true;
          p = this.putRange(out, p, found);
          break;
        }
        case Member.Decoded:
          p = this.putRange(out, p, this.decodedRange(id));
          break;
        case Member.Success: {
          const k = this.field(id);
          const yes = k < 0 ? null : successAt(line, this.fStart[k]!, this.fEnd[k]!);
          p = putBytes(out, p, yes === null ? B.null : yes ? B.true : B.false);
          break;
        }
        case Member.Errno:
          p = putStringOrNull(out, p, errnoOfExit(this.numberField(id, line, false)));
          break;
      }
    }
    return p;
  }

  /** The record's `warnings` member, and each warning again for the event's, as interpretEvent does. */
  private putRecordWarnings(type: string): void {
    const warnings = this.recordWarnings;
    let bound = 16;
    for (const w of warnings) bound += 6 * w.length + 3;
    const out = this.rec.ensure(bound);
    let p = putStrings(out, putBytes(out, this.rec.pos, B.recordWarnings), warnings);
    for (const warning of warnings) this.eventWarnings.push(`${type}: ${warning}`);
    out[p++] = 0x5d;
    this.rec.pos = p;
  }

  private putSource(record: PendingRecord): void {
    if (record instanceof ByteRecord) return this.putFileLine(record.file, record.line);
    const source = record.source!;
    // readInputs makes every source {file, line}, with one file string per input.
    if (!record.fromJson) return this.putFileLine(source.file, source.line);
    const json = JSON.stringify(source);
    const out = this.rec.ensure(3 * json.length + 16);
    this.rec.pos = putJsonText(out, putBytes(out, this.rec.pos, B.sourceOpen), json);
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
