/**
 * Assembled records → an `event` line: every record's fields decoded the way
 * `ausearch -i` would, plus the event-level summary (syscall, process,
 * targets, proctitle, key) that attribution reads.
 */
import type {
  DecodedRecord,
  EventLine,
  FieldMap,
  ProcessInfo,
  SyscallInfo,
  TargetInfo,
  TargetScope,
} from "../schema.ts";
import { archName } from "../tables/arch.ts";
import { errnoName } from "../tables/errno.ts";
import { isKillFamily, KILL_FAMILY, killScope, toSigned32, type KillSpec } from "../tables/kill-family.ts";
import { signalName } from "../tables/signals.ts";
import { syscallName } from "../tables/syscalls.ts";
import type { AssembledEvent, PendingRecord } from "./assemble.ts";
import { ENRICHED_NAME, FIELD_KINDS, FieldKind } from "./field-types.ts";
import { newFieldMap, parseFields, type ParsedFields } from "./fields.ts";
import { IdNames, isUnsetId } from "./ids.ts";
import { HEX_DIGIT } from "./line-bytes.ts";
import { stampToIso } from "./line.ts";
import { parseSignalGenerate, signalOrigin } from "./tracefs-line.ts";

export interface InterpretOptions {
  ids: IdNames;
}

export const HEX = /^[0-9A-Fa-f]+$/;
const utf8 = new TextDecoder("utf-8");

/** Reused for decoding: a Buffer per value (Buffer.from(value, "hex")) cost more than the rest of attribute's summary. */
let hexBytes = Buffer.allocUnsafe(4096);

/** Decode an untrusted-string field: hex when unquoted and hex-shaped, else as written. */
export function decodeEscaped(value: string, quoted: boolean): string {
  const length = value.length;
  if (quoted || length % 2 !== 0 || length === 0) return value;
  const n = length / 2;
  if (hexBytes.length < n) hexBytes = Buffer.allocUnsafe(2 * n);
  const bytes = hexBytes;
  let high = 0;
  for (let i = 0; i < n; i++) {
    const a = value.charCodeAt(2 * i);
    const b = value.charCodeAt(2 * i + 1);
    const hi = a < 256 ? HEX_DIGIT[a]! : -1;
    const lo = b < 256 ? HEX_DIGIT[b]! : -1;
    if (hi < 0 || lo < 0) return value;
    const byte = (hi << 4) | lo;
    bytes[i] = byte;
    high |= byte;
  }
  // ASCII reads the same in every decoding; anything else goes through the UTF-8 decoder (U+FFFD for bad sequences).
  return high < 0x80 ? bytes.toString("latin1", 0, n) : utf8.decode(bytes.subarray(0, n));
}

/** proctitle → argv: hex-encoded NUL-separated bytes, or a quoted single string. */
export function decodeProctitle(value: string, quoted: boolean): string[] | null {
  if (value === "(null)" || value === "") return null;
  const text = decodeEscaped(value, quoted);
  const argv = text.split("\u0000");
  // The kernel cuts proctitle at 128 bytes, so a trailing NUL may or may not be there.
  if (argv.length > 1 && argv[argv.length - 1] === "") argv.pop();
  return argv;
}

export function idName(
  field: string,
  value: string,
  enriched: FieldMap | undefined,
  ids: IdNames,
  kind: "user" | "group",
): string {
  if (isUnsetId(value)) return "unset";
  if (enriched !== undefined) {
    const fromHost = enriched[ENRICHED_NAME.get(field) ?? field.toUpperCase()];
    if (fromHost !== undefined) return fromHost;
  }
  const id = Number(value);
  if (!Number.isInteger(id) || id < 0) return value;
  const name = kind === "user" ? ids.user(id) : ids.group(id);
  return name ?? `unknown(${value})`;
}

/** EXECVE's argument fields (`a4`, `a5[0]` for one split in parts; a0–a3 are FieldKind.Arg). */
export const EXECVE_ARG = /^a\d+(?:\[\d+\])?$/;

export function kindOf(name: string): FieldKind | undefined {
  const kind = FIELD_KINDS.get(name);
  if (kind !== undefined) return kind;
  // A repeated field is stored as `name#2`: interpret it like `name`.
  const hash = name.indexOf("#");
  return hash > 0 ? FIELD_KINDS.get(name.slice(0, hash)) : undefined;
}

/** Decode one record's fields. */
export function decodeRecord(record: PendingRecord, options: InterpretOptions): DecodedRecord & { parsed: ParsedFields } {
  const parsed = parseFields(record.raw, record.bodyStart);
  const { fields, enriched, quoted } = parsed;
  const decoded = newFieldMap();
  const isSyscall = record.type === "SYSCALL";
  const isExecve = record.type === "EXECVE";
  let arch: string | null = null;
  for (const name in fields) {
    const value = fields[name]!;
    switch (kindOf(name)) {
      case FieldKind.Escaped: {
        const text = decodeEscaped(value, quoted?.has(name) === true);
        if (text !== value) decoded[name] = text;
        break;
      }
      case FieldKind.Proctitle: {
        const argv = decodeProctitle(value, quoted?.has(name) === true);
        if (argv !== null) decoded[name] = argv.join(" ");
        break;
      }
      case FieldKind.Uid:
        decoded[name] = idName(name, value, enriched, options.ids, "user");
        break;
      case FieldKind.Gid:
        decoded[name] = idName(name, value, enriched, options.ids, "group");
        break;
      case FieldKind.Session:
        if (isUnsetId(value)) decoded[name] = "unset";
        break;
      case FieldKind.Arch:
        if (isSyscall) {
          arch = archName(value);
          if (arch) decoded[name] = arch;
        }
        break;
      case FieldKind.Syscall:
        if (isSyscall && arch) {
          const sc = syscallName(arch, Number(value));
          if (sc) decoded[name] = sc;
        }
        break;
      case FieldKind.Exit:
        if (isSyscall && value.charCodeAt(0) === 0x2d /* - */) {
          const errno = errnoName(-Number(value));
          if (errno) decoded[name] = errno;
        }
        break;
      case FieldKind.Arg:
        if (isSyscall) decoded[name] = `0x${value}`;
        else if (isExecve) {
          const text = decodeEscaped(value, quoted?.has(name) === true);
          if (text !== value) decoded[name] = text;
        }
        break;
      case FieldKind.Signal: {
        const sig = signalName(Number(value));
        if (sig) decoded[name] = sig;
        break;
      }
      default:
        if (isExecve && EXECVE_ARG.test(name)) {
          const text = decodeEscaped(value, quoted?.has(name) === true);
          if (text !== value) decoded[name] = text;
        }
    }
  }
  if (isSyscall) {
    // The signal argument, as ausearch names it (it does so only below 32 and for kill/tkill/tgkill).
    const spec = killSpec(decoded.syscall);
    if (spec) {
      const sigText = fields[`a${spec.signalArg}`];
      if (sigText !== undefined && HEX.test(sigText)) {
        const sig = signalName(toSigned32(sigText));
        if (sig) decoded[`a${spec.signalArg}`] = sig;
      }
    }
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

/** A decimal integer field (`-?[0-9]+`), or null. */
function num(value: string | undefined): number | null {
  if (value === undefined) return null;
  const length = value.length;
  let i = length > 0 && value.charCodeAt(0) === 0x2d /* - */ ? 1 : 0;
  if (i === length) return null;
  for (; i < length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
  }
  return Number(value);
}

function idOrNull(value: string | undefined): number | null {
  if (value === undefined || isUnsetId(value)) return null;
  return num(value);
}

/** A name for a uid, or null when it has none ("unknown(N)", "unset"). */
export function userName(decoded: string | undefined): string | null {
  if (decoded === undefined || decoded === "unset" || decoded.startsWith("unknown(")) return null;
  return decoded;
}

export function nullish(value: string | undefined): string | null {
  if (value === undefined || value === "(null)" || value === "(none)" || value === "?") return null;
  return value;
}

function killSpec(name: string | null | undefined): KillSpec | undefined {
  return name && isKillFamily(name) ? KILL_FAMILY[name] : undefined;
}

/** What a kill-family call aimed at, from its `0x…` arguments. */
export function killTarget(syscall: string, args: string[]): { pid: number; scope: TargetScope; tid?: number } | undefined {
  const spec = killSpec(syscall);
  const a0 = args[spec?.targetArg ?? 0];
  if (!spec || a0 === undefined) return undefined;
  const pid = toSigned32(a0.slice(2));
  const target: { pid: number; scope: TargetScope; tid?: number } = { pid, scope: killScope(spec, pid) };
  if (spec.tidArg !== null && spec.tidArg !== spec.targetArg) {
    const tid = args[spec.tidArg];
    if (tid !== undefined) target.tid = toSigned32(tid.slice(2));
  }
  return target;
}

export function buildSyscall(record: DecodedRecord): SyscallInfo {
  const { fields, decoded } = record;
  const name = decoded.syscall ?? null;
  const exit = num(fields.exit);
  const success = fields.success === "yes" ? true : fields.success === "no" ? false : null;
  const args = ["a0", "a1", "a2", "a3"].filter((a) => fields[a] !== undefined).map((a) => `0x${fields[a]}`);
  const info: SyscallInfo = {
    arch: decoded.arch ?? null,
    nr: num(fields.syscall),
    name,
    success,
    exit,
    errno: exit !== null && exit < 0 ? errnoName(-exit) : null,
    args,
  };
  const spec = killSpec(name);
  if (spec && name) {
    const sigArg = args[spec.signalArg];
    if (sigArg !== undefined) {
      const nr = toSigned32(sigArg.slice(2));
      info.signal = { nr, name: signalName(nr) };
    }
    const target = killTarget(name, args);
    if (target) info.target = target;
  }
  return info;
}

export function buildProcess(record: DecodedRecord): ProcessInfo {
  const { fields, decoded } = record;
  return {
    pid: num(fields.pid),
    ppid: num(fields.ppid),
    comm: nullish(decoded.comm ?? fields.comm),
    exe: nullish(decoded.exe ?? fields.exe),
    uid: idOrNull(fields.uid),
    user: userName(decoded.uid),
    euid: idOrNull(fields.euid),
    auid: idOrNull(fields.auid),
    ses: idOrNull(fields.ses),
    tty: nullish(fields.tty),
  };
}

export function buildTarget(record: DecodedRecord): TargetInfo {
  const { fields, decoded } = record;
  return {
    pid: num(fields.opid),
    comm: nullish(decoded.ocomm ?? fields.ocomm),
    uid: idOrNull(fields.ouid),
    user: userName(decoded.ouid),
    auid: idOrNull(fields.oauid),
    ses: idOrNull(fields.oses),
  };
}

/** Build the `event` line for one assembled event. */
export function interpretEvent(event: AssembledEvent, options: InterpretOptions): EventLine {
  if (event.records.length === 1 && event.records[0]!.type === "SIGNAL_GENERATE") {
    return interpretSignalGenerate(event, event.records[0]!);
  }
  const records: DecodedRecord[] = [];
  let syscallRecord: DecodedRecord | undefined;
  let proctitle: string[] | null = null;
  const targets: TargetInfo[] = [];
  let warnings: string[] | undefined = event.warnings ? [...event.warnings] : undefined;
  for (const pending of event.records) {
    const { parsed, ...record } = decodeRecord(pending, options);
    records.push(record);
    if (record.type === "SYSCALL" && syscallRecord === undefined) syscallRecord = record;
    else if (record.type === "OBJ_PID") targets.push(buildTarget(record));
    else if (record.type === "PROCTITLE" && proctitle === null && record.fields.proctitle !== undefined) {
      proctitle = decodeProctitle(record.fields.proctitle, parsed.quoted?.has("proctitle") === true);
    }
    if (record.warnings) (warnings ??= []).push(...record.warnings.map((w) => `${record.type}: ${w}`));
  }
  const keyText = syscallRecord ? nullish(syscallRecord.decoded.key ?? syscallRecord.fields.key) : null;
  const line: EventLine = {
    kind: "event",
    id: event.id,
    node: event.node,
    time: stampToIso(event.seconds, event.millis),
    type: syscallRecord ? "SYSCALL" : (records[0]?.type ?? "UNKNOWN"),
    syscall: syscallRecord ? buildSyscall(syscallRecord) : null,
    process: syscallRecord ? buildProcess(syscallRecord) : null,
    proctitle,
    targets,
    // Several keys on one rule are joined with 0x01 by the kernel.
    key: keyText === null ? null : keyText.split("\u0001").join(","),
    records,
  };
  if (warnings) line.warnings = warnings;
  return line;
}

function interpretSignalGenerate(event: AssembledEvent, record: PendingRecord): EventLine {
  const parsed = parseSignalGenerate(record.raw);
  const decodedRecord: DecodedRecord = { type: record.type, fields: newFieldMap(), decoded: newFieldMap(), raw: record.raw };
  if (record.source) decodedRecord.source = record.source;
  const time = record.time ?? stampToIso(event.seconds, event.millis);
  if (!parsed) {
    decodedRecord.warnings = ["not a signal_generate trace line"];
    return {
      kind: "event", id: event.id, node: event.node, time, type: record.type, syscall: null, process: null,
      proctitle: null, targets: [], key: null, records: [decodedRecord], warnings: ["SIGNAL_GENERATE: not a signal_generate trace line"],
    };
  }
  const f = decodedRecord.fields;
  f.sig = String(parsed.sig);
  f.errno = String(parsed.errno);
  f.code = String(parsed.code);
  f.comm = parsed.target.comm;
  f.pid = String(parsed.target.pid);
  f.grp = parsed.group ? "1" : "0";
  f.res = String(parsed.result);
  f.sender_comm = parsed.sender.comm ?? "<...>";
  f.sender_pid = String(parsed.sender.pid);
  const sigName = signalName(parsed.sig);
  if (sigName) decodedRecord.decoded.sig = sigName;
  return {
    kind: "event",
    id: event.id,
    node: event.node,
    time,
    type: record.type,
    syscall: {
      arch: null, nr: null, name: null,
      // res 0 = delivered; 1 ignored, 2 already pending, 3/4 queue trouble.
      success: parsed.result === 0,
      exit: null,
      errno: parsed.errno === 0 ? null : errnoName(Math.abs(parsed.errno)),
      args: [],
      signal: { nr: parsed.sig, name: sigName },
      target: { pid: parsed.target.pid, scope: parsed.group ? "process" : "thread" },
    },
    process: {
      pid: parsed.sender.pid, ppid: null, comm: parsed.sender.comm, exe: null,
      uid: null, user: null, euid: null, auid: null, ses: null, tty: null,
    },
    proctitle: null,
    targets: [{ pid: parsed.target.pid, comm: parsed.target.comm, uid: null, user: null, auid: null, ses: null }],
    key: null,
    origin: signalOrigin(parsed.code, parsed.sig),
    records: [decodedRecord],
  };
}
