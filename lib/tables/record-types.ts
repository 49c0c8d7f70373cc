import { RECORD_TYPE_ALIASES, RECORD_TYPE_NAMES } from "./record-types.generated.ts";

/** 1300 → "SYSCALL"; unknown numbers are spelled as ausearch and auditd write them, "UNKNOWN[1234]". */
export function recordTypeName(nr: number): string {
  return RECORD_TYPE_NAMES[nr] ?? `UNKNOWN[${nr}]`;
}

let byName: Map<string, number> | undefined;

/** "SYSCALL" → 1300, also "UNKNOWN[1234]" → 1234 and the kernel's alias spellings; null when unknown. */
export function recordTypeNumber(name: string): number | null {
  if (byName === undefined) {
    byName = new Map(Object.entries(RECORD_TYPE_ALIASES));
    for (const [nr, n] of Object.entries(RECORD_TYPE_NAMES)) byName.set(n, Number(nr));
  }
  const known = byName.get(name);
  if (known !== undefined) return known;
  const m = /^UNKNOWN\[(\d{1,9})\]$/.exec(name);
  return m ? Number(m[1]) : null;
}
