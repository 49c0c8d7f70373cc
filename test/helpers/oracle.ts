/**
 * Reading `ausearch -i` output, the oracle for interpretation. Its values may
 * hold spaces (`exit=ESRCH(No such process)`, `exe=/x (deleted)`), so a field
 * ends where the next ` name=` begins.
 */
export interface OracleRecord {
  type: string;
  /** MM/DD/YY HH:MM:SS.mmm as printed (local time of the oracle run: UTC). */
  when: string;
  serial: string;
  fields: Record<string, string>;
}

const RECORD = /^type=(\S+) msg=audit\((\d\d\/\d\d\/\d\d \d\d:\d\d:\d\d\.\d\d\d):(\d+)\) : ?(.*)$/;

export function parseOracle(text: string): OracleRecord[] {
  const records: OracleRecord[] = [];
  for (const line of text.split("\n")) {
    const match = RECORD.exec(line);
    if (!match) continue;
    const fields: Record<string, string> = {};
    for (const part of match[4]!.trimEnd().split(/ (?=[^\s=]+=)/)) {
      const eq = part.indexOf("=");
      if (eq > 0 && !(part.slice(0, eq) in fields)) fields[part.slice(0, eq)] = part.slice(eq + 1);
    }
    records.push({ type: match[1]!, when: match[2]!, serial: match[3]!, fields });
  }
  return records;
}

/** ausearch's `MM/DD/YY HH:MM:SS.mmm` (printed in UTC for our oracle runs) → ISO 8601. */
export function oracleTimeToIso(when: string): string {
  const m = /^(\d\d)\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)\.(\d\d\d)$/.exec(when)!;
  const year = Number(m[3]) + (Number(m[3]) < 70 ? 2000 : 1900);
  return `${year}-${m[1]}-${m[2]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`;
}
