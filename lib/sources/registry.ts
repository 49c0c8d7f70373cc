/**
 * Every input source whokilled reads, and what sets each apart, in one table:
 * the rest of lib asks here instead of naming a source. Adding a source is one
 * module under lib/sources/ that exports its SourceSpec (its record types,
 * how its records become events and how its events' signals are finished)
 * plus one entry in SOURCES (docs/ARCHITECTURE.md, "Sources").
 *
 * Nothing here runs while modules load but the lookup tables, so any module
 * can import it.
 */
import type { AssembledEvent, PendingRecord } from "../audit/assemble.ts";
import type { IdScope } from "../audit/ids.ts";
import { bytesAre } from "../bytes/json.ts";
import type { EventLine, SignalLine } from "../schema.ts";
import { JOURNAL_SOURCE } from "./journal-systemd.ts";
import { KERNEL_LOG_SOURCE } from "./kernel-oom.ts";
import { TRACEFS_SOURCE } from "./tracefs-line.ts";
import { TRACEPOINTS_SOURCE } from "./tracepoints.ts";

/** What `signal.source` says: one name per SOURCES entry. */
export type SourceName = "audit" | "tracefs" | "kernel-log" | "journal" | "tracepoints";

export interface SourceSpec {
  /** What `signal.source` says for this source's signals. */
  readonly name: SourceName;
  /** How people read it (reports, tables). */
  readonly label: string;
  /**
   * Record types this source defines itself. Their raw text is not audit
   * text: byte paths decline them, the prefilter keeps them, and they are
   * always interpreted, by the source's own rules.
   */
  readonly ownRecordTypes: readonly string[];
  /** Each of its records is an event of its own (no stamp to group by). */
  readonly standalone: boolean;
  /** Its signals name the task running when the kernel sent them, not a sender (not a process sighting). */
  readonly kernelTrace: boolean;
  /** Its signals' killer and victims are processes the stream saw: the killer's ancestry and the victims' parents are looked up. */
  readonly streamAncestry: boolean;
  /** `source.file` names of its live readers: always this host's. */
  readonly liveFiles: readonly string[];
  /**
   * One of its own records as an event line (lib/audit/interpret.ts dispatches here); audit text is read by the audit grammar.
   * `ids` names the uids of the event's host, as audit's are named (ids.ts: only where the input is this host's, or a passwd was given).
   */
  readonly interpret?: (event: AssembledEvent, record: PendingRecord, ids: IdScope) => EventLine;
  /** Its signal line, as eventToSignal made it from the event, finished in place (the real killer, the cause). */
  readonly finishSignal?: (line: SignalLine, event: EventLine) => void;
}

export const SOURCES: readonly SourceSpec[] = [
  {
    name: "audit",
    label: "audit",
    ownRecordTypes: [],
    standalone: false,
    kernelTrace: false,
    streamAncestry: true,
    liveFiles: ["netlink"],
  },
  TRACEFS_SOURCE,
  KERNEL_LOG_SOURCE,
  JOURNAL_SOURCE,
  TRACEPOINTS_SOURCE,
];

/** Audit text: every record not of a source's own type. */
export const AUDIT_SOURCE: SourceSpec = SOURCES[0]!;

const byOwnType = new Map<string, SourceSpec>(SOURCES.flatMap((spec) => spec.ownRecordTypes.map((type) => [type, spec] as const)));
const liveFiles = new Set(SOURCES.flatMap((spec) => spec.liveFiles));

/** The source a record type belongs to: a source's own type, else audit. */
export function sourceOfType(type: string): SourceSpec {
  return byOwnType.get(type) ?? AUDIT_SOURCE;
}

/** Is a record of this type audit text (parsed by the audit grammar), not a source's own record? */
export function isAuditText(type: string): boolean {
  return !byOwnType.has(type);
}

/** The source a signal line names. */
export function sourceNamed(name: SourceName): SourceSpec {
  return SOURCES.find((spec) => spec.name === name) ?? AUDIT_SOURCE;
}

/** Is `source.file` one of capture's live readers (always this host's)? */
export function isLiveFile(file: string): boolean {
  return liveFiles.has(file);
}

/** The sources' own record type names as bytes, for byte paths that match a type in place. */
const OWN_TYPE_PREFIXES: readonly Uint8Array[] = [...byOwnType.keys()].map((type) => Buffer.from(type, "latin1"));

/** Is bytes[start, end) exactly one of the sources' own record type names? */
export function isOwnRecordTypeAt(bytes: Uint8Array, start: number, end: number): boolean {
  for (const name of OWN_TYPE_PREFIXES) if (bytesAre(bytes, start, end, name)) return true;
  return false;
}
