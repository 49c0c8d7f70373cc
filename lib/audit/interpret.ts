/**
 * Assembled records → an `event` line, as objects (the reference path): every
 * record's fields decoded the way `ausearch -i` would (field-rules.ts, driven
 * here into strings; bytes/event-writer.ts drives the same rules into JSON
 * bytes), plus the event head (syscall, process, targets, proctitle, key:
 * event-head.ts) that attribution reads.
 */
import type { DecodedRecord, EventLine, FieldMap, ProcessInfo, SyscallInfo, TargetInfo } from "../schema.ts";
import { isKillFamily, KILL_FAMILY, killScope } from "../tables/kill-family.ts";
import { signalName } from "../tables/signals.ts";
import type { AssembledEvent, PendingRecord } from "./assemble.ts";
import { ARG_NAMES, enrichedNameOf, FieldKind, kindOf } from "./field-types.ts";
import { type DecodedSink, interpretField, localIdName, RecordContext } from "./field-rules.ts";
import { newFieldMap, parseFields, type ParsedFields } from "./fields.ts";
import { ByteRecord } from "./bytes/record.ts";
import { UnitScratch, unitsOf } from "./bytes/field-cursor.ts";
import { buildProcess, buildSyscallHead, buildTarget } from "./event-head.ts";
import { IdNames, IdScope } from "./ids.ts";
import { decodeEscaped, decodeProctitle, isoClock, keysText, nullish, toSigned32 } from "./spelling.ts";
import { sourceOfType } from "../sources/registry.ts";

export interface InterpretOptions {
  ids: IdNames;
}

/** The names an event's ids may take (lib/audit/ids.ts): by its first record's source file (`-` is stdin; a ByteRecord's read without making its SourceRef) and its node. */
export function eventScope(event: AssembledEvent, ids: IdNames): IdScope {
  const first = event.records[0];
  return ids.scope(first instanceof ByteRecord ? first.file : first?.source?.file, event.node);
}

/** The object path's sink: each decoded value a string in the record's `decoded` map. */
class MapSink implements DecodedSink {
  decoded: FieldMap = newFieldMap();
  enriched: FieldMap | undefined;
  /** The field being decoded, and its value. */
  name = "";
  value = "";

  text(value: string): void {
    this.decoded[this.name] = value;
  }

  ascii(bytes: Buffer, from: number, to: number, argv: boolean): void {
    const text = bytes.toString("latin1", from, to);
    this.decoded[this.name] = argv ? text.replaceAll("\u0000", " ") : text;
  }

  argv(argv: string[]): void {
    this.decoded[this.name] = argv.join(" ");
  }

  asWritten(hexPrefix: boolean): void {
    this.decoded[this.name] = hexPrefix ? `0x${this.value}` : this.value;
  }

  enrichedName(): boolean {
    const name = this.enriched?.[enrichedNameOf(this.name)];
    if (name === undefined) return false;
    this.decoded[this.name] = name;
    return true;
  }

  localId(_id: number, user: boolean, scope: IdScope): void {
    this.decoded[this.name] = localIdName(this.value, scope, user);
  }
}

const sink = new MapSink();
const context = new RecordContext();
const scratch = new UnitScratch();

/** One field through field-rules.ts into sink.decoded. */
function decodeField(kind: FieldKind, name: string, value: string, quoted: boolean): void {
  sink.name = name;
  sink.value = value;
  context.text = value;
  context.bytes = unitsOf(value, scratch);
  interpretField(kind, name, 0, value.length, quoted, context, sink);
}

/** A uid field's decoded value (field-rules.ts): "unset", the ENRICHED tail's name, a name from `scope`'s file, or "unknown(N)". */
export function idName(
  field: string,
  value: string,
  enriched: FieldMap | undefined,
  scope: IdScope,
): string {
  context.begin("", scope);
  sink.decoded = newFieldMap();
  sink.enriched = enriched;
  decodeField(FieldKind.Uid, field, value, false);
  return sink.decoded[field]!;
}

/** Decode one record's fields (its ids named as `scope` allows: see eventScope). */
export function decodeRecord(
  record: PendingRecord,
  scope: IdScope,
): DecodedRecord & { parsed: ParsedFields } {
  const parsed = parseFields(record.raw, record.bodyStart);
  const { fields, enriched, quoted } = parsed;
  const decoded = newFieldMap();
  context.begin(record.type, scope);
  sink.decoded = decoded;
  sink.enriched = enriched;
  for (const name in fields) {
    const kind = kindOf(name);
    if (kind !== undefined) decodeField(kind, name, fields[name]!, quoted?.has(name) === true);
  }
  // A kill-family call's signal argument may come before the syscall that says which it is: decoded again now.
  const signalArg = ARG_NAMES[context.signalArg];
  if (signalArg !== undefined && fields[signalArg] !== undefined) {
    decodeField(FieldKind.Arg, signalArg, fields[signalArg], quoted?.has(signalArg) === true);
  }
  const out: DecodedRecord & { parsed: ParsedFields } = { type: record.type, fields, decoded, raw: record.raw, parsed };
  if (enriched) out.enriched = enriched;
  if (parsed.msg) out.msg = parsed.msg;
  if (record.source) out.source = record.source;
  if (parsed.warnings) out.warnings = parsed.warnings;
  return out;
}

/**
 * argv from an EXECVE record: `argc=N a0=… a1=…`, each argument quoted or
 * hex, and a long one split as `aI_len=… aI[0]=… aI[1]=…`. null when the
 * record is incomplete (the kernel drops arguments past its size limit).
 */
export function execveArgv(fields: FieldMap, quoted: ReadonlySet<string> | undefined): string[] | null {
  const argc = Number(fields.argc);
  if (!Number.isInteger(argc) || argc < 0) return null;
  const argv: string[] = [];
  for (let i = 0; i < argc; i++) {
    const whole = fields[`a${i}`];
    if (whole !== undefined) {
      argv.push(decodeEscaped(whole, quoted?.has(`a${i}`) === true));
      continue;
    }
    if (fields[`a${i}_len`] === undefined) return null;
    let text = "";
    for (let part = 0; fields[`a${i}[${part}]`] !== undefined; part++) {
      const name = `a${i}[${part}]`;
      text += decodeEscaped(fields[name]!, quoted?.has(name) === true);
    }
    argv.push(text);
  }
  return argv;
}

export function buildSyscall(record: DecodedRecord): SyscallInfo {
  const { fields } = record;
  const args = ARG_NAMES.filter((a) => fields[a] !== undefined).map((a) => `0x${fields[a]}`);
  const info: SyscallInfo = { ...buildSyscallHead(record), args };
  const name = info.name;
  const spec = name && isKillFamily(name) ? KILL_FAMILY[name] : undefined;
  if (spec) {
    const sigArg = args[spec.signalArg];
    if (sigArg !== undefined) {
      const nr = toSigned32(sigArg.slice(2));
      info.signal = { nr, name: signalName(nr) };
    }
    // What the call aimed at, from its `0x…` arguments.
    const targetArg = args[spec.targetArg];
    if (targetArg !== undefined) {
      const pid = toSigned32(targetArg.slice(2));
      info.target = { pid, scope: killScope(spec, pid) };
      if (spec.tidArg !== null && spec.tidArg !== spec.targetArg) {
        const tid = args[spec.tidArg];
        if (tid !== undefined) info.target.tid = toSigned32(tid.slice(2));
      }
    }
  }
  return info;
}

/**
 * An event's `namesUnknown`: a user on it (process or target) has a uid but
 * no name, and no passwd was right for the log (ids.ts): the log did not
 * name it, and this machine's passwd would name someone else's uid.
 */
export function namesUnknown(scope: IdScope, process: ProcessInfo | null, targets: readonly TargetInfo[]): boolean {
  if (!scope.unnamed) return false;
  if (process !== null && process.uid !== null && process.user === null) return true;
  for (const target of targets) if (target.uid !== null && target.user === null) return true;
  return false;
}

/** Build the `event` line for one assembled event. */
export function interpretEvent(event: AssembledEvent, options: InterpretOptions): EventLine {
  // A source's own record is an event of its own, read by the source's rules (lib/sources/registry.ts).
  const own = event.records.length === 1 ? sourceOfType(event.records[0]!.type).interpret : undefined;
  if (own !== undefined) return own(event, event.records[0]!, eventScope(event, options.ids));
  const records: DecodedRecord[] = [];
  let syscallRecord: DecodedRecord | undefined;
  let proctitle: string[] | null = null;
  const targets: TargetInfo[] = [];
  let warnings: string[] | undefined = event.warnings ? [...event.warnings] : undefined;
  const scope = eventScope(event, options.ids);
  for (const pending of event.records) {
    const { parsed, ...record } = decodeRecord(pending, scope);
    records.push(record);
    if (record.type === "SYSCALL" && syscallRecord === undefined) syscallRecord = record;
    else if (record.type === "OBJ_PID") targets.push(buildTarget(record));
    else if (record.type === "PROCTITLE" && proctitle === null && record.fields.proctitle !== undefined) {
      proctitle = decodeProctitle(record.fields.proctitle, parsed.quoted?.has("proctitle") === true);
    }
    if (record.warnings) (warnings ??= []).push(...record.warnings.map((w) => `${record.type}: ${w}`));
  }
  const keyText = syscallRecord ? nullish(syscallRecord.decoded.key ?? syscallRecord.fields.key) : null;
  const process = syscallRecord ? buildProcess(syscallRecord) : null;
  const line: EventLine = {
    kind: "event",
    id: event.id,
    node: event.node,
    time: isoClock.text(event.seconds, event.millis),
    type: syscallRecord ? "SYSCALL" : (records[0]?.type ?? "UNKNOWN"),
    syscall: syscallRecord ? buildSyscall(syscallRecord) : null,
    process,
    proctitle,
    targets,
    key: keyText === null ? null : keysText(keyText),
    ...(namesUnknown(scope, process, targets) ? { namesUnknown: true as const } : {}),
    records,
  };
  if (warnings) line.warnings = warnings;
  return line;
}
