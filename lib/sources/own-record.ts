/**
 * A source's own record as an event line (SourceSpec.interpret,
 * lib/sources/registry.ts): the shape every such source shares, so that a
 * source module says only what its record holds.
 */
import type { AssembledEvent, PendingRecord } from "../audit/assemble.ts";
import { newFieldMap } from "../audit/fields.ts";
import type { DecodedRecord, EventLine, ProcessInfo, RecordLine, SignalInfo, SignalOrigin, SourceRef, SyscallInfo, TargetInfo } from "../schema.ts";

/** The record as an event shows it: its raw text and where it was read, with fields for the source to fill in. */
export function ownRecord(record: PendingRecord): DecodedRecord {
  const decoded: DecodedRecord = { type: record.type, fields: newFieldMap(), decoded: newFieldMap(), raw: record.raw };
  if (record.source) decoded.source = record.source;
  return decoded;
}

/**
 * A source's own record as a `record` line. Its id reads as audit time
 * (`SEC.MS:SERIAL`) only when its wall time `ms` is known, else `untimed:SERIAL`,
 * so nothing takes it for a date.
 */
export function ownRecordLine(type: string, raw: string, source: SourceRef, serial: number, ms: number | null, untimed = ""): RecordLine {
  if (ms === null) return { kind: "record", type, id: `${untimed}:${serial}`, node: null, raw, source };
  const id = `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}:${serial}`;
  return { kind: "record", type, id, node: null, raw, source, time: new Date(ms).toISOString() };
}

/** The event of one record with no signal: what a source's interpret starts from. */
export function ownEvent(event: AssembledEvent, record: DecodedRecord, time: string | null): EventLine {
  return { kind: "event", id: event.id, node: event.node, time, type: record.type, syscall: null, process: null, proctitle: null, targets: [], key: null, records: [record] };
}

/** A record its source could not read: an event with no signal, saying why. */
export function unreadRecordEvent(event: AssembledEvent, record: DecodedRecord, time: string | null, problem: string): EventLine {
  record.warnings = [problem];
  return { ...ownEvent(event, record, time), warnings: [`${record.type}: ${problem}`] };
}

/** What a source's record says of its signal. */
export interface OwnSignal {
  success: boolean;
  errno: string | null;
  signal: SignalInfo;
  target: NonNullable<SyscallInfo["target"]>;
  /** The task the record names as sending it, if any. */
  process: ProcessInfo | null;
  victim: TargetInfo;
  origin?: SignalOrigin;
}

/** The signal a source's record tells of, as an event: no syscall, its sender (if any) as the process, one victim. */
export function ownSignalEvent(event: AssembledEvent, record: DecodedRecord, time: string | null, own: OwnSignal): EventLine {
  const syscall = { arch: null, nr: null, name: null, success: own.success, exit: null, errno: own.errno, args: [], signal: own.signal, target: own.target };
  // `records` stays last, after `origin`: an event line's members keep one order.
  const { records, ...head } = ownEvent(event, record, time);
  return { ...head, syscall, process: own.process, targets: [own.victim], ...(own.origin ? { origin: own.origin } : {}), records };
}
