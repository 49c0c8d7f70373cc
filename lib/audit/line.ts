/**
 * Raw input line → what kind of line it is, and for audit records the parts
 * every later stage needs (type, node, stamp, where the fields start).
 *
 * Forms recognised (all seen in the corpus or on this machine):
 *   type=SYSCALL msg=audit(1285245427.433:22): arch=…          audit.log RAW / ausearch --raw
 *   … a 0x1d byte then UPPERCASE fields                          audit.log ENRICHED
 *   node=web1 type=SYSCALL msg=audit(…): …                       name_format / remote logging
 *   ----   and   time->Thu Sep 23 14:37:07 2010                  ausearch default output
 *   [ 440.41] audit: type=1300 audit(…): …                       dmesg
 *   Nov 29 06:55:00 host kernel: audit: type=1300 audit(…): …    journalctl -k / syslog
 *   # comment                                                    fixtures, laurel test files
 *
 * A kernel log's other lines (`[ 12.345] usb 1-1: …`, `Nov 29 06:55:00 host
 * kernel: …`, journalctl's `-- Boot … --`) are "not-audit": sound lines that
 * hold no record, skipped and counted, never errors (see KERNEL_LOG_LINE;
 * the indented lines that continue one are told by InputErrors.skipOrReport).
 *
 * Only the prefix is examined here; the fields are parsed lazily downstream.
 */
import { detach } from "../bytes/detach.ts";
import { bytesAre } from "../bytes/json.ts";
import { recordTypeName } from "../tables/record-types.ts";
import { JOURNAL_TEXT, JOURNAL_TEXT_ERROR } from "./journal.ts";
import { MAX_STAMP_SECONDS } from "./spelling.ts";

export type LineKind = "record" | "blank" | "comment" | "separator" | "time" | "not-audit" | "invalid";

export interface ParsedLine {
  kind: LineKind;
  /** Record type name (numeric types from kernel-log forms are named). */
  type?: string;
  node?: string | null;
  /** `SEC.MS:SERIAL` */
  id?: string;
  seconds?: number;
  millis?: number;
  serial?: number;
  /** Index in the line where the record's fields begin (after `): `). */
  bodyStart?: number;
  /** Why an invalid line is invalid. */
  error?: string;
  /**
   * An invalid line that starts with blank space and holds no `type=`: the
   * rest of a kernel message of several lines, as dmesg prints it (indented
   * under the first), when the line before it was a kernel log's line
   * (InputErrors.skipOrReport decides, knowing that line).
   */
  indented?: true;
}

/** Classify one line (without its newline). Never throws. */
export function parseLine(text: string): ParsedLine {
  const first = text.charCodeAt(0);
  if (text.length === 0 || (first <= 0x20 && text.trim() === "")) return { kind: "blank" };
  // Fast path: a plain audit.log line.
  if (text.startsWith("type=")) return parseRecordAt(text, 0, null);
  if (text.startsWith("node=")) {
    const space = text.indexOf(" ");
    if (space > 5 && text.startsWith("type=", space + 1)) return parseRecordAt(text, space + 1, text.slice(5, space));
  }
  if (first === 0x23 /* # */) return { kind: "comment" };
  if (text.startsWith("----")) return { kind: "separator" };
  if (text.startsWith("time->")) return { kind: "time" };
  // Kernel-log and syslog wrappers: the record starts at "type=" after an
  // "audit" marker, possibly after "node=…".
  const typeAt = findWrappedType(text);
  if (typeAt >= 0) {
    const nodeMatch = /(?:^|\s)node=(\S+) $/.exec(text.slice(Math.max(0, typeAt - 256), typeAt));
    return parseRecordAt(text, typeAt, nodeMatch ? nodeMatch[1]! : null);
  }
  if (JOURNAL_TEXT.test(text)) return { kind: "invalid", error: JOURNAL_TEXT_ERROR };
  if (KERNEL_LOG_LINE.test(text)) {
    // A record the kernel printed, cut before its type (`audit: audit(…)`), is damage, not another message.
    if (KERNEL_AUDIT_STAMP.test(text)) return { kind: "invalid", error: "kernel-log audit record without its type=…" };
    return { kind: "not-audit" };
  }
  const error = "not an audit record (no type=… msg=audit(…) stamp)";
  // An indented line with a stamp is an audit record out of place (quoted, pasted), never a kernel message's rest.
  return (first === 0x20 || first === 0x09) && !text.includes("audit(") ? { kind: "invalid", error, indented: true } : { kind: "invalid", error };
}

/**
 * The stamp prefixes of a kernel log's lines, once: KERNEL_LOG_LINE below
 * classifies by them and lib/sources/kernel-oom.ts `kernelLogStamp` reads
 * the stamp and message by them, so every line classed a kernel log's is
 * one the stamp reader reads. The capture groups are kernelLogStamp's.
 */
export const KERNEL_LOG_PREFIX = {
  // dmesg: [    0.268578] …, -r <6>[…] …, -x "kern  :info  : […] …", -T [Mon Dec  7 00:36:12 2025] …
  // (journalctl -k -o short-monotonic starts the same way); 1: the seconds since boot
  dmesg: String.raw`^(?:<\d+>|[a-z]+ *:[a-z]+ *: )?\[(?:\s*(\d+\.\d+)|[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4})\](?: |$)`,
  // dmesg --time-format iso: 2025-12-07T00:36:12,123456+00:00 …; 1: the time, 2: its fraction, 3: its zone
  dmesgIso: String.raw`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d),(\d+)([+-]\d\d:\d\d) `,
  // syslog, kern.log and journalctl -k: STAMP [HOST] kernel: … (RFC 3339 stamps with their zone or,
  // as some syslog templates write them, without); 1: an ISO time, 2: its zone, 3: unix seconds
  syslog: String.raw`^(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?|(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)(Z|[+-]\d\d:?\d\d)?|[A-Z][a-z]{2} \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+|(\d+)\.\d+)(?: \S+)? kernel: `,
} as const;

/**
 * A line of a kernel log that is not an audit record: the kernel's other
 * messages as `dmesg` (also -r, -T, -x), kern.log/syslog (classic and
 * RFC 3339 stamps) and `journalctl -k` (short, -precise, -iso, -full,
 * -monotonic, -unix, --no-hostname) print them, and journalctl's own
 * `-- Boot … --` lines. The syslog forms must carry the `kernel:` tag, so
 * another program's lines in /var/log/syslog are not taken for these. Only
 * reached for lines that hold no `type=` record (parseLine tries that
 * first), so a damaged audit record is never excused as one of these.
 */
const KERNEL_LOG_LINE = new RegExp(
  [
    KERNEL_LOG_PREFIX.dmesg,
    KERNEL_LOG_PREFIX.dmesgIso,
    KERNEL_LOG_PREFIX.syslog,
    // journalctl's own lines: -- Boot 0f3c… --, -- No entries --, -- Logs begin at … --
    String.raw`^-- .+ --$`,
  ].join("|"),
);
const KERNEL_AUDIT_STAMP = /\baudit\(\d+\.\d+:\d+\)/;

function findWrappedType(text: string): number {
  let from = 0;
  for (;;) {
    const at = text.indexOf("type=", from);
    if (at < 0) return -1;
    if ((at === 0 || text.charCodeAt(at - 1) === 0x20) && /audit|node=/.test(text.slice(0, at))) return at;
    from = at + 5;
  }
}

/**
 * Type names by their spelling in the line, in a small direct-mapped cache:
 * every line goes through here, and a hit costs neither a slice nor a
 * lookup by string. The names kept are copies (lib/bytes/detach.ts `detach`), so
 * all records of a type share one string that pins no input chunk.
 */
const TYPE_SLOTS = 256;
const typeSpellings: (string | undefined)[] = new Array(TYPE_SLOTS);
const typeNames: string[] = new Array(TYPE_SLOTS);
/** A type spelled as a number (kernel-log forms) or as auditd's UNKNOWN[N]. */
const NUMBERED_TYPE = /^(?:([0-9]+)|UNKNOWN\[([0-9]+)\])$/;

function recordType(text: string, start: number, end: number): string {
  let hash = end - start;
  for (let i = start; i < end; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  const slot = (hash ^ (hash >>> 8)) & (TYPE_SLOTS - 1);
  const spelled = typeSpellings[slot];
  if (spelled !== undefined && spelled.length === end - start && text.startsWith(spelled, start)) return typeNames[slot]!;
  const raw = detach(text.slice(start, end));
  // Kernel-log forms number the type; auditd writes UNKNOWN[N] for numbers
  // it has no name for. Name them when we know the number, as ausearch does.
  const numbered = NUMBERED_TYPE.exec(raw);
  const type = numbered === null ? raw : recordTypeName(Number(numbered[1] ?? numbered[2]));
  typeSpellings[slot] = raw;
  typeNames[slot] = type;
  return type;
}

/**
 * recordType for a line read as bytes: the same names from the same kind of
 * cache. null for spellings recordType renames (numbers, UNKNOWN[N]): the
 * caller then takes the string way.
 */
export class TypeNames {
  private readonly spellings: (Buffer | undefined)[] = new Array(TYPE_SLOTS);
  private readonly names: string[] = new Array(TYPE_SLOTS);

  name(bytes: Uint8Array, start: number, end: number): string | null {
    let hash = end - start;
    for (let i = start; i < end; i++) hash = (Math.imul(hash, 31) + bytes[i]!) | 0;
    const slot = (hash ^ (hash >>> 8)) & (TYPE_SLOTS - 1);
    const spelled = this.spellings[slot];
    if (spelled !== undefined && bytesAre(bytes, start, end, spelled)) return this.names[slot]!;
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1", start, end);
    if (NUMBERED_TYPE.test(text) || text.startsWith("UNKNOWN[")) return null;
    this.spellings[slot] = Buffer.from(bytes.subarray(start, end));
    this.names[slot] = text;
    return text;
  }
}

/**
 * `ausearch -i` prints the stamp as a local date and time
 * (`09/23/10 12:37:07.433:22`, the date in the locale's form) and every value
 * translated: `a1=SIGKILL`, `uid=root`, `exit=ESRCH(No such process)`. The
 * raw numbers are gone, so such lines are refused with a message that says
 * what they are and what to feed instead.
 */
const INTERPRETED_STAMP = / \d{1,2}:\d\d:\d\d\.\d{3}:\d+$/;

function interpretedStampError(stamp: string): string {
  return `interpreted audit stamp (${stamp}): this is \`ausearch -i\` output, whose raw values are gone; run ausearch with --raw, or without -i`;
}

function parseRecordAt(text: string, typeAt: number, node: string | null): ParsedLine {
  const typeStart = typeAt + 5;
  const typeEnd = text.indexOf(" ", typeStart);
  if (typeEnd < 0) return { kind: "invalid", error: "record has a type but no audit(…) stamp" };
  if (typeEnd === typeStart) return { kind: "invalid", error: "empty record type" };
  const type = recordType(text, typeStart, typeEnd);
  // `msg=audit(` in audit.log, bare `audit(` in kernel-log forms.
  let stampAt = typeEnd + 1;
  if (text.startsWith("msg=", stampAt)) stampAt += 4;
  if (!text.startsWith("audit(", stampAt)) return { kind: "invalid", type, error: "record has no audit(…) stamp after its type" };
  const open = stampAt + 6;
  const close = text.indexOf(")", open);
  if (close < 0) return { kind: "invalid", type, error: "unterminated audit(…) stamp" };
  // SECONDS.MILLIS:SERIAL, read in one pass (every input line goes through here).
  let seconds = 0;
  let millis = 0;
  let serial = 0;
  let part = 0;
  let digits = 0;
  for (let i = open; i < close; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      const d = c - 0x30;
      if (part === 0) seconds = seconds * 10 + d;
      else if (part === 1) millis = millis * 10 + d;
      else serial = serial * 10 + d;
      digits++;
    } else if (digits > 0 && ((part === 0 && c === 0x2e) || (part === 1 && c === 0x3a))) {
      part++;
      digits = 0;
    } else {
      part = -1;
      break;
    }
  }
  if (part !== 2 || digits === 0) {
    const stampText = text.slice(open, close);
    return { kind: "invalid", type, error: INTERPRETED_STAMP.test(stampText) ? interpretedStampError(stampText) : `malformed audit stamp (${stampText})` };
  }
  if (seconds > MAX_STAMP_SECONDS) return { kind: "invalid", type, error: `audit stamp out of range (${text.slice(open, close)})` };
  let bodyStart = close + 1;
  if (text.charCodeAt(bodyStart) === 0x3a /* : */) bodyStart++;
  while (text.charCodeAt(bodyStart) === 0x20) bodyStart++;
  return { kind: "record", type, node, id: text.slice(open, close), seconds, millis, serial, bodyStart };
}

/** Parse a `SEC.MS:SERIAL` id. */
export function parseId(id: string): { seconds: number; millis: number; serial: number } | null {
  const match = /^(\d+)\.(\d+):(\d+)$/.exec(id);
  if (!match) return null;
  return { seconds: Number(match[1]), millis: Number(match[2]), serial: Number(match[3]) };
}
