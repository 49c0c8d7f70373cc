/**
 * The audit `arch=` field: an AUDIT_ARCH_* value (ELF machine | 64-bit flag |
 * little-endian flag) printed as hex without 0x.
 *
 * Names are the lowercased AUDIT_ARCH_* suffix, which is also what ausearch
 * prints, with one deliberate exception: ausearch 3.0.9 prints AUDIT_ARCH_ARM
 * (40000028) as "armeb", the first name in its machine table. That name
 * belongs to AUDIT_ARCH_ARMEB (28), so we say "arm". test/tables.test.ts checks
 * every entry against /usr/include/linux/audit.h and ausearch.
 */

const ARCH_64BIT = 0x80000000;

/** [AUDIT_ARCH_* value in lowercase hex, name]. */
const ARCHES: ReadonlyArray<readonly [string, string]> = [
  ["c000003e", "x86_64"],
  ["40000003", "i386"],
  ["c00000b7", "aarch64"],
  ["40000028", "arm"],
  ["28", "armeb"],
  ["c0000015", "ppc64le"],
  ["80000015", "ppc64"],
  ["14", "ppc"],
  ["80000016", "s390x"],
  ["16", "s390"],
  ["c00000f3", "riscv64"],
  ["400000f3", "riscv32"],
  ["c0000102", "loongarch64"],
  ["40000102", "loongarch32"],
  ["c0009026", "alpha"],
  ["4000005d", "arcompact"],
  ["5d", "arcompactbe"],
  ["400000c3", "arcv2"],
  ["c3", "arcv2be"],
  ["4000008c", "c6x"],
  ["8c", "c6xbe"],
  ["4000004c", "cris"],
  ["400000fc", "csky"],
  ["5441", "frv"],
  ["2e", "h8300"],
  ["a4", "hexagon"],
  ["c0000032", "ia64"],
  ["58", "m32r"],
  ["4", "m68k"],
  ["bd", "microblaze"],
  ["8", "mips"],
  ["40000008", "mipsel"],
  ["80000008", "mips64"],
  ["a0000008", "mips64n32"],
  ["c0000008", "mipsel64"],
  ["e0000008", "mipsel64n32"],
  ["400000a7", "nds32"],
  ["a7", "nds32be"],
  ["40000071", "nios2"],
  ["5c", "openrisc"],
  ["f", "parisc"],
  ["8000000f", "parisc64"],
  ["2a", "sh"],
  ["4000002a", "shel"],
  ["8000002a", "sh64"],
  ["c000002a", "shel64"],
  ["2", "sparc"],
  ["8000002b", "sparc64"],
  ["c00000bf", "tilegx"],
  ["400000bf", "tilegx32"],
  ["400000bc", "tilepro"],
  ["4000006e", "unicore"],
  ["5e", "xtensa"],
];

const NAME_BY_HEX = new Map<string, string>(ARCHES);
const VALUE_BY_NAME = new Map<string, number>(ARCHES.map(([hex, name]) => [name, Number.parseInt(hex, 16)]));

/** Every arch name archName can return. */
export const ARCH_NAMES: readonly string[] = ARCHES.map(([, name]) => name);

/** "c000003e" → "x86_64". Any case, optional 0x and leading zeros; null when unknown. */
export function archName(auditArchHex: string): string | null {
  const hit = NAME_BY_HEX.get(auditArchHex);
  if (hit !== undefined) return hit;
  // Slow path only for unusual spellings; audit.log always uses the canonical one.
  if (!/^(0x)?[0-9a-f]{1,8}$/i.test(auditArchHex)) return null;
  return NAME_BY_HEX.get(Number.parseInt(auditArchHex, 16).toString(16)) ?? null;
}

/** "x86_64" → "c000003e", as audit writes it; null for an unknown name. */
export function archHex(name: string): string | null {
  const value = VALUE_BY_NAME.get(name);
  return value === undefined ? null : value.toString(16);
}

/** Word size from the AUDIT_ARCH 64-bit flag; null for an unknown name. */
export function archBits(name: string): 32 | 64 | null {
  const value = VALUE_BY_NAME.get(name);
  if (value === undefined) return null;
  return value & ARCH_64BIT ? 64 : 32;
}
