/**
 * Signal numbers. 1..31 are the x86/asm-generic numbering, which every arch
 * we decode shares (alpha, mips, parisc and sparc differ). The kernel's
 * real-time range is 32..64, but glibc keeps 32 and 33 for itself and calls
 * 34 SIGRTMIN; that is what `kill -l`, `kill -s RTMIN+3` and every C program
 * on a glibc system mean, so real-time signals are named that way here
 * (37 is SIGRTMIN+3, as in bash). 32 and 33 become SIGRTMIN-2 and SIGRTMIN-1.
 */

/** The kernel's first real-time signal. */
export const KERNEL_SIGRTMIN = 32;
/** glibc's SIGRTMIN, the one users type. */
export const SIGRTMIN = 34;
export const SIGRTMAX = 64;

/** The classic signals by name, for code that means one of them: `SIG.KILL` is 9. */
export const SIG = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8,
  KILL: 9, USR1: 10, SEGV: 11, USR2: 12, PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16,
  CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23, XCPU: 24,
  XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, PWR: 30, SYS: 31,
} as const;

const CLASSIC: readonly string[] = Object.entries(SIG)
  .sort(([, a], [, b]) => a - b)
  .map(([name]) => `SIG${name}`);

/** Other names accepted on input (kill(1) accepts them too). */
const ALIASES: ReadonlyMap<string, number> = new Map([
  ["IOT", SIG.ABRT],
  ["CLD", SIG.CHLD],
  ["POLL", SIG.IO],
]);

/**
 * Names a real-time signal of glibc's range (34..64) the way bash's `kill -l`
 * does: SIGRTMIN+n up to the midpoint of the range, SIGRTMAX-n above it.
 */
export function rtSignalName(nr: number): string | null {
  if (!Number.isInteger(nr) || nr < SIGRTMIN || nr > SIGRTMAX) return null;
  if (nr === SIGRTMIN) return "SIGRTMIN";
  if (nr === SIGRTMAX) return "SIGRTMAX";
  const up = nr - SIGRTMIN;
  return up <= Math.floor((SIGRTMAX - SIGRTMIN) / 2) ? `SIGRTMIN+${up}` : `SIGRTMAX-${SIGRTMAX - nr}`;
}

/** Index = signal number; [0] is null (signal 0 only probes). */
export const SIGNALS: readonly (string | null)[] = [
  null,
  ...CLASSIC,
  ...Array.from({ length: SIGRTMIN - KERNEL_SIGRTMIN }, (_, i) => `SIGRTMIN-${SIGRTMIN - KERNEL_SIGRTMIN - i}`),
  ...Array.from({ length: SIGRTMAX - SIGRTMIN + 1 }, (_, i) => rtSignalName(SIGRTMIN + i)),
];

const BY_NAME = new Map<string, number>();
for (const [nr, name] of SIGNALS.entries()) if (name) BY_NAME.set(name.slice(3), nr);
for (const [name, nr] of ALIASES) BY_NAME.set(name, nr);

/** Signals whose default action does not end a process: CHLD, CONT, URG, WINCH (ignore); STOP, TSTP, TTIN, TTOU (stop). */
const HARMLESS_BY_DEFAULT: ReadonlySet<number> = new Set([
  SIG.CHLD, SIG.CONT, SIG.URG, SIG.WINCH, SIG.STOP, SIG.TSTP, SIG.TTIN, SIG.TTOU,
]);

/** Whether a signal, not handled, ends the process (0, a probe, and numbers past SIGRTMAX do not). */
export function endsProcessByDefault(sig: number): boolean {
  return sig > 0 && sig <= SIGRTMAX && !HARMLESS_BY_DEFAULT.has(sig);
}

/** 9 → "SIGKILL", 36 → "SIGRTMIN+2", 32 → "SIGRTMIN-2"; null for 0 (a probe) and out of range. */
export function signalName(nr: number): string | null {
  return SIGNALS[nr] ?? null;
}

/** signalName, or `SIG<nr>` when it has none. */
export function signalLabel(nr: number): string {
  return SIGNALS[nr] ?? `SIG${nr}`;
}

/**
 * "KILL", "SIGKILL", "sigkill", "9", "RTMIN+3", "SIGRTMAX-2" → number; any
 * RTMIN+n / RTMAX-n inside the range, not only the canonical spelling. "0" gives
 * 0, the probe. null when unknown.
 */
export function signalNumber(text: string): number | null {
  const t = text.trim().toUpperCase();
  if (/^\d+$/.test(t)) {
    const nr = Number(t);
    return nr <= SIGRTMAX ? nr : null;
  }
  const name = t.startsWith("SIG") ? t.slice(3) : t;
  const known = BY_NAME.get(name);
  if (known !== undefined) return known;
  const rt = /^RT(MIN|MAX)([+-])(\d{1,2})$/.exec(name);
  if (!rt) return null;
  const offset = Number(rt[3]);
  const base = rt[1] === "MIN" ? SIGRTMIN : SIGRTMAX;
  const nr = rt[2] === "+" ? base + offset : base - offset;
  return nr >= KERNEL_SIGRTMIN && nr <= SIGRTMAX ? nr : null;
}
