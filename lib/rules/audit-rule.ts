/**
 * `struct audit_rule_data` (linux/audit.h), the form in which the kernel takes
 * and lists audit rules: pure encode/decode, a parser for auditctl's rule
 * syntax and a printer in `auditctl -l` syntax. No I/O, so every rule shape
 * can be tested without root.
 *
 * Layout (u32, native little-endian): flags (the filter list), action,
 * field_count, mask[64] (syscall bitmap), fields[64], values[64],
 * fieldflags[64] (operators), buflen, then buf: the strings of the string
 * fields, back to back, each field's value being its length.
 *
 * The printer follows auditctl 3.0.9's listing (auditctl-listing.c): arch
 * first, then syscalls, then the other fields in kernel order; arguments in
 * hex, most numbers as signed decimal, keys as `-F key=` (or `-k` on a watch).
 */
import { machine } from "node:os";
import { KEY_SEPARATOR } from "../audit/spelling.ts";
import { WhokilledError, usageError } from "../errors.ts";
import { archBits, archHex, archName } from "../tables/arch.ts";
import { ERRNO_NAMES } from "../tables/errno.generated.ts";
import { errnoName } from "../tables/errno.ts";
import { recordTypeName, recordTypeNumber } from "../tables/record-types.ts";
import { syscallName, syscallNumber } from "../tables/syscalls.ts";

// Filter lists (rule flags) and the flag that inserts at the head (auditctl -A).
export const AUDIT_FILTER_USER = 0;
export const AUDIT_FILTER_TASK = 1;
export const AUDIT_FILTER_ENTRY = 2;
export const AUDIT_FILTER_EXIT = 4;
export const AUDIT_FILTER_EXCLUDE = 5;
export const AUDIT_FILTER_FS = 6;
export const AUDIT_FILTER_URING_EXIT = 7;
export const AUDIT_FILTER_PREPEND = 0x10;

export const AUDIT_NEVER = 0;
export const AUDIT_POSSIBLE = 1;
export const AUDIT_ALWAYS = 2;

export const AUDIT_MAX_FIELDS = 64;
export const AUDIT_BITMASK_SIZE = 64;
export const AUDIT_MAX_KEY_LEN = 256;

// Operators (fieldflags).
export const AUDIT_BIT_MASK = 0x08000000;
export const AUDIT_LESS_THAN = 0x10000000;
export const AUDIT_GREATER_THAN = 0x20000000;
export const AUDIT_NOT_EQUAL = 0x30000000;
export const AUDIT_EQUAL = 0x40000000;
export const AUDIT_BIT_TEST = AUDIT_BIT_MASK | AUDIT_EQUAL;
export const AUDIT_LESS_THAN_OR_EQUAL = AUDIT_LESS_THAN | AUDIT_EQUAL;
export const AUDIT_GREATER_THAN_OR_EQUAL = AUDIT_GREATER_THAN | AUDIT_EQUAL;
export const AUDIT_OPERATORS = AUDIT_EQUAL | AUDIT_NOT_EQUAL | AUDIT_BIT_MASK;

// Fields this module treats specially.
export const AUDIT_ARCH = 11;
export const AUDIT_MSGTYPE = 12;
export const AUDIT_WATCH = 105;
export const AUDIT_PERM = 106;
export const AUDIT_DIR = 107;
export const AUDIT_FIELD_COMPARE = 111;
export const AUDIT_EXE = 112;
export const AUDIT_ARG0 = 200;
export const AUDIT_FILTERKEY = 210;

const ARCH_64BIT = 0x80000000;

const AUDIT_PERM_EXEC = 1;
const AUDIT_PERM_WRITE = 2;
const AUDIT_PERM_READ = 4;
const AUDIT_PERM_ATTR = 8;

/** Bytes before buf: 3 + 4×64 + 1 u32. */
export const RULE_HEADER_BYTES = 1040;

export interface RuleField {
  /** AUDIT_* field number (AUDIT_ARG0, AUDIT_FILTERKEY…). */
  field: number;
  /** AUDIT_EQUAL, AUDIT_NOT_EQUAL… */
  op: number;
  /** The u32 value; for a string field, its length in bytes. */
  value: number;
  /** String fields only: the bytes in buf (kept as they came, so a rule can be sent back unchanged). */
  bytes?: Uint8Array;
}

export interface AuditRule {
  /** The filter list (AUDIT_FILTER_EXIT…), | AUDIT_FILTER_PREPEND to insert at the head. */
  flags: number;
  action: number;
  /** Syscall bitmap, AUDIT_BITMASK_SIZE words. */
  mask: Uint32Array;
  fields: RuleField[];
}

/** The rule's filter list: its flags without -A's AUDIT_FILTER_PREPEND. */
export function ruleList(rule: AuditRule): number {
  return rule.flags & ~AUDIT_FILTER_PREPEND;
}

/** Whether the rule's syscall bitmap has syscall `nr`. */
export function hasSyscall(rule: AuditRule, nr: number): boolean {
  return (((rule.mask[nr >>> 5] ?? 0) >>> (nr & 31)) & 1) === 1;
}

// --- the field table -----------------------------------------------------

type FieldKind = "int" | "uint" | "hex" | "string" | "arch" | "msgtype" | "exit" | "perm" | "compare" | "fstype" | "filetype";

/** [number, name auditctl prints, kind]; loginuid is a second spelling of auid, accepted when parsing. */
const FIELD_TABLE: ReadonlyArray<readonly [number, string, FieldKind]> = [
  [0, "pid", "int"],
  [1, "uid", "int"],
  [2, "euid", "int"],
  [3, "suid", "int"],
  [4, "fsuid", "int"],
  [5, "gid", "int"],
  [6, "egid", "int"],
  [7, "sgid", "int"],
  [8, "fsgid", "int"],
  [9, "auid", "int"],
  [10, "pers", "int"],
  [AUDIT_ARCH, "arch", "arch"],
  [AUDIT_MSGTYPE, "msgtype", "msgtype"],
  [13, "subj_user", "string"],
  [14, "subj_role", "string"],
  [15, "subj_type", "string"],
  [16, "subj_sen", "string"],
  [17, "subj_clr", "string"],
  [18, "ppid", "int"],
  [19, "obj_user", "string"],
  [20, "obj_role", "string"],
  [21, "obj_type", "string"],
  [22, "obj_lev_low", "string"],
  [23, "obj_lev_high", "string"],
  [25, "sessionid", "int"],
  [26, "fstype", "fstype"],
  [100, "devmajor", "int"],
  [101, "devminor", "int"],
  [102, "inode", "uint"],
  [103, "exit", "exit"],
  [104, "success", "int"],
  [AUDIT_WATCH, "path", "string"],
  [AUDIT_PERM, "perm", "perm"],
  [AUDIT_DIR, "dir", "string"],
  [108, "filetype", "filetype"],
  [109, "obj_uid", "int"],
  [110, "obj_gid", "int"],
  [AUDIT_FIELD_COMPARE, "field_compare", "compare"],
  [AUDIT_EXE, "exe", "string"],
  [113, "saddr_fam", "int"],
  [AUDIT_ARG0, "a0", "hex"],
  [AUDIT_ARG0 + 1, "a1", "hex"],
  [AUDIT_ARG0 + 2, "a2", "hex"],
  [AUDIT_ARG0 + 3, "a3", "hex"],
  [AUDIT_FILTERKEY, "key", "string"],
];
const FIELD_BY_NUMBER = new Map(FIELD_TABLE.map(([nr, name, kind]) => [nr, { name, kind }]));
const FIELD_BY_NAME = new Map<string, { nr: number; kind: FieldKind }>([
  ...FIELD_TABLE.map(([nr, name, kind]) => [name, { nr, kind }] as const),
  ["loginuid", { nr: 9, kind: "int" }],
]);

/** Fields whose value lives in buf (the kernel's own list: LSM labels, path, dir, key, exe). */
export function isStringField(field: number): boolean {
  return FIELD_BY_NUMBER.get(field)?.kind === "string";
}

/** Longest symbols first, so `!=` is not read as `!` + `=`. */
const OPERATORS: ReadonlyArray<readonly [string, number]> = [
  ["!=", AUDIT_NOT_EQUAL],
  ["<=", AUDIT_LESS_THAN_OR_EQUAL],
  [">=", AUDIT_GREATER_THAN_OR_EQUAL],
  ["&=", AUDIT_BIT_TEST],
  ["=", AUDIT_EQUAL],
  ["<", AUDIT_LESS_THAN],
  [">", AUDIT_GREATER_THAN],
  ["&", AUDIT_BIT_MASK],
];
const OPERATOR_SYMBOL = new Map(OPERATORS.map(([symbol, op]) => [op, symbol]));

function operatorSymbol(op: number): string {
  return OPERATOR_SYMBOL.get(op & AUDIT_OPERATORS) ?? "?";
}

const LIST_NAMES: ReadonlyArray<readonly [number, string]> = [
  [AUDIT_FILTER_USER, "user"],
  [AUDIT_FILTER_TASK, "task"],
  [AUDIT_FILTER_ENTRY, "entry"],
  [AUDIT_FILTER_EXIT, "exit"],
  [AUDIT_FILTER_EXCLUDE, "exclude"],
  [AUDIT_FILTER_FS, "filesystem"],
  [AUDIT_FILTER_URING_EXIT, "io_uring"],
];
const ACTION_NAMES: ReadonlyArray<readonly [number, string]> = [
  [AUDIT_NEVER, "never"],
  [AUDIT_POSSIBLE, "possible"],
  [AUDIT_ALWAYS, "always"],
];

/** -C comparisons: AUDIT_COMPARE_* number → [left, right]. */
const COMPARISONS: ReadonlyArray<readonly [number, string, string]> = [
  [1, "uid", "obj_uid"],
  [2, "gid", "obj_gid"],
  [3, "euid", "obj_uid"],
  [4, "egid", "obj_gid"],
  [5, "auid", "obj_uid"],
  [6, "suid", "obj_uid"],
  [7, "sgid", "obj_gid"],
  [8, "fsuid", "obj_uid"],
  [9, "fsgid", "obj_gid"],
  [10, "uid", "auid"],
  [11, "uid", "euid"],
  [12, "uid", "fsuid"],
  [13, "uid", "suid"],
  [14, "auid", "fsuid"],
  [15, "auid", "suid"],
  [16, "auid", "euid"],
  [17, "euid", "suid"],
  [18, "euid", "fsuid"],
  [19, "suid", "fsuid"],
  [20, "gid", "egid"],
  [21, "gid", "fsgid"],
  [22, "gid", "sgid"],
  [23, "egid", "fsgid"],
  [24, "egid", "sgid"],
  [25, "sgid", "fsgid"],
];

/** The file systems auditctl 3.0.9 names in `-F fstype=` (its fstypetab). */
const FSTYPES: ReadonlyArray<readonly [number, string]> = [
  [0x64626720, "debugfs"],
  [0x74726163, "tracefs"],
];

/** `-F filetype=` names → S_IF* (listed as the number, as auditctl does). */
const FILETYPES = new Map([
  ["file", 0o100000],
  ["dir", 0o040000],
  ["socket", 0o140000],
  ["link", 0o120000],
  ["character", 0o020000],
  ["block", 0o060000],
  ["fifo", 0o010000],
]);

// --- machines and arches --------------------------------------------------

/** The 32-bit ABI a 64-bit kernel of this machine also runs. */
const COMPAT_MACHINE = new Map([
  ["x86_64", "i386"],
  ["aarch64", "arm"],
  ["ppc64le", "ppc"],
  ["ppc64", "ppc"],
  ["s390x", "s390"],
]);

/** The machines auditctl maps an arch value to (and then prints as b64/b32). */
const RULE_MACHINES = new Set(["x86_64", "i386", "aarch64", "arm", "ppc64le", "ppc64", "ppc", "s390x", "s390"]);

/** `uname -m` as audit's tables name it: i686 → i386, armv7l → arm. */
export function hostMachine(uname: string = machine()): string {
  if (/^i[3-6]86$/.test(uname)) return "i386";
  if (/^arm/.test(uname)) return "arm";
  return uname;
}

/** `-F arch=` text → AUDIT_ARCH_* value: b64/b32 mean this host's ABIs, as in auditctl. */
export function archValue(text: string, host: string = hostMachine()): number {
  const hostBits = archBits(host);
  let name: string | undefined;
  if (text === "b64") {
    if (hostBits !== 64) throw usageError(`-F arch=b64: this machine (${host}) has no 64-bit ABI`);
    name = host;
  } else if (text === "b32") {
    name = hostBits === 64 ? COMPAT_MACHINE.get(host) : host;
    if (name === undefined) throw usageError(`-F arch=b32: no 32-bit ABI is known for ${host}`);
  } else if (/^(0x[0-9a-f]{1,8}|\d+)$/i.test(text)) {
    return parseNumber(text, "-F arch");
  } else {
    name = hostMachine(text);
  }
  const hex = archHex(name);
  if (hex === null) throw usageError(`-F arch=${text}: unknown arch`);
  return Number.parseInt(hex, 16) >>> 0;
}

/** AUDIT_ARCH_* value → machine name when auditctl knows it, else null. */
function ruleMachine(value: number): string | null {
  const name = archName((value >>> 0).toString(16));
  return name !== null && RULE_MACHINES.has(name) ? name : null;
}

// --- parsing auditctl syntax ---------------------------------------------

export function emptyMask(): Uint32Array {
  return new Uint32Array(AUDIT_BITMASK_SIZE);
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder("utf-8");

function stringField(field: number, op: number, text: string): RuleField {
  const bytes = utf8.encode(text);
  return { field, op, value: bytes.length, bytes };
}

function parseNumber(text: string, what: string): number {
  // strtol/strtoul with base 0, as auditctl reads them: decimal, 0x hex, negative as its u32.
  const m = /^(-)?(0x[0-9a-f]+|\d+)$/i.exec(text.trim());
  if (!m) throw usageError(`${what}: ${JSON.stringify(text)} is not a number`);
  const n = BigInt(m[2]!) * (m[1] ? -1n : 1n);
  if (n > 0xffffffffn || n < -0x80000000n) throw usageError(`${what}: ${text} does not fit in 32 bits`);
  return Number(BigInt.asUintN(32, n));
}

function parseFieldValue(nr: number, kind: FieldKind, name: string, text: string): number {
  const what = `-F ${name}`;
  switch (kind) {
    case "int":
    case "uint":
    case "hex":
      if (text === "unset" && kind === "int") return 0xffffffff;
      return parseNumber(text, what);
    case "msgtype":
      return /^\d+$/.test(text) ? Number(text) : (recordTypeNumber(text) ?? throwUsage(`${what}: unknown record type ${JSON.stringify(text)}`));
    case "exit": {
      const named = /^-?(E[A-Z0-9]+)$/.exec(text);
      if (named) {
        const entry = Object.entries(ERRNO_NAMES).find(([, n]) => n === named[1]);
        if (!entry) throw usageError(`${what}: unknown errno ${named[1]}`);
        return (text.startsWith("-") ? -Number(entry[0]) : Number(entry[0])) >>> 0;
      }
      return parseNumber(text, what);
    }
    case "perm": {
      let perm = 0;
      for (const ch of text) {
        const bit = { r: AUDIT_PERM_READ, w: AUDIT_PERM_WRITE, x: AUDIT_PERM_EXEC, a: AUDIT_PERM_ATTR }[ch];
        if (bit === undefined) throw usageError(`${what}: ${JSON.stringify(text)}: use the letters r, w, x and a`);
        perm |= bit;
      }
      return perm;
    }
    case "fstype":
      return FSTYPES.find(([, n]) => n === text)?.[0] ?? parseNumber(text, what);
    case "filetype":
      return FILETYPES.get(text) ?? parseNumber(text, what);
    default:
      throw usageError(`${what}: cannot be given with -F (field ${nr})`);
  }
}

function throwUsage(message: string): never {
  throw usageError(message);
}

/**
 * A rule in auditctl's syntax (argv or one line, as rules.d files, auditctl
 * -l and setup-rule print hold them) → the structure auditctl would send.
 * Fields stay in the order given, with the arch where it stands; the keys
 * (`-k K` or `-F key=K`) go last as one field, joined with 0x01, as auditctl
 * does. Without -S, an exit rule covers every syscall. Covers -a/-A/-d,
 * -S, -F, -C, -k, -w and -p.
 */
export function parseRuleText(rule: string | readonly string[], host: string = hostMachine()): AuditRule {
  const tokens = typeof rule === "string" ? rule.trim().split(/\s+/).filter(Boolean) : [...rule];
  if (tokens[0] === "auditctl") tokens.shift();
  const parsed: AuditRule = { flags: -1, action: -1, mask: emptyMask(), fields: [] };
  const keys: string[] = [];
  let syscallMachine = host;
  let anySyscall = false;
  // Asserted, not just annotated: TypeScript would otherwise narrow it to null for the whole loop.
  let watch = null as { path: string; perm: number | null } | null;
  const value = (i: number, option: string) => tokens[i + 1] ?? throwUsage(`${option} needs a value`);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    switch (token) {
      case "-a":
      case "-A":
      case "-d": {
        const listAction = value(i++, token);
        for (const part of listAction.split(",")) {
          const list = LIST_NAMES.find(([, n]) => n === part);
          const action = ACTION_NAMES.find(([, n]) => n === part);
          if (list) parsed.flags = list[0];
          else if (action) parsed.action = action[0];
          else throw usageError(`${token} ${listAction}: unknown list or action ${JSON.stringify(part)}`);
        }
        if (parsed.flags < 0 || parsed.action < 0) throw usageError(`${token} ${listAction}: give a list and an action, e.g. always,exit`);
        if (token === "-A") parsed.flags |= AUDIT_FILTER_PREPEND;
        break;
      }
      case "-S":
        for (const name of value(i++, token).split(",")) {
          anySyscall = true;
          if (name === "all") {
            parsed.mask.fill(0xffffffff);
            continue;
          }
          const nr = /^\d+$/.test(name) ? Number(name) : syscallNumber(syscallMachine, name);
          if (nr === null || nr >= AUDIT_BITMASK_SIZE * 32) throw usageError(`-S ${name}: unknown syscall for ${syscallMachine}`);
          parsed.mask[nr >>> 5]! |= 1 << (nr & 31);
        }
        break;
      case "-k":
        keys.push(value(i++, token));
        break;
      case "-w":
        watch = { path: value(i++, token), perm: watch?.perm ?? null };
        break;
      case "-p":
        if (!watch) throw usageError("-p needs a -w before it");
        watch.perm = parseFieldValue(AUDIT_PERM, "perm", "perm", value(i++, token));
        break;
      case "-C": {
        const text = value(i++, token);
        const m = /^([a-z_]+)(!=|=)([a-z_]+)$/.exec(text);
        const cmp = m && COMPARISONS.find(([, l, r]) => (l === m[1] && r === m[3]) || (l === m[3] && r === m[1]));
        if (!m || !cmp) throw usageError(`-C ${text}: unknown comparison`);
        parsed.fields.push({ field: AUDIT_FIELD_COMPARE, op: m[2] === "!=" ? AUDIT_NOT_EQUAL : AUDIT_EQUAL, value: cmp[0] });
        break;
      }
      case "-F": {
        const pair = value(i++, token);
        const m = /^([a-z0-9_]+)(!=|<=|>=|&=|=|<|>|&)(.*)$/i.exec(pair);
        if (!m) throw usageError(`-F ${pair}: expected NAME OP VALUE`);
        const [, name, symbol, text] = m as unknown as [string, string, string, string];
        const op = OPERATORS.find(([s]) => s === symbol)![1];
        const known = FIELD_BY_NAME.get(name);
        if (!known) throw usageError(`-F ${pair}: unknown field ${JSON.stringify(name)}`);
        if (known.nr === AUDIT_FILTERKEY) {
          keys.push(text);
        } else if (known.kind === "arch") {
          const arch = archValue(text, host);
          parsed.fields.push({ field: AUDIT_ARCH, op, value: arch });
          syscallMachine = ruleMachine(arch) ?? syscallMachine;
        } else if (known.kind === "string") {
          parsed.fields.push(stringField(known.nr, op, text));
        } else {
          parsed.fields.push({ field: known.nr, op, value: parseFieldValue(known.nr, known.kind, name, text) });
        }
        break;
      }
      default:
        throw usageError(`${JSON.stringify(token)}: not an auditctl rule option (-a, -A, -d, -S, -F, -C, -k, -w, -p)`);
    }
  }
  if (watch) {
    // A watch is an exit rule on every syscall with a path (or dir) and a perm field.
    if (parsed.flags < 0) {
      parsed.flags = AUDIT_FILTER_EXIT;
      parsed.action = AUDIT_ALWAYS;
    }
    parsed.mask.fill(0xffffffff);
    const isDir = watch.path.length > 1 && watch.path.endsWith("/");
    parsed.fields.unshift(stringField(isDir ? AUDIT_DIR : AUDIT_WATCH, AUDIT_EQUAL, isDir ? watch.path.slice(0, -1) : watch.path));
    parsed.fields.splice(1, 0, { field: AUDIT_PERM, op: AUDIT_EQUAL, value: watch.perm ?? AUDIT_PERM_READ | AUDIT_PERM_WRITE | AUDIT_PERM_EXEC | AUDIT_PERM_ATTR });
  }
  if (parsed.flags < 0) throw usageError("a rule needs -a LIST,ACTION (e.g. -a always,exit) or -w PATH");
  if (ruleList(parsed) === AUDIT_FILTER_EXIT && !anySyscall && !watch) parsed.mask.fill(0xffffffff);
  if (keys.length > 0) {
    const key = keys.join(KEY_SEPARATOR);
    if (utf8.encode(key).length > AUDIT_MAX_KEY_LEN) throw usageError(`key ${JSON.stringify(key)} is longer than ${AUDIT_MAX_KEY_LEN} bytes`);
    parsed.fields.push(stringField(AUDIT_FILTERKEY, AUDIT_EQUAL, key));
  }
  if (parsed.fields.length > AUDIT_MAX_FIELDS) throw usageError(`a rule takes at most ${AUDIT_MAX_FIELDS} fields`);
  return parsed;
}

// --- the wire format -------------------------------------------------------

/** AuditRule → the bytes of struct audit_rule_data. */
export function encodeRule(rule: AuditRule): Uint8Array {
  if (rule.fields.length > AUDIT_MAX_FIELDS) throw new WhokilledError("E_INTERNAL", `a rule takes at most ${AUDIT_MAX_FIELDS} fields`);
  const strings = rule.fields.filter((f) => isStringField(f.field)).map((f) => f.bytes ?? new Uint8Array(0));
  const buflen = strings.reduce((n, s) => n + s.length, 0);
  const bytes = new Uint8Array(RULE_HEADER_BYTES + buflen);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, rule.flags >>> 0, true);
  view.setUint32(4, rule.action >>> 0, true);
  view.setUint32(8, rule.fields.length, true);
  for (let i = 0; i < AUDIT_BITMASK_SIZE; i++) view.setUint32(12 + 4 * i, rule.mask[i] ?? 0, true);
  rule.fields.forEach((f, i) => {
    const value = isStringField(f.field) ? (f.bytes?.length ?? 0) : f.value;
    view.setUint32(268 + 4 * i, f.field >>> 0, true);
    view.setUint32(524 + 4 * i, value >>> 0, true);
    view.setUint32(780 + 4 * i, f.op >>> 0, true);
  });
  view.setUint32(1036, buflen, true);
  let offset = RULE_HEADER_BYTES;
  for (const s of strings) {
    bytes.set(s, offset);
    offset += s.length;
  }
  return bytes;
}

/** The bytes of struct audit_rule_data (one AUDIT_LIST_RULES reply) → AuditRule. Throws E_KERNEL on a malformed one. */
export function decodeRule(bytes: Uint8Array): AuditRule {
  const bad = (why: string) => new WhokilledError("E_KERNEL", `malformed audit_rule_data from the kernel (${bytes.length} bytes): ${why}`);
  if (bytes.length < RULE_HEADER_BYTES) throw bad(`shorter than the ${RULE_HEADER_BYTES}-byte header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fieldCount = view.getUint32(8, true);
  if (fieldCount > AUDIT_MAX_FIELDS) throw bad(`field_count ${fieldCount}`);
  const buflen = view.getUint32(1036, true);
  if (RULE_HEADER_BYTES + buflen > bytes.length) throw bad(`buflen ${buflen} runs past the end`);
  const mask = emptyMask();
  for (let i = 0; i < AUDIT_BITMASK_SIZE; i++) mask[i] = view.getUint32(12 + 4 * i, true);
  const fields: RuleField[] = [];
  let offset = 0;
  for (let i = 0; i < fieldCount; i++) {
    // Old kernels folded the operator into fields[]; the field number is what is left without it.
    const field = view.getUint32(268 + 4 * i, true) & ~AUDIT_OPERATORS & 0x7fffffff;
    const value = view.getUint32(524 + 4 * i, true);
    const op = view.getUint32(780 + 4 * i, true) & AUDIT_OPERATORS;
    if (isStringField(field)) {
      if (offset + value > buflen) throw bad(`string field ${i} runs past buflen`);
      const start = RULE_HEADER_BYTES + offset;
      fields.push({ field, op, value, bytes: bytes.slice(start, start + value) });
      offset += value;
    } else {
      fields.push({ field, op, value });
    }
  }
  return { flags: view.getUint32(0, true), action: view.getUint32(4, true), mask, fields };
}

// --- reading a rule ----------------------------------------------------------

function fieldText(f: RuleField): string {
  return f.bytes ? fromUtf8.decode(f.bytes) : "";
}

/** A key field's keys (several keys on one rule are joined with 0x01 in one field). */
function fieldKeys(f: RuleField): string[] {
  return fieldText(f).split(KEY_SEPARATOR).filter((k) => k !== "");
}

/** The rule's keys. */
export function ruleKeys(rule: AuditRule): string[] {
  return rule.fields.filter((f) => f.field === AUDIT_FILTERKEY).flatMap(fieldKeys);
}

/**
 * One string per meaning: what the kernel tells rules apart by
 * (audit_compare_rule: list, action, syscall bitmap, fields), with the fields
 * (and several keys) in any order, as a rules file and `auditctl -l` may
 * order them. -A is not part of it (the kernel forgets it once the rule is
 * in place). Numbers are the u32 the kernel stores (`-5`, `0xFFFFFFFB`), arch
 * names fold onto b64/b32, syscalls are a set: parseRuleText reads them all so.
 */
export function ruleMeaning(rule: AuditRule): string {
  const fields = rule.fields.map((f) =>
    f.field === AUDIT_FILTERKEY
      ? `key=${JSON.stringify(fieldText(f).split(KEY_SEPARATOR).sort())}`
      : `${f.field}${operatorSymbol(f.op)}${f.bytes ? JSON.stringify(fieldText(f)) : f.value}`,
  );
  return [ruleList(rule), rule.action, Array.from(rule.mask, (w) => w.toString(16)).join("."), ...fields.sort()].join(" ");
}

/** The same rule without -A's flag: what a delete request must carry to match the stored rule. */
export function withoutPrepend(rule: AuditRule): AuditRule {
  return { ...rule, flags: ruleList(rule) };
}

function isNoSyscallList(list: number): boolean {
  return list === AUDIT_FILTER_USER || list === AUDIT_FILTER_TASK || list === AUDIT_FILTER_EXCLUDE;
}

/** Every syscall bit set (the last word holds the kernel's class bits, so it does not count). */
function allSyscalls(mask: Uint32Array): boolean {
  for (let i = 0; i < AUDIT_BITMASK_SIZE - 1; i++) if (mask[i] !== 0xffffffff) return false;
  return true;
}

/** auditctl's test for a watch: only path/dir/perm/key fields, a perm, and (on a syscall list) every syscall. */
function isWatch(rule: AuditRule): boolean {
  let perm = false;
  for (const f of rule.fields) {
    if (f.field === AUDIT_PERM) perm = true;
    if (f.field !== AUDIT_PERM && f.field !== AUDIT_FILTERKEY && f.field !== AUDIT_DIR && f.field !== AUDIT_WATCH) return false;
  }
  const list = rule.flags & 7;
  return perm && (isNoSyscallList(list) || allSyscalls(rule.mask));
}

function permText(value: number): string {
  return `${value & AUDIT_PERM_READ ? "r" : ""}${value & AUDIT_PERM_WRITE ? "w" : ""}${value & AUDIT_PERM_EXEC ? "x" : ""}${value & AUDIT_PERM_ATTR ? "a" : ""}`;
}

const signed = (value: number) => value | 0;
const hex = (value: number) => `0x${(value >>> 0).toString(16).toUpperCase()}`;

/**
 * The rule as `auditctl -l` (3.0.9) prints it, e.g.
 * `-a always,exit -F arch=b64 -S kill,tkill -F a1!=0x0 -F key=whokilled`,
 * or `-w /etc/passwd -p wa -k identity` for a watch. Syscall names come from
 * the rule's own arch (the host's when it names none).
 */
export function formatRule(rule: AuditRule, host: string = hostMachine()): string {
  const watch = isWatch(rule);
  const list = ruleList(rule);
  let out = "";
  let syscallMachine: string | null = host;
  if (!watch) {
    const action = ACTION_NAMES.find(([n]) => n === rule.action)?.[1] ?? String(rule.action);
    const listName = LIST_NAMES.find(([n]) => n === list)?.[1] ?? String(list);
    out += `-a ${action},${listName}`;
    for (const f of rule.fields) {
      if (f.field !== AUDIT_ARCH) continue;
      syscallMachine = ruleMachine(f.value);
      const text = syscallMachine === null ? hex(f.value) : f.value & ARCH_64BIT ? "b64" : "b32";
      out += ` -F arch${operatorSymbol(f.op)}${text}`;
    }
    out += syscallText(rule, list, syscallMachine);
  }
  return out + rule.fields.filter((f) => f.field !== AUDIT_ARCH).map((f) => fieldPrint(f, watch)).join("");
}

function syscallText(rule: AuditRule, list: number, syscallMachine: string | null): string {
  // A filesystem rule carries a full bitmap, but auditctl lists no -S for it.
  if (isNoSyscallList(list) || list === AUDIT_FILTER_FS) return "";
  if (allSyscalls(rule.mask)) return " -S all";
  const names: string[] = [];
  for (let nr = 0; nr < AUDIT_BITMASK_SIZE * 32; nr++) {
    if (hasSyscall(rule, nr)) names.push((syscallMachine && syscallName(syscallMachine, nr)) || String(nr));
  }
  return names.length ? ` -S ${names.join(",")}` : "";
}

/** One field of a syscall rule as `auditctl -l` prints it, without the `-F ` (e.g. `a0=0x4D2`, `uid=0`). */
export function formatRuleField(f: RuleField): string {
  return fieldPrint(f, false).trim().replace(/^-F /, "");
}

function fieldPrint(f: RuleField, watch: boolean): string {
  const known = FIELD_BY_NUMBER.get(f.field);
  const op = operatorSymbol(f.op);
  // auditctl prints a field it has no name for without the -F.
  if (!known) return ` f${f.field}${op}${signed(f.value)}`;
  const { name, kind } = known;
  switch (f.field) {
    case AUDIT_WATCH:
    case AUDIT_DIR:
      // auditctl -w strips a directory's trailing slash before sending it, and 3.0.9 lists it without one.
      return watch ? `-w ${fieldText(f)}` : ` -F ${name}=${fieldText(f)}`;
    case AUDIT_EXE:
      // auditctl 3.0.9 prints exe= whatever the operator; != is printed here so the rule reads as what it does.
      return ` -F exe${f.op === AUDIT_NOT_EQUAL ? "!=" : "="}${fieldText(f)}`;
    case AUDIT_FILTERKEY:
      return fieldKeys(f).map((k) => (watch ? ` -k ${k}` : ` -F key=${k}`)).join("");
    case AUDIT_PERM:
      return watch ? ` -p ${permText(f.value)}` : ` -F perm=${permText(f.value)}`;
  }
  switch (kind) {
    case "string":
      return ` -F ${name}${op}${fieldText(f)}`;
    case "hex":
      return ` -F ${name}${op}${hex(f.value)}`;
    case "uint":
      return ` -F ${name}${op}${f.value >>> 0}`;
    case "msgtype": {
      const type = recordTypeName(f.value);
      return ` -F ${name}${op}${type.startsWith("UNKNOWN[") ? signed(f.value) : type}`;
    }
    case "exit": {
      const errno = signed(f.value) < 0 ? errnoName(-signed(f.value)) : null;
      return ` -F ${name}${op}${errno ? `-${errno}` : signed(f.value)}`;
    }
    case "fstype":
      return ` -F ${name}${op}${FSTYPES.find(([n]) => n === f.value)?.[1] ?? signed(f.value)}`;
    case "compare": {
      const cmp = COMPARISONS.find(([n]) => n === f.value);
      return cmp ? ` -C ${cmp[1]}${op}${cmp[2]}` : "";
    }
    default:
      return ` -F ${name}${op}${signed(f.value)}`;
  }
}
