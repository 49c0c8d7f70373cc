/**
 * Syscall numbers per arch, from ausyscall's tables. Each table is parsed on
 * first use, so start-up pays only for the string literals.
 */
import { SYSCALL_TABLES } from "./syscalls.generated.ts";

/**
 * Arches that share another arch's numbering. The newer ports use the
 * asm-generic table, which ausyscall 3.0.9 ships only as aarch64. "armeb" is
 * how ausearch (and ENRICHED `ARCH=`) spells AUDIT_ARCH_ARM; both ARM ABIs
 * share one numbering.
 */
const ALIASES = new Map([
  ["riscv64", "aarch64"],
  ["riscv32", "aarch64"],
  ["loongarch64", "aarch64"],
  ["armeb", "arm"],
]);
// A Map, not the object: arch comes from input, and "constructor" must miss.
const TABLES = new Map(Object.entries(SYSCALL_TABLES));

interface Parsed {
  names: (string | undefined)[];
  numbers: Map<string, number>;
}

const parsed = new Map<string, Parsed>();

function table(arch: string): Parsed | null {
  const cached = parsed.get(arch);
  if (cached !== undefined) return cached;
  // Misses are not cached: arch may come from input, and must not grow the map.
  const text = TABLES.get(ALIASES.get(arch) ?? arch);
  if (text === undefined) return null;
  const t: Parsed = { names: [], numbers: new Map() };
  for (const line of text.split("\n")) {
    const space = line.indexOf(" ");
    const nr = Number(line.slice(0, space));
    const name = line.slice(space + 1);
    t.names[nr] = name;
    t.numbers.set(name, nr);
  }
  parsed.set(arch, t);
  return t;
}

/** (x86_64, 62) → "kill"; null for an unknown arch or number. */
export function syscallName(arch: string, nr: number): string | null {
  return table(arch)?.names[nr] ?? null;
}

/** (x86_64, "kill") → 62; null for an unknown arch or name. */
export function syscallNumber(arch: string, name: string): number | null {
  return table(arch)?.numbers.get(name) ?? null;
}
