/**
 * How a field of each kind (field-types.ts) is decoded, the way `ausearch -i`
 * would: every rule written once, here, over the value's bytes. Two drivers
 * run it: interpret.ts decodeRecord (its sink sets strings in the record's
 * `decoded` map) and bytes/event-writer.ts (the writer is its own sink and
 * writes the same values as JSON bytes, making no strings). A rule decides
 * what the value is; the sink only stores it.
 */
import { archName } from "../tables/arch.ts";
import { canonicalDigitsValue, digitsValue } from "../bytes/read.ts";
import { bytesAre } from "../bytes/json.ts";
import { errnoName } from "../tables/errno.ts";
import { isKillFamily, KILL_FAMILY } from "../tables/kill-family.ts";
import { signalName } from "../tables/signals.ts";
import { syscallName } from "../tables/syscalls.ts";
import { ARG_NAMES, FieldKind } from "./field-types.ts";
import type { IdScope } from "./ids.ts";
import {
  argvEnd,
  decodeEscaped,
  decodeProctitle,
  isNoProctitleAt,
  isUnsetIdAt,
  NOT_ASCII,
  NOT_HEX,
  signed32At,
  unhexInto,
  UNKNOWN_NAME_PREFIX,
  UNSET_NAME,
} from "./spelling.ts";

/** What a rule needs of a value's text: slices (a string, or a line's bytes read as Latin-1). */
export interface TextSource {
  slice(start: number, end: number): string;
}

/** Where a driver stores the decoded value of the field it is on. */
export interface DecodedSink {
  /** The value is `value`. */
  text(value: string): void;
  /** The value is ASCII bytes[from, to) (decoded hex), with NULs as spaces when `argv`. */
  ascii(bytes: Buffer, from: number, to: number, argv: boolean): void;
  /** The value is proctitle's argv, joined with spaces. */
  argv(argv: string[]): void;
  /** The value is the field as written, after `0x` when `hexPrefix`. */
  asWritten(hexPrefix: boolean): void;
  /** The value is the record's ENRICHED tail's name for this field, if it has one (false when not). */
  enrichedName(): boolean;
  /** The value is localIdName of the plain decimal id `id` (the field's text). */
  localId(id: number, user: boolean, scope: IdScope): void;
}

/** What decoding one record's fields knows as it goes: its type's facts and what earlier fields said. */
export class RecordContext {
  isSyscall = false;
  isExecve = false;
  /** The arch the syscall number is read by: the last arch field decoded so far. */
  arch: string | null = null;
  /** The decoded `arch` and `syscall` fields (not their repeats): the event head reads these. */
  archField: string | null = null;
  syscall: string | null = null;
  /** For a kill-family syscall, which aN holds the signal (named like ausearch does); -1 otherwise. */
  signalArg = -1;
  /** The value being decoded: its text, and its bytes (a string's units, see field-cursor.ts unitsOf). */
  text: TextSource = "";
  bytes: Uint8Array = new Uint8Array(0);
  /** The names the event's ids may take (ids.ts). */
  scope!: IdScope;
  /** Decoded hex. */
  hex = Buffer.allocUnsafe(4096);
  private archBytes: Uint8Array = new Uint8Array(0);
  private archName: string | null = null;

  begin(type: string, scope: IdScope): this {
    this.isSyscall = type === "SYSCALL";
    this.isExecve = type === "EXECVE";
    this.arch = this.archField = this.syscall = null;
    this.signalArg = -1;
    this.scope = scope;
    return this;
  }

  /** Room in `hex` for a value of `length` units. */
  hexRoom(length: number): Buffer {
    if (this.hex.length < length) this.hex = Buffer.allocUnsafe(2 * length);
    return this.hex;
  }

  /** archName of bytes[start, end), remembered for the next record (a log has one or two arches). */
  archOf(start: number, end: number): string | null {
    if (!bytesAre(this.bytes, start, end, this.archBytes)) {
      this.archBytes = Uint8Array.from(this.bytes.subarray(start, end));
      this.archName = archName(this.text.slice(start, end));
    }
    return this.archName;
  }
}

/** Number(text) of a value, without slicing when it is plain digits. */
function numberOf(ctx: RecordContext, start: number, end: number): number {
  const n = digitsValue(ctx.bytes, start, end);
  return n >= 0 ? n : Number(ctx.text.slice(start, end));
}

/**
 * Decode field `name` (of `kind`, value at ctx.bytes[start, end), `quoted`
 * when it was double-quoted) into `out`; a field with nothing to say writes
 * nothing. Fields are fed in record order: arch names the syscall after it.
 */
export function interpretField(kind: FieldKind, name: string, start: number, end: number, quoted: boolean, ctx: RecordContext, out: DecodedSink): void {
  const bytes = ctx.bytes;
  switch (kind) {
    case FieldKind.Escaped:
      escapedField(start, end, quoted, ctx, out);
      break;
    case FieldKind.Proctitle:
      proctitleField(start, end, quoted, ctx, out);
      break;
    case FieldKind.Uid:
    case FieldKind.Gid:
      if (isUnsetIdAt(bytes, start, end)) out.text(UNSET_NAME);
      else if (!out.enrichedName()) {
        const id = canonicalDigitsValue(bytes, start, end);
        const user = kind === FieldKind.Uid;
        // A plain number is the drivers' cache key; any other spelling is read as written.
        if (id >= 0) out.localId(id, user, ctx.scope);
        else out.text(localIdName(ctx.text.slice(start, end), ctx.scope, user));
      }
      break;
    case FieldKind.Session:
      if (isUnsetIdAt(bytes, start, end)) out.text(UNSET_NAME);
      break;
    case FieldKind.Arch:
      if (ctx.isSyscall) {
        const arch = (ctx.arch = ctx.archOf(start, end));
        if (arch === null) break;
        out.text(arch);
        if (name === "arch") ctx.archField = arch;
      }
      break;
    case FieldKind.Syscall:
      if (ctx.isSyscall && ctx.arch !== null) {
        const syscall = syscallName(ctx.arch, numberOf(ctx, start, end));
        if (syscall === null) break;
        out.text(syscall);
        if (name === "syscall") {
          ctx.syscall = syscall;
          if (isKillFamily(syscall)) ctx.signalArg = KILL_FAMILY[syscall].signalArg;
        }
      }
      break;
    case FieldKind.Exit:
      if (ctx.isSyscall && end > start && bytes[start] === 0x2d /* - */) {
        const errno = errnoName(-numberOf(ctx, start, end));
        if (errno) out.text(errno);
      }
      break;
    case FieldKind.Arg:
      if (ctx.isSyscall) {
        // ausearch names a kill-family call's signal argument (signalName knows 1-31 only).
        const signal = ctx.signalArg >= 0 && name === ARG_NAMES[ctx.signalArg] ? signalName(signed32At(bytes, start, end)) : null;
        if (signal !== null) out.text(signal);
        else out.asWritten(true);
      } else if (ctx.isExecve) escapedField(start, end, quoted, ctx, out);
      break;
    case FieldKind.ExecveArg:
      if (ctx.isExecve) escapedField(start, end, quoted, ctx, out);
      break;
    case FieldKind.Signal: {
      const signal = signalName(numberOf(ctx, start, end));
      if (signal) out.text(signal);
      break;
    }
  }
}

/** An untrusted string (spelling.ts decodeEscaped): hex when unquoted and hex-shaped, else nothing to add. */
function escapedField(start: number, end: number, quoted: boolean, ctx: RecordContext, out: DecodedSink): void {
  if (quoted) return;
  const hex = ctx.hexRoom(end - start);
  const n = unhexInto(ctx.bytes, start, end, hex);
  if (n === NOT_HEX) return;
  if (n === NOT_ASCII) out.text(decodeEscaped(ctx.text.slice(start, end), false));
  else out.ascii(hex, 0, n, false);
}

/** spelling.ts decodeProctitle's argv, joined with spaces. */
function proctitleField(start: number, end: number, quoted: boolean, ctx: RecordContext, out: DecodedSink): void {
  const bytes = ctx.bytes;
  if (isNoProctitleAt(bytes, start, end)) return;
  const hex = ctx.hexRoom(end - start);
  const n = quoted ? NOT_HEX : unhexInto(bytes, start, end, hex);
  if (n === NOT_HEX) {
    // As written: one argument, unless a control character (a NUL splits it) asks for the general way.
    let i = start;
    while (i < end && bytes[i]! >= 0x20) i++;
    if (i === end) return out.asWritten(false);
  }
  if (n < 0) {
    const argv = decodeProctitle(ctx.text.slice(start, end), quoted);
    if (argv !== null) out.argv(argv);
    return;
  }
  out.ascii(hex, 0, argvEnd(hex, 0, n), true);
}

/** An id the ENRICHED tail does not name: its name in `scope`, "unknown(N)", or the text itself when it is no id. */
export function localIdName(text: string, scope: IdScope, user: boolean): string {
  const id = Number(text);
  if (!Number.isInteger(id) || id < 0) return text;
  return (user ? scope.user(id) : scope.group(id)) ?? `${UNKNOWN_NAME_PREFIX}${text})`;
}
