/**
 * Bad input is counted and reported, never silently dropped: each error is
 * one stderr line naming file and line. The first `printLimit` are printed,
 * the rest only counted; the script prints the total at the end. Under
 * `strict` the first error throws.
 *
 * A kernel log's other lines (dmesg, kern.log, `journalctl -k`: the kernel's
 * messages that are not audit records) are no bad input: they are counted
 * apart, in `notAudit`, and never printed, counted as errors or fatal, not
 * even under `strict`.
 */
import { WhokilledError } from "../errors.ts";
import type { SourceRef } from "../schema.ts";
import type { ParsedLine } from "./line.ts";
import { escapeControl, escapeJsonText } from "../render/escape.ts";

export interface InputErrorOptions {
  strict: boolean;
  /** Where error lines go (a logger in scripts, an array in tests). */
  print: (message: string) => void;
  printLimit?: number;
}

export class InputErrors {
  count = 0;
  /** Lines skipped as a kernel log's other lines ("not audit, skipped" in the closing counts). */
  notAudit = 0;
  /** The last line counted in notAudit, so the indented lines that continue it are known. */
  private lastNotAudit: SourceRef | null = null;
  private readonly limit: number;

  constructor(private readonly options: InputErrorOptions) {
    this.limit = options.printLimit ?? 50;
  }

  /**
   * A line parseLine found no record or structure in: a kernel log's other
   * line (kind "not-audit", or an indented line right after one in the same
   * input: dmesg's way of printing a message of several lines) is counted
   * in notAudit; anything else is an error.
   */
  skipOrReport(source: SourceRef, parsed: ParsedLine, text: string): void {
    const last = this.lastNotAudit;
    if (parsed.kind === "not-audit" || (parsed.indented === true && last !== null && last.file === source.file && last.line === source.line - 1)) {
      this.notAudit++;
      this.lastNotAudit = source;
      return;
    }
    this.report(source, parsed.error ?? "invalid line", text);
  }

  report(source: SourceRef | undefined, problem: string, text?: string): void {
    this.count++;
    // Line 0: about the input as a whole (nothing of it read yet).
    const where = source ? (source.line > 0 ? `${source.file}:${source.line}` : source.file) : "input";
    const excerpt = text === undefined ? "" : `: ${escapeJsonText(JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text))}`;
    // A problem may quote the input (a stamp, a field): escaped and cut like the excerpt, since stderr reaches a terminal.
    const said = problem.length > 300 ? `${problem.slice(0, 300)}…` : problem;
    const message = `${escapeControl(where)}: ${escapeControl(said)}${excerpt}`;
    if (this.options.strict) throw new WhokilledError("E_INPUT", message);
    if (this.count <= this.limit) this.options.print(message);
    else if (this.count === this.limit + 1) this.options.print(`further errors are counted but not printed (limit ${this.limit})`);
  }
}
