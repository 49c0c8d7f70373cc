/**
 * Bad input is counted and reported, never silently dropped: each error is
 * one stderr line naming file and line. The first `printLimit` are printed,
 * the rest only counted; the script prints the total at the end. Under
 * `strict` the first error throws.
 */
import { WhokilledError } from "../errors.ts";
import type { SourceRef } from "../schema.ts";

export interface InputErrorOptions {
  strict: boolean;
  /** Where error lines go (a logger in scripts, an array in tests). */
  print: (message: string) => void;
  printLimit?: number;
}

export class InputErrors {
  count = 0;
  private readonly limit: number;

  constructor(private readonly options: InputErrorOptions) {
    this.limit = options.printLimit ?? 50;
  }

  report(source: SourceRef | undefined, problem: string, text?: string): void {
    this.count++;
    // Line 0: about the input as a whole (nothing of it read yet).
    const where = source ? (source.line > 0 ? `${source.file}:${source.line}` : source.file) : "input";
    const excerpt = text === undefined ? "" : `: ${JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text)}`;
    const message = `${where}: ${problem}${excerpt}`;
    if (this.options.strict) throw new WhokilledError("E_INPUT", message);
    if (this.count <= this.limit) this.options.print(message);
    else if (this.count === this.limit + 1) this.options.print(`further errors are counted but not printed (limit ${this.limit})`);
  }
}
