/**
 * capture's core: raw lines → `record` lines, kept cheap (only the prefix is
 * parsed; fields are decoded downstream).
 */
import { parseLine } from "./audit/line.ts";
import type { InputErrors } from "./audit/input-errors.ts";
import type { RecordLine, SourceRef } from "./schema.ts";

export interface CaptureStats {
  records: number;
  structural: number;
}

/** One raw line → a record line, or null for structure (blank, `----`, `time->`, comments) and errors. */
export function lineToRecord(text: string, source: SourceRef, errors: InputErrors, stats: CaptureStats): RecordLine | null {
  const parsed = parseLine(text);
  if (parsed.kind === "record") {
    stats.records++;
    return { kind: "record", type: parsed.type!, id: parsed.id!, node: parsed.node ?? null, raw: text, source };
  }
  if (parsed.kind === "invalid") errors.report(source, parsed.error ?? "invalid line", text);
  else stats.structural++;
  return null;
}
