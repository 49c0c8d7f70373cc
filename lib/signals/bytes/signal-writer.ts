/**
 * A kill-family event's signal, read from its records' bytes: the facts
 * (fields found with the one field grammar, every signal rule applied once
 * in make()), then written either as bytes straight into the LineWriter's
 * buffer (attribute) or as a SignalLine object (report, --proc, the table).
 * On a kill storm, strings, field maps and JSON.stringify per signal were
 * most of attribute's time; here numbers are read in place and comm, exe,
 * key and argv escaped straight from the line or its decoded hex.
 *
 * It takes ASCII records, as bytes or text, whose fields the object path
 * reads the same way; anything else (a single-quoted value, an unterminated
 * quote, a needed field given twice, tracefs) is "declined" and goes through
 * interpretEvent and eventToSignal. test/signal-json.test.ts holds both
 * forms to that path over the fixtures, the corpus and generated logs.
 */
import { noFTL } from "bun:jsc";
import type { AssembledEvent, PendingRecord } from "../../audit/assemble.ts";
import { ByteRecord } from "../../audit/bytes/record.ts";
import { putStrings } from "../../audit/bytes/event-writer.ts";
import type { IdNames, IdScope } from "../../audit/ids.ts";
import { enrichedTailAt, FieldCursor } from "../../audit/bytes/field-cursor.ts";
import { eventScope, idName, namesUnknown } from "../../audit/interpret.ts";
import { canonicalDigitsValue, digitsValue, hexDigitsValue } from "../../bytes/read.ts";
import {
  argvEnd, decodeEscaped, decodeProctitle, errnoOfExit, idAt, isKeySeparator, isNoProctitleAt, isNullishAt, IsoClock, isUnsetIdAt, isUserNameAt, KEY_JOIN_BYTE, keysText, NOT_ASCII, NOT_HEX,
  nullish, numAt, signed32At, successAt, unhexInto, userName,
} from "../../audit/spelling.ts";
import type { LineWriter } from "../../bytes/line-writer.ts";
import { ascii, copyEscaped, copyEscapedArgs, escapeAscii, PLAIN, putBytes, putNumber, putStringOrNull, writeString } from "../../bytes/json.ts";
import type { AncestorInfo, FieldMap, ProcessInfo, SignalLine, TargetInfo } from "../../schema.ts";
import { archName } from "../../tables/arch.ts";
import { isKillFamily, KILL_FAMILY, killScope, type KillSpec } from "../../tables/kill-family.ts";
import { signalName as signalNameOf } from "../../tables/signals.ts";
import { syscallName } from "../../tables/syscalls.ts";
import { isAuditText } from "../../sources/registry.ts";
import type { StreamAncestry } from "../ancestry.ts";
import type { FactFilter } from "../filter.ts";
import { applySignalRules, emptyFacts } from "../signal-facts.ts";

const DQ = 0x22;
const SQ = 0x27;
const COMMA = 0x2c;

/** Names to pick from a record, found by first byte and length, and where each value was found. */
class FieldPicks {
  private readonly byFirst: Array<Array<{ name: Uint8Array; index: number }> | undefined> = [];
  readonly valueStart: Int32Array;
  readonly valueEnd: Int32Array;
  readonly quoted: Uint8Array;
  /** The field's position in the record (-1: not there). */
  readonly order: Int32Array;

  constructor(readonly names: readonly string[]) {
    names.forEach((name, index) => (this.byFirst[name.charCodeAt(0)] ??= []).push({ name: ascii(name), index }));
    this.valueStart = new Int32Array(names.length);
    this.valueEnd = new Int32Array(names.length);
    this.quoted = new Uint8Array(names.length);
    this.order = new Int32Array(names.length).fill(-1);
  }

  reset(): void {
    this.order.fill(-1);
  }

  has(index: number): boolean {
    return this.order[index]! >= 0;
  }

  /** The index of bytes[start, end) among the names, or -1. */
  find(bytes: Uint8Array, start: number, end: number): number {
    const candidates = this.byFirst[bytes[start]!];
    if (candidates === undefined) return -1;
    const length = end - start;
    for (let k = 0; k < candidates.length; k++) {
      const { name, index } = candidates[k]!;
      if (name.length !== length) continue;
      let i = 1;
      while (i < length && bytes[start + i] === name[i]) i++;
      if (i === length) return index;
    }
    return -1;
  }

  /** A found value as text (ASCII bytes: the same string a slice of the record's line gives). */
  text(bytes: Buffer, index: number): string {
    return bytes.toString("latin1", this.valueStart[index], this.valueEnd[index]);
  }
}

/**
 * The values of `names` in bytes[start, end), read with the one field
 * grammar. False where the object path would read a value another way (a
 * single-quoted value, an unterminated quote) or a wanted name comes twice.
 */
function pick(cursor: FieldCursor, bytes: Uint8Array, start: number, end: number, names: FieldPicks): boolean {
  cursor.reset(bytes, start, end);
  let position = 0;
  while (cursor.next()) {
    // A word without a value goes to _text: nothing a signal reads.
    if (!cursor.hasValue) continue;
    if (cursor.quote === SQ || !cursor.closed) return false;
    const index = names.find(bytes, cursor.nameStart, cursor.nameEnd);
    if (index >= 0) {
      if (names.order[index]! >= 0) return false;
      names.order[index] = position;
      names.valueStart[index] = cursor.valueStart;
      names.valueEnd[index] = cursor.valueEnd;
      names.quoted[index] = cursor.quote === DQ ? 1 : 0;
    }
    position++;
  }
  return true;
}

// Indices into each set's names.
const [ARCH, NR, SUCCESS, EXIT, A0, A1, A2, A3, PID, PPID, COMM, EXE, UID, AUID, KEY] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14] as const;
const SYSCALL_NAMES = ["arch", "syscall", "success", "exit", "a0", "a1", "a2", "a3", "pid", "ppid", "comm", "exe", "uid", "auid", "key"];
const [OPID, OCOMM, OUID] = [0, 1, 2] as const;
const OBJ_PID_NAMES = ["opid", "ocomm", "ouid"];
const ENRICHED_NAMES = ["UID", "OUID"];
const ARG_INDEX = [A0, A1, A2, A3];

const B = {
  open: ascii('{"kind":"signal","id":"'),
  node: ascii('","node":'),
  time: ascii(',"time":"'),
  syscall: ascii(',"syscall":"'),
  arch: ascii('","arch":"'),
  signalNr: ascii('","signal":{"nr":'),
  signalName: ascii(',"name":'),
  success: ascii('},"result":{"success":'),
  errno: ascii(',"errno":'),
  killerPid: ascii('},"killer":{"pid":'),
  ppid: ascii(',"ppid":'),
  comm: ascii(',"comm":'),
  exe: ascii(',"exe":'),
  uid: ascii(',"uid":'),
  user: ascii(',"user":'),
  auid: ascii(',"auid":'),
  argv: ascii(',"argv":['),
  ancestry: ascii(',"ancestry":'),
  targetPid: ascii('},"target":{"pid":'),
  scope: ascii(',"scope":"'),
  tid: ascii(',"tid":'),
  fd: ascii(',"fd":'),
  pidFrom: ascii(',"pidFrom":"'),
  victims: ascii('},"victims":['),
  victimPid: ascii('{"pid":'),
  key: ascii('],"key":'),
  source: ascii(',"source":"audit"'),
  probe: ascii(',"probe":true'),
  self: ascii(',"self":true'),
  namesUnknown: ascii(',"namesUnknown":true'),
  null: ascii("null"),
  true: ascii("true"),
  false: ascii("false"),
};

export interface SignalJsonOptions {
  ids: IdNames;
  ancestry: StreamAncestry;
  /** attribute's filters, on what they read of a signal (lib/signals/filter.ts compileFactFilter). */
  filter: FactFilter;
}

/** What put() writes to: the LineWriter's interface. */
type LineSink = Pick<LineWriter, "reserve" | "offset" | "commit">;

/** One line at a time, for signal() to read back. */
class LineScratch implements LineSink {
  private bytes = Buffer.allocUnsafe(4096);
  private end = 0;
  readonly offset = 0;

  reserve(n: number): Buffer {
    if (this.bytes.length < n) this.bytes = Buffer.allocUnsafe(2 * n);
    return this.bytes;
  }

  commit(end: number): void {
    this.end = end;
  }

  /** The line, without its newline. */
  text(): string {
    return this.bytes.toString("utf8", 0, this.end - 1);
  }
}

export class SignalJsonWriter {
  private readonly syscallNames = new FieldPicks(SYSCALL_NAMES);
  private readonly targetNames = new FieldPicks(OBJ_PID_NAMES);
  private readonly titleNames = new FieldPicks(["proctitle"]);
  private readonly tailNames = new FieldPicks(ENRICHED_NAMES);
  /** Per scope (IdScope.index), per numeric id: its user as a signal shows it (a name from the scope's passwd, or null). */
  private readonly users = [new Map<number, string | null>(), new Map<number, string | null>()];
  /** The names this event's ids may take (interpret.ts eventScope). */
  private scope!: IdScope;
  /** Per AUDIT_ARCH value, its name. */
  private readonly archNames = new Map<number, string | null>();
  private readonly time = new IsoClock();
  private readonly cursor = new FieldCursor();
  /** Where signal() writes a line to read it back. */
  private readonly scratch = new LineScratch();
  /** The SYSCALL record's bytes, as gather() read them. */
  private syscallBytes!: Buffer;
  /** Hex values decoded to bytes. */
  private decoded: Buffer = Buffer.allocUnsafe(4096);

  // What gather() found. The SYSCALL's fields stay in syscallNames; its ENRICHED UID, if any, is copied here.
  private bytesSeen = 0;
  /** The SYSCALL's ENRICHED tail's UID (-1: no tail, or none in it): the killer's user then comes from it. */
  private tailUidStart = -1;
  private tailUidEnd = -1;
  /** The first PROCTITLE with a value that decodes to an argv: its record's bytes and the value. */
  private titleBytes: Buffer | null = null;
  private titleStart = 0;
  private titleEnd = 0;
  private titleQuoted = false;
  // The victims, one per OBJ_PID: the record's bytes, ocomm's value, pid, uid, user.
  private victimCount = 0;
  private victimBytes: Buffer[] = [];
  private readonly victimCommStart: number[] = [];
  private readonly victimCommEnd: number[] = [];
  private readonly victimCommQuoted: boolean[] = [];
  private victimUid: Array<number | null> = [];
  private victimUser: Array<string | null> = [];
  // The same ids as namesUnknown reads them.
  private readonly killerIds: ProcessInfo = { pid: null, ppid: null, comm: null, exe: null, uid: null, user: null, euid: null, auid: null, ses: null, tty: null };
  private readonly victimIds: TargetInfo[] = [];
  private victimPpid: Array<number | null> = [];
  // The syscall's exit, and whether it has a signal argument, as buildSyscall reads them.
  private exit: number | null = null;
  private hasSignal = false;
  private readonly argAt = new Int32Array(4);
  /** The signal's facts (signal-facts.ts), refilled per event: the rules' answers, what the filters read, what put() writes. */
  private readonly facts = emptyFacts();

  constructor(
    private readonly writer: LineWriter | null,
    private readonly options: SignalJsonOptions,
  ) {}

  // What make() read beside the facts, for put().
  private name = "";
  private arch = "";
  private user: string | null = null;
  private killerUid: number | null = null;
  private chain: AncestorInfo[] = [];
  private errno: string | null = null;
  private signalName: string | null = null;
  private namesUnknown = false;

  /**
   * The event's signal line as bytes: written, dropped by the filters, or
   * declined (not a kill-family event this path takes: use the object
   * path). Kept in several small methods: as one big function, JSC's
   * optimizing compiler spent longer on it, and more memory, than attribute
   * spends reading a large log.
   */
  write(event: AssembledEvent): "written" | "filtered" | "declined" {
    const made = this.make(event);
    if (made !== "made") return made;
    this.put(event, this.writer!);
    return "written";
  }

  /** The same signal as an object (report, --proc, the table): its line read back, so the two forms cannot differ. */
  signal(event: AssembledEvent): SignalLine | "filtered" | "declined" {
    const made = this.make(event);
    if (made !== "made") return made;
    this.put(event, this.scratch);
    return JSON.parse(this.scratch.text()) as SignalLine;
  }

  /**
   * The signal's facts, every rule applied once: the call (syscall, signal,
   * result, target), pidfd_send_signal's target (OBJ_PID, else inferred
   * from the stream), self, probe, the filters, then the killer's user,
   * ancestry and the victims' parents.
   */
  private make(event: AssembledEvent): "made" | "filtered" | "declined" {
    const { node, seconds, millis } = event;
    if (node !== null && typeof node !== "string") return "declined";
    if (!Number.isInteger(seconds) || seconds < 0 || seconds >= 2 ** 42 || !Number.isInteger(millis) || millis < 0 || millis > 999) return "declined";
    this.scope = eventScope(event, this.options.ids);
    const syscall = this.gather(event);
    if (syscall === null) return "declined";
    const bytes = this.syscallBytes;
    const picked = this.syscallNames;
    const arch = this.archOf(bytes, picked.valueStart[ARCH]!, picked.valueEnd[ARCH]!);
    if (arch === null) return "declined";
    const nr = digitsValue(bytes, picked.valueStart[NR]!, picked.valueEnd[NR]!);
    const name = syscallName(arch, nr >= 0 ? nr : Number(picked.text(bytes, NR)));
    if (name === null || !isKillFamily(name)) return "declined";
    this.name = name;
    this.arch = arch;
    const facts = this.facts;
    this.syscallFacts(bytes, KILL_FAMILY[name]);
    facts.killerPid = this.numberValue(bytes, picked, PID, false);
    facts.killerPpid = this.numberValue(bytes, picked, PPID, false);
    facts.pidfd = name === "pidfd_send_signal";
    facts.victimCount = this.victimCount;
    facts.node = node;
    const atMs = seconds * 1000 + millis;
    facts.timeMs = atMs;
    // A pidfd's caller is told by its program too (pidfd.ts); the filters' text comes below.
    facts.killerExe = facts.pidfd ? this.textOf(bytes, picked, EXE) : null;
    applySignalRules(facts, this.options.ancestry.pidfds, atMs);
    if (this.options.filter.needsText) this.textFacts(bytes);
    if (!this.options.filter.accept(facts)) return "filtered";

    this.user = this.killerUser(bytes);
    this.killerUid = this.numberValue(bytes, picked, UID, true);
    this.chain = this.options.ancestry.ancestry(facts.killerPpid, atMs, node);
    this.errno = errnoOfExit(this.exit);
    this.signalName = this.hasSignal ? signalNameOf(facts.signalNr) : null;
    this.namesUnknown = this.scope.unnamed && this.namesUnknownOf();
    for (let v = 0; v < this.victimCount; v++) this.victimPpid[v] = this.options.ancestry.parentOf(facts.victimPids[v]!, () => this.victimComm(v), atMs, node);
    return "made";
  }

  private victimComm(v: number): string | null {
    const start = this.victimCommStart[v]!;
    return start < 0 ? null : nullish(decodeEscaped(this.victimBytes[v]!.toString("latin1", start, this.victimCommEnd[v]!), this.victimCommQuoted[v]!));
  }

  private put(event: AssembledEvent, writer: LineSink): void {
    const bytes = this.syscallBytes;
    const picked = this.syscallNames;
    const user = this.user;
    const ancestry = this.chain.length > 0 ? JSON.stringify(this.chain) : null;
    // Room: every unit at its worst (6 bytes); the record bytes seen bound what was read from them.
    let bound = 1024 + 6 * (event.id.length + (event.node?.length ?? 0) + this.bytesSeen);
    bound += 6 * ((user?.length ?? 0) + (this.errno?.length ?? 0) + (this.signalName?.length ?? 0));
    for (let v = 0; v < this.victimCount; v++) bound += 6 * (this.victimUser[v]?.length ?? 0) + 96;
    if (ancestry !== null) bound += 3 * ancestry.length;
    const out = writer.reserve(bound);
    let p = this.putHead(out, writer.offset, event);
    p = this.putNumber(out, p, B.killerPid, this.facts.killerPid);
    p = this.putNumber(out, p, B.ppid, this.facts.killerPpid);
    p = this.putField(out, p, B.comm, bytes, picked, COMM, false);
    p = this.putField(out, p, B.exe, bytes, picked, EXE, false);
    p = this.putNumber(out, p, B.uid, this.killerUid);
    p = putBytes(out, p, B.user);
    p = user === TAIL_USER ? this.putTailUser(out, p, bytes) : putStringOrNull(out, p, user);
    p = this.putNumber(out, p, B.auid, this.numberValue(bytes, picked, AUID, true));
    p = putBytes(out, p, B.argv);
    p = this.putArgv(out, p);
    out[p++] = 0x5d;
    if (ancestry !== null) {
      p = putBytes(out, p, B.ancestry);
      p += out.write(ancestry, p, "utf8");
    }
    p = this.putTarget(out, p);
    p = this.putVictims(out, p);
    p = this.putField(out, p, B.key, bytes, picked, KEY, true);
    p = putBytes(out, p, B.source);
    if (this.facts.probe) p = putBytes(out, p, B.probe);
    if (this.facts.self) p = putBytes(out, p, B.self);
    if (this.namesUnknown) p = putBytes(out, p, B.namesUnknown);
    out[p++] = 0x7d;
    out[p++] = 0x0a;
    writer.commit(p);
  }

  /**
   * The records as the object path reads them: the first SYSCALL's fields
   * (left in syscallNames), each OBJ_PID's victim, the first PROCTITLE
   * that decodes to an argv. The SYSCALL record, or null to decline.
   */
  private gather(event: AssembledEvent): PendingRecord | null {
    const records = event.records;
    const picked = this.syscallNames;
    let syscall: PendingRecord | null = null;
    this.tailUidStart = -1;
    this.titleBytes = null;
    this.victimCount = 0;
    this.bytesSeen = 0;
    for (let r = 0; r < records.length; r++) {
      const record = records[r]!;
      const type = record.type;
      if (type !== "SYSCALL" && type !== "OBJ_PID" && type !== "PROCTITLE") {
        if (!isAuditText(type)) return null;
        continue;
      }
      let bytes: Buffer;
      let start: number;
      let end: number;
      if (record instanceof ByteRecord && record.bytes !== null) {
        bytes = record.bytes;
        start = record.start + record.bodyStart;
        end = record.end;
      } else {
        // A record held as text (report, a `record` line, a line copied out of the reader): read as bytes when ASCII (one UTF-8 byte per unit).
        const raw = record.raw;
        if (Buffer.byteLength(raw, "utf8") !== raw.length) return null;
        bytes = Buffer.from(raw, "latin1");
        start = record.bodyStart;
        end = raw.length;
      }
      if (type === "SYSCALL") {
        if (syscall !== null) continue;
        this.bytesSeen += end - start;
        if (!this.pickRecord(bytes, start, end, picked)) return null;
        // decodeRecord names the syscall only when arch came before it.
        if (!picked.has(ARCH) || !picked.has(NR) || picked.order[ARCH]! > picked.order[NR]!) return null;
        if (this.hadTail && this.tailNames.has(TAIL_UID)) {
          this.tailUidStart = this.tailNames.valueStart[TAIL_UID]!;
          this.tailUidEnd = this.tailNames.valueEnd[TAIL_UID]!;
        }
        syscall = record;
        this.syscallBytes = bytes;
      } else if (type === "OBJ_PID") {
        this.bytesSeen += end - start;
        if (!this.victim(bytes, start, end)) return null;
      } else if (type === "PROCTITLE") {
        if (this.titleBytes !== null) continue;
        this.bytesSeen += end - start;
        if (!this.title(bytes, start, end)) return null;
      }
    }
    return syscall;
  }

  /** A PROCTITLE record: its value, if it decodes to an argv (not `(null)`, not empty); false to decline. */
  private title(bytes: Buffer, start: number, end: number): boolean {
    const names = this.titleNames;
    if (!this.pickRecord(bytes, start, end, names)) return false;
    if (!names.has(0)) return true;
    const valueStart = names.valueStart[0]!;
    const valueEnd = names.valueEnd[0]!;
    if (isNoProctitleAt(bytes, valueStart, valueEnd)) return true;
    this.titleBytes = bytes;
    this.titleStart = valueStart;
    this.titleEnd = valueEnd;
    this.titleQuoted = names.quoted[0] === 1;
    return true;
  }

  /** An OBJ_PID record's victim, as eventToSignal makes it; false to decline. */
  private victim(bytes: Buffer, start: number, end: number): boolean {
    const names = this.targetNames;
    if (!this.pickRecord(bytes, start, end, names)) return false;
    let user: string | null = null;
    if (this.hadTail) {
      if (names.has(OUID)) {
        const tail = this.tailNames;
        const enriched: FieldMap = {};
        for (let i = 0; i < ENRICHED_NAMES.length; i++) if (tail.has(i)) enriched[ENRICHED_NAMES[i]!] = tail.text(bytes, i);
        user = userName(idName("ouid", names.text(bytes, OUID), enriched, this.scope));
      }
    } else user = this.localUser(bytes, names, OUID, "ouid");
    const v = this.victimCount++;
    this.victimBytes[v] = bytes;
    this.facts.victimPids[v] = this.numberValue(bytes, names, OPID, false);
    this.victimUid[v] = this.numberValue(bytes, names, OUID, true);
    this.victimUser[v] = user;
    this.victimCommStart[v] = names.has(OCOMM) ? names.valueStart[OCOMM]! : -1;
    this.victimCommEnd[v] = names.valueEnd[OCOMM]!;
    this.victimCommQuoted[v] = names.quoted[OCOMM] === 1;
    return true;
  }

  /** Whether the record pickRecord read last had an ENRICHED tail (its UID/OUID are then in tailNames). */
  private hadTail = false;

  /**
   * A record's body, bytes[start, end), as the object path reads it: the
   * fields `names` wants from the part before the ENRICHED tail, and the
   * tail's UID/OUID into tailNames. False where it would decline.
   */
  private pickRecord(bytes: Buffer, start: number, end: number, names: FieldPicks): boolean {
    names.reset();
    // Bounded: a plain indexOf would search the rest of the reader's slot for every record of a log without tails.
    const at = enrichedTailAt(bytes, start, end);
    const gs = at < 0 ? end : at;
    if (!pick(this.cursor, bytes, start, gs, names)) return false;
    this.hadTail = gs < end;
    if (!this.hadTail) return true;
    this.tailNames.reset();
    return pick(this.cursor, bytes, gs + 1, end, this.tailNames);
  }

  /** archName of an arch value, by its number where it is plain hex (as archName reads it then). */
  private archOf(bytes: Buffer, start: number, end: number): string | null {
    const value = hexDigitsValue(bytes, start, end);
    if (value < 0) return archName(bytes.toString("latin1", start, end));
    let name = this.archNames.get(value);
    if (name === undefined) {
      name = archName(value.toString(16));
      if (this.archNames.size < 64) this.archNames.set(value, name);
    }
    return name;
  }

  /** buildSyscall's success, exit, signal and target, from the picked fields: the call's facts. */
  private syscallFacts(bytes: Buffer, spec: KillSpec): void {
    const picked = this.syscallNames;
    const facts = this.facts;
    facts.success = picked.has(SUCCESS) ? successAt(bytes, picked.valueStart[SUCCESS]!, picked.valueEnd[SUCCESS]!) : null;
    this.exit = this.numberValue(bytes, picked, EXIT, false);
    // The arguments as buildSyscall lists them: those present, in order (a missing one shifts the rest).
    let count = 0;
    for (let a = 0; a < 4; a++) if (picked.has(ARG_INDEX[a]!)) this.argAt[count++] = ARG_INDEX[a]!;
    this.hasSignal = spec.signalArg < count;
    facts.signalNr = this.hasSignal ? this.argument(bytes, spec.signalArg) : 0;
    facts.callTarget = null;
    facts.scope = "process";
    facts.tid = undefined;
    if (spec.targetArg < count) {
      const target = this.argument(bytes, spec.targetArg);
      facts.callTarget = target;
      facts.scope = killScope(spec, target);
      if (spec.tidArg !== null && spec.tidArg !== spec.targetArg && spec.tidArg < count) facts.tid = this.argument(bytes, spec.tidArg);
    }
  }

  /** The i-th argument present, as toSigned32 reads it. */
  private argument(bytes: Buffer, i: number): number {
    const index = this.argAt[i]!;
    return signed32At(bytes, this.syscallNames.valueStart[index]!, this.syscallNames.valueEnd[index]!);
  }

  /**
   * The killer's user: a name from the local ids (or null), or TAIL_USER
   * when the ENRICHED tail names it (written from the record's bytes).
   */
  private killerUser(bytes: Buffer): string | null {
    const picked = this.syscallNames;
    if (!picked.has(UID)) return null;
    const start = picked.valueStart[UID]!;
    const end = picked.valueEnd[UID]!;
    if (isUnsetIdAt(bytes, start, end)) return null;
    // userName's rule on the host's name: "unset" and "unknown(…)" are no name.
    if (this.tailUidStart >= 0) return isUserNameAt(bytes, this.tailUidStart, this.tailUidEnd) ? TAIL_USER : null;
    return this.localUser(bytes, picked, UID, "uid");
  }

  private putTailUser(out: Buffer, p: number, bytes: Buffer): number {
    out[p++] = DQ;
    p = copyEscaped(bytes, this.tailUidStart, this.tailUidEnd, out, p);
    out[p++] = DQ;
    return p;
  }

  /** A uid field's user from the local ids (no ENRICHED tail names it): a name, or null for unset and unknown ids. */
  private localUser(bytes: Buffer, names: FieldPicks, index: number, field: string): string | null {
    if (!names.has(index)) return null;
    const start = names.valueStart[index]!;
    const end = names.valueEnd[index]!;
    // idName by the number it reads, for plain digits; other spellings (leading zeros, signs…) the way it reads them.
    const id = canonicalDigitsValue(bytes, start, end);
    if (id < 0 || id > 0xffffffff) return userName(idName(field, bytes.toString("latin1", start, end), undefined, this.scope));
    const users = this.users[this.scope.index]!;
    let user = users.get(id);
    if (user === undefined) {
      user = userName(idName(field, String(id), undefined, this.scope));
      // Bounded: arbitrary input cannot grow it past a few thousand ids.
      if (users.size < 4096) users.set(id, user);
    }
    return user;
  }

  /** interpret.ts namesUnknown, on the ids make() read: the killer's and the victims' uids and users. */
  private namesUnknownOf(): boolean {
    const killer = this.killerIds;
    killer.uid = this.killerUid;
    killer.user = this.user;
    const victims = this.victimIds;
    for (let v = 0; v < this.victimCount; v++) {
      const victim = (victims[v] ??= { pid: null, comm: null, uid: null, user: null, auid: null, ses: null });
      victim.uid = this.victimUid[v]!;
      victim.user = this.victimUser[v]!;
    }
    // Reused: its length changes only when the number of victims does.
    if (victims.length !== this.victimCount) victims.length = this.victimCount;
    return namesUnknown(this.scope, killer, victims);
  }

  /** A number field as numAt reads it (a uid/auid field as idAt does, when `unsetIsNull`): null when absent or no number. */
  private numberValue(bytes: Buffer, names: FieldPicks, index: number, unsetIsNull: boolean): number | null {
    if (!names.has(index)) return null;
    const start = names.valueStart[index]!;
    const end = names.valueEnd[index]!;
    const n = unsetIsNull ? idAt(bytes, start, end) : numAt(bytes, start, end);
    return Number.isNaN(n) ? null : n;
  }

  /** kind … result. */
  private putHead(out: Buffer, p: number, event: AssembledEvent): number {
    p = putBytes(out, p, B.open);
    p = writeString(out, p, event.id);
    p = putBytes(out, p, B.node);
    p = putStringOrNull(out, p, event.node);
    p = putBytes(out, p, B.time);
    p = this.time.put(out, p, event.seconds, event.millis);
    out[p++] = DQ;
    p = putBytes(out, p, B.syscall);
    p = writeString(out, p, this.name);
    p = putBytes(out, p, B.arch);
    p = writeString(out, p, this.arch);
    p = this.putNumber(out, p, B.signalNr, this.facts.signalNr);
    p = putBytes(out, p, B.signalName);
    p = putStringOrNull(out, p, this.signalName);
    p = putBytes(out, p, B.success);
    const success = this.facts.success;
    p = putBytes(out, p, success === null ? B.null : success ? B.true : B.false);
    p = putBytes(out, p, B.errno);
    return putStringOrNull(out, p, this.errno);
  }

  /** The facts' target, as signal-line.ts targetOf makes it: {pid, scope, tid?}, or a pidfd's {pid, scope, fd?, pidFrom?}. */
  private putTarget(out: Buffer, p: number): number {
    const facts = this.facts;
    p = this.putNumber(out, p, B.targetPid, facts.targetPid);
    p = putBytes(out, p, B.scope);
    p = writeString(out, p, facts.scope);
    out[p++] = DQ;
    if (facts.pidfd) {
      if (facts.callTarget !== null) p = this.putNumber(out, p, B.fd, facts.callTarget);
      if (facts.pidFrom !== null) {
        p = putBytes(out, p, B.pidFrom);
        p = writeString(out, p, facts.pidFrom);
        out[p++] = DQ;
      }
    } else if (facts.tid !== undefined) p = this.putNumber(out, p, B.tid, facts.tid);
    return p;
  }

  private putVictims(out: Buffer, p: number): number {
    p = putBytes(out, p, B.victims);
    for (let v = 0; v < this.victimCount; v++) {
      if (v > 0) out[p++] = COMMA;
      p = this.putNumber(out, p, B.victimPid, this.facts.victimPids[v]!);
      p = putBytes(out, p, B.comm);
      const start = this.victimCommStart[v]!;
      p = start < 0 ? putBytes(out, p, B.null) : this.putValue(out, p, this.victimBytes[v]!, start, this.victimCommEnd[v]!, this.victimCommQuoted[v]!, false);
      p = this.putNumber(out, p, B.uid, this.victimUid[v]!);
      p = putBytes(out, p, B.user);
      p = putStringOrNull(out, p, this.victimUser[v]!);
      const ppid = this.victimPpid[v]!;
      if (ppid !== null) p = this.putNumber(out, p, B.ppid, ppid);
      out[p++] = 0x7d;
    }
    return p;
  }

  /** The text the filters on comm, exe and key read, as the object path has it (decodeEscaped, nullish; a key's 0x01 as ","). */
  private textFacts(bytes: Buffer): void {
    const facts = this.facts;
    const picked = this.syscallNames;
    facts.killerComm = this.textOf(bytes, picked, COMM);
    facts.killerExe = this.textOf(bytes, picked, EXE);
    const key = this.textOf(bytes, picked, KEY);
    facts.key = key === null ? null : keysText(key);
    for (let v = 0; v < this.victimCount; v++) facts.victimComms[v] = this.victimComm(v);
  }

  private textOf(bytes: Buffer, names: FieldPicks, index: number): string | null {
    if (!names.has(index)) return null;
    return nullish(decodeEscaped(names.text(bytes, index), names.quoted[index] === 1));
  }

  /** `label`, then a picked comm/exe/key field as the object path shows it (see putValue), null when absent. */
  private putField(out: Buffer, p: number, label: Uint8Array, bytes: Buffer, names: FieldPicks, index: number, isKey: boolean): number {
    p = putBytes(out, p, label);
    if (!names.has(index)) return putBytes(out, p, B.null);
    return this.putValue(out, p, bytes, names.valueStart[index]!, names.valueEnd[index]!, names.quoted[index] === 1, isKey);
  }

  /**
   * An untrusted-string value as JSON: decodeEscaped (hex
   * decoded where unquoted and hex-shaped), then nullish; a key's 0x01
   * separators become ",". Bytes decoding to non-ASCII go through
   * decodeEscaped itself (UTF-8, U+FFFD for bad sequences).
   */
  private putValue(out: Buffer, p: number, bytes: Buffer, start: number, end: number, quoted: boolean, isKey: boolean): number {
    const n = quoted ? NOT_HEX : this.unhex(bytes, start, end);
    if (n === NOT_ASCII) {
      const text = nullish(decodeEscaped(bytes.toString("latin1", start, end), false));
      return putStringOrNull(out, p, text === null || !isKey ? text : keysText(text));
    }
    // Hex: the decoded bytes; else the value as written.
    const source: Uint8Array = n >= 0 ? this.decoded : bytes;
    const from = n >= 0 ? 0 : start;
    const to = n >= 0 ? n : end;
    if (isNullishAt(source, from, to)) return putBytes(out, p, B.null);
    out[p++] = DQ;
    for (let i = from; i < to; i++) {
      const c = source[i]!;
      if (PLAIN[c] === 1) out[p++] = c;
      else if (isKey && isKeySeparator(c)) out[p++] = KEY_JOIN_BYTE;
      else p = escapeAscii(out, p, c);
    }
    out[p++] = DQ;
    return p;
  }

  /**
   * decodeEscaped's hex case for an unquoted value: bytes[start, end)
   * decoded into `decoded`, and their count; NOT_HEX when the value is not
   * hex-shaped (it stands as written), NOT_ASCII when it decodes to bytes
   * above 0x7f (UTF-8 to decode as decodeEscaped does).
   */
  private unhex(bytes: Buffer, start: number, end: number): number {
    const n = (end - start) >> 1;
    if (this.decoded.length < n) this.decoded = Buffer.allocUnsafe(2 * n);
    return unhexInto(bytes, start, end, this.decoded);
  }

  /** The killer's argv: decodeProctitle of the PROCTITLE value gather() chose (none: an empty list). */
  private putArgv(out: Buffer, p: number): number {
    const bytes = this.titleBytes;
    if (bytes === null) return p;
    const start = this.titleStart;
    const end = this.titleEnd;
    const n = this.titleQuoted ? NOT_HEX : this.unhex(bytes, start, end);
    if (n === NOT_ASCII) {
      return putStrings(out, p, decodeProctitle(bytes.toString("latin1", start, end), false) ?? []);
    }
    const source: Uint8Array = n >= 0 ? this.decoded : bytes;
    const from = n >= 0 ? 0 : start;
    return copyEscapedArgs(source, from, argvEnd(source, from, n >= 0 ? n : end), out, p);
  }

  /** `label`, then a number as JSON.stringify writes it (NaN as null), or null. */
  private putNumber(out: Buffer, p: number, label: Uint8Array, n: number | null): number {
    p = putBytes(out, p, label);
    if (n === null || !Number.isFinite(n)) return putBytes(out, p, B.null);
    return putNumber(out, p, n);
  }

}

/** The user is the ENRICHED tail's, written from the record's bytes. */
const TAIL_USER = "\u0000tail";
const TAIL_UID = 0;

// The writer's methods stay at JSC's DFG tier: compiling them again with the
// FTL cost more time and memory than it gave back. pick(), called for
// every record, keeps the FTL: there it pays (docs/PERFORMANCE.md).
for (const name of Object.getOwnPropertyNames(SignalJsonWriter.prototype)) {
  const method: unknown = Reflect.get(SignalJsonWriter.prototype, name);
  if (name !== "constructor" && typeof method === "function") noFTL(method as (...args: unknown[]) => unknown);
}
