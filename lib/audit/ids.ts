/**
 * uid/gid → name. The ENRICHED tail's names win (they were resolved on the
 * host that wrote the log); otherwise the local passwd/group, unless lookups
 * are off (`--no-lookup`, and always in tests, so output is deterministic).
 */
import { readFileSync } from "node:fs";

/** audit's "unset" id: (uid_t)-1, written as 4294967295 or -1. */
export function isUnsetId(text: string | undefined): boolean {
  return text === "4294967295" || text === "-1";
}

export interface IdNameOptions {
  /** false: never read passwd/group. */
  lookup: boolean;
  passwdFile?: string;
  groupFile?: string;
}

export class IdNames {
  private users: Map<number, string> | null = null;
  private groups: Map<number, string> | null = null;

  constructor(private readonly options: IdNameOptions) {}

  user(id: number): string | null {
    if (!this.options.lookup) return null;
    this.users ??= readIdFile(this.options.passwdFile ?? "/etc/passwd");
    return this.users.get(id) ?? null;
  }

  group(id: number): string | null {
    if (!this.options.lookup) return null;
    this.groups ??= readIdFile(this.options.groupFile ?? "/etc/group");
    return this.groups.get(id) ?? null;
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
