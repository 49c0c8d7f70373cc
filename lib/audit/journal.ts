/**
 * Audit records kept by systemd-journald, as `journalctl -o json` prints
 * them (one JSON object a line). Where no auditd runs, journald can read the
 * kernel's audit multicast group itself (systemd-journald-audit.socket), and
 * unlike the kernel log (`journalctl -k`, printk) it is not rate-limited.
 *
 * journald keeps each record whole but takes its stamp apart (see
 * process_audit_string in systemd's journald-audit.c):
 *
 *   MESSAGE                     "<TYPE NAME> <fields as the kernel wrote them>"
 *   _AUDIT_TYPE                 the record type number (1300)
 *   _AUDIT_ID                   the stamp's serial
 *   _SOURCE_REALTIME_TIMESTAMP  the stamp's seconds and milliseconds, in µs
 *   _TRANSPORT                  "audit"
 *
 * so the record as auditd would have written it is put back together:
 * `type=SYSCALL msg=audit(1700000000.100:10): arch=…`. Values are strings,
 * or arrays of bytes where journald holds something not UTF-8.
 */
import { recordTypeName } from "../tables/record-types.ts";
import { journalMicrosToMs } from "./spelling.ts";
import type { JournalEntry } from "../sources/journal-systemd.ts";

/**
 * An audit record's text, an error, or an entry of another transport: the
 * journal source's record when it is one of systemd's messages
 * (lib/sources/journal-systemd.ts `journalRecord` decides, once), else no record.
 */
export type JournalRecord = { text: string } | { error: string } | { entry: JournalEntry };

/**
 * A parsed JSON value as a journal entry: its audit record (or the error),
 * an entry of another transport, null for a kernel message the entry lacks
 * (no record), undefined when it is no journal entry at all (then it is
 * some other JSON line).
 */
export function journalRecordOf(value: unknown): JournalRecord | null | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  if (!("_TRANSPORT" in value || "__CURSOR" in value)) return undefined;
  return journalAuditRecord(value as Record<string, unknown>);
}

const utf8 = new TextDecoder("utf-8");

/** A journal field's value as text: a string, or journald's array of bytes (where not UTF-8). */
export function fieldText(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    return utf8.decode(Uint8Array.from(value as number[]));
  }
  return null;
}

const DIGITS = /^\d{1,19}$/;

/**
 * A journal entry → the audit record text, or an error saying what is
 * missing; a kernel message as its kern.log line (null when it lacks one);
 * an entry of another transport as it is (not an audit record).
 */
export function journalAuditRecord(entry: Record<string, unknown>): JournalRecord | null {
  if (entry._TRANSPORT === "kernel") return journalKernelLine(entry);
  if (entry._TRANSPORT !== "audit") return { entry };
  const message = fieldText(entry.MESSAGE);
  const type = fieldText(entry._AUDIT_TYPE);
  const serial = fieldText(entry._AUDIT_ID);
  const micros = fieldText(entry._SOURCE_REALTIME_TIMESTAMP);
  if (message === null) return { error: "journal audit entry without a MESSAGE" };
  if (type === null || !DIGITS.test(type)) return { error: "journal audit entry without a numeric _AUDIT_TYPE" };
  if (serial === null || !DIGITS.test(serial)) return { error: "journal audit entry without a numeric _AUDIT_ID" };
  if (micros === null || !DIGITS.test(micros)) return { error: "journal audit entry without _SOURCE_REALTIME_TIMESTAMP (the record's own time)" };
  const space = message.indexOf(" ");
  const fields = space < 0 ? "" : message.slice(space + 1);
  const ms = BigInt(micros) / 1000n;
  const stamp = `${ms / 1000n}.${String(ms % 1000n).padStart(3, "0")}:${serial}`;
  return { text: `type=${recordTypeName(Number(type))} msg=audit(${stamp}): ${fields}` };
}

/**
 * `journalctl -k -o json`: a kernel message as the kern.log line it stands
 * for (`2026-12-07T00:36:12.100000+00:00 host kernel: MESSAGE`, the form
 * lib/sources/kernel-oom.ts reads), so the OOM killer's report there is read
 * as in any kernel log; null for a message or time the entry lacks.
 */
function journalKernelLine(entry: Record<string, unknown>): JournalRecord | null {
  const message = fieldText(entry.MESSAGE);
  const micros = fieldText(entry.__REALTIME_TIMESTAMP);
  const ms = journalMicrosToMs(micros);
  if (message === null || micros === null || !DIGITS.test(micros)) return null;
  if (ms === null) return { error: `journal kernel entry whose __REALTIME_TIMESTAMP (${micros} µs) is past what a date can hold` };
  const us = BigInt(micros);
  const iso = new Date(ms).toISOString().slice(0, 19);
  const host = fieldText(entry._HOSTNAME) ?? "localhost";
  return { text: `${iso}.${String(us % 1000000n).padStart(6, "0")}+00:00 ${host.replace(/\s/g, "_")} kernel: ${message}` };
}

/**
 * `journalctl` without `-o json` (`Nov 29 11:00:00 host audit[1234]: SYSCALL
 * arch=…`, or `-o short-iso`): no stamp to group records by.
 */
export const JOURNAL_TEXT = /^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) \S+ audit(\[\d+\])?: [A-Z_]+ /;

export const JOURNAL_TEXT_ERROR =
  "journalctl's text output: the audit stamp (time and serial) is not in it; read the journal with `journalctl -o json _TRANSPORT=audit`";

/**
 * journalctl's other text forms, as `--journal` meets them: the short ones
 * (`Dec 07 02:01:30 host systemd[1]: …`, -precise, -iso, -iso-precise,
 * -full, -monotonic, -unix), its `-- Boot … --` markers and -o verbose's
 * indented fields. They lack the fields the journal source reads (who
 * logged it: _COMM, _PID; the unit; the time to the microsecond).
 */
const JOURNALCTL_STAMP = String.raw`(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?|[A-Z][a-z]{2} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+|\[\s*\d+\.\d+\]|\d+\.\d+)`;
export const JOURNALCTL_TEXT = new RegExp(String.raw`^(?:${JOURNALCTL_STAMP} \S|-- .* --$| {4}[A-Z_][A-Z0-9_]*=)`);

export const JOURNALCTL_TEXT_ERROR =
  "journalctl's text output, without the fields the journal is read by (who logged it: _COMM, _PID; the time to the microsecond): read the journal with `journalctl -o json` or `journalctl -o export`";
