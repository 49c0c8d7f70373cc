import { createConsola } from "consola";

/**
 * The one logger. stdout carries JSON Lines, so every log line, info included,
 * goes to stderr. WHOKILLED_LOG_LEVEL (0 silent … 5 debug) overrides the level.
 */
export const log = createConsola({
  stdout: process.stderr,
  stderr: process.stderr,
  level: Number(process.env.WHOKILLED_LOG_LEVEL ?? 3),
  formatOptions: { date: false, colors: process.stderr.isTTY === true && !process.env.NO_COLOR },
});
