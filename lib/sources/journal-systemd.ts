/**
 * The systemd journal's word on how a process ended, as records of their
 * own: what systemd (PID 1 or a user manager) and systemd-oomd log when they
 * kill, and what systemd saw of a unit's main process ending. Read from
 * `journalctl -o json` (one JSON object a line) and from the export format
 * (`journalctl -o export`: `KEY=VALUE` lines, an empty line after each entry).
 *
 * The messages, as systemd writes them (src/core/unit.c, service.c, scope.c,
 * src/oom/oomd-manager.c), with the unit as prefix:
 *
 *   UNIT: State 'stop-sigterm' timed out. Killing.          SYSTEMD_STOP_TIMEOUT
 *   UNIT: Stopping timed out. Killing.                      SYSTEMD_STOP_TIMEOUT (scopes)
 *   UNIT: Killing process N (COMM) with signal SIGKILL.     SYSTEMD_KILL
 *   UNIT: Main process exited, code=killed, status=9/KILL   SYSTEMD_EXIT (also code=exited, code=dumped)
 *   UNIT: A process of this unit has been killed by the OOM killer.   SYSTEMD_OOM
 *   Killed /….scope due to memory pressure for /… being 86.80% > 50.00% for > 20s with reclaim activity   SYSTEMD_OOMD
 *
 * Each record's raw text is the journal entry as read (the JSON line, or the
 * export entry's lines), kept as evidence. What the journal says is said as
 * the journal's: "systemd, from the journal", never as an audit record.
 * Pure parsing, plus a small joiner for the export format; no I/O.
 */
import type { AssembledEvent, PendingRecord } from "../audit/assemble.ts";
import type { EventLine, OomFacts, RecordLine, SignalCause, SignalLine, SourceRef } from "../schema.ts";
import { KERNEL_KILLER } from "../signals/cause.ts";
import { signalName, signalNumber } from "../tables/signals.ts";
import { journalMicrosToMs } from "../audit/spelling.ts";
import { fieldText, JOURNALCTL_TEXT, JOURNALCTL_TEXT_ERROR } from "../audit/journal.ts";
import type { Line } from "./lines.ts";
import { ownEvent, ownRecord, ownRecordLine, unreadRecordEvent } from "./own-record.ts";
import type { SourceSpec } from "./registry.ts";

export const SYSTEMD_STOP_TIMEOUT = "SYSTEMD_STOP_TIMEOUT";
export const SYSTEMD_KILL = "SYSTEMD_KILL";
export const SYSTEMD_EXIT = "SYSTEMD_EXIT";
export const SYSTEMD_OOM = "SYSTEMD_OOM";
export const SYSTEMD_OOMD = "SYSTEMD_OOMD";

/** What one systemd message says. */
export type SystemdMessage =
  | { kind: "stop-timeout"; unit: string | null; state: string | null }
  | { kind: "kill"; unit: string | null; pid: number; comm: string; signal: number; signalName: string | null }
  | { kind: "exit"; unit: string | null; process: string; code: "killed" | "dumped" | "exited"; status: number; statusName: string | null }
  | { kind: "oom"; unit: string | null }
  | { kind: "oomd"; unit: null; cgroup: string; pressureCgroup: string; pressure: string; limit: string; duration: string };

const RECORD_TYPE_OF: Readonly<Record<SystemdMessage["kind"], string>> = {
  "stop-timeout": SYSTEMD_STOP_TIMEOUT,
  kill: SYSTEMD_KILL,
  exit: SYSTEMD_EXIT,
  oom: SYSTEMD_OOM,
  oomd: SYSTEMD_OOMD,
};

// A unit name: `name.type` (service, scope, slice, socket, mount, …), optionally `name@instance.type`.
const UNIT_TYPES = "service|scope|slice|socket|mount|swap|timer|path|target|automount|device";
const UNIT_PREFIX = new RegExp(`^([^\\s:]+\\.(?:${UNIT_TYPES})): `);
const UNIT_NAME = new RegExp(`^[^\\s:/]+\\.(?:${UNIT_TYPES})$`);
const STATE_TIMEOUT = /^State '([a-z-]+)' timed out\. Killing\.$/;
// systemd before v236: `UNIT stop-sigterm timed out. Killing.` (no colon, no State '…').
const OLD_STATE_TIMEOUT = /^(\S+) (stop-[a-z-]+) timed out\. Killing\.$/;
const STOPPING_TIMEOUT = /^Stopping timed out\. Killing\.$/;
const KILLING = /^Killing process (\d+) \((.*)\) with signal (SIG[A-Z0-9+-]+)\.$/;
// unit_log_process_exit(): `%s exited, code=%s, status=%i/%s%s`; old versions say `main process exited` in lower case.
const EXITED = /^(Main process|Control process|Process) exited, code=(killed|dumped|exited), status=(\d+)(?:\/([A-Za-z0-9_+-]+))?/i;
const OOM = /^A process of this unit has been killed by the OOM killer\.?$/;
// oomd-manager.c; newer versions log `Marked … for killing due to …` then kill.
const OOMD = /^(?:Killed|Marked) (\S+) (?:for killing )?due to memory pressure for (\S+) being ([\d.]+%) > ([\d.]+%) for > (\S+) with reclaim activity$/;

/** One MESSAGE, with the unit the entry names (UNIT=, USER_UNIT=) when the message has no prefix. */
export function parseSystemdMessage(message: string, entryUnit: string | null = null): SystemdMessage | null {
  let unit = entryUnit;
  let rest = message.trim();
  const prefix = UNIT_PREFIX.exec(rest);
  if (prefix) {
    unit = prefix[1]!;
    rest = rest.slice(prefix[0].length);
  }
  let m: RegExpExecArray | null;
  if ((m = STATE_TIMEOUT.exec(rest))) return { kind: "stop-timeout", unit, state: m[1]! };
  if (STOPPING_TIMEOUT.test(rest)) return { kind: "stop-timeout", unit, state: null };
  if ((m = OLD_STATE_TIMEOUT.exec(rest))) return { kind: "stop-timeout", unit: m[1]!, state: m[2]! };
  if ((m = KILLING.exec(rest))) {
    const signal = signalNumber(m[3]!);
    if (signal === null) return null;
    return { kind: "kill", unit, pid: Number(m[1]), comm: m[2]!, signal, signalName: signalName(signal) };
  }
  if ((m = EXITED.exec(rest))) {
    const code = m[2]!.toLowerCase() as "killed" | "dumped" | "exited";
    const status = Number(m[3]);
    const statusName = code === "exited" ? (m[4] ?? null) : signalName(status);
    const process = m[1]!.charAt(0).toUpperCase() + m[1]!.slice(1).toLowerCase();
    return { kind: "exit", unit, process, code, status, statusName };
  }
  if (OOM.test(rest)) return { kind: "oom", unit };
  if ((m = OOMD.exec(rest))) return { kind: "oomd", unit: null, cgroup: m[1]!, pressureCgroup: m[2]!, pressure: m[3]!, limit: m[4]!, duration: m[5]! };
  return null;
}

/** A journal entry's fields (JSON values: strings, or byte arrays where not UTF-8). */
export type JournalEntry = Record<string, unknown>;

/** A field as text: a string, or journald's array of bytes (fieldText). */
export function entryText(entry: JournalEntry, name: string): string | null {
  const value = entry[name];
  // A field given more than once: its first value.
  if (Array.isArray(value) && typeof value[0] === "string") return value[0];
  return fieldText(value);
}

function entryInt(entry: JournalEntry, name: string): number | null {
  const text = entryText(entry, name);
  return text !== null && /^\d{1,19}$/.test(text) ? Number(text) : null;
}

/** What a journal entry says about a kill, with who logged it and when. */
export interface JournalFacts {
  message: SystemdMessage;
  /** The entry's MESSAGE, as read. */
  text: string;
  /** Who logged it: systemd (pid 1, or a user manager), systemd-oomd. */
  by: { pid: number | null; comm: string | null; exe: string | null };
  /** Wall time (ISO), from _SOURCE_REALTIME_TIMESTAMP or __REALTIME_TIMESTAMP. */
  time: string | null;
  /** The unit's command (COMMAND=, on an exit message), when the entry has one. */
  command: string | null;
  seqnum: number | null;
  hostname: string | null;
}

/** Which process logs these messages: systemd itself or systemd-oomd, never another program repeating the words. */
function fromSystemd(entry: JournalEntry, message: SystemdMessage): boolean {
  const comm = entryText(entry, "_COMM");
  const exe = entryText(entry, "_EXE");
  const ident = entryText(entry, "SYSLOG_IDENTIFIER");
  const want = message.kind === "oomd" ? "systemd-oomd" : "systemd";
  if (comm !== null) return comm === want;
  if (exe !== null) return exe.endsWith(`/${want}`);
  // An export or JSON entry without trusted fields (hand-fed): the identifier it claims.
  return ident === want;
}

/** A journal entry → its facts, or null when it is not one of the messages above (or not from systemd). */
export function journalFactsOf(entry: JournalEntry): JournalFacts | null {
  const text = entryText(entry, "MESSAGE");
  if (text === null) return null;
  const unit = entryText(entry, "UNIT") ?? entryText(entry, "USER_UNIT");
  const message = parseSystemdMessage(text, unit);
  if (message === null || !fromSystemd(entry, message)) return null;
  const micros = entryText(entry, "_SOURCE_REALTIME_TIMESTAMP") ?? entryText(entry, "__REALTIME_TIMESTAMP");
  const ms = journalMicrosToMs(micros);
  const time = ms === null ? null : new Date(ms).toISOString();
  return {
    message,
    text,
    by: { pid: entryInt(entry, "_PID"), comm: entryText(entry, "_COMM") ?? entryText(entry, "SYSLOG_IDENTIFIER"), exe: entryText(entry, "_EXE") },
    time,
    command: entryText(entry, "COMMAND"),
    seqnum: entryInt(entry, "__SEQNUM"),
    hostname: entryText(entry, "_HOSTNAME"),
  };
}

/** The record a journal entry makes, or null when it says nothing whokilled reads. `raw`: the entry as read. */
export function journalRecord(entry: JournalEntry, raw: string, source: SourceRef): RecordLine | null {
  const facts = journalFactsOf(entry);
  if (facts === null) return null;
  // The serial tells one line from the next: the victim's pid, the journal's sequence number, else the line.
  const serial = facts.message.kind === "kill" ? facts.message.pid : (facts.seqnum ?? source.line);
  return ownRecordLine(RECORD_TYPE_OF[facts.message.kind], raw, source, serial, facts.time === null ? null : Date.parse(facts.time), `line${source.line}`);
}

/** A `journalctl -o json` line as a journal entry, or undefined when it is no journal entry. */
export function jsonEntry(value: unknown): JournalEntry | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  if (!("_TRANSPORT" in value || "__CURSOR" in value || "MESSAGE" in value)) return undefined;
  return value as JournalEntry;
}

/** A journal field's name, as journald allows it (journal_field_valid): 1 to 64 of A-Z, 0-9 and _, no digit first. */
const FIELD_NAME = /^[A-Z_][A-Z0-9_]{0,63}$/;

/** The most a binary export field holds: systemd's importer's DATA_SIZE_MAX (768 MiB). */
const BINARY_FIELD_MAX = 768 * 1024 * 1024;

/** A name as quoted in an error (it is the input's: InputErrors escapes it, and it is cut here). */
function quotedName(name: string): string {
  return `"${name.length > 80 ? `${name.slice(0, 80)}…` : name}"`;
}

/**
 * What is wrong with one line of export input (neither empty nor a JSON
 * line), or null for a field: `KEY=VALUE`, or the name alone that starts a
 * binary field.
 */
export function exportLineProblem(text: string): string | null {
  const eq = text.indexOf("=");
  if (FIELD_NAME.test(eq < 0 ? text : text.slice(0, eq))) return null;
  if (JOURNALCTL_TEXT.test(text)) return JOURNALCTL_TEXT_ERROR;
  if (eq < 0) return "not a journal entry: neither a `journalctl -o json` line nor an `-o export` field (KEY=VALUE)";
  if (eq === 0) return "an export field without its name (=VALUE): not a journal entry";
  return `${quotedName(text.slice(0, eq))} is no journal field name (A-Z, 0-9 and _, no digit first, at most 64): not an \`-o export\` field`;
}

/**
 * The export format's entry → fields. Text fields only: a binary field
 * (`KEY\n` + 64-bit length + data) is read past by ExportJoiner, its name
 * kept in the entry's lines and named here in `binary`.
 */
export function parseExportEntry(lines: readonly string[]): { entry: JournalEntry; binary: string[] } {
  const entry: JournalEntry = {};
  const binary: string[] = [];
  for (const line of lines) {
    const eq = line.indexOf("=");
    if (eq <= 0) {
      if (FIELD_NAME.test(line)) binary.push(line);
      continue;
    }
    const name = line.slice(0, eq);
    if (!(name in entry)) entry[name] = line.slice(eq + 1);
  }
  return { entry, binary };
}

/** The facts a journal record holds: its raw text is the entry (a JSON line or export lines). */
export function journalFactsOfRaw(raw: string): JournalFacts | null {
  if (raw.charCodeAt(0) !== 0x7b /* { */) return journalFactsOf(parseExportEntry(raw.split("\n")).entry);
  let entry: JournalEntry | undefined;
  try {
    entry = jsonEntry(JSON.parse(raw));
  } catch {
    return null;
  }
  return entry === undefined ? null : journalFactsOf(entry);
}

/** Where a line's problem goes: InputErrors.report (which escapes what it prints, and throws under --strict). */
export type ReportProblem = (source: SourceRef, problem: string, text?: string) => void;

/** A binary export field being read past: its name's line, then its 64-bit length and data, across the lines they split into. */
interface PendingBinary {
  name: string;
  source: SourceRef;
  /** Offset of the field's first byte after its name's line (the length's first); null until that line comes. */
  start: number | null;
  /** The first bytes, until the length's 8 are in. */
  head: Buffer;
  /** The length, once read. */
  size: number | null;
  /** The lines read while the length was not yet known: read again as lines when what follows the name is no length. */
  held: Line[];
  /** Offset past the last line read as the field's. */
  readTo: number;
}

const NEWLINE = Buffer.from("\n");
const CR = Buffer.from("\r");

/**
 * The export format, line by line: an entry's `KEY=VALUE` lines up to the
 * empty line that ends it. `line` returns the entry's record at its end
 * (null for an entry that says nothing whokilled reads), `end` the last
 * entry when input ends without its empty line. A line that is no field is
 * reported, and left out of its entry. A field name alone starts a binary
 * field: its bytes come to `binary` as the lines they were split into
 * (`binaryPending`), and are left out.
 */
export class ExportJoiner {
  private lines: string[] = [];
  private firstLine = 0;
  private file = "";
  private pending: PendingBinary | null = null;
  /** Entries read, binary fields left out. */
  readonly stats = { entries: 0, binaryFields: 0 };

  constructor(private readonly report: ReportProblem) {}

  line(text: string, source: SourceRef): RecordLine | null {
    // Another input: the entry left open in the last one ends there.
    const ended = source.file !== this.file ? this.end() : null;
    this.file = source.file;
    if (text === "") return this.end() ?? ended;
    const problem = exportLineProblem(text);
    if (problem !== null) this.report(source, problem, text);
    else {
      if (this.lines.length === 0) this.firstLine = source.line;
      this.lines.push(text);
      if (!text.includes("=")) this.pending = { name: text, source, start: null, head: Buffer.alloc(0), size: null, held: [], readTo: 0 };
    }
    return ended;
  }

  /** Is a binary field being read (its lines go to `binary`, not `line`)? */
  get binaryPending(): boolean {
    return this.pending !== null;
  }

  /** The next line of the binary field being read; returns the lines to read again as lines (when the name had no length after it). */
  binary(line: Line & { damaged?: string }, file: string): Line[] {
    const field = this.pending!;
    if (line.damaged !== undefined) {
      const again = this.endBinary();
      this.report({ file, line: line.line }, line.damaged);
      return again;
    }
    field.start ??= line.offset;
    field.readTo = line.end;
    // The line's bytes as they were: the CR the splitter takes off before a newline, and the newline.
    const terminated = line.end - line.offset > (line.tooLong ?? line.bytes.length);
    if (field.size === null) {
      if (line.tooLong !== undefined) {
        this.pending = null;
        this.report(field.source, `binary export field ${field.name}: its length is at the start of a line of ${line.tooLong} bytes, too long to read`);
        return [];
      }
      field.held.push({ ...line, bytes: Buffer.from(line.bytes) });
      const cr = terminated && line.end - line.offset - line.bytes.length === 2;
      field.head = Buffer.concat([field.head, line.bytes, ...(cr ? [CR] : []), ...(terminated ? [NEWLINE] : [])]).subarray(0, 8);
      if (field.head.length < 8) return [];
      const size = field.head.readBigUInt64LE(0);
      if (size > BigInt(BINARY_FIELD_MAX)) return this.noLength(field);
      field.size = Number(size);
      field.held = [];
    }
    // The field ends with a newline right after its data.
    const dataEnd = field.start + 8 + field.size;
    const contentEnd = terminated ? line.end - 1 : line.end;
    if (contentEnd < dataEnd) return [];
    this.pending = null;
    if (contentEnd === dataEnd) this.stats.binaryFields++;
    else this.report(field.source, `binary export field ${field.name} of ${field.size} bytes does not end at a newline: lines ${field.source.line + 1}-${line.line} were read as its data`);
    return [];
  }

  /** End of input in a binary field: the lines to read again as lines (when the name had no length after it). */
  endBinary(): Line[] {
    const field = this.pending;
    if (field === null) return [];
    if (field.size === null) return this.noLength(field);
    this.pending = null;
    const read = Math.max(0, field.readTo - (field.start ?? field.readTo) - 8);
    this.report(field.source, `binary export field ${field.name} of ${field.size} bytes, cut short: the input ends after ${read}`);
    return [];
  }

  /** A name alone with no 64-bit length after it: no field, and the lines after it are read as lines. */
  private noLength(field: PendingBinary): Line[] {
    this.pending = null;
    // The name is the entry's last line: nothing is added while a binary field is read.
    this.lines.pop();
    this.report(field.source, "a field name alone, with no binary field's 64-bit length after it: not an `-o export` field", field.name);
    return field.held;
  }

  /** The entry read so far, ended: at its empty line, or at the end of input. */
  end(): RecordLine | null {
    if (this.lines.length === 0) return null;
    const lines = this.lines;
    this.lines = [];
    this.stats.entries++;
    const { entry } = parseExportEntry(lines);
    return journalRecord(entry, lines.join("\n"), { file: this.file, line: this.firstLine });
  }
}

// --- the journal source's rules: records → events → signals ---

/** A journal line as people read it: `UNIT: message`, said by whom, from the journal. */
function quoted(facts: JournalFacts): string {
  return `the journal: ${facts.by.comm ?? "?"}[${facts.by.pid ?? "?"}]: "${facts.text}"`;
}

const NO_SYSCALL = { arch: null, nr: null, name: null, success: true, exit: null, errno: null, args: [] as string[] };

/**
 * A journal record as an event line. What systemd says it did (Killing
 * process N) is a signal from systemd; a main process killed by a signal, or
 * the OOM killer as systemd saw it, a signal whose sender the journal does
 * not name; a stop timeout, or an exit with a status, an event with no
 * signal (context that `why` and `decode` show).
 */
export function interpretJournalRecord(event: AssembledEvent, record: PendingRecord): EventLine {
  const facts = journalFactsOfRaw(record.raw);
  const decodedRecord = ownRecord(record);
  const time = record.time ?? facts?.time ?? null;
  if (facts === null) return unreadRecordEvent(event, decodedRecord, time, "not a systemd message whokilled reads");
  const base = ownEvent(event, decodedRecord, time);
  const m = facts.message;
  const f = decodedRecord.fields;
  f.message = facts.text;
  if (m.unit !== null) f.unit = m.unit;
  if (facts.by.pid !== null) f.by_pid = String(facts.by.pid);
  if (facts.by.comm !== null) f.by_comm = facts.by.comm;
  const by = { pid: facts.by.pid, ppid: null, comm: facts.by.comm, exe: facts.by.exe, uid: null, user: null, euid: null, auid: null, ses: null, tty: null };
  switch (m.kind) {
    case "kill":
      f.pid = String(m.pid);
      f.comm = m.comm;
      f.sig = String(m.signal);
      return {
        ...base,
        syscall: { ...NO_SYSCALL, signal: { nr: m.signal, name: m.signalName }, target: { pid: m.pid, scope: "process" } },
        process: by,
        targets: [{ pid: m.pid, comm: m.comm, uid: null, user: null, auid: null, ses: null }],
      };
    case "exit":
      f.code = m.code;
      f.status = String(m.status);
      if (facts.command !== null) f.command = facts.command;
      if (m.code === "exited") return base;
      return { ...base, syscall: { ...NO_SYSCALL, signal: { nr: m.status, name: signalName(m.status) } } };
    case "oom":
      return { ...base, syscall: { ...NO_SYSCALL, signal: { nr: 9, name: "SIGKILL" } } };
    case "oomd":
      f.cgroup = m.cgroup;
      f.pressure = `${m.pressure} > ${m.limit} for > ${m.duration}`;
      return { ...base, syscall: { ...NO_SYSCALL, signal: { nr: 9, name: "SIGKILL" } }, process: by };
    case "stop-timeout":
      if (m.state !== null) f.state = m.state;
      return base;
  }
}

/**
 * A journal signal line, finished in place: its unit, and a cause that says
 * where the word comes from ("systemd, from the journal") and no more than
 * the journal says.
 */
export function finishJournalSignal(line: SignalLine, event: EventLine): void {
  const facts = journalFactsOfRaw(event.records[0]?.raw ?? "");
  if (facts === null) return;
  const m = facts.message;
  if (m.unit !== null) line.unit = m.unit;
  const unit = m.unit ?? "a unit";
  const evidence = [quoted(facts)];
  let cause: SignalCause;
  switch (m.kind) {
    case "kill":
      cause = { kind: "process", rule: "systemd-kill", label: `systemd (pid ${facts.by.pid ?? "?"}), from the journal: it killed ${m.comm} (pid ${m.pid}) of ${unit} with ${m.signalName ?? m.signal}`, evidence };
      break;
    case "exit": {
      line.killer = { pid: null, ppid: null, comm: null, exe: null, uid: null, user: null, auid: null, argv: [] };
      const what = m.code === "dumped" ? "and dumped core" : "";
      cause = {
        kind: "unknown",
        rule: "systemd-exit",
        label: `${unit}'s ${m.process.toLowerCase()}${facts.command !== null ? ` (${facts.command})` : ""} was ended by ${signalName(m.status) ?? `signal ${m.status}`}${what ? ` ${what}` : ""}, says systemd in the journal; who sent it, the journal does not say`,
        evidence,
        settle: "audit's kill rules (setup-rule install) name the sender; the journal's Killing process lines just before, or the kernel log, may too",
      };
      break;
    }
    case "oom": {
      line.killer = { ...KERNEL_KILLER, argv: [] };
      const oom: OomFacts = {
        constraint: null, memcg: null, taskMemcg: null, totalVmKb: null, anonRssKb: null, fileRssKb: null, shmemRssKb: null, oomScoreAdj: null,
        limitKb: null, usageKb: null, invokedBy: null, lines: [quoted(facts)],
      };
      cause = { kind: "oom", rule: "oom-kill", label: `killed by the kernel's OOM killer: a process of ${unit}, as systemd reports it in the journal`, evidence, oom };
      break;
    }
    case "oomd": {
      // The cgroup's last part is the unit systemd made it for (app-foo.scope, foo.service).
      const leaf = m.cgroup.slice(m.cgroup.lastIndexOf("/") + 1);
      if (UNIT_NAME.test(leaf)) line.unit = leaf;
      cause = {
        kind: "process",
        rule: "systemd-oomd",
        label: `systemd-oomd, from the journal: it killed every process of ${m.cgroup}, as memory pressure on ${m.pressureCgroup} was ${m.pressure} > ${m.limit} for > ${m.duration}`,
        evidence,
      };
      break;
    }
    case "stop-timeout":
      return;
  }
  line.cause = cause;
}

/**
 * The journal source (lib/sources/registry.ts): systemd's and systemd-oomd's
 * messages, each record an event of its own, their signals said as the
 * journal's word. Its sender is a process the stream never saw execute, so
 * no ancestry is looked up.
 */
export const JOURNAL_SOURCE: SourceSpec = {
  name: "journal",
  label: "journal",
  ownRecordTypes: Object.values(RECORD_TYPE_OF),
  standalone: true,
  kernelTrace: false,
  streamAncestry: false,
  liveFiles: [],
  interpret: interpretJournalRecord,
  finishSignal: finishJournalSignal,
};
