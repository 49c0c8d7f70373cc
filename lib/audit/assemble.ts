/**
 * Records → events. Records are grouped by (node, timestamp:serial).
 *
 * audit.log has no EOE records, so an event also closes:
 *  - at once, for record types that never belong to a syscall event
 *    (user-space and daemon messages, our own SIGNAL_GENERATE);
 *  - soon after PROCTITLE when the event already has its SYSCALL (the kernel
 *    writes PROCTITLE last): such an event is complete, and is emitted at the
 *    end of the current input batch (`settle`) or once `holdRecords` more
 *    records have arrived, so a straggler that was reordered in the same
 *    batch still joins it. ausearch closes at any PROCTITLE, even one that
 *    comes first, and so splits pasted logs in two; we do not;
 *  - when it is older than `windowSeconds` of audit time behind the newest
 *    record seen, or when more than `maxInFlight` events are open;
 *  - at EOE, which netlink and auditd plugins deliver; once a stream has shown
 *    an EOE, PROCTITLE no longer closes events, EOE does;
 *  - at end of input (`flush`);
 *  - at `maxRecords` records, with a warning: no kernel event is that big
 *    (a huge argv makes a few hundred EXECVE records), so it is a damaged
 *    log repeating one stamp, and an event per line of it would hold the
 *    whole log in memory. Its further records form further events.
 * Interleaved and out-of-order records group correctly as long as they fall
 * within the window.
 */
import type { SourceRef } from "../schema.ts";
import { detach } from "../strings.ts";
import { ByteRecord, sameBody } from "./byte-record.ts";
import { recordTypeNumber } from "../tables/record-types.ts";

export interface PendingRecord {
  type: string;
  raw: string;
  /** Where the fields start in `raw`. */
  bodyStart: number;
  source?: SourceRef;
  /** Wall-clock time for records without an audit stamp (tracefs). */
  time?: string;
  /** From a JSON `record` line: its source is whatever that line held. */
  fromJson?: boolean;
}

export interface AssembledEvent {
  node: string | null;
  id: string;
  seconds: number;
  millis: number;
  records: PendingRecord[];
  warnings?: string[];
}

export interface AssemblerOptions {
  /** Close events this many seconds (audit time) behind the newest record. Default 2, like auditd's end_of_event_timeout. */
  windowSeconds?: number;
  /** Close the oldest open event beyond this many. Default 4096. */
  maxInFlight?: number;
  /** Emit a complete event after this many further records at the latest. Default 256. */
  holdRecords?: number;
  /** Close an event at this many records. Default 10000. */
  maxRecords?: number;
}

interface OpenEvent extends AssembledEvent {
  key: string;
  serial: number;
  hasSyscall: boolean;
  /** The record count when the event became complete (PROCTITLE after SYSCALL), or -1. */
  completeAt: number;
  closed: boolean;
  /** The key shares no memory with an input chunk (made from bytes), so needs no copy to outlive it. */
  keyIsCopy: boolean;
  /** Records by body hash, once the event is too big to compare a new record with each one. */
  bodies?: Map<number, PendingRecord[]>;
}

/** Types whose records never share an event with others. */
export function isStandaloneType(type: string): boolean {
  if (type === "SIGNAL_GENERATE") return true;
  const nr = recordTypeNumber(type) ?? numberInUnknown(type);
  if (nr === null) return false;
  // 1100–1299 user-space and daemon messages; 2000–2999 user-space
  // anomalies, integrity and virtualisation messages written by tools.
  return (nr >= 1100 && nr < 1300) || (nr >= 2000 && nr < 3000);
}

function numberInUnknown(type: string): number | null {
  const match = /^UNKNOWN\[(\d+)\]$/.exec(type);
  return match ? Number(match[1]) : null;
}

const RECENTLY_CLOSED_LIMIT = 8192;
/**
 * Past this many records an event's duplicate check goes through a hash of
 * each body: thousands of records under one stamp (a damaged or hand-made
 * log) would otherwise cost a comparison with every earlier one.
 */
const INDEX_BODIES_FROM = 32;

/** FNV-1a over the record body (after the stamp); bytes and UTF-16 units agree on the ASCII lines read as bytes. */
function bodyHash(record: PendingRecord): number {
  let hash = 0x811c9dc5;
  if (record instanceof ByteRecord && record.bytes !== null) {
    const bytes = record.bytes;
    for (let i = record.start + record.bodyStart; i < record.end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  } else {
    const raw = record.raw;
    for (let i = record.bodyStart; i < raw.length; i++) hash = Math.imul(hash ^ raw.charCodeAt(i), 0x01000193);
  }
  return hash;
}

/** The same record text (ignoring prefixes such as node= or a kernel-log wrapper). */
function isSameRecord(a: PendingRecord, b: PendingRecord): boolean {
  // Most records of an event are compared here: do not make strings of lines read as bytes.
  if (a instanceof ByteRecord && b instanceof ByteRecord && a.bytes !== null && b.bytes !== null) return sameBody(a, b);
  if (a.type !== b.type || a.raw.length - a.bodyStart !== b.raw.length - b.bodyStart) return false;
  return a.raw.endsWith(b.raw.slice(b.bodyStart));
}

function addBody(bodies: Map<number, PendingRecord[]>, hash: number, record: PendingRecord): void {
  const same = bodies.get(hash);
  if (same === undefined) bodies.set(hash, [record]);
  else same.push(record);
}

export class EventAssembler {
  private readonly open = new Map<string, OpenEvent>();
  /**
   * How many open events have each serial: most records start a standalone
   * event or join the one before them, and this tells both cases apart from
   * a reordered record without making and hashing a key string.
   */
  private readonly openSerials = new Map<number, number>();
  /** The event the last record joined or opened, while it is open. */
  private last: OpenEvent | undefined;
  /** Keys of recently closed events, in two generations so forgetting old ones costs nothing per event. */
  private closedNow = new Set<string>();
  private closedBefore = new Set<string>();
  private newestSeconds = 0;
  private eoeStream = false;
  private readonly windowSeconds: number;
  private readonly maxInFlight: number;
  private readonly standaloneCache = new Map<string, boolean>();
  /** Complete events not yet emitted, in the order they completed (closed ones are skipped). */
  private complete: OpenEvent[] = [];
  private completeHead = 0;
  private recordCount = 0;
  private readonly holdRecords: number;
  private readonly maxRecords: number;
  /** Late EOE records absorbed into an already-closed event (counted, not lost). */
  lateEoe = 0;
  /** Records identical to one already in their event (the same log fed twice), folded into it. */
  duplicates = 0;

  constructor(
    private readonly emit: (event: AssembledEvent) => void,
    options: AssemblerOptions = {},
  ) {
    this.windowSeconds = options.windowSeconds ?? 2;
    this.maxInFlight = options.maxInFlight ?? 4096;
    this.holdRecords = options.holdRecords ?? 256;
    this.maxRecords = options.maxRecords ?? 10_000;
  }

  /**
   * Add one record (`serial` is the id's last part); may emit zero or more
   * events. `idIsCopy`: id and node share no memory with an input chunk.
   */
  push(node: string | null, id: string, seconds: number, millis: number, record: PendingRecord, serial: number, idIsCopy = false): void {
    const type = record.type;
    let standalone = this.standaloneCache.get(type);
    if (standalone === undefined) {
      standalone = isStandaloneType(type);
      this.standaloneCache.set(type, standalone);
    }
    // Past 2^53 two spellings of one id may parse to different numbers: one bucket for them all.
    if (!Number.isSafeInteger(serial)) serial = -1;
    let event: OpenEvent | undefined;
    const last = this.last;
    if (last !== undefined && last.serial === serial && last.seconds === seconds && last.millis === millis && last.node === node && last.id === id) {
      event = last;
    } else if (this.openSerials.has(serial)) {
      event = this.open.get(node === null ? id : `${node}\u0000${id}`);
    }
    if (standalone && event === undefined) {
      this.emit({ node, id, seconds, millis, records: [record] });
      return;
    }
    if (type === "EOE") this.eoeStream = true;
    if (event === undefined) {
      const key = node === null ? id : `${node}\u0000${id}`;
      const wasClosed = this.closedNow.has(key) || this.closedBefore.has(key);
      if (type === "EOE" && wasClosed) {
        this.lateEoe++;
        return;
      }
      event = { node, id, seconds, millis, records: [], key, serial, hasSyscall: false, completeAt: -1, closed: false, keyIsCopy: idIsCopy };
      if (wasClosed) {
        event.warnings = ["records of this event arrived after it was closed; they form a second event with the same id"];
      }
      this.open.set(key, event);
      this.openSerials.set(serial, (this.openSerials.get(serial) ?? 0) + 1);
    }
    this.last = event;
    if (this.isDuplicate(event, record)) {
      this.duplicates++;
      return;
    }
    event.records.push(record);
    if (type === "SYSCALL") event.hasSyscall = true;
    this.recordCount++;
    if (type === "EOE" || standalone) {
      this.close(event);
    } else if (event.records.length >= this.maxRecords) {
      (event.warnings ??= []).push(`closed at ${this.maxRecords} records, more than any kernel event has; further records with this id form further events`);
      this.close(event);
    } else if (type === "PROCTITLE" && event.hasSyscall && !this.eoeStream && event.completeAt < 0) {
      event.completeAt = this.recordCount;
      this.complete.push(event);
    }
    this.closeDue();
    if (seconds > this.newestSeconds) {
      this.newestSeconds = seconds;
      this.expire();
    } else if (this.open.size > this.maxInFlight) {
      this.expire();
    }
  }

  /** The same record is already in the event (it is not added to it). */
  private isDuplicate(event: OpenEvent, record: PendingRecord): boolean {
    const records = event.records;
    if (records.length < INDEX_BODIES_FROM) {
      for (const other of records) if (isSameRecord(other, record)) return true;
      return false;
    }
    let bodies = event.bodies;
    if (bodies === undefined) {
      bodies = new Map();
      for (const other of records) addBody(bodies, bodyHash(other), other);
      event.bodies = bodies;
    }
    const hash = bodyHash(record);
    const same = bodies.get(hash);
    if (same !== undefined) for (const other of same) if (isSameRecord(other, record)) return true;
    // Not pushed yet: the caller adds it to the event's records.
    addBody(bodies, hash, record);
    return false;
  }

  /** No more input for now (end of a batch): emit the events known to be complete. */
  settle(): void {
    for (let i = this.completeHead; i < this.complete.length; i++) {
      const event = this.complete[i]!;
      if (!event.closed) this.close(event);
    }
    this.complete = [];
    this.completeHead = 0;
  }

  /** End of input: emit everything still open, oldest first. */
  flush(): void {
    for (const event of this.open.values()) this.close(event);
  }

  get inFlight(): number {
    return this.open.size;
  }

  /** Complete events that `holdRecords` further records did not join: emit them. */
  private closeDue(): void {
    while (this.completeHead < this.complete.length) {
      const event = this.complete[this.completeHead]!;
      if (!event.closed) {
        if (event.completeAt + this.holdRecords > this.recordCount) return;
        this.close(event);
      }
      this.completeHead++;
    }
  }

  private expire(): void {
    const horizon = this.newestSeconds - this.windowSeconds;
    for (const event of this.open.values()) {
      if (event.seconds >= horizon && this.open.size <= this.maxInFlight) break;
      this.close(event);
    }
  }

  private close(event: OpenEvent): void {
    event.closed = true;
    event.bodies = undefined;
    if (this.last === event) this.last = undefined;
    this.open.delete(event.key);
    const others = this.openSerials.get(event.serial)! - 1;
    if (others > 0) this.openSerials.set(event.serial, others);
    else this.openSerials.delete(event.serial);
    // A copy: the key is a slice of its input chunk, and this set outlives the chunk.
    this.closedNow.add(event.keyIsCopy ? event.key : detach(event.key));
    if (this.closedNow.size >= RECENTLY_CLOSED_LIMIT) {
      this.closedBefore = this.closedNow;
      this.closedNow = new Set();
    }
    // The open event itself (it is an AssembledEvent): closed, it is never touched again.
    this.emit(event);
  }
}
