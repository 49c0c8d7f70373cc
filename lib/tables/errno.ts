import { ERRNO_NAMES } from "./errno.generated.ts";

/** 3 or -3 (a syscall's exit=) → "ESRCH"; null when unknown. */
export function errnoName(n: number): string | null {
  return ERRNO_NAMES[Math.abs(n)] ?? null;
}
