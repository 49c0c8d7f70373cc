/**
 * A source's own record as an event line (SourceSpec.interpret,
 * lib/sources/registry.ts): the shape every such source shares, so that a
 * source module says only what its record holds.
 */
import type { AssembledEvent, PendingRecord } from "../audit/assemble.ts";
import { newFieldMap } from "../audit/fields.ts";
import type { DecodedRecord, EventLine, ProcessInfo, SignalInfo, SignalOrigin, SyscallInfo, TargetInfo } from "../schema.ts";

/** The record as an event shows it: its raw text and where it was read, with fields for the source to fill in. */
export function ownRecord(record: PendingRecord): DecodedRecord {
  const decoded: DecodedRecord = { type: record.type, fields: newFieldMap(), decoded: newFieldMap(), raw: record.raw };
  if (record.source) decoded.source = record.source;
  return decoded;
}

/** A record its source could not read: an event with no signal, saying why. */
export function unreadRecordEvent(event: AssembledEvent, record: DecodedRecord, time: string | null, problem: string): EventLine {
  record.warnings = [problem];
  return {
    kind: "event", id: event.id, node: event.node, time, type: record.type, syscall: null, process: null,
    proctitle: null, targets: [], key: null, records: [record], warnings: [`${record.type}: ${problem}`],
  };
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
  return {
    kind: "event",
    id: event.id,
    node: event.node,
    time,
    type: record.type,
    syscall: { arch: null, nr: null, name: null, success: own.success, exit: null, errno: own.errno, args: [], signal: own.signal, target: own.target },
    process: own.process,
    proctitle: null,
    targets: [own.victim],
    key: null,
    ...(own.origin ? { origin: own.origin } : {}),
    records: [record],
  };
}
