/**
 * Records → events. Records are grouped by (node, timestamp:serial).
 *
 * audit.log has no EOE records, so an event also closes:
 *  - at once, for record types that never belong to a syscall event
 *    (user-space and daemon messages, our own SIGNAL_GENERATE);
 *  - soon after PROCTITLE when the event already has its SYSCALL (the kernel
 *    writes PROCTITLE last): such an event is complete, and is emitted once
 *    HOLD_RECORDS more records have arrived, so a straggler that was
 *    reordered still joins it, or when the input goes quiet (`settle`).
 *    ausearch closes at any PROCTITLE, even one that comes first, and so
 *    splits pasted logs in two; we do not;
 *  - when it is older than `windowSeconds` of audit time behind the newest
 *    record seen (each event judged by its own stamp), or when more than
 *    `maxInFlight` events are open. Audit time jumps more than the window
 *    ahead only when the next record agrees: one damaged stamp must not
 *    close the events around it, nor, far ahead, stop all closing by time;
 *  - at EOE, which netlink and auditd plugins deliver; once a stream has shown
 *    an EOE, PROCTITLE no longer closes events, EOE does;
 *  - at a second SYSCALL record under its stamp, with a warning: the kernel
 *    writes one per event, so it is a damaged or merged log, and the records
 *    from that SYSCALL on form another event with the same id. Nothing is
 *    lost, and neither call hides the other (a kill after a read is still
 *    a kill);
 *  - at end of input (`flush`);
 *  - at `maxRecords` records, with a warning: no kernel event is that big
 *    (a huge argv makes a few hundred EXECVE records), so it is a damaged
 *    log repeating one stamp, and an event per line of it would hold the
 *    whole log in memory. Its further records form further events.
 * Interleaved and out-of-order records group correctly as long as they fall
 * within the window.
 *
 * One answer whatever the pipeline: what closes an event depends only on the
 * sequence of records, never on how the input was cut into chunks (a pipe
 * cuts it differently each run; only a quiet input, runStage, settles). Every
 * record counts and moves audit time, whatever becomes of it (folded,
 * standalone), and a consumer that skips records unread (attribute's
 * prefilter) hands each to `pass`, so its events close exactly where
 * decode's do.
 */
import type { SourceRef } from "../schema.ts";
import { detach } from "../bytes/detach.ts";
import { ByteRecord, sameBody } from "./bytes/record.ts";
import { recordTypeNumber } from "../tables/record-types.ts";
import { isAuditText, sourceOfType } from "../sources/registry.ts";
import { RecentlyClosed } from "./recently-closed.ts";
import { KeyedSerialIndex } from "./serial-index.ts";

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
  /** Close an event at this many records. Default 10000. */
  maxRecords?: number;
}

interface OpenEvent extends AssembledEvent {
  serial: number;
  hasSyscall: boolean;
  /** The record count when the event became complete (PROCTITLE after SYSCALL), or -1. */
  completeAt: number;
  closed: boolean;
  /** id and node share no memory with an input chunk (made from bytes), so need no copy to outlive it. */
  keyIsCopy: boolean;
  /** Records by body hash, once the event is too big to compare a new record with each one. */
  bodies?: Map<number, PendingRecord[]>;
}

/** What identifies an event: one string for the recently-closed check. */
function eventKey(node: string | null, id: string): string {
  return node === null ? id : `${node}\u0000${id}`;
}

/** Types whose records never share an event with others. */
export function isStandaloneType(type: string): boolean {
  if (sourceOfType(type).standalone) return true;
  const nr = recordTypeNumber(type);
  if (nr === null) return false;
  // 1100–1299 user-space and daemon messages; 2000–2999 user-space
  // anomalies, integrity and virtualisation messages written by tools.
  return (nr >= 1100 && nr < 1300) || (nr >= 2000 && nr < 3000);
}

/** The warning of a user-space record that came under the stamp of an open kernel event. */
export const STANDALONE_UNDER_OPEN_STAMP = "a user-space record under the stamp of an open kernel event (a damaged or merged log): an event of its own, and that event stays open";

/** The warnings of an event ended by a second SYSCALL record under its stamp, and of the event that SYSCALL starts. */
export const SECOND_SYSCALL_ENDS = "a second SYSCALL record came under this event's stamp (the kernel writes one per event: a damaged or merged log); this event ends before it";
export const SECOND_SYSCALL_STARTS = "this SYSCALL record came under the stamp of an event that already had one (a damaged or merged log); it starts this second event with the same id";

/** A complete event is emitted after this many further records at the latest. */
const HOLD_RECORDS = 256;
/** Open events looked at, newest first, before an index by serial is built. */
const SCAN_BEFORE_INDEX = 32;
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
  /**
   * Open events by serial, built at the first lookup the newest few events in
   * `order` cannot answer, and kept up from then on. Records mostly come in
   * stamp order and find their event as `last`: a map entry set and deleted
   * per event would be paid for nothing, at every event.
   */
  private open: KeyedSerialIndex<OpenEvent> | null = null;
  private openCount = 0;
  /** Open events in the order they opened (closed ones are skipped, and dropped from time to time): expire and flush go oldest first. */
  private order: (OpenEvent | null)[] = [];
  private orderHead = 0;
  /** The highest serial any event has had: a record above it cannot belong to an open or recently closed event. */
  private highestSerial = Number.NEGATIVE_INFINITY;
  /** The event the last record joined or opened, while it is open. */
  private last: OpenEvent | undefined;
  private readonly recentlyClosed = new RecentlyClosed();
  private newestSeconds = 0;
  /** The next SYSCALL follows one under its stamp that was passed unread (syscallBefore). */
  private syscallPassed = false;
  /** The next PROCTITLE was passed already (countedBefore). */
  private countedNext = false;
  /** A jump of audit time not yet believed (see advance), or NaN. */
  private jumpTo = Number.NaN;
  private eoeStream = false;
  private readonly windowSeconds: number;
  private readonly maxInFlight: number;
  /** Per record type: is it standalone (isStandaloneType)? Remembered: a log has a few dozen types. */
  private readonly standaloneTypes = new Map<string, boolean>();
  /** Complete events not yet emitted, in the order they completed (closed ones are skipped). */
  private complete: OpenEvent[] = [];
  private completeHead = 0;
  private recordCount = 0;
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
    this.maxRecords = options.maxRecords ?? 10_000;
  }

  /**
   * Add one record (`serial` is the id's last part); may emit zero or more
   * events. `idIsCopy`: id and node share no memory with an input chunk.
   */
  push(node: string | null, id: string, seconds: number, millis: number, record: PendingRecord, serial: number, idIsCopy = false): void {
    const counted = this.countedNext && record.type === "PROCTITLE";
    this.countedNext = false;
    if (counted) return this.place(node, id, seconds, millis, record, serial, idIsCopy);
    this.recordCount++;
    // Audit text: its stamp is audit time.
    const auditTime = isAuditText(record.type);
    if (!auditTime) {
      // A source's own record (tracefs, the kernel log's OOM report): its stamp is no audit time. It
      // moves no clock, and cannot go back before a jump, so it confirms one waiting (see advance).
      const pending = this.jumpTo;
      this.jumpTo = Number.NaN;
      if (pending === pending) this.moveClock(pending);
    }
    this.place(node, id, seconds, millis, record, serial, idIsCopy);
    this.closeDue();
    if (auditTime) this.advance(seconds);
    else if (this.openCount > this.maxInFlight) this.trimToCapacity();
  }

  /**
   * The next record, a PROCTITLE the consumer held back (attribute's
   * prefilter holds one that comes before its SYSCALL) was passed already,
   * where it stood: it is placed, not counted again, and moves no time.
   */
  countedBefore(): void {
    this.countedNext = true;
  }

  /**
   * `count` records the consumer skips unread (attribute's prefilter: they
   * cannot matter for a signal), all stamped `seconds`: each still counts and
   * moves audit time, as it would have in push, so the events around them
   * close where decode closes them. `eoe`: one is an EOE record (the stream
   * has them: PROCTITLE no longer closes events).
   */
  pass(seconds: number, eoe = false, count = 1): void {
    if (eoe) this.eoeStream = true;
    // By the second record at one time the clock has moved to it (or believed its jump): the rest only count.
    const moving = count < 2 ? count : 2;
    for (let i = 0; i < moving; i++) this.passOne(seconds);
    if (count > moving) {
      this.recordCount += count - moving;
      if (this.completeHead < this.complete.length) this.closeDue();
    }
  }

  private passOne(seconds: number): void {
    this.recordCount++;
    if (this.completeHead < this.complete.length) this.closeDue();
    // Most skipped lines: no newer time, no jump waiting (advance would do nothing else).
    if (seconds <= this.newestSeconds && this.jumpTo !== this.jumpTo) {
      if (this.openCount > this.maxInFlight) this.trimToCapacity();
      return;
    }
    this.advance(seconds);
  }

  /**
   * The next record, a SYSCALL, follows one under its stamp that the
   * consumer passed unread (a read before a kill, in a damaged log): it
   * starts a second event, as it would have had that one been pushed.
   */
  syscallBefore(): void {
    this.syscallPassed = true;
  }

  /** The record into its event (found, opened, or none for a standalone record); closes what it completes. */
  private place(node: string | null, id: string, seconds: number, millis: number, record: PendingRecord, serial: number, idIsCopy: boolean): void {
    const type = record.type;
    let standalone = this.standaloneTypes.get(type);
    if (standalone === undefined) this.standaloneTypes.set(type, (standalone = isStandaloneType(type)));
    // Past 2^53 two spellings of one id may parse to different numbers: one bucket for them all.
    if (!Number.isSafeInteger(serial)) serial = -1;
    let event: OpenEvent | undefined;
    const last = this.last;
    // Serials mostly rise: above the highest seen, no event, open or closed, can be this record's.
    const seenSerial = serial <= this.highestSerial;
    if (last !== undefined && last.serial === serial && last.seconds === seconds && last.millis === millis && last.node === node && last.id === id) {
      event = last;
    } else if (seenSerial) {
      event = this.findOpen(node, id, serial);
    }
    if (standalone) {
      // A user-space message is an event of its own; one under an open event's stamp (a merged or damaged log) leaves that event open.
      this.emit(event === undefined ? { node, id, seconds, millis, records: [record] } : { node, id, seconds, millis, records: [record], warnings: [STANDALONE_UNDER_OPEN_STAMP] });
      return;
    }
    if (type === "EOE") this.eoeStream = true;
    const syscallPassed = this.syscallPassed;
    this.syscallPassed = false;
    if (type === "SYSCALL" && (syscallPassed || (event !== undefined && event.hasSyscall && !this.isDuplicate(event, record)))) {
      // Two calls under one stamp (a damaged or merged log): each keeps its own event.
      if (event !== undefined) {
        (event.warnings ??= []).push(SECOND_SYSCALL_ENDS);
        this.close(event);
      } else if (!seenSerial) this.highestSerial = serial;
      event = this.openEvent(node, id, seconds, millis, serial, idIsCopy, SECOND_SYSCALL_STARTS);
      // Its body index (if any) went with the closed event: the new one starts empty.
      event.records.push(record);
      event.hasSyscall = true;
      this.last = event;
      return;
    }
    if (event === undefined) {
      const wasClosed = seenSerial && this.recentlyClosed.has(serial, eventKey(node, id));
      if (!seenSerial) this.highestSerial = serial;
      if (type === "EOE" && wasClosed) {
        this.lateEoe++;
        return;
      }
      event = this.openEvent(node, id, seconds, millis, serial, idIsCopy, wasClosed ? "records of this event arrived after it was closed; they form a second event with the same id" : null);
    }
    this.last = event;
    if (this.isDuplicate(event, record)) {
      this.duplicates++;
      return;
    }
    event.records.push(record);
    if (type === "SYSCALL") event.hasSyscall = true;
    if (type === "EOE") {
      this.close(event);
    } else if (event.records.length >= this.maxRecords) {
      (event.warnings ??= []).push(`closed at ${this.maxRecords} records, more than any kernel event has; further records with this id form further events`);
      this.close(event);
    } else if (((type === "PROCTITLE" && event.hasSyscall) || type === "ANOM_ABEND") && !this.eoeStream && event.completeAt < 0) {
      // ANOM_ABEND is written as the signal is delivered, in an event of its own: complete as it comes, like a kill's PROCTITLE.
      event.completeAt = this.recordCount;
      this.complete.push(event);
    }
  }

  private openEvent(node: string | null, id: string, seconds: number, millis: number, serial: number, idIsCopy: boolean, warning: string | null): OpenEvent {
    const event: OpenEvent = { node, id, seconds, millis, records: [], serial, hasSyscall: false, completeAt: -1, closed: false, keyIsCopy: idIsCopy };
    if (warning !== null) event.warnings = [warning];
    this.openCount++;
    this.order.push(event);
    if (this.order.length - this.orderHead > 2 * this.openCount + 1024) this.compactOrder();
    this.open?.set(event.serial, event);
    return event;
  }

  /**
   * Audit time is the newest record's, once believed: a jump of more than
   * the window waits for the next record, which confirms it unless it goes
   * back before it (then the jumping stamp was damaged). One record with a
   * damaged stamp ahead would otherwise close the events around it early,
   * or, far ahead, stop every event from closing by time (all the rest
   * would be "old").
   */
  private advance(seconds: number): void {
    const pending = this.jumpTo;
    if (pending === pending) {
      this.jumpTo = Number.NaN;
      if (seconds >= pending - this.windowSeconds) this.moveClock(pending);
    }
    if (seconds > this.newestSeconds) {
      if (seconds - this.newestSeconds > this.windowSeconds) this.jumpTo = seconds;
      else this.moveClock(seconds);
    }
    if (this.openCount > this.maxInFlight) this.trimToCapacity();
  }

  private moveClock(seconds: number): void {
    if (seconds <= this.newestSeconds) return;
    this.newestSeconds = seconds;
    this.expire();
  }

  private findOpen(node: string | null, id: string, serial: number): OpenEvent | undefined {
    if (this.open === null) {
      const order = this.order;
      const oldest = Math.max(this.orderHead, order.length - SCAN_BEFORE_INDEX);
      for (let i = order.length - 1; i >= oldest; i--) {
        const event = order[i];
        if (event && !event.closed && event.serial === serial && event.id === id && event.node === node) return event;
      }
      if (oldest === this.orderHead) return undefined;
      const open = new KeyedSerialIndex<OpenEvent>(this.openCount, (event) => eventKey(event.node, event.id));
      for (const event of this.openEvents()) open.set(event.serial, event);
      this.open = open;
    }
    return this.open.get(serial, eventKey(node, id));
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

  /**
   * The input has gone quiet (runStage: no chunk for a while, as on a live
   * pipe): emit the events known to be complete now rather than after
   * HOLD_RECORDS more records. Never called per chunk: chunk boundaries
   * vary run to run on a pipe, and grouping and order must not.
   */
  settle(): void {
    for (let i = this.completeHead; i < this.complete.length; i++) {
      const event = this.complete[i]!;
      if (!event.closed) this.close(event);
    }
    this.complete = [];
    this.completeHead = 0;
  }

  /** End of input: emit the complete events (as settle does), then everything still open, oldest first. */
  flush(): void {
    this.settle();
    for (const event of this.openEvents()) this.close(event);
    this.order = [];
    this.orderHead = 0;
  }

  /** Complete events that HOLD_RECORDS further records did not join: emit them. */
  private closeDue(): void {
    const complete = this.complete;
    while (this.completeHead < complete.length) {
      const event = complete[this.completeHead]!;
      if (!event.closed) {
        if (event.completeAt + HOLD_RECORDS > this.recordCount) break;
        this.close(event);
      }
      this.completeHead++;
    }
    // Let the emitted events go: only a quiet input settles (and empties the queue), a busy one may never.
    if (this.completeHead >= 1024 && this.completeHead * 2 >= complete.length) {
      this.complete = complete.slice(this.completeHead);
      this.completeHead = 0;
    }
  }

  /**
   * Audit time moved: every open event older than the window closes, each
   * judged by its own stamp alone, not stopped at a younger one opened
   * before it, so that events only decode sees (the records attribute's
   * prefilter skips) change nothing for the others. An event stamped ahead
   * of audit time (a damaged stamp the clock did not follow) waits for the
   * clock, or for the end.
   */
  private expire(): void {
    const horizon = this.newestSeconds - this.windowSeconds;
    const order = this.order;
    for (let i = this.orderHead; i < order.length; i++) {
      const event = order[i];
      if (event && !event.closed && event.seconds < horizon) this.close(event);
    }
    this.dropClosedHead();
  }

  /** More than maxInFlight open: the oldest go, whatever their time. */
  private trimToCapacity(): void {
    const order = this.order;
    while (this.openCount > this.maxInFlight && this.orderHead < order.length) {
      const event = order[this.orderHead];
      if (event && !event.closed) this.close(event);
      order[this.orderHead++] = null;
    }
    this.dropClosedHead();
  }

  /** Passed closed events at the head of `order`: let them go, and now and then the slots they held. */
  private dropClosedHead(): void {
    const order = this.order;
    while (this.orderHead < order.length) {
      const event = order[this.orderHead];
      if (event && !event.closed) break;
      order[this.orderHead++] = null;
    }
    if (this.orderHead > 4096 && this.orderHead * 2 > order.length) this.compactOrder();
  }

  /** Drop closed events from `order`: more of them than open ones piled up behind an old open event. */
  private compactOrder(): void {
    this.order = this.openEvents();
    this.orderHead = 0;
  }

  /** The open events in `order`, oldest first. */
  private openEvents(): OpenEvent[] {
    const open: OpenEvent[] = [];
    for (let i = this.orderHead; i < this.order.length; i++) {
      const event = this.order[i];
      if (event && !event.closed) open.push(event);
    }
    return open;
  }

  private close(event: OpenEvent): void {
    event.closed = true;
    event.bodies = undefined;
    if (this.last === event) this.last = undefined;
    // None open: the next disorder builds the index again, from nothing.
    if (--this.openCount === 0) this.open = null;
    else this.open?.delete(event.serial, event);
    const key = eventKey(event.node, event.id);
    // A copy: the key may be a slice of its input chunk, and the ring outlives the chunk.
    this.recentlyClosed.add(event.serial, event.keyIsCopy ? key : detach(key));
    // The open event itself (it is an AssembledEvent): closed, it is never touched again.
    this.emit(event);
  }
}
