/**
 * attribute's output path: a kill-family event whose records were read as
 * bytes → its `signal` line, written as UTF-8 straight into the LineWriter's
 * buffer.
 *
 * The bytes are exactly what the object path writes,
 * JSON.stringify(eventToSignal(summarizeSignalEvent(event))) with the
 * stream's ancestry added, plus a newline (test/signal-json.test.ts holds
 * the two side by side over the fixtures, the corpus and generated logs).
 * On a kill storm, the object path's line strings, field maps, EventLine
 * and SignalLine objects and JSON.stringify were most of attribute's time;
 * here the fields are found on the record's bytes, only the values a
 * signal shows become (small) strings, and the interpretation is done by
 * the same helpers the object path uses (buildSyscall, decodeEscaped,
 * decodeProctitle, idName), so there is one definition of each.
 *
 * It takes the events the summary takes (see interpret-summary.ts: fields
 * read by parseFields' rules, a single-quoted value, an unterminated quote
 * or a needed field given twice is declined) whose records are all ASCII
 * lines still in reader memory. Anything else returns false and goes the
 * object way.
 */
import type { AssembledEvent } from "../audit/assemble.ts";
import { ByteRecord } from "../audit/byte-record.ts";
import type { IdNames } from "../audit/ids.ts";
import { buildSyscall, decodeEscaped, decodeProctitle, idName, nullish } from "../audit/interpret.ts";
import type { LineWriter } from "../jsonl.ts";
import { ascii, putBytes, putNumber, writeString } from "../json-bytes.ts";
import type { DecodedRecord, FieldMap, SyscallInfo } from "../schema.ts";
import { archName } from "../tables/arch.ts";
import { isKillFamily } from "../tables/kill-family.ts";
import { syscallName } from "../tables/syscalls.ts";
import type { StreamAncestry } from "./ancestry.ts";

const SPACE = 0x20;
const GS = 0x1d;
const EQ = 0x3d;
const DQ = 0x22;
const SQ = 0x27;
const COMMA = 0x2c;

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
const ARG_NAMES = ["a0", "a1", "a2", "a3"];

/** A victim as eventToSignal makes it from an OBJ_PID record. */
interface VictimValues {
  pid: number | null;
  comm: string | null;
  uid: number | null;
  user: string | null;
}

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

/** The digits of a decimal integer field (`-?[0-9]+`) → its value, as interpret.ts `num`; null otherwise. */
function decimal(bytes: Buffer, start: number, end: number): number | null {
  let i = start < end && bytes[start] === 0x2d ? start + 1 : start;
  if (i === end) return null;
  if (end - i > 15) {
    for (let k = i; k < end; k++) if (bytes[k]! < 0x30 || bytes[k]! > 0x39) return null;
    return Number(bytes.toString("latin1", start, end));
  }
  let value = 0;
  for (; i < end; i++) {
    const c = bytes[i]!;
    if (c < 0x30 || c > 0x39) return null;
    value = value * 10 + c - 0x30;
  }
  return bytes[start] === 0x2d ? -value : value;
}

/** audit's unset id, `4294967295` or `-1`, as interpret.ts reads it (ids.ts isUnsetId). */
function isUnsetAt(bytes: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length === 2) return bytes[start] === 0x2d && bytes[start + 1] === 0x31;
  if (length !== 10) return false;
  const unset = UNSET;
  for (let i = 0; i < 10; i++) if (bytes[start + i] !== unset[i]) return false;
  return true;
}
const UNSET = ascii("4294967295");

export interface SignalJsonOptions {
  ids: IdNames;
  ancestry: StreamAncestry;
  /** Write signal-0 probes (attribute --probes); otherwise they are dropped. */
  probes: boolean;
}

export type SignalWrite = "written" | "probe" | "declined";

export class SignalJsonWriter {
  private readonly syscallNames = new ByteNames(SYSCALL_NAMES);
  private readonly targetNames = new ByteNames(OBJ_PID_NAMES);
  private readonly titleNames = new ByteNames(["proctitle"]);
  private readonly tailNames = new ByteNames(ENRICHED_NAMES);
  private readonly victims: VictimValues[] = [];
  /** Per uid text, its user as a signal shows it (no ENRICHED tail to say). */
  private readonly users = new Map<string, string | null>();
  private timeSeconds = -1;
  private timePrefix: Uint8Array = new Uint8Array(0);

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
    const arch = archName(picked.text(bytes, ARCH));
    const name = arch === null ? null : syscallName(arch, Number(picked.text(bytes, NR)));
    if (arch === null || name === null || !isKillFamily(name)) return "declined";
    const info = this.syscallInfo(bytes, arch, name);
    const signalNr = info.signal?.nr ?? 0;
    if (signalNr === 0 && !this.options.probes) return "probe";
    const killer = this.killerOf(bytes, seconds * 1000 + millis, node);

    let target = info.target;
    let targetPid: number | null = target?.pid ?? null;
    let fd: number | undefined;
    if (name === "pidfd_send_signal") {
      // a0 is a file descriptor; the process it names is only in OBJ_PID.
      fd = target?.pid;
      targetPid = this.victimCount > 0 ? this.victims[0]!.pid : null;
      target = undefined;
    }

    // Room: every string's units at their worst (6 bytes), the raw bytes seen bounding what came from them.
    let bound = 1024 + 6 * (event.id.length + (node?.length ?? 0) + this.bytesSeen);
    bound += 6 * ((killer.user?.length ?? 0) + (info.errno?.length ?? 0) + (info.signal?.name?.length ?? 0));
    for (let v = 0; v < this.victimCount; v++) bound += 6 * (this.victims[v]!.user?.length ?? 0) + 64;
    if (killer.ancestry !== null) bound += 3 * killer.ancestry.length;
    const out = this.writer.reserve(bound);
    let p = this.putHead(out, this.writer.offset, event, name, arch, signalNr, info);
    p = this.putKiller(out, p, killer);
    p = putBytes(out, p, B.targetPid);
    p = this.putNumber(out, p, targetPid);
    p = putBytes(out, p, B.scope);
    p = writeString(out, p, target?.scope ?? (name === "pidfd_send_signal" ? "pidfd" : "process"));
    out[p++] = DQ;
    if (target?.tid !== undefined) {
      p = putBytes(out, p, B.tid);
      p = this.putNumber(out, p, target.tid);
    }
    if (fd !== undefined) {
      p = putBytes(out, p, B.fd);
      p = this.putNumber(out, p, fd);
    }
    p = this.putVictims(out, p);
    p = putBytes(out, p, B.key);
    p = this.putText(out, p, killer.key);
    p = putBytes(out, p, B.source);
    if (signalNr === 0) p = putBytes(out, p, B.probe);
    if (this.isSelf(killer.pid, targetPid)) p = putBytes(out, p, B.self);
    out[p++] = 0x7d;
    out[p++] = 0x0a;
    this.writer.commit(p);
    return "written";
  }

  // What gather() found: the victims, the first decodable PROCTITLE's argv, the SYSCALL's ENRICHED tail, the record bytes read.
  private victimCount = 0;
  private argv: string[] | null = null;
  private syscallEnriched: FieldMap | undefined;
  private bytesSeen = 0;

  /**
   * The records as the summary reads them: the first SYSCALL's fields
   * (left in syscallNames), each OBJ_PID's victim, the first PROCTITLE
   * that decodes. The SYSCALL record, or null to decline the event.
   */
  private gather(event: AssembledEvent): ByteRecord | null {
    const records = event.records;
    const picked = this.syscallNames;
    let syscall: ByteRecord | null = null;
    this.syscallEnriched = undefined;
    this.argv = null;
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
        picked.reset();
        const gs = this.gsAt(bytes, start, end);
        if (!pickBytes(bytes, start, gs, picked)) return null;
        // decodeRecord names the syscall only when arch came before it.
        if (!picked.has(ARCH) || !picked.has(NR) || picked.order[ARCH]! > picked.order[NR]!) return null;
        if (gs < end) {
          const tail = this.tail(bytes, gs + 1, end);
          if (tail === null) return null;
          this.syscallEnriched = tail;
        }
        syscall = record;
      } else if (type === "OBJ_PID") {
        this.bytesSeen += end - start;
        if (!this.victim(bytes, start, end)) return null;
      } else if (type === "PROCTITLE") {
        if (this.argv !== null) continue;
        this.bytesSeen += end - start;
        const names = this.titleNames;
        names.reset();
        const gs = this.gsAt(bytes, start, end);
        if (!pickBytes(bytes, start, gs, names)) return null;
        if (gs < end && this.tail(bytes, gs + 1, end) === null) return null;
        if (names.has(0)) this.argv = decodeProctitle(names.text(bytes, 0), names.quoted[0] === 1);
      } else if (type === "SIGNAL_GENERATE") return null;
    }
    return syscall;
  }

  /** An OBJ_PID record's victim, as eventToSignal makes it; false to decline. */
  private victim(bytes: Buffer, start: number, end: number): boolean {
    const names = this.targetNames;
    names.reset();
    const gs = this.gsAt(bytes, start, end);
    if (!pickBytes(bytes, start, gs, names)) return false;
    let enriched: FieldMap | undefined;
    if (gs < end) {
      const tail = this.tail(bytes, gs + 1, end);
      if (tail === null) return false;
      enriched = tail;
    }
    this.victims[this.victimCount++] = {
      pid: names.has(OPID) ? decimal(bytes, names.valueStart[OPID]!, names.valueEnd[OPID]!) : null,
      comm: this.textValue(bytes, names, OCOMM),
      uid: this.idValue(bytes, names, OUID),
      user: this.userValue(bytes, names, OUID, "ouid", enriched),
    };
    return true;
  }

  /** The killer's members, its key, and its ancestry from the stream as JSON (null when none is known). */
  private killerOf(bytes: Buffer, atMs: number, node: string | null) {
    const picked = this.syscallNames;
    const ppid = picked.has(PPID) ? decimal(bytes, picked.valueStart[PPID]!, picked.valueEnd[PPID]!) : null;
    const keyText = this.textValue(bytes, picked, KEY);
    const chain = this.options.ancestry.ancestry(ppid, atMs, node);
    return {
      pid: picked.has(PID) ? decimal(bytes, picked.valueStart[PID]!, picked.valueEnd[PID]!) : null,
      ppid,
      comm: this.textValue(bytes, picked, COMM),
      exe: this.textValue(bytes, picked, EXE),
      uid: this.idValue(bytes, picked, UID),
      user: this.userValue(bytes, picked, UID, "uid", this.syscallEnriched),
      auid: this.idValue(bytes, picked, AUID),
      key: keyText === null ? null : keyText.split("\u0001").join(","),
      ancestry: chain.length > 0 ? JSON.stringify(chain) : null,
    };
  }

  /** kind … result. */
  private putHead(out: Buffer, p: number, event: AssembledEvent, name: string, arch: string, signalNr: number, info: SyscallInfo): number {
    p = putBytes(out, p, B.open);
    p = writeString(out, p, event.id);
    p = putBytes(out, p, B.node);
    p = this.putText(out, p, event.node);
    p = putBytes(out, p, B.time);
    p = this.putTime(out, p, event.seconds, event.millis);
    p = putBytes(out, p, B.syscall);
    p = writeString(out, p, name);
    p = putBytes(out, p, B.arch);
    p = writeString(out, p, arch);
    p = putBytes(out, p, B.signalNr);
    p = this.putNumber(out, p, signalNr);
    p = putBytes(out, p, B.signalName);
    p = this.putText(out, p, info.signal?.name ?? null);
    p = putBytes(out, p, B.success);
    p = putBytes(out, p, info.success === null ? B.null : info.success ? B.true : B.false);
    p = putBytes(out, p, B.errno);
    return this.putText(out, p, info.errno);
  }

  private putKiller(out: Buffer, p: number, killer: ReturnType<SignalJsonWriter["killerOf"]>): number {
    p = putBytes(out, p, B.killerPid);
    p = this.putNumber(out, p, killer.pid);
    p = putBytes(out, p, B.ppid);
    p = this.putNumber(out, p, killer.ppid);
    p = putBytes(out, p, B.comm);
    p = this.putText(out, p, killer.comm);
    p = putBytes(out, p, B.exe);
    p = this.putText(out, p, killer.exe);
    p = putBytes(out, p, B.uid);
    p = this.putNumber(out, p, killer.uid);
    p = putBytes(out, p, B.user);
    p = this.putText(out, p, killer.user);
    p = putBytes(out, p, B.auid);
    p = this.putNumber(out, p, killer.auid);
    p = putBytes(out, p, B.argv);
    const argv = this.argv;
    if (argv !== null) {
      for (let a = 0; a < argv.length; a++) {
        if (a > 0) out[p++] = COMMA;
        p = this.putText(out, p, argv[a]!);
      }
    }
    out[p++] = 0x5d;
    if (killer.ancestry !== null) {
      p = putBytes(out, p, B.ancestry);
      p += out.write(killer.ancestry, p, "utf8");
    }
    return p;
  }

  private putVictims(out: Buffer, p: number): number {
    p = putBytes(out, p, B.victims);
    for (let v = 0; v < this.victimCount; v++) {
      const victim = this.victims[v]!;
      if (v > 0) out[p++] = COMMA;
      p = putBytes(out, p, B.victimPid);
      p = this.putNumber(out, p, victim.pid);
      p = putBytes(out, p, B.comm);
      p = this.putText(out, p, victim.comm);
      p = putBytes(out, p, B.uid);
      p = this.putNumber(out, p, victim.uid);
      p = putBytes(out, p, B.user);
      p = this.putText(out, p, victim.user);
      out[p++] = 0x7d;
    }
    return p;
  }

  /** eventToSignal's `self`: the killer signalled itself, or every victim is the killer. */
  private isSelf(killerPid: number | null, targetPid: number | null): boolean {
    if (killerPid === null) return false;
    if (targetPid === killerPid) return true;
    if (this.victimCount === 0) return false;
    for (let v = 0; v < this.victimCount; v++) if (this.victims[v]!.pid !== killerPid) return false;
    return true;
  }

  /** The first GS (the ENRICHED tail's start) in bytes[start, end), or end. */
  private gsAt(bytes: Uint8Array, start: number, end: number): number {
    const at = bytes.indexOf(GS, start);
    return at < 0 || at >= end ? end : at;
  }

  /** The ENRICHED tail's UID/OUID, as interpret-summary reads them; null where it would decline. */
  private tail(bytes: Buffer, start: number, end: number): FieldMap | null {
    const names = this.tailNames;
    names.reset();
    if (!pickBytes(bytes, start, end, names)) return null;
    const enriched: FieldMap = {};
    for (let i = 0; i < ENRICHED_NAMES.length; i++) if (names.has(i)) enriched[ENRICHED_NAMES[i]!] = names.text(bytes, i);
    return enriched;
  }

  /** buildSyscall over the picked fields: signal, target, success, errno. */
  private syscallInfo(bytes: Buffer, arch: string, name: string): SyscallInfo {
    const picked = this.syscallNames;
    const fields: FieldMap = { syscall: picked.text(bytes, NR) };
    if (picked.has(SUCCESS)) fields.success = picked.text(bytes, SUCCESS);
    if (picked.has(EXIT)) fields.exit = picked.text(bytes, EXIT);
    for (let a = 0; a < 4; a++) if (picked.has(ARG_INDEX[a]!)) fields[ARG_NAMES[a]!] = picked.text(bytes, ARG_INDEX[a]!);
    const record: DecodedRecord = { type: "SYSCALL", raw: "", fields, decoded: { arch, syscall: name } };
    return buildSyscall(record);
  }

  /** A comm/exe/ocomm/key value as the summary shows it: decoded where hex, null for (null), (none) and ?. */
  private textValue(bytes: Buffer, names: ByteNames, index: number): string | null {
    if (!names.has(index)) return null;
    return nullish(decodeEscaped(names.text(bytes, index), names.quoted[index] === 1));
  }

  /** A uid/auid field: null when absent or unset. */
  private idValue(bytes: Buffer, names: ByteNames, index: number): number | null {
    if (!names.has(index)) return null;
    const start = names.valueStart[index]!;
    const end = names.valueEnd[index]!;
    return isUnsetAt(bytes, start, end) ? null : decimal(bytes, start, end);
  }

  /** A uid field's user: the ENRICHED tail's name, else the local one; null for unset and unknown ids. */
  private userValue(bytes: Buffer, names: ByteNames, index: number, field: string, enriched: FieldMap | undefined): string | null {
    if (!names.has(index)) return null;
    const value = names.text(bytes, index);
    if (enriched !== undefined) return userName(idName(field, value, enriched, this.options.ids, "user"));
    let user = this.users.get(value);
    if (user === undefined) {
      user = userName(idName(field, value, undefined, this.options.ids, "user"));
      // Bounded: arbitrary input cannot grow it past a few thousand ids.
      if (this.users.size < 4096) this.users.set(value, user);
    }
    return user;
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

  /** stampToIso(seconds, millis) and its closing quote: toISOString once per second of audit time. */
  private putTime(out: Buffer, p: number, seconds: number, millis: number): number {
    if (seconds !== this.timeSeconds) {
      this.timeSeconds = seconds;
      this.timePrefix = ascii(new Date(seconds * 1000).toISOString().slice(0, -4));
    }
    p = putBytes(out, p, this.timePrefix);
    out[p++] = 0x30 + Math.floor(millis / 100);
    out[p++] = 0x30 + (Math.floor(millis / 10) % 10);
    out[p++] = 0x30 + (millis % 10);
    out[p++] = 0x5a;
    out[p++] = DQ;
    return p;
  }
}

/** interpret.ts userName: a name, or null for "unset" and "unknown(N)". */
function userName(decoded: string): string | null {
  if (decoded === "unset" || decoded.startsWith("unknown(")) return null;
  return decoded;
}
