/**
 * Which rule decodes each field, as data (after auparse's field type table,
 * reduced to what whokilled decodes); the rules are field-rules.ts's. Both
 * decoders look a name's kind up here: interpret.ts per field, the byte
 * writer once per interned name (bytes/field-names.ts).
 */

export const enum FieldKind {
  /** Untrusted string: quoted, or uppercase hex when a byte needs it. */
  Escaped = 1,
  /** NUL-separated argv, hex or quoted. */
  Proctitle,
  Uid,
  Gid,
  /** Session id: 4294967295 / -1 mean unset. */
  Session,
  /** SYSCALL records only: */
  Arch,
  Syscall,
  Exit,
  Arg,
  /** A signal number (ANOM_ABEND's sig=). */
  Signal,
  /** EXECVE's arguments past a3 (`a4`, `a5[0]` for one split in parts; a0–a3 are Arg). */
  ExecveArg,
}

const ESCAPED = [
  "acct", "cmd", "comm", "cwd", "data", "dir", "exe", "file", "grp", "key", "name",
  "new-chardev", "new-disk", "new-fs", "new-net", "new-rng", "new_group", "ocomm",
  "old-chardev", "old-disk", "old-fs", "old-net", "old-rng", "path", "root_dir", "sw",
  "vm", "watch", "id_name", "unit",
];
const UIDS = [
  "uid", "euid", "suid", "fsuid", "auid", "ouid", "oauid", "iuid", "obj_uid", "sauid",
  "old-auid", "new-auid", "old_auid", "inode_uid", "agent_uid",
];
const GIDS = ["gid", "egid", "sgid", "fsgid", "ogid", "obj_gid", "new_gid", "inode_gid", "igid"];
const SESSIONS = ["ses", "oses", "old-ses"];
/** A SYSCALL record's argument fields, by index (where a kill-family call's signal and target are). */
export const ARG_NAMES: readonly string[] = ["a0", "a1", "a2", "a3"];

export const FIELD_KINDS: ReadonlyMap<string, FieldKind> = new Map<string, FieldKind>([
  ...ESCAPED.map((name) => [name, FieldKind.Escaped] as const),
  ["proctitle", FieldKind.Proctitle],
  ...UIDS.map((name) => [name, FieldKind.Uid] as const),
  ...GIDS.map((name) => [name, FieldKind.Gid] as const),
  ...SESSIONS.map((name) => [name, FieldKind.Session] as const),
  ["arch", FieldKind.Arch],
  ["syscall", FieldKind.Syscall],
  ["exit", FieldKind.Exit],
  ...ARG_NAMES.map((name) => [name, FieldKind.Arg] as const),
  ["sig", FieldKind.Signal],
]);

const EXECVE_ARG = /^a\d+(?:\[\d+\])?$/;

/** A field name's kind, undefined for a field decoded as it is. */
export function kindOf(name: string): FieldKind | undefined {
  const kind = FIELD_KINDS.get(name);
  if (kind !== undefined) return kind;
  if (name.charCodeAt(0) === 0x61 /* a */ && EXECVE_ARG.test(name)) return FieldKind.ExecveArg;
  // A repeated field is stored as `name#2`: interpret it like `name` (a repeated EXECVE argument stays as written).
  const hash = name.indexOf("#");
  return hash > 0 ? FIELD_KINDS.get(name.slice(0, hash)) : undefined;
}

/** The name of an id field's name in the ENRICHED tail: upper case (`uid` → `UID`). */
export function enrichedNameOf(name: string): string {
  return name.toUpperCase();
}
