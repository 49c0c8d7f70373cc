/**
 * The I/O frame the data scripts share: which inputs to read, the error
 * counter wired to the logger, and the closing summary on stderr.
 */
import { InputErrors } from "./audit/input-errors.ts";
import { repeatedFlag } from "./cli.ts";
import { log } from "./log.ts";

/** `--file` values (repeatable) plus positional paths; stdin when there are none. */
export function inputPaths(rawArgs: readonly string[], positionals: readonly string[], fallback: string[] = ["-"]): string[] {
  const paths = [...repeatedFlag(rawArgs, "file", "f"), ...positionals];
  return paths.length > 0 ? paths : fallback;
}

export function inputErrors(strict: boolean | undefined): InputErrors {
  return new InputErrors({ strict: strict === true, print: (message) => log.error(message) });
}

/** One closing line on stderr: what went in, what came out, how many errors. */
export function logSummary(verb: string, parts: Record<string, number>, errors: InputErrors): void {
  const text = Object.entries(parts)
    .map(([name, n]) => `${n} ${name}`)
    .join(", ");
  const line = `${verb}: ${text}, ${errors.count} error${errors.count === 1 ? "" : "s"}`;
  if (errors.count > 0) log.warn(line);
  else log.info(line);
}

/** Abort on SIGINT/SIGTERM so sources clean up and the script exits 0. */
export function abortOnSignals(): AbortController {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return controller;
}
