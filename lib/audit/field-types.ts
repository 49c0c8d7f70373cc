/**
 * How each field is interpreted, as data (after auparse's field type table,
 * reduced to what whokilled decodes). Lookups are by field name; EXECVE's
 * argument fields are matched by pattern in interpret.ts.
 */

/** Untrusted strings: the kernel writes them quoted, or as uppercase hex when a byte needs it. */
export const ESCAPED_FIELDS: ReadonlySet<string> = new Set([
  "acct", "cmd", "comm", "cwd", "data", "dir", "exe", "file", "grp", "key", "name",
  "new-chardev", "new-disk", "new-fs", "new-net", "new-rng", "new_group", "ocomm",
  "old-chardev", "old-disk", "old-fs", "old-net", "old-rng", "path", "proctitle",
  "root_dir", "sw", "vm", "watch", "id_name", "unit",
]);

export const UID_FIELDS: ReadonlySet<string> = new Set([
  "uid", "euid", "suid", "fsuid", "auid", "ouid", "oauid", "iuid", "obj_uid", "sauid",
  "old-auid", "new-auid", "old_auid", "inode_uid", "agent_uid",
]);

export const GID_FIELDS: ReadonlySet<string> = new Set([
  "gid", "egid", "sgid", "fsgid", "ogid", "obj_gid", "new_gid", "inode_gid", "igid",
]);

/** Session ids: 4294967295 / -1 mean unset. */
export const SESSION_FIELDS: ReadonlySet<string> = new Set(["ses", "oses", "old-ses"]);
