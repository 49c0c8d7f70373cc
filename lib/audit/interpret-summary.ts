/**
 * interpretEvent's summary (syscall, process, targets, proctitle, key) for a
 * kill-family event, without the records: what attribute reads, several
 * times cheaper. interpretEvent decodes every field of every record into
 * maps (about 8 µs for one SYSCALL record, most of attribute's time on a log
 * full of kills); this reads only the fields the summary uses, straight from
 * the raw text, and hands them to the same builders (buildSyscall,
 * buildProcess, buildTarget, decodeProctitle).
 *
 * The fields are read by parseFields' rules. Where those rules would do
 * something this reader does not (a single-quoted value, an unterminated
 * quote, a needed field given twice) it returns null, and so it does for
 * anything that is not a kill-family SYSCALL event: the caller then uses
 * interpretEvent. test/interpret-summary.test.ts holds the two to the same
 * signal lines over every fixture, the corpus and generated logs.
 */
import type { EventLine, FieldMap, TargetInfo } from "../schema.ts";
import { archName } from "../tables/arch.ts";
import { isKillFamily } from "../tables/kill-family.ts";
import { syscallName } from "../tables/syscalls.ts";
import type { AssembledEvent, PendingRecord } from "./assemble.ts";
import { buildProcess, buildSyscall, buildTarget, decodeEscaped, decodeProctitle, idName, nullish, type InterpretOptions } from "./interpret.ts";
import { stampToIso } from "./line.ts";

const SPACE = 0x20;
const GS = 0x1d;
const EQ = 0x3d;
const DQ = 0x22;
const SQ = 0x27;

/** What one record holds of the picked names: values, whether each was double-quoted, and where each came. */
class Picked {
  readonly values: Array<string | undefined>;
  readonly quoted: boolean[];
  readonly order: number[];
  /** The ENRICHED tail's UID/OUID, or null when the record has no tail. */
  enriched: FieldMap | null = null;

  constructor(size: number) {
    this.values = new Array<string | undefined>(size).fill(undefined);
    this.quoted = new Array<boolean>(size).fill(false);
    this.order = new Array<number>(size).fill(-1);
  }

  reset(): this {
    this.values.fill(undefined);
    this.quoted.fill(false);
    this.order.fill(-1);
    this.enriched = null;
    return this;
  }
}

/** Names to pick from a record, found by first character and length without making a string per name. */
class NameSet {
  /** By first character: the names starting with it, and their indices. */
  private readonly namesByFirst: Array<string[] | undefined> = [];
  private readonly indicesByFirst: Array<number[] | undefined> = [];
  /** Reused by pickRecord: one record of this kind is read at a time. */
  readonly scratch: Picked;

  constructor(readonly names: readonly string[]) {
    this.scratch = new Picked(names.length);
    names.forEach((name, index) => {
      const c = name.charCodeAt(0);
      (this.namesByFirst[c] ??= []).push(name);
      (this.indicesByFirst[c] ??= []).push(index);
    });
  }

  /** The index of text[start, end) in `names`, or -1. */
  find(text: string, start: number, end: number): number {
    const c = text.charCodeAt(start);
    const candidates = c < 128 ? this.namesByFirst[c] : undefined;
    if (candidates === undefined) return -1;
    const length = end - start;
    for (let k = 0; k < candidates.length; k++) {
      const name = candidates[k]!;
      if (name.length !== length) continue;
      let i = 1;
      while (i < length && text.charCodeAt(start + i) === name.charCodeAt(i)) i++;
      if (i === length) return this.indicesByFirst[c]![k]!;
    }
    return -1;
  }
}

// Indices into each set's names.
const [ARCH, NR, SUCCESS, EXIT, A0, A1, A2, A3, PID, PPID, COMM, EXE, UID, EUID, AUID, SES, TTY, KEY] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17] as const;
const SYSCALL = new NameSet(["arch", "syscall", "success", "exit", "a0", "a1", "a2", "a3", "pid", "ppid", "comm", "exe", "uid", "euid", "auid", "ses", "tty", "key"]);
const [OPID, OCOMM, OUID, OAUID, OSES] = [0, 1, 2, 3, 4] as const;
const OBJ_PID = new NameSet(["opid", "ocomm", "ouid", "oauid", "oses"]);
const PROCTITLE = new NameSet(["proctitle"]);
const ENRICHED_UID = new NameSet(["UID", "OUID"]);

/**
 * parseFields' scan over text[start, end), keeping only `names`. False
 * where parseFields would warn or treat a value differently, or a picked
 * name comes twice.
 */
function pick(text: string, start: number, end: number, names: NameSet, into: Picked, enriched: boolean): boolean {
  let i = start;
  let position = 0;
  while (i < end) {
    let c = text.charCodeAt(i);
    if (c === SPACE || c === GS) {
      i++;
      continue;
    }
    let j = i;
    while (j < end) {
      c = text.charCodeAt(j);
      if (c === EQ || c === SPACE) break;
      j++;
    }
    // A word without a value goes to _text: nothing the summary reads.
    if (j >= end || c === SPACE) {
      i = j;
      continue;
    }
    const index = names.find(text, i, j);
    if (index >= 0 && into.order[index]! >= 0) return false;
    let v = j + 1;
    const q = v < end ? text.charCodeAt(v) : 0;
    let value: string | undefined;
    if (q === DQ) {
      const close = text.indexOf('"', v + 1);
      if (close < 0 || close >= end) return false;
      if (index >= 0) value = text.slice(v + 1, close);
      i = close + 1;
    } else if (q === SQ) {
      return false;
    } else {
      while (v < end && text.charCodeAt(v) !== SPACE) v++;
      if (index >= 0) value = text.slice(j + 1, v);
      i = v;
    }
    if (index >= 0) {
      into.order[index] = position;
      if (enriched) (into.enriched ??= {})[names.names[index]!] = value!;
      else {
        into.values[index] = value;
        into.quoted[index] = q === DQ;
      }
    }
    position++;
  }
  return true;
}

/** One record's picked fields and its ENRICHED tail's UID/OUID; null where parseFields would read it differently. */
function pickRecord(record: PendingRecord, names: NameSet): Picked | null {
  const text = record.raw;
  const picked = names.scratch.reset();
  const gs = text.indexOf("\u001d", record.bodyStart);
  if (!pick(text, record.bodyStart, gs < 0 ? text.length : gs, names, picked, false)) return null;
  if (gs >= 0) {
    picked.enriched = {};
    const tail = ENRICHED_UID.scratch.reset();
    if (!pick(text, gs + 1, text.length, ENRICHED_UID, tail, true)) return null;
    if (tail.enriched) picked.enriched = tail.enriched;
  }
  return picked;
}

function escaped(picked: Picked, index: number): string | undefined {
  const value = picked.values[index];
  return value === undefined ? undefined : decodeEscaped(value, picked.quoted[index]!);
}

/** What decodeRecord puts in `decoded` for a uid field: its name, "unset" or "unknown(N)". */
function decodedUser(picked: Picked, index: number, field: string, options: InterpretOptions): string | undefined {
  const value = picked.values[index];
  return value === undefined ? undefined : idName(field, value, picked.enriched ?? undefined, options.ids, "user");
}

const MILLIS = Array.from({ length: 1000 }, (_, ms) => String(ms).padStart(3, "0"));
let isoSecond = Number.NaN;
let isoPrefix = "";

/** stampToIso, with one Date per second of audit time. */
function isoTime(seconds: number, millis: number): string {
  if (!Number.isInteger(seconds) || !Number.isInteger(millis) || millis < 0 || millis > 999) return stampToIso(seconds, millis);
  if (seconds !== isoSecond) {
    isoSecond = seconds;
    isoPrefix = stampToIso(seconds, 0).slice(0, -4);
  }
  return `${isoPrefix}${MILLIS[millis]}Z`;
}

/**
 * interpretEvent(event) without its `records` (left empty), for a
 * kill-family SYSCALL event; null for any other event, or one whose fields
 * this reader does not take (see the header).
 */
export function summarizeSignalEvent(event: AssembledEvent, options: InterpretOptions): EventLine | null {
  let syscall: Picked | null = null;
  let title: string[] | null = null;
  const targets: TargetInfo[] = [];
  for (const record of event.records) {
    const type = record.type;
    if (type === "SIGNAL_GENERATE") return null;
    if (type === "SYSCALL" && syscall === null) {
      syscall = pickRecord(record, SYSCALL);
      if (syscall === null) return null;
      const arch = syscall.values[ARCH];
      const nr = syscall.values[NR];
      // decodeRecord names the syscall only when arch came before it.
      if (arch === undefined || nr === undefined || syscall.order[ARCH]! > syscall.order[NR]!) return null;
      const archText = archName(arch);
      const name = archText ? syscallName(archText, Number(nr)) : null;
      if (!name || !isKillFamily(name)) return null;
    } else if (type === "OBJ_PID") {
      const target = pickRecord(record, OBJ_PID);
      if (target === null) return null;
      const v = target.values;
      targets.push(
        buildTarget({
          type,
          raw: "",
          fields: { opid: v[OPID], ocomm: v[OCOMM], ouid: v[OUID], oauid: v[OAUID], oses: v[OSES] } as FieldMap,
          decoded: { ocomm: escaped(target, OCOMM), ouid: decodedUser(target, OUID, "ouid", options) } as FieldMap,
        }),
      );
    } else if (type === "PROCTITLE" && title === null) {
      // As interpretEvent: the first PROCTITLE whose proctitle decodes to an argv.
      const picked = pickRecord(record, PROCTITLE);
      if (picked === null) return null;
      const value = picked.values[0];
      if (value !== undefined) title = decodeProctitle(value, picked.quoted[0]!);
    }
  }
  if (syscall === null) return null;
  const v = syscall.values;
  const arch = archName(v[ARCH]!)!;
  const fields = {
    syscall: v[NR], success: v[SUCCESS], exit: v[EXIT], a0: v[A0], a1: v[A1], a2: v[A2], a3: v[A3],
    pid: v[PID], ppid: v[PPID], comm: v[COMM], exe: v[EXE], uid: v[UID], euid: v[EUID], auid: v[AUID], ses: v[SES], tty: v[TTY],
  } as FieldMap;
  const decoded = {
    arch,
    syscall: syscallName(arch, Number(v[NR])) ?? undefined,
    comm: escaped(syscall, COMM),
    exe: escaped(syscall, EXE),
    uid: decodedUser(syscall, UID, "uid", options),
  } as FieldMap;
  const record = { type: "SYSCALL", raw: "", fields, decoded };
  const key = nullish(escaped(syscall, KEY));
  return {
    kind: "event",
    id: event.id,
    node: event.node,
    time: isoTime(event.seconds, event.millis),
    type: "SYSCALL",
    syscall: buildSyscall(record),
    process: buildProcess(record),
    proctitle: title,
    targets,
    key: key === null ? null : key.split("\u0001").join(","),
    records: [],
  };
}
