/**
 * JSON Lines in and out.
 *
 * In: every stage accepts whatever comes from upstream, line by line: raw
 * audit text, or a JSON object with a `kind` (record, event, signal, gap…).
 * Out: a buffered writer that writes whole lines with writeSync, so output
 * stays ordered and cheap, and a closed pipe (`| head`) ends the run quietly.
 */
import { writeSync } from "node:fs";
import { WhokilledError } from "./errors.ts";
import type { AnyLine, SourceRef } from "./schema.ts";
import type { InputErrors } from "./audit/input-errors.ts";

export type InputItem =
  | { form: "raw"; text: string; source: SourceRef }
  | { form: "json"; value: AnyLine; source: SourceRef };

const KINDS = new Set(["record", "gap", "event", "signal", "bait", "rule", "status"]);

/** Classify one input line. Returns null (and reports) for a JSON line we cannot use. */
export function classifyLine(text: string, source: SourceRef, errors: InputErrors): InputItem | null {
  if (text.charCodeAt(0) !== 0x7b /* { */) return { form: "raw", text, source };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    errors.report(source, `invalid JSON (${(error as Error).message})`, text);
    return null;
  }
  if (typeof value !== "object" || value === null || !KINDS.has((value as { kind?: string }).kind ?? "")) {
    errors.report(source, "JSON line without a known \"kind\"", text);
    return null;
  }
  return { form: "json", value: value as AnyLine, source };
}

/** Buffered line writer to a file descriptor (stdout by default). */
export class LineWriter {
  private chunks: string[] = [];
  private size = 0;
  lines = 0;

  constructor(
    private readonly fd = 1,
    private readonly highWater = 1 << 20,
  ) {}

  writeLine(text: string): void {
    this.chunks.push(text, "\n");
    this.size += text.length + 1;
    this.lines++;
    if (this.size >= this.highWater) this.flush();
  }

  write(value: unknown): void {
    this.writeLine(JSON.stringify(value));
  }

  flush(): void {
    if (this.size === 0) return;
    const data = Buffer.from(this.chunks.join(""), "utf8");
    this.chunks = [];
    this.size = 0;
    let offset = 0;
    while (offset < data.length) {
      try {
        offset += writeSync(this.fd, data, offset, data.length - offset);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") {
          Bun.sleepSync(1);
          continue;
        }
        if (code === "EPIPE") throw new WhokilledError("E_PIPE", "output closed by reader");
        throw new WhokilledError("E_IO", `cannot write output: ${(error as Error).message}`);
      }
    }
  }
}

/**
 * Every input (`-` = stdin) as batches of classified items, one batch per
 * chunk read. Files are read one after another, in the order given.
 */
export async function* readInputs(
  paths: readonly string[],
  errors: InputErrors,
  options: { signal?: AbortSignal } = {},
): AsyncGenerator<InputItem[]> {
  const { readFileLines } = await import("./sources/file.ts");
  for (const path of paths) {
    for await (const lines of readFileLines(path, { signal: options.signal })) {
      const items: InputItem[] = [];
      for (const line of lines) {
        const item = classifyLine(line.bytes.toString("utf8"), { file: path, line: line.line }, errors);
        if (item) items.push(item);
      }
      yield items;
    }
  }
}
