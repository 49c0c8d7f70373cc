/**
 * What the stream said about processes, so a killer's ancestry can be told
 * from the log alone: execve events give pid, ppid, comm, exe and argv.
 *
 * A large log holds tens of thousands of execve events and only a handful of
 * killers, so sightings are kept as the raw lines' bytes (in a ByteArena) and
 * decoded only when a chain reaches them. Each sighting keeps its audit time,
 * and a lookup asks for the processes as they were at the kill's time: not a
 * later exec of a recycled parent PID, whether read further on in the same
 * chunk (the prefilter reads ahead) or emitted first by the event assembler
 * (a kill without PROCTITLE waits for its window to close).
 *
 * In a log gathered from several hosts (`node=`), each host has its own
 * PIDs: a sighting is keyed by node and pid, and a chain never crosses hosts.
 *
 * Bounded: a ring of `capacity` sightings; older ones are forgotten.
 */
import type { AncestorInfo, EventLine } from "../schema.ts";
import { parseFields } from "../audit/fields.ts";
import { enrichedTailAt, FieldCursor } from "../audit/bytes/field-cursor.ts";
import { execveArgv } from "../audit/interpret.ts";
import { decodeEscaped, decodeProctitle, nullish, numAt, toSigned32 } from "../audit/spelling.ts";
import { ascii, bytesAre } from "../bytes/json.ts";
import type { ByteArena } from "../bytes/arena.ts";
import { detach } from "../bytes/detach.ts";
import { isoMs } from "./time-spec.ts";
import { PidfdTable } from "./pidfd.ts";
import { sourceOfType } from "../sources/registry.ts";

const PPID = ascii("ppid");
const COMM = ascii("comm");
const EXE = ascii("exe");
const PROCTITLE = ascii("proctitle");
const DQ = 0x22;
const SQ = 0x27;

export interface StreamProcess {
  pid: number;
  /** The host, in a log gathered from several (null: the only one). */
  node?: string | null;
  ppid: number | null;
  comm: string | null;
  exe: string | null;
  argv?: string[];
  /** An EXECVE record's line, decoded into argv when first needed. */
  execveRaw?: string;
}

const cursor = new FieldCursor();

/** Where the record's own fields end: before auditd's ENRICHED tail, as the interpreter reads them. */
let fieldsEnd = 0;

/** Moves the cursor to the first field `name` of bytes[start, end), ENRICHED tail left out; false when there is none. */
function findField(bytes: Buffer, start: number, end: number, name: Uint8Array): boolean {
  const tail = enrichedTailAt(bytes, start, end);
  fieldsEnd = tail < 0 ? end : tail;
  cursor.reset(bytes, start, fieldsEnd);
  while (cursor.next()) if (cursor.hasValue && bytesAre(bytes, cursor.nameStart, cursor.nameEnd, name)) return true;
  return false;
}

/**
 * The cursor's value as written: inside its double quotes (cursor.quote
 * tells), or the bare text (a single quote is text too, to the next space).
 * An unterminated double quote runs to the end, as the interpreter reads it
 * (lib/audit/fields.ts): decode | attribute must see the same process.
 */
function rawValue(bytes: Buffer): string {
  const stop = fieldsEnd;
  if (cursor.quote === DQ) return bytes.toString("utf8", cursor.valueStart, cursor.valueEnd);
  let start = cursor.valueStart;
  let end = cursor.valueEnd;
  if (cursor.quote === SQ) {
    start--;
    end = start;
    while (end < stop && bytes[end] !== 0x20) end++;
  }
  // As the interpreter reads a line: UTF-8 (a stray byte becomes U+FFFD there too).
  return bytes.toString("utf8", start, end);
}

/** A comm/exe field of bytes[start, end): `"text"` as written, or hex; absent, `(null)` and `?` are no value. */
function textField(bytes: Buffer, start: number, end: number, name: Uint8Array): string | null {
  if (!findField(bytes, start, end, name)) return null;
  return nullish(decodeEscaped(rawValue(bytes), cursor.quote === DQ));
}

/** A `record` line's raw text as the JSON string it is, unescaped; null if it is none. */
export function unescapedJson(escaped: string): string | null {
  try {
    const text = JSON.parse(`"${escaped}"`) as unknown;
    return typeof text === "string" ? text : null;
  } catch {
    return null;
  }
}

/** argv from an EXECVE record's line. */
function execveLineArgv(line: string): string[] | null {
  const body = line.indexOf("): ");
  if (body < 0) return null;
  const parsed = parseFields(line, body + 3);
  return execveArgv(parsed.fields, parsed.quoted);
}

const NONE = -1;
/** Node index × this + pid is a sighting's key: pids are below 2^32, node indexes below 2^21, keys exact in a double. */
const NODE_STRIDE = 2 ** 32;

/** A pid a sighting can be kept under, from raw bytes and event lines alike (a damaged log has any number there). */
function isSightedPid(pid: number): boolean {
  return Number.isInteger(pid) && pid > 0 && pid < NODE_STRIDE;
}
const MAX_NODES = 2 ** 20;
/** How many generations a killer's ancestry goes back. */
const MAX_ANCESTRY = 16;
/** A sighting's kept lines: the execve SYSCALL, its EXECVE and its PROCTITLE (`1 << part` is its bit in escapedParts). */
const SYSCALL_PART = 0;
const PARTS = { execve: 1, title: 2 } as const;
const PART_COUNT = 3;

export class ProcessSightings {
  private nextSeq = 0;
  /** Node name → index (0 is no node). */
  private readonly nodeIndexes = new Map<string, number>();
  // Allocated at the first sighting: zeroed pages cost ~10 µs each on first touch, and most runs see no execve.
  /** node index × NODE_STRIDE + pid. */
  private keyOf = new Float64Array(0);
  private seqOf = new Float64Array(0);
  /** The same pid's sighting before this one, or NONE. */
  private previousOf = new Float64Array(0);
  /** Audit time of each sighting (epoch ms; -Infinity when unknown: taken as before anything). */
  private timeOf = new Float64Array(0);
  /** Where each part's raw line is in the arena (NONE when absent), and its length: one array per part. */
  private partAt: Float64Array[] = [];
  private partLength: Int32Array[] = [];
  /** Which of a sighting's lines are JSON-escaped (a bit per part). */
  private escapedParts = new Uint8Array(0);
  private decoded: Array<StreamProcess | undefined> = [];
  /**
   * key → its newest sequence number: open addressing on typed arrays (a JS
   * Map costs ~0.4 µs a set at this size). key + 1 is stored, 0 is empty;
   * entries whose sighting left the ring go at the next rebuild.
   */
  private tableKey = new Float64Array(0);
  private tableSeq = new Float64Array(0);
  private tableShift = 0;
  private tableUsed = 0;

  constructor(
    private readonly arena: ByteArena,
    private readonly capacity = 16384,
  ) {}

  private allocate(): void {
    const capacity = this.capacity;
    this.keyOf = new Float64Array(capacity);
    this.seqOf = new Float64Array(capacity).fill(NONE);
    this.previousOf = new Float64Array(capacity);
    this.timeOf = new Float64Array(capacity);
    this.partAt = Array.from({ length: PART_COUNT }, () => new Float64Array(capacity));
    this.partLength = Array.from({ length: PART_COUNT }, () => new Int32Array(capacity));
    this.escapedParts = new Uint8Array(capacity);
    this.decoded = new Array(capacity);
    const bits = Math.max(4, Math.ceil(Math.log2(capacity * 4)));
    this.tableKey = new Float64Array(1 << bits);
    this.tableSeq = new Float64Array(1 << bits);
    this.tableShift = 32 - bits;
  }

  /**
   * The index of a node name (0 for none), made on first sight unless
   * `known` (then -1 for a node never seen). Past MAX_NODES hosts, the rest
   * share the last index.
   */
  nodeIndex(node: string | null | undefined, known = false): number {
    if (node === null || node === undefined) return 0;
    const index = this.nodeIndexes.get(node);
    if (index !== undefined) return index;
    if (known) return -1;
    const next = Math.min(this.nodeIndexes.size + 1, MAX_NODES);
    if (this.nodeIndexes.size < MAX_NODES) this.nodeIndexes.set(node, next);
    return next;
  }

  /**
   * An execve SYSCALL line, kept as bytes (`escaped`: JSON-escaped, the raw
   * text of a `record` line). Returns its sequence number, or NONE if it
   * could not be kept.
   */
  addRaw(bytes: Buffer, start: number, end: number, pid: number, escaped = false, node = 0, timeMs = Number.NEGATIVE_INFINITY): number {
    if (!isSightedPid(pid)) return NONE;
    const at = this.arena.put(bytes, start, end);
    if (at < 0) return NONE;
    const seq = this.add(node * NODE_STRIDE + pid, timeMs);
    this.keep(seq % this.capacity, SYSCALL_PART, at, end - start, escaped);
    return seq;
  }

  /** The EXECVE or PROCTITLE line of a sighting's event. */
  attach(seq: number, part: keyof typeof PARTS, bytes: Buffer, start: number, end: number, escaped = false): void {
    const slot = seq % this.capacity;
    if (this.seqOf[slot] !== seq) return;
    this.keep(slot, PARTS[part], this.arena.put(bytes, start, end), end - start, escaped);
    this.decoded[slot] = undefined;
  }

  private keep(slot: number, part: number, at: number, length: number, escaped: boolean): void {
    this.partAt[part]![slot] = at;
    this.partLength[part]![slot] = length;
    this.escapedParts[slot] = escaped ? this.escapedParts[slot]! | (1 << part) : this.escapedParts[slot]! & ~(1 << part);
  }

  /** A kept line's bytes, unescaped if it came JSON-escaped; null when it is absent or the arena no longer holds it. */
  private part(slot: number, part: number): { bytes: Buffer; start: number; end: number } | null {
    const at = this.partAt[part]![slot]!;
    const length = this.partLength[part]![slot]!;
    if (at === NONE || !this.arena.holds(at, length)) return null;
    if ((this.escapedParts[slot]! & (1 << part)) === 0) {
      const { bytes, start } = this.arena.at(at);
      return { bytes, start, end: start + length };
    }
    const text = unescapedJson(this.arena.text(at, length));
    if (text === null) return null;
    const bytes = Buffer.from(text, "utf8");
    return { bytes, start: 0, end: bytes.length };
  }

  /** A process already decoded (from an event line), seen at `timeMs`. */
  addEntry(entry: StreamProcess, timeMs = Number.NEGATIVE_INFINITY): void {
    if (!isSightedPid(entry.pid)) return;
    const seq = this.add(this.nodeIndex(entry.node) * NODE_STRIDE + entry.pid, timeMs);
    this.decoded[seq % this.capacity] = entry;
  }

  /** The newest sighting of `pid` (on `node`) at or before audit time `atMs`. */
  get(pid: number, atMs = Number.POSITIVE_INFINITY, node: string | null = null): StreamProcess | undefined {
    const index = this.nodeIndex(node, true);
    if (index < 0 || !isSightedPid(pid)) return undefined;
    let seq = this.newest(index * NODE_STRIDE + pid);
    while (seq !== NONE) {
      const slot = seq % this.capacity;
      if (this.seqOf[slot] !== seq) return undefined; // forgotten
      if (this.timeOf[slot]! <= atMs) return this.entry(slot);
      seq = this.previousOf[slot]!;
    }
    return undefined;
  }

  private add(key: number, timeMs: number): number {
    if (this.nextSeq === 0) this.allocate();
    const seq = this.nextSeq++;
    const slot = seq % this.capacity;
    this.keyOf[slot] = key;
    this.timeOf[slot] = timeMs;
    this.seqOf[slot] = seq;
    for (let part = 0; part < PART_COUNT; part++) this.partAt[part]![slot] = NONE;
    this.escapedParts[slot] = 0;
    this.decoded[slot] = undefined;
    this.previousOf[slot] = this.setNewest(key, seq);
    return seq;
  }

  /** Where `key` starts its probe: pid and node index mixed, then Fibonacci hashing. */
  private home(key: number): number {
    const node = Math.floor(key / NODE_STRIDE);
    return Math.imul((key - node * NODE_STRIDE) ^ Math.imul(node, 0x85ebca6b), 0x9e3779b1) >>> this.tableShift;
  }

  /** The table slot that holds `key`, or the empty one where it would go. */
  private probe(key: number): number {
    const mask = this.tableKey.length - 1;
    let i = this.home(key);
    while (this.tableKey[i] !== 0 && this.tableKey[i] !== key + 1) i = (i + 1) & mask;
    return i;
  }

  private newest(key: number): number {
    if (this.nextSeq === 0) return NONE;
    const i = this.probe(key);
    return this.tableKey[i] === 0 ? NONE : this.tableSeq[i]!;
  }

  /** Make `seq` the newest sighting of `key`; returns the one it replaces, or NONE. */
  private setNewest(key: number, seq: number): number {
    const i = this.probe(key);
    const before = this.tableKey[i] === 0 ? NONE : this.tableSeq[i]!;
    this.tableSeq[i] = seq;
    if (before === NONE) {
      this.tableKey[i] = key + 1;
      if (++this.tableUsed > this.tableKey.length >>> 1) this.rebuild();
    }
    return before;
  }

  /** Keep only keys whose sightings are still in the ring. */
  private rebuild(): void {
    this.tableKey.fill(0);
    this.tableUsed = 0;
    for (let seq = Math.max(0, this.nextSeq - this.capacity); seq < this.nextSeq; seq++) {
      const slot = seq % this.capacity;
      if (this.seqOf[slot] === seq) this.setNewest(this.keyOf[slot]!, seq);
    }
  }

  private entry(slot: number): StreamProcess | undefined {
    const known = this.decoded[slot];
    if (known) return known;
    const syscall = this.part(slot, SYSCALL_PART);
    if (syscall === null) return undefined;
    const { bytes, start, end } = syscall;
    // The interpreter's number (numAt): `12x` is none, not 12.
    const ppid = findField(bytes, start, end, PPID) && cursor.quote === 0 ? numAt(bytes, cursor.valueStart, cursor.valueEnd) : Number.NaN;
    const entry: StreamProcess = {
      pid: this.keyOf[slot]! % NODE_STRIDE,
      ppid: Number.isNaN(ppid) ? null : ppid,
      comm: textField(bytes, start, end, COMM),
      exe: textField(bytes, start, end, EXE),
    };
    // EXECVE holds the new program's argv; the PROCTITLE of an execve can
    // still show the old one (the kernel caches it per task; seen here).
    // PROCTITLE stays the fallback for an EXECVE record the kernel cut short.
    let argv: string[] | null = null;
    const execve = this.part(slot, PARTS.execve);
    if (execve !== null) argv = execveLineArgv(execve.bytes.toString("utf8", execve.start, execve.end));
    const title = argv === null ? this.part(slot, PARTS.title) : null;
    if (title !== null && findField(title.bytes, title.start, title.end, PROCTITLE)) argv = decodeProctitle(rawValue(title.bytes), cursor.quote === DQ);
    if (argv) entry.argv = argv;
    this.decoded[slot] = entry;
    return entry;
  }
}

/** A sighting's argv: its EXECVE record decoded only now (most processes never turn up in a killer's chain), else its PROCTITLE's. */
function argvOf(p: StreamProcess): string[] | undefined {
  if (p.execveRaw !== undefined) {
    const argv = execveLineArgv(p.execveRaw);
    if (argv) p.argv = argv;
    delete p.execveRaw;
  }
  return p.argv;
}

export class StreamAncestry {
  /** Which process each caller's pidfds name (lib/signals/pidfd.ts). */
  readonly pidfds = new PidfdTable();

  constructor(readonly sightings: ProcessSightings) {}

  /** Any event with a process: the newest word on that pid (execve events also give argv, pidfd_open a pidfd). */
  observe(event: EventLine): void {
    const p = event.process;
    if (!p || p.pid === null || sourceOfType(event.type).kernelTrace) return;
    const syscall = event.syscall;
    const known = this.sightings.get(p.pid, Number.POSITIVE_INFINITY, event.node);
    // No time, or one that does not read: taken as before anything.
    const stamped = event.time === null ? Number.NaN : isoMs(event.time);
    const timeMs = Number.isNaN(stamped) ? Number.NEGATIVE_INFINITY : stamped;
    if (syscall?.name === "pidfd_open" && syscall.success !== false && syscall.exit !== null && syscall.args[0] !== undefined) {
      // a0 is the PID, the exit the new descriptor.
      const caller = { node: event.node, pid: p.pid, ppid: p.ppid, exe: p.exe };
      this.pidfds.note(caller, syscall.exit, toSigned32(syscall.args[0].slice(2)), "pidfd_open", timeMs);
    }
    const entry: StreamProcess = { pid: p.pid, node: event.node, ppid: p.ppid, comm: detach(p.comm), exe: detach(p.exe) };
    if ((syscall?.name === "execve" || syscall?.name === "execveat") && syscall.success !== false) {
      const record = event.records.find((r) => r.type === "EXECVE");
      if (record) entry.execveRaw = detach(record.raw);
      if (event.proctitle) entry.argv = event.proctitle.map((arg) => detach(arg));
    } else if (known && known.exe === p.exe) {
      // Whether that sighting came as raw lines or as an event line (its EXECVE not decoded yet).
      const argv = argvOf(known);
      if (argv) entry.argv = argv;
    }
    this.sightings.addEntry(entry, timeMs);
  }

  /**
   * A victim's parent, from the stream's newest sighting of `pid` (on
   * `node`) at or before `atMs`, or null. Only when the sighting's comm is
   * the victim's: another comm there is another process that held the PID.
   */
  parentOf(pid: number | null, comm: string | null | (() => string | null), atMs: number, node: string | null): number | null {
    if (pid === null || pid <= 0) return null;
    const p = this.sightings.get(pid, atMs, node);
    if (!p || p.ppid === null || p.ppid <= 0) return null;
    // A function: the byte writer decodes the victim's comm only when a sighting needs it.
    const name = typeof comm === "function" ? comm() : comm;
    if (name !== null && p.comm !== null && p.comm !== name) return null;
    return p.ppid;
  }

  /**
   * Parent first, up to MAX_ANCESTRY generations, from sightings (on `node`)
   * at or before audit time `atMs`, until a pid comes round again. Most
   * killers' parents were never seen exec'ing: that answer is one lookup.
   */
  ancestry(ppid: number | null, atMs: number, node: string | null): AncestorInfo[] {
    const chain: AncestorInfo[] = [];
    for (let pid = ppid; pid !== null && pid > 0 && chain.length < MAX_ANCESTRY && !chain.some((a) => a.pid === pid); ) {
      const p = this.sightings.get(pid, atMs, node);
      if (!p) break;
      const ancestor: AncestorInfo = { pid, comm: p.comm, exe: p.exe, from: "stream" };
      const argv = argvOf(p);
      if (argv) ancestor.argv = argv;
      chain.push(ancestor);
      pid = p.ppid;
    }
    return chain;
  }
}
