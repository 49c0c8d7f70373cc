import { createConsola, type ConsolaReporter, type LogObject } from "consola/core";
import { fstatSync, writeSync } from "node:fs";

/**
 * The one logger. stdout carries JSON Lines, so every log line, info included,
 * goes to stderr. WHOKILLED_LOG_LEVEL (0 silent … 5 debug) overrides the level.
 *
 * consola's core with a one-line reporter of our own: its default entry
 * point loads the fancy reporter (string-width, emoji tables), which costs
 * tens of milliseconds at every start of every script.
 * Lines go out with writeSync on fd 2: nothing is lost if the script exits
 * next, and process.stderr (a stream, ~10 ms to set up) is never made.
 * Colour only on a terminal (/dev/null passes the test too, harmlessly).
 */
const color = !process.env.NO_COLOR && stderrIsTerminal();

/** A character device is as near as fstat gets to isatty (node:tty alone costs ~15 ms to load). */
function stderrIsTerminal(): boolean {
  try {
    return fstatSync(2).isCharacterDevice();
  } catch {
    return false;
  }
}

const MARK: Record<string, readonly [glyph: string, sgr: string]> = {
  error: ["✖", "31"],
  warn: ["⚠", "33"],
  info: ["ℹ", "36"],
  debug: ["⚙", "90"],
};

function text(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.stack ?? value.message;
  return Bun.inspect(value);
}

const lineReporter: ConsolaReporter = {
  log(entry: LogObject) {
    const mark = MARK[entry.type];
    const prefix = mark ? (color ? `\u001b[${mark[1]}m${mark[0]}\u001b[0m ` : `${mark[0]} `) : "";
    const line = Buffer.from(`${prefix}${entry.args.map(text).join(" ")}\n`);
    for (let offset = 0, tries = 0; offset < line.length && tries < 1000; ) {
      try {
        offset += writeSync(2, line, offset);
      } catch (error) {
        // A non-blocking stderr that is full: wait for the reader. Closed: nowhere left to say anything.
        if ((error as NodeJS.ErrnoException).code !== "EAGAIN") return;
        tries++;
        Bun.sleepSync(1);
      }
    }
  },
};

export const log = createConsola({
  reporters: [lineReporter],
  level: Number(process.env.WHOKILLED_LOG_LEVEL ?? 3),
});
