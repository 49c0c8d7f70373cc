/**
 * How each field is interpreted, as data (after auparse's field type table,
 * reduced to what whokilled decodes). One map lookup per field on the hot
 * path; EXECVE's argument fields are matched by shape in interpret.ts.
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

export const FIELD_KINDS: ReadonlyMap<string, FieldKind> = new Map<string, FieldKind>([
  ...ESCAPED.map((name) => [name, FieldKind.Escaped] as const),
  ["proctitle", FieldKind.Proctitle],
  ...UIDS.map((name) => [name, FieldKind.Uid] as const),
  ...GIDS.map((name) => [name, FieldKind.Gid] as const),
  ...SESSIONS.map((name) => [name, FieldKind.Session] as const),
  ["arch", FieldKind.Arch],
  ["syscall", FieldKind.Syscall],
  ["exit", FieldKind.Exit],
  ["a0", FieldKind.Arg],
  ["a1", FieldKind.Arg],
  ["a2", FieldKind.Arg],
  ["a3", FieldKind.Arg],
  ["sig", FieldKind.Signal],
]);

/** The ENRICHED tail names a field in upper case (`uid` → `UID`). */
export const ENRICHED_NAME: ReadonlyMap<string, string> = new Map(
  [...UIDS, ...GIDS].map((name) => [name, name.toUpperCase()]),
);
