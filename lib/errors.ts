/**
 * Typed errors. The library throws these; only scripts turn them into an exit
 * code and a one-line message (see lib/cli/args.ts).
 */
export type ErrorCode =
  | "E_USAGE" // bad flag or argument value: exit 2
  | "E_INPUT" // malformed input under --strict: exit 1
  | "E_IO" // a file or device could not be read or written: exit 1
  | "E_DAMAGED" // an input's compressed data is cut short or corrupt: what came before is read; a reader reports it as bad input
  | "E_PERM" // needs root or a capability: exit 2
  | "E_MISSING_TOOL" // e.g. auditctl not installed: exit 2
  | "E_KERNEL" // the kernel refused (audit disabled, netlink bind failed…): exit 1
  | "E_PIPE" // the reader of our stdout went away (`| head`): exit quietly
  | "E_INTERNAL";

export class WhokilledError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "WhokilledError";
    this.code = code;
  }
}

export const usageError = (message: string) => new WhokilledError("E_USAGE", message);

/** 2 for usage, permission and a missing tool; 1 for every other error. */
export function exitCodeFor(error: unknown): number {
  const code = error instanceof WhokilledError ? error.code : null;
  return code === "E_USAGE" || code === "E_PERM" || code === "E_MISSING_TOOL" ? 2 : 1;
}
