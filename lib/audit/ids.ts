/**
 * uid/gid → name. A log's own ENRICHED tail names its ids (they were
 * resolved on the host that wrote it). Otherwise a passwd/group file names
 * them, but only one that is right for the log:
 * - files the user named (`--passwd`, `--group`): for every event;
 * - this machine's /etc/passwd and /etc/group: only for this host's own log.
 *   That is a live source (netlink, tracefs), this host's auditd log (under
 *   /var/log/audit, also read through stdin or as capture's `record` lines),
 *   or any input with `--local-names`. An event whose `node=` names another
 *   host is never this host's. A foreign log's uid 1000 is someone else.
 * Otherwise an id stays a number, and the event says its names are unknown.
 * `--no-lookup` reads no file at all (tests: output is deterministic).
 */
import { readFileSync, readlinkSync, realpathSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { isLiveFile } from "../sources/registry.ts";

/** Where this host's auditd writes its log (auditd.conf's default log_file's directory). */
export const LOCAL_AUDIT_LOG_DIR = "/var/log/audit/";
/** auditd's log, where capture and why look by default. */
export const DEFAULT_AUDIT_LOG = `${LOCAL_AUDIT_LOG_DIR}audit.log`;

/** `vm` of `vm.example.org`; a name without a dot is its own. */
function firstLabel(name: string): string {
  const dot = name.indexOf(".");
  return dot < 0 ? name : name.slice(0, dot);
}

/**
 * Is a `node=` this host, named `hostName`? auditd names a node by hostname
 * or FQDN (name_format), so, case aside, a short name matches the other's
 * first label (`vm` and `vm.example.org`), two FQDNs only whole. An address
 * or a name of the admin's own choosing cannot be told from another host's,
 * so it is not this host. (IdNames, and ProcReader for `attribute --proc`.)
 */
export function isHostNode(node: string, hostName: string): boolean {
  const name = node.toLowerCase();
  const host = hostName.toLowerCase();
  if (name === host) return true;
  if (!name.includes(".")) return name === firstLabel(host);
  return !host.includes(".") && firstLabel(name) === host;
}

/** What this machine is, for telling its own log from others' (tests give their own). */
export interface ThisHost {
  /** Its passwd and group (default /etc/passwd, /etc/group). */
  passwdFile: string;
  groupFile: string;
  /** Directories holding its own audit log (default /var/log/audit/). */
  logDirs: readonly string[];
  /** Its host name, as auditd writes it in `node=` (default os.hostname()). */
  name: string;
}

export interface IdNameOptions {
  /** false: never read passwd/group. */
  lookup: boolean;
  /** The user's own passwd/group: names every event's ids. */
  passwdFile?: string;
  groupFile?: string;
  /** The input is this host's own log, whatever its source: this machine's passwd/group name every event's ids. */
  localNames?: boolean;
  /** This machine (tests pass one of their own). */
  thisHost?: Partial<ThisHost>;
}

/**
 * The names one event's ids may take when its ENRICHED tail has none: from
 * a passwd/group that is right for it, or none. `unnamed`: a uid left
 * without a name here is unknown because no file was right for the log
 * (not because lookups are off, nor because the file lacks it).
 */
export class IdScope {
  constructor(
    /** 0 (another host's log) or 1 (this host's): caches are kept per scope. */
    readonly index: number,
    private readonly users: IdFile | null,
    private readonly groups: IdFile | null,
    readonly unnamed: boolean,
  ) {}

  user(id: number): string | null {
    return this.users === null ? null : this.users.name(id);
  }

  group(id: number): string | null {
    return this.groups === null ? null : this.groups.name(id);
  }
}

/** One passwd or group file, read at the first name asked of it. */
class IdFile {
  private names: Map<number, string> | null = null;

  constructor(private readonly path: string) {}

  name(id: number): string | null {
    this.names ??= readIdFile(this.path);
    return this.names.get(id) ?? null;
  }
}

/** Bounded caches: arbitrary input cannot grow them past a few dozen entries. */
const MAX_CACHED = 64;

/** `answer`, kept for `key` while the cache holds fewer than MAX_CACHED. */
function remember(cache: Map<string, boolean>, key: string, answer: boolean): boolean {
  if (cache.size < MAX_CACHED) cache.set(key, answer);
  return answer;
}

export class IdNames {
  private readonly host: ThisHost;
  private readonly scopes: IdScope[];
  /** The one scope when where a log comes from changes nothing (no lookups, or both files given), so no event asks. */
  private readonly fixed: IdScope | null;
  private readonly sourceIsLocal = new Map<string, boolean>();
  private readonly nodeIsLocal = new Map<string, boolean>();

  constructor(private readonly options: IdNameOptions) {
    this.host = {
      passwdFile: options.thisHost?.passwdFile ?? "/etc/passwd",
      groupFile: options.thisHost?.groupFile ?? "/etc/group",
      logDirs: options.thisHost?.logDirs ?? [LOCAL_AUDIT_LOG_DIR],
      name: options.thisHost?.name ?? hostname(),
    };
    const lookup = options.lookup;
    const users = { given: options.passwdFile === undefined ? null : new IdFile(options.passwdFile), local: new IdFile(this.host.passwdFile) };
    const groups = { given: options.groupFile === undefined ? null : new IdFile(options.groupFile), local: new IdFile(this.host.groupFile) };
    // Index 1: this host's log. A file the user gave wins; this machine's names only its own log.
    this.scopes = [false, true].map((local, index) => {
      const userFile = !lookup ? null : (users.given ?? (local ? users.local : null));
      const groupFile = !lookup ? null : (groups.given ?? (local ? groups.local : null));
      return new IdScope(index, userFile, groupFile, lookup && userFile === null);
    });
    this.fixed = !lookup || (users.given !== null && groups.given !== null) ? this.scopes[0]! : null;
  }

  /** The scope of an event read from `file` (a record's source file; `-` is stdin) on `node`. */
  scope(file: string | undefined, node: string | null): IdScope {
    return this.fixed ?? this.scopes[this.isThisHosts(file, node) ? 1 : 0]!;
  }

  /** Whether records from `file` on `node` are this host's own (or the user said the input is). */
  isThisHosts(file: string | undefined, node: string | null): boolean {
    if (this.options.localNames === true) return true;
    if (node !== null && !this.isThisNode(node)) return false;
    if (file === undefined) return false;
    return this.sourceIsLocal.get(file) ?? remember(this.sourceIsLocal, file, this.isLocalSource(file));
  }

  private isThisNode(node: string): boolean {
    return this.nodeIsLocal.get(node) ?? remember(this.nodeIsLocal, node, isHostNode(node, this.host.name));
  }

  private isLocalSource(file: string): boolean {
    if (isLiveFile(file)) return true;
    // stdin redirected from a file (`attribute < /var/log/audit/audit.log`): the file it is.
    const path = file === "-" ? stdinPath() : file;
    if (path === null) return false;
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      real = resolve(path);
    }
    return this.host.logDirs.some((dir) => real.startsWith(dir.endsWith("/") ? dir : `${dir}/`));
  }
}

/** The file stdin reads, or null (a pipe, a terminal, nothing). */
function stdinPath(): string | null {
  try {
    const target = readlinkSync("/proc/self/fd/0");
    return target.startsWith("/") ? target : null;
  } catch {
    return null;
  }
}

function readIdFile(path: string): Map<number, string> {
  const names = new Map<number, string>();
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return names;
  }
  for (const line of text.split("\n")) {
    const [name, , id] = line.split(":");
    if (name && id && /^\d+$/.test(id) && !names.has(Number(id))) names.set(Number(id), name);
  }
  return names;
}
