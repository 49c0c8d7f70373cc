/**
 * attribute's output path: a kill-family event whose records were read as
 * bytes → its `signal` line, written as UTF-8 straight into the LineWriter's
 * buffer.
 *
 * The bytes are exactly what the object path writes,
 * JSON.stringify(eventToSignal(summarizeSignalEvent(event))) with the
 * stream's ancestry added, plus a newline (test/signal-json.test.ts holds
 * the two side by side over the fixtures, the corpus, generated logs and
 * hand-made variations, and attribute's whole output both ways). On a kill
 * storm, the object path's line strings, field maps, EventLine and
 * SignalLine objects and JSON.stringify were most of attribute's time.
 * Here the fields are found on the record's bytes and written from them:
 * numbers read in place, comm/exe/key/argv escaped straight from the line
 * or from its hex decoded into a scratch buffer, users cached by uid.
 * Values that decode to non-ASCII text go through interpret.ts's own
 * decodeEscaped/decodeProctitle, and names through idName, so the rare
 * cases keep one definition. Field semantics mirror interpret-summary.ts
 * and interpret.ts buildSyscall/killTarget, and attribute.ts eventToSignal:
 * change them together (the equivalence tests will tell).
 *
 * It takes the events the summary takes (fields read by parseFields' rules;
 * a single-quoted value, an unterminated quote or a needed field given
 * twice is declined) whose records are all ASCII lines still in reader
 * memory. Anything else is "declined" and goes the object way.
 */
import { noFTL } from "bun:jsc";
import type { AssembledEvent } from "../audit/assemble.ts";
import { ByteRecord } from "../audit/byte-record.ts";
import type { IdNames } from "../audit/ids.ts";
import { decodeEscaped, decodeProctitle, idName, nullish, userName } from "../audit/interpret.ts";
import { canonicalDigitsValue, digitsValue, HEX_DIGIT, hexDigitsValue, indexWithin, isNullishAt, isUnsetIdAt, isUserNameAt, NOT_ASCII, NOT_HEX, numAt, unhexInto } from "../audit/line-bytes.ts";
import type { LineWriter } from "../jsonl.ts";
import { ascii, bytesAre, copyEscaped, copyEscapedArgs, escapeAscii, IsoTimeBytes, PLAIN, putBytes, putNumber, writeString } from "../json-bytes.ts";
import type { FieldMap, TargetScope } from "../schema.ts";
import { archName } from "../tables/arch.ts";
import { errnoName } from "../tables/errno.ts";
import { isKillFamily, KILL_FAMILY, killScope, type KillSpec } from "../tables/kill-family.ts";
import { signalName as signalNameOf } from "../tables/signals.ts";
import { syscallName } from "../tables/syscalls.ts";
import type { StreamAncestry } from "./ancestry.ts";
import type { FactFilter, SignalFacts } from "./filter.ts";

const SPACE = 0x20;
const GS = 0x1d;
const EQ = 0x3d;
const DQ = 0x22;
const SQ = 0x27;
const COMMA = 0x2c;
const GS_BYTE = new Uint8Array([GS]);

/** Names to find in a record, by first byte and length, and where each value was found. */
class ByteNames {
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
 * interpret-summary.ts `pick` over bytes[start, end): the values of `names`.
 * False where parseFields would warn or read a value differently, or a
 * wanted name comes twice.
 */
function pickBytes(bytes: Uint8Array, start: number, end: number, names: ByteNames): boolean {
  let i = start;
  let position = 0;
  while (i < end) {
    let c = bytes[i]!;
    if (c === SPACE || c === GS) {
      i++;
      continue;
    }
    let j = i;
    while (j < end) {
      c = bytes[j]!;
      if (c === EQ || c === SPACE) break;
      j++;
    }
    // A word without a value goes to _text: nothing a signal reads.
    if (j >= end || c === SPACE) {
      i = j;
      continue;
    }
    const index = names.find(bytes, i, j);
    if (index >= 0 && names.order[index]! >= 0) return false;
    let v = j + 1;
    const q = v < end ? bytes[v]! : 0;
    let valueStart: number;
    let valueEnd: number;
    if (q === DQ) {
      let close = v + 1;
      while (close < end && bytes[close] !== DQ) close++;
      if (close >= end) return false;
      valueStart = v + 1;
      valueEnd = close;
      i = close + 1;
    } else if (q === SQ) {
      return false;
    } else {
      while (v < end && bytes[v] !== SPACE) v++;
      valueStart = j + 1;
      valueEnd = v;
      i = v;
    }
    if (index >= 0) {
      names.order[index] = position;
      names.valueStart[index] = valueStart;
      names.valueEnd[index] = valueEnd;
      names.quoted[index] = q === DQ ? 1 : 0;
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
  victims: ascii('},"victims":['),
  victimPid: ascii('{"pid":'),
  key: ascii('],"key":'),
  source: ascii(',"source":"audit"'),
  probe: ascii(',"probe":true'),
  self: ascii(',"self":true'),
  null: ascii("null"),
  true: ascii("true"),
  false: ascii("false"),
};

/** interpret.ts num() of a field's value: the number, or null. */
function decimal(bytes: Uint8Array, start: number, end: number): number | null {
  const n = numAt(bytes, start, end);
  return Number.isNaN(n) ? null : n;
}

/** kill-family.ts toSigned32 of an argument's hex digits: its low 32 bits as a signed int; NaN unless 1–16 hex digits. */
function signed32(bytes: Uint8Array, start: number, end: number): number {
  if (end - start < 1 || end - start > 16) return Number.NaN;
  let value = 0;
  for (let i = start; i < end; i++) {
    const digit = HEX_DIGIT[bytes[i]!]!;
    if (digit < 0) return Number.NaN;
    // Only the last 8 digits count; earlier ones shift out.
    value = ((value << 4) | digit) | 0;
  }
  return value;
}

const NULL_TEXT = ascii("(null)");

export interface SignalJsonOptions {
  ids: IdNames;
  ancestry: StreamAncestry;
  /** attribute's filters, on what they read of a signal (lib/signals/filter.ts compileFactFilter). */
  filter: FactFilter;
}

export type SignalWrite = "written" | "filtered" | "declined";

export class SignalJsonWriter {
  private readonly syscallNames = new ByteNames(SYSCALL_NAMES);
  private readonly targetNames = new ByteNames(OBJ_PID_NAMES);
  private readonly titleNames = new ByteNames(["proctitle"]);
  private readonly tailNames = new ByteNames(ENRICHED_NAMES);
  /** Per numeric id, its user as a signal shows it (the local name, or null). */
  private readonly users = new Map<number, string | null>();
  /** Per AUDIT_ARCH value, its name. */
  private readonly archNames = new Map<number, string | null>();
  private readonly time = new IsoTimeBytes();
  /** Hex values decoded to bytes. */
  private decoded: Buffer = Buffer.allocUnsafe(4096);

  // What gather() found. The SYSCALL's fields stay in syscallNames; its ENRICHED UID, if any, is copied here.
  private bytesSeen = 0;
  private tailUidStart = -1;
  private tailUidEnd = -1;
  /** The SYSCALL record had an ENRICHED tail (then a user comes from it when it names one). */
  private syscallHasTail = false;
  /** The first PROCTITLE with a value that decodes to an argv: its record's bytes and the value. */
  private titleBytes: Buffer | null = null;
  private titleStart = 0;
  private titleEnd = 0;
  private titleQuoted = false;
  // The victims, one per OBJ_PID: the record's bytes, ocomm's value, pid, uid, user.
  private victimCount = 0;
  private victimBytes: Buffer[] = [];
  private victimCommStart = new Int32Array(16);
  private victimCommEnd = new Int32Array(16);
  private victimCommQuoted = new Uint8Array(16);
  private victimPid: Array<number | null> = [];
  private victimUid: Array<number | null> = [];
  private victimUser: Array<string | null> = [];
  // The syscall's facts, as buildSyscall makes them.
  private success: boolean | null = null;
  private exit: number | null = null;
  private signalNr = 0;
  private hasSignal = false;
  private hasTarget = false;
  private targetPid = 0;
  private tid: number | undefined;
  private readonly argAt = new Int32Array(4);
  private spec: KillSpec | null = null;
  /** What the filters read, handed to options.accept (victimPids is the writer's own list). */
  private readonly facts: SignalFacts = {
    killerPid: null, targetPid: null, tid: undefined, victimPids: this.victimPid, victimCount: 0, signalNr: 0, probe: false, success: null, self: false, node: null, timeMs: 0,
    killerComm: null, killerExe: null, victimComms: [], key: null,
  };

  constructor(
    private readonly writer: LineWriter,
    private readonly options: SignalJsonOptions,
  ) {}

  /**
   * The event's signal line: written, dropped as a probe (not asked for),
   * or declined (not a kill-family event this path takes: use the object
   * path). Kept in several small methods: as one, it was big enough that
   * JSC's optimizing compiler spent longer on it than attribute spends on
   * a 1M-line log (and 45 MB doing so).
   */
  write(event: AssembledEvent): SignalWrite {
    const { node, seconds, millis } = event;
    if (node !== null && typeof node !== "string") return "declined";
    if (!Number.isInteger(seconds) || seconds < 0 || seconds >= 2 ** 42 || !Number.isInteger(millis) || millis < 0 || millis > 999) return "declined";
    const syscall = this.gather(event);
    if (syscall === null) return "declined";
    const bytes = syscall.bytes!;
    const picked = this.syscallNames;
    const arch = this.archOf(bytes, picked.valueStart[ARCH]!, picked.valueEnd[ARCH]!);
    if (arch === null) return "declined";
    const nrStart = picked.valueStart[NR]!;
    const nrEnd = picked.valueEnd[NR]!;
    const nr = digitsValue(bytes, nrStart, nrEnd);
    const name = syscallName(arch, nr >= 0 ? nr : Number(bytes.toString("latin1", nrStart, nrEnd)));
    if (name === null || !isKillFamily(name)) return "declined";
    this.syscallFacts(bytes, KILL_FAMILY[name]);
    const signalNr = this.hasSignal ? this.signalNr : 0;
    const killerPid = picked.has(PID) ? decimal(bytes, picked.valueStart[PID]!, picked.valueEnd[PID]!) : null;
    const pidfd = name === "pidfd_send_signal";
    // pidfd_send_signal's a0 is a file descriptor; the process it names is only in OBJ_PID.
    const targetPid = pidfd ? (this.victimCount > 0 ? this.victimPid[0]! : null) : this.hasTarget ? this.targetPid : null;
    const self = this.isSelf(killerPid, targetPid);
    const facts = this.facts;
    facts.killerPid = killerPid;
    facts.targetPid = targetPid;
    facts.tid = pidfd ? undefined : this.tid;
    facts.victimCount = this.victimCount;
    facts.signalNr = signalNr;
    facts.probe = signalNr === 0;
    facts.success = this.success;
    facts.self = self;
    facts.node = node;
    facts.timeMs = seconds * 1000 + millis;
    if (this.options.filter.needsText) this.textFacts(bytes);
    if (!this.options.filter.accept(facts)) return "filtered";

    const ppid = picked.has(PPID) ? decimal(bytes, picked.valueStart[PPID]!, picked.valueEnd[PPID]!) : null;
    const user = this.killerUser(bytes);
    const chain = this.options.ancestry.ancestry(ppid, seconds * 1000 + millis, node);
    const ancestry = chain.length > 0 ? JSON.stringify(chain) : null;
    const errno = this.exit !== null && this.exit < 0 ? errnoName(-this.exit) : null;
    const signalName = this.hasSignal ? signalNameOf(signalNr) : null;

    // Room: every unit at its worst (6 bytes); the record bytes seen bound what was read from them.
    let bound = 1024 + 6 * (event.id.length + (node?.length ?? 0) + this.bytesSeen);
    bound += 6 * ((user?.length ?? 0) + (errno?.length ?? 0) + (signalName?.length ?? 0));
    for (let v = 0; v < this.victimCount; v++) bound += 6 * (this.victimUser[v]?.length ?? 0) + 64;
    if (ancestry !== null) bound += 3 * ancestry.length;
    const out = this.writer.reserve(bound);
    let p = this.putHead(out, this.writer.offset, event, name, arch, signalNr, signalName, errno);
    p = putBytes(out, p, B.killerPid);
    p = this.putNumber(out, p, killerPid);
    p = putBytes(out, p, B.ppid);
    p = this.putNumber(out, p, ppid);
    p = putBytes(out, p, B.comm);
    p = this.putField(out, p, bytes, picked, COMM, false);
    p = putBytes(out, p, B.exe);
    p = this.putField(out, p, bytes, picked, EXE, false);
    p = putBytes(out, p, B.uid);
    p = this.putNumber(out, p, this.idValue(bytes, picked, UID));
    p = putBytes(out, p, B.user);
    p = user === TAIL_USER ? this.putTailUser(out, p, bytes) : this.putText(out, p, user);
    p = putBytes(out, p, B.auid);
    p = this.putNumber(out, p, this.idValue(bytes, picked, AUID));
    p = putBytes(out, p, B.argv);
    p = this.putArgv(out, p);
    out[p++] = 0x5d;
    if (ancestry !== null) {
      p = putBytes(out, p, B.ancestry);
      p += out.write(ancestry, p, "utf8");
    }
    p = this.putTarget(out, p, targetPid, pidfd);
    p = this.putVictims(out, p);
    p = putBytes(out, p, B.key);
    p = this.putField(out, p, bytes, picked, KEY, true);
    p = putBytes(out, p, B.source);
    if (signalNr === 0) p = putBytes(out, p, B.probe);
    if (self) p = putBytes(out, p, B.self);
    out[p++] = 0x7d;
    out[p++] = 0x0a;
    this.writer.commit(p);
    return "written";
  }

  /**
   * The records as the summary reads them: the first SYSCALL's fields
   * (left in syscallNames), each OBJ_PID's victim, the first PROCTITLE
   * that decodes to an argv. The SYSCALL record, or null to decline.
   */
  private gather(event: AssembledEvent): ByteRecord | null {
    const records = event.records;
    const picked = this.syscallNames;
    let syscall: ByteRecord | null = null;
    this.syscallHasTail = false;
    this.tailUidStart = -1;
    this.titleBytes = null;
    this.victimCount = 0;
    this.bytesSeen = 0;
    for (let r = 0; r < records.length; r++) {
      const record = records[r]!;
      if (!(record instanceof ByteRecord) || record.bytes === null) return null;
      const type = record.type;
      const bytes = record.bytes;
      const start = record.start + record.bodyStart;
      const end = record.end;
      if (type === "SYSCALL") {
        if (syscall !== null) continue;
        this.bytesSeen += end - start;
        if (!this.pickRecord(bytes, start, end, picked)) return null;
        // decodeRecord names the syscall only when arch came before it.
        if (!picked.has(ARCH) || !picked.has(NR) || picked.order[ARCH]! > picked.order[NR]!) return null;
        if (this.hadTail) {
          this.syscallHasTail = true;
          if (this.tailNames.has(TAIL_UID)) {
            this.tailUidStart = this.tailNames.valueStart[TAIL_UID]!;
            this.tailUidEnd = this.tailNames.valueEnd[TAIL_UID]!;
          }
        }
        syscall = record;
      } else if (type === "OBJ_PID") {
        this.bytesSeen += end - start;
        if (!this.victim(bytes, start, end)) return null;
      } else if (type === "PROCTITLE") {
        if (this.titleBytes !== null) continue;
        this.bytesSeen += end - start;
        if (!this.title(bytes, start, end)) return null;
      } else if (type === "SIGNAL_GENERATE") return null;
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
    if (valueStart === valueEnd || bytesAre(bytes, valueStart, valueEnd, NULL_TEXT)) return true;
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
        user = userName(idName("ouid", names.text(bytes, OUID), enriched, this.options.ids, "user"));
      }
    } else user = this.localUser(bytes, names, OUID, "ouid");
    const v = this.victimCount++;
    if (v >= this.victimCommStart.length) this.growVictims();
    this.victimBytes[v] = bytes;
    this.victimPid[v] = names.has(OPID) ? decimal(bytes, names.valueStart[OPID]!, names.valueEnd[OPID]!) : null;
    this.victimUid[v] = this.idValue(bytes, names, OUID);
    this.victimUser[v] = user;
    this.victimCommStart[v] = names.has(OCOMM) ? names.valueStart[OCOMM]! : -1;
    this.victimCommEnd[v] = names.valueEnd[OCOMM]!;
    this.victimCommQuoted[v] = names.quoted[OCOMM]!;
    return true;
  }

  private growVictims(): void {
    const size = 2 * this.victimCommStart.length;
    const start = new Int32Array(size);
    start.set(this.victimCommStart);
    const end = new Int32Array(size);
    end.set(this.victimCommEnd);
    const quoted = new Uint8Array(size);
    quoted.set(this.victimCommQuoted);
    this.victimCommStart = start;
    this.victimCommEnd = end;
    this.victimCommQuoted = quoted;
  }

  /** Whether the record pickRecord read last had an ENRICHED tail (its UID/OUID are then in tailNames). */
  private hadTail = false;

  /**
   * A record's body, bytes[start, end), as interpret-summary reads it: the
   * fields `names` wants from the part before the ENRICHED tail, and the
   * tail's UID/OUID into tailNames. False where it would decline.
   */
  private pickRecord(bytes: Buffer, start: number, end: number, names: ByteNames): boolean {
    names.reset();
    // Bounded: a plain indexOf would search the rest of the reader's slot for every record of a log without tails.
    const at = indexWithin(bytes, GS_BYTE, start, end);
    const gs = at < 0 ? end : at;
    if (!pickBytes(bytes, start, gs, names)) return false;
    this.hadTail = gs < end;
    if (!this.hadTail) return true;
    this.tailNames.reset();
    return pickBytes(bytes, gs + 1, end, this.tailNames);
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

  /** buildSyscall's success, exit, signal and target (killTarget), from the picked fields. */
  private syscallFacts(bytes: Buffer, spec: KillSpec): void {
    const picked = this.syscallNames;
    this.success = null;
    if (picked.has(SUCCESS)) {
      const start = picked.valueStart[SUCCESS]!;
      const end = picked.valueEnd[SUCCESS]!;
      this.success = bytesAre(bytes, start, end, YES) ? true : bytesAre(bytes, start, end, NO) ? false : null;
    }
    this.exit = picked.has(EXIT) ? decimal(bytes, picked.valueStart[EXIT]!, picked.valueEnd[EXIT]!) : null;
    // The arguments as buildSyscall lists them: those present, in order (a missing one shifts the rest).
    let count = 0;
    for (let a = 0; a < 4; a++) if (picked.has(ARG_INDEX[a]!)) this.argAt[count++] = ARG_INDEX[a]!;
    this.spec = spec;
    this.hasSignal = spec.signalArg < count;
    if (this.hasSignal) this.signalNr = this.argument(bytes, spec.signalArg);
    this.hasTarget = spec.targetArg < count;
    this.tid = undefined;
    if (this.hasTarget) {
      this.targetPid = this.argument(bytes, spec.targetArg);
      if (spec.tidArg !== null && spec.tidArg !== spec.targetArg && spec.tidArg < count) this.tid = this.argument(bytes, spec.tidArg);
    }
  }

  /** The i-th argument present, as toSigned32 reads it. */
  private argument(bytes: Buffer, i: number): number {
    const index = this.argAt[i]!;
    return signed32(bytes, this.syscallNames.valueStart[index]!, this.syscallNames.valueEnd[index]!);
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
    if (this.syscallHasTail && this.tailUidStart >= 0) {
      const tailStart = this.tailUidStart;
      const tailEnd = this.tailUidEnd;
      // interpret.ts userName of the host's name: "unset" and "unknown(…)" are no name.
      return isUserNameAt(bytes, tailStart, tailEnd) ? TAIL_USER : null;
    }
    return this.localUser(bytes, picked, UID, "uid");
  }

  private putTailUser(out: Buffer, p: number, bytes: Buffer): number {
    out[p++] = DQ;
    p = copyEscaped(bytes, this.tailUidStart, this.tailUidEnd, out, p);
    out[p++] = DQ;
    return p;
  }

  /** A uid field's user from the local ids (no ENRICHED tail names it): a name, or null for unset and unknown ids. */
  private localUser(bytes: Buffer, names: ByteNames, index: number, field: string): string | null {
    if (!names.has(index)) return null;
    const start = names.valueStart[index]!;
    const end = names.valueEnd[index]!;
    // idName by the number it reads, for plain digits; other spellings (leading zeros, signs…) the way it reads them.
    const id = canonicalDigitsValue(bytes, start, end);
    if (id < 0 || id > 0xffffffff) return userName(idName(field, bytes.toString("latin1", start, end), undefined, this.options.ids, "user"));
    let user = this.users.get(id);
    if (user === undefined) {
      user = userName(idName(field, String(id), undefined, this.options.ids, "user"));
      // Bounded: arbitrary input cannot grow it past a few thousand ids.
      if (this.users.size < 4096) this.users.set(id, user);
    }
    return user;
  }

  /** A uid/auid field: null when absent or unset. */
  private idValue(bytes: Buffer, names: ByteNames, index: number): number | null {
    if (!names.has(index)) return null;
    const start = names.valueStart[index]!;
    const end = names.valueEnd[index]!;
    return isUnsetIdAt(bytes, start, end) ? null : decimal(bytes, start, end);
  }

  /** kind … result. */
  private putHead(out: Buffer, p: number, event: AssembledEvent, name: string, arch: string, signalNr: number, signalName: string | null, errno: string | null): number {
    p = putBytes(out, p, B.open);
    p = writeString(out, p, event.id);
    p = putBytes(out, p, B.node);
    p = this.putText(out, p, event.node);
    p = putBytes(out, p, B.time);
    p = this.time.put(out, p, event.seconds, event.millis);
    p = putBytes(out, p, B.syscall);
    p = writeString(out, p, name);
    p = putBytes(out, p, B.arch);
    p = writeString(out, p, arch);
    p = putBytes(out, p, B.signalNr);
    p = this.putNumber(out, p, signalNr);
    p = putBytes(out, p, B.signalName);
    p = this.putText(out, p, signalName);
    p = putBytes(out, p, B.success);
    p = putBytes(out, p, this.success === null ? B.null : this.success ? B.true : B.false);
    p = putBytes(out, p, B.errno);
    return this.putText(out, p, errno);
  }

  /** eventToSignal's target: {pid, scope, tid?} from the call, or pidfd_send_signal's {pid, scope, fd?}. */
  private putTarget(out: Buffer, p: number, targetPid: number | null, pidfd: boolean): number {
    p = putBytes(out, p, B.targetPid);
    p = this.putNumber(out, p, targetPid);
    p = putBytes(out, p, B.scope);
    p = putBytes(out, p, pidfd ? SCOPE.pidfd : this.hasTarget ? SCOPE[killScope(this.spec!, this.targetPid)] : SCOPE.process);
    out[p++] = DQ;
    if (pidfd) {
      if (this.hasTarget) {
        p = putBytes(out, p, B.fd);
        p = this.putNumber(out, p, this.targetPid);
      }
    } else if (this.tid !== undefined) {
      p = putBytes(out, p, B.tid);
      p = this.putNumber(out, p, this.tid);
    }
    return p;
  }

  private putVictims(out: Buffer, p: number): number {
    p = putBytes(out, p, B.victims);
    for (let v = 0; v < this.victimCount; v++) {
      if (v > 0) out[p++] = COMMA;
      p = putBytes(out, p, B.victimPid);
      p = this.putNumber(out, p, this.victimPid[v]!);
      p = putBytes(out, p, B.comm);
      const start = this.victimCommStart[v]!;
      p = start < 0 ? putBytes(out, p, B.null) : this.putValue(out, p, this.victimBytes[v]!, start, this.victimCommEnd[v]!, this.victimCommQuoted[v] === 1, false);
      p = putBytes(out, p, B.uid);
      p = this.putNumber(out, p, this.victimUid[v]!);
      p = putBytes(out, p, B.user);
      p = this.putText(out, p, this.victimUser[v]!);
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
    facts.key = key === null ? null : key.split("\u0001").join(",");
    for (let v = 0; v < this.victimCount; v++) {
      const start = this.victimCommStart[v]!;
      facts.victimComms[v] = start < 0 ? null : nullish(decodeEscaped(this.victimBytes[v]!.toString("latin1", start, this.victimCommEnd[v]!), this.victimCommQuoted[v] === 1));
    }
  }

  private textOf(bytes: Buffer, names: ByteNames, index: number): string | null {
    if (!names.has(index)) return null;
    return nullish(decodeEscaped(names.text(bytes, index), names.quoted[index] === 1));
  }

  /** eventToSignal's `self`: the killer signalled itself, or every victim is the killer. */
  private isSelf(killerPid: number | null, targetPid: number | null): boolean {
    if (killerPid === null) return false;
    if (targetPid === killerPid) return true;
    if (this.victimCount === 0) return false;
    for (let v = 0; v < this.victimCount; v++) if (this.victimPid[v] !== killerPid) return false;
    return true;
  }

  /** A picked comm/exe/key field as the summary shows it (see putValue), null when absent. */
  private putField(out: Buffer, p: number, bytes: Buffer, names: ByteNames, index: number, isKey: boolean): number {
    if (!names.has(index)) return putBytes(out, p, B.null);
    return this.putValue(out, p, bytes, names.valueStart[index]!, names.valueEnd[index]!, names.quoted[index] === 1, isKey);
  }

  /**
   * An untrusted-string value as JSON: interpret.ts decodeEscaped (hex
   * decoded where unquoted and hex-shaped), then nullish; a key's 0x01
   * separators become ",". Bytes decoding to non-ASCII go through
   * decodeEscaped itself (UTF-8, U+FFFD for bad sequences).
   */
  private putValue(out: Buffer, p: number, bytes: Buffer, start: number, end: number, quoted: boolean, isKey: boolean): number {
    let source: Uint8Array = bytes;
    let from = start;
    let to = end;
    const n = quoted ? NOT_HEX : this.unhex(bytes, start, end);
    if (n === NOT_ASCII) {
      const text = nullish(decodeEscaped(bytes.toString("latin1", start, end), false));
      return this.putText(out, p, text === null || !isKey ? text : text.split("\u0001").join(","));
    }
    if (n >= 0) {
      source = this.decoded;
      from = 0;
      to = n;
    }
    if (isNullishAt(source, from, to)) return putBytes(out, p, B.null);
    out[p++] = DQ;
    for (let i = from; i < to; i++) {
      const c = source[i]!;
      if (PLAIN[c] === 1) out[p++] = c;
      else if (isKey && c === 0x01) out[p++] = COMMA;
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
    let source: Uint8Array = bytes;
    let from = start;
    let to = end;
    const n = this.titleQuoted ? NOT_HEX : this.unhex(bytes, start, end);
    if (n === NOT_ASCII) {
      const argv = decodeProctitle(bytes.toString("latin1", start, end), false) ?? [];
      for (let a = 0; a < argv.length; a++) {
        if (a > 0) out[p++] = COMMA;
        p = this.putText(out, p, argv[a]!);
      }
      return p;
    }
    if (n >= 0) {
      source = this.decoded;
      from = 0;
      to = n;
    }
    // Split on NUL; the kernel cuts proctitle at 128 bytes, so a trailing NUL may or may not be there (split's last "" goes).
    if (to > from && source[to - 1] === 0) to--;
    return copyEscapedArgs(source, from, to, out, p);
  }

  private putText(out: Buffer, p: number, text: string | null): number {
    if (text === null) return putBytes(out, p, B.null);
    out[p++] = DQ;
    p = writeString(out, p, text);
    out[p++] = DQ;
    return p;
  }

  /** A number as JSON.stringify writes it (NaN as null), or null. */
  private putNumber(out: Buffer, p: number, n: number | null): number {
    if (n === null || !Number.isFinite(n)) return putBytes(out, p, B.null);
    return putNumber(out, p, n);
  }

}

/** The user is the ENRICHED tail's, written from the record's bytes. */
const TAIL_USER = "\u0000tail";
const TAIL_UID = 0;
const YES = ascii("yes");
const NO = ascii("no");
const SCOPE: Record<TargetScope, Uint8Array> = {
  process: ascii("process"),
  group: ascii("group"),
  all: ascii("all"),
  thread: ascii("thread"),
  pidfd: ascii("pidfd"),
};


// The writer's methods stay at JSC's DFG tier: compiling them again with the
// FTL cost more than it gave back. Measured (attribute, interleaved runs):
// the generated 1M-line log 0.53–0.60 s → 0.49–0.52 s and 85 → 68 MB; the
// 200k-kill storm 1.26–1.27 s → 1.28–1.30 s with a sixth less CPU. pickBytes,
// called for every record, keeps the FTL (the storm lost 0.1 s without it).
for (const name of Object.getOwnPropertyNames(SignalJsonWriter.prototype)) {
  const method: unknown = Reflect.get(SignalJsonWriter.prototype, name);
  if (name !== "constructor" && typeof method === "function") noFTL(method as (...args: unknown[]) => unknown);
}
