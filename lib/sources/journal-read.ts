/**
 * Reading the systemd journal: a file or stdin holding `journalctl -o json`
 * or `journalctl -o export` output, or journalctl itself, run with an
 * argument array (no shell) when it is installed. Lines become `record`
 * lines: the audit records journald kept (lib/audit/journal.ts) and the
 * systemd messages the journal source reads (lib/sources/journal-systemd.ts);
 * every other entry is counted, and a line of neither form (journalctl's
 * text output among them) is an input error.
 */
import type { InputErrors } from "../audit/input-errors.ts";
import { WhokilledError } from "../errors.ts";
import type { RecordLine, SourceRef } from "../schema.ts";
import { readFileLines } from "./file.ts";
import { LineSplitter, type Line } from "./lines.ts";
import { ExportJoiner } from "./journal-systemd.ts";
import { OomJoiner } from "./kernel-oom.ts";
import { lineToRecord, type CaptureStats } from "./record-lines.ts";

export interface JournalReadStats extends CaptureStats {
  /** Export-format entries read (JSON entries are lines, counted as records or structure). */
  exportEntries: number;
  /** Binary export fields, which cannot be read line by line: left out of their entries. */
  binaryFields: number;
}

/** Turns one journal stream's lines (either form, even mixed) into records; a line that is neither is an input error. */
export class JournalLines {
  private readonly joiner: ExportJoiner;
  private readonly oom = new OomJoiner();
  /** The input of the last line pushed: where a binary field's held lines are read again at the end. */
  private file = "";
  readonly stats: JournalReadStats = { records: 0, structural: 0, exportEntries: 0, binaryFields: 0 };

  constructor(private readonly errors: InputErrors) {
    this.joiner = new ExportJoiner((source, problem, text) => errors.report(source, problem, text));
  }

  /** A split line (lines.ts, or a file's SourceLine): its record, if any, into `out`; one past the line limit, or damaged, is an input error. */
  push(line: Line & { damaged?: string }, file: string, out: RecordLine[]): void {
    this.file = file;
    // A binary export field's bytes, whatever they look like (a newline, a `{`, a line too long).
    if (this.joiner.binaryPending) {
      const again = this.joiner.binary(line, file);
      this.counted(null);
      for (const held of again) this.push(held, file, out);
      return;
    }
    const source = { file, line: line.line };
    if (line.tooLong !== undefined || line.damaged !== undefined) {
      this.errors.report(source, line.damaged ?? `line of ${line.tooLong} bytes, too long to be a journal entry`);
      return;
    }
    const record = this.line(line.bytes.toString("utf8"), source);
    if (record !== null) out.push(record);
  }

  private line(text: string, source: SourceRef): RecordLine | null {
    if (text.charCodeAt(0) === 0x7b /* { */) return lineToRecord(text, source, this.errors, this.stats, this.oom);
    return this.counted(this.joiner.line(text, source));
  }

  /** End of input: a binary field or an export entry left open; their records into `out`. */
  end(out: RecordLine[]): void {
    for (const held of this.joiner.endBinary()) this.push(held, this.file, out);
    const last = this.counted(this.joiner.end());
    if (last !== null) out.push(last);
  }

  private counted(record: RecordLine | null): RecordLine | null {
    const entryEnded = this.joiner.stats.entries > this.stats.exportEntries;
    this.stats.exportEntries = this.joiner.stats.entries;
    this.stats.binaryFields = this.joiner.stats.binaryFields;
    if (record !== null) this.stats.records++;
    // An export entry's lines are one entry: an entry that says nothing we read counts once, as structure.
    else if (entryEnded) this.stats.structural++;
    return record;
  }
}

/** A journal file (`-` is stdin) as batches of records. */
export async function* journalFileRecords(path: string, errors: InputErrors, lines = new JournalLines(errors), signal?: AbortSignal): AsyncGenerator<RecordLine[]> {
  for await (const batch of readFileLines(path, { signal })) {
    const out: RecordLine[] = [];
    for (const line of batch) lines.push(line, line.file, out);
    if (out.length > 0) yield out;
  }
  const last: RecordLine[] = [];
  lines.end(last);
  if (last.length > 0) yield last;
}

/** Is journalctl on PATH? */
export function journalctlPath(): string | null {
  return Bun.which("journalctl");
}

/**
 * journalctl's argument array for what whokilled reads: systemd's and
 * systemd-oomd's messages and the audit records journald kept, as JSON,
 * from `sinceMs` on when given.
 */
export function journalctlArgs(sinceMs?: number, untilMs?: number): string[] {
  const args = ["-o", "json", "--no-pager", "-q"];
  if (sinceMs !== undefined) args.push("--since", `@${Math.floor(sinceMs / 1000)}`);
  if (untilMs !== undefined) args.push("--until", `@${Math.ceil(untilMs / 1000)}`);
  // Matches on different fields are ANDed, `+` ORs the groups.
  args.push("_COMM=systemd", "+", "_COMM=systemd-oomd", "+", "_TRANSPORT=audit");
  return args;
}

/** Run journalctl with these arguments (no shell) and read its output as journal lines, named `journalctl`. */
export async function* journalctlRecords(args: readonly string[], errors: InputErrors, lines: JournalLines): AsyncGenerator<RecordLine[]> {
  const exe = journalctlPath();
  if (exe === null) throw new WhokilledError("E_IO", "journalctl is not installed");
  const child = Bun.spawn([exe, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const splitter = new LineSplitter();
  for await (const chunk of child.stdout) {
    const out: RecordLine[] = [];
    splitter.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength), (line) => lines.push(line, "journalctl", out));
    if (out.length > 0) yield out;
  }
  const tail = splitter.flush();
  const out: RecordLine[] = [];
  if (tail !== null) lines.push(tail, "journalctl", out);
  if (out.length > 0) yield out;
  const lineNo = splitter.lineNumber - 1;
  const last: RecordLine[] = [];
  lines.end(last);
  if (last.length > 0) yield last;
  const code = await child.exited;
  // 1 with "No entries" or no journal at all is an empty journal, not a failure.
  if (code !== 0 && lineNo > 0) {
    const stderr = (await new Response(child.stderr).text()).trim().split("\n")[0] ?? "";
    throw new WhokilledError("E_IO", `journalctl exited with ${code}: ${stderr}`);
  }
}

/** capture --journal FILE, or --journal alone (journalctl): the journal's records to the writer, flushed per batch. */
export async function captureJournal(
  input: { file: string } | { journalctl: readonly string[] },
  options: { errors: InputErrors; writer: { write(record: RecordLine): void; flush(): void }; signal?: AbortSignal },
): Promise<JournalReadStats> {
  const lines = new JournalLines(options.errors);
  const batches = "file" in input ? journalFileRecords(input.file, options.errors, lines, options.signal) : journalctlRecords(input.journalctl, options.errors, lines);
  for await (const batch of batches) {
    for (const record of batch) options.writer.write(record);
    options.writer.flush();
    if (options.signal?.aborted) break;
  }
  return lines.stats;
}
