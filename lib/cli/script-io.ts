/**
 * The I/O frame the data scripts share: which inputs to read, the error
 * counter wired to the logger, and the closing summary on stderr.
 */
import { InputErrors } from "../audit/input-errors.ts";
import { repeatedFlag } from "./args.ts";
import { constants } from "node:os";
import { log } from "../log.ts";

/** `--file` values (repeatable) plus positional paths; stdin when there are none. */
export function inputPaths(rawArgs: readonly string[], positionals: readonly string[], fallback: string[] = ["-"]): string[] {
  const paths = [...repeatedFlag(rawArgs, "file", "f"), ...positionals];
  return paths.length > 0 ? paths : fallback;
}

export function inputErrors(strict: boolean | undefined): InputErrors {
  return new InputErrors({ strict: strict === true, print: (message) => log.error(message) });
}

/**
 * One closing line on stderr: what went in, what came out, how many errors
 * (called `errorLabel`s), and the count of a kernel log's other lines
 * (InputErrors.notAudit), neither errors nor silent. A warning when there were
 * errors; otherwise info, left out when `quiet`.
 */
export function logSummary(verb: string, parts: Record<string, number>, errors: InputErrors, { errorLabel = "error", quiet = false } = {}): void {
  const text = Object.entries(parts)
    .map(([name, n]) => `${n} ${name}`)
    .join(", ");
  const notAudit = errors.notAudit > 0 ? `; ${errors.notAudit} line${errors.notAudit === 1 ? "" : "s"} not audit, skipped` : "";
  const line = `${verb}: ${text}, ${errors.count} ${errorLabel}${errors.count === 1 ? "" : "s"}${notAudit}`;
  if (errors.count > 0) log.warn(line);
  else if (!quiet) log.info(line);
}

/** What a script holds while SIGINT/SIGTERM may stop it: the abort signal it passes to lib, and which signal came. */
export interface SignalStop {
  readonly signal: AbortSignal;
  /** 128+n (130 SIGINT, 143 SIGTERM) once a signal came, else null. */
  exitCode(): number | null;
  /** When a signal came: one line on stderr saying so, the exit code set again (a later error may have set another), true. */
  finish(what: string, note?: string): boolean;
}

/**
 * SIGINT/SIGTERM abort the run: sources stop between chunks and clean up, the
 * script flushes whole lines and exits 128+n, set at once, so a script whose
 * work is synchronous (setup-rule) finishes it and still exits 128+n. The
 * handlers stay installed: a second signal cannot kill the process mid-write.
 */
export function stopOnSignals({ exitWithSignal = true }: { exitWithSignal?: boolean } = {}): SignalStop {
  const controller = new AbortController();
  let received: "SIGINT" | "SIGTERM" | null = null;
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    process.on(name, () => {
      if (received) return log.info(`${name}: already stopping`);
      received = name;
      if (exitWithSignal) process.exitCode = exitCode();
      controller.abort();
    });
  }
  const exitCode = () => (received ? 128 + constants.signals[received] : null);
  return {
    signal: controller.signal,
    exitCode,
    finish(what: string, note?: string): boolean {
      if (!received) return false;
      if (exitWithSignal) process.exitCode = exitCode();
      log.info(`${what}: stopped by ${received}${note ? `; ${note}` : ""}`);
      return true;
    },
  };
}
