/**
 * Compare audit rules by meaning, not by text. `auditctl -l` prints a rule
 * differently from how it was added: syscalls joined with commas in number
 * order, argument values in hex (`a1!=0x0`, a negative pid as its u32 value
 * `0xFFFFFFFB`), `-k K` as `-F key=K`. Two rules are the same when list,
 * action, arch, syscall set, field set and keys are.
 */
import { archBits } from "../tables/arch.ts";

export interface NormalRule {
  /** `exit`, `task`, `user`, `exclude`, `filesystem`, `io_uring`; null for watches or other lines. */
  list: string | null;
  /** `always` or `never`. */
  action: string | null;
  /** `b64` or `b32` (machine names are folded), null when the rule names none. */
  arch: string | null;
  /** Syscall names (or numbers) sorted. */
  syscalls: string[];
  /** `name OP value` with numbers as unsigned 32-bit decimal, sorted. */
  fields: string[];
  keys: string[];
  /** Anything else (`-w`, `-p`, `-C`…), kept verbatim and sorted. */
  other: string[];
}

const LISTS = new Set(["exit", "task", "user", "exclude", "filesystem", "io_uring", "entry"]);
const FIELD = /^([A-Za-z0-9_]+)(!=|<=|>=|&=|=|<|>|&)(.*)$/;
/** Parse a rule given as one line (`auditctl -l` or rules.d) or as argv. */
export function parseRule(rule: string | readonly string[]): NormalRule {
  const tokens = typeof rule === "string" ? rule.trim().split(/\s+/).filter(Boolean) : [...rule];
  if (tokens[0] === "auditctl") tokens.shift();
  const normal: NormalRule = { list: null, action: null, arch: null, syscalls: [], fields: [], keys: [], other: [] };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const value = tokens[i + 1];
    switch (token) {
      case "-a":
      case "-A":
      case "-d":
        i++;
        for (const part of (value ?? "").split(",")) {
          if (LISTS.has(part)) normal.list = part;
          else if (part) normal.action = part;
        }
        break;
      case "-S":
        i++;
        for (const name of (value ?? "").split(",")) if (name) normal.syscalls.push(name);
        break;
      case "-k":
        i++;
        if (value !== undefined) normal.keys.push(...value.split("\u0001"));
        break;
      case "-F": {
        i++;
        const match = FIELD.exec(value ?? "");
        if (!match) {
          normal.other.push(`-F ${value ?? ""}`);
          break;
        }
        const [, name, op, raw] = match as unknown as [string, string, string, string];
        if (name === "key" && op === "=") normal.keys.push(...raw.split("\u0001"));
        else if (name === "arch" && op === "=") normal.arch = foldArch(raw);
        else normal.fields.push(`${name}${op}${canonicalValue(raw)}`);
        break;
      }
      default:
        // Options with a value (`-w PATH`, `-p wa`, `-C f=f`) stay paired with it.
        if (token.startsWith("-") && value !== undefined && !value.startsWith("-")) {
          normal.other.push(`${token} ${value}`);
          i++;
        } else normal.other.push(token);
    }
  }
  normal.syscalls.sort();
  normal.fields.sort();
  normal.keys.sort();
  normal.other.sort();
  return normal;
}

/** `-F arch=` takes b64/b32 or a machine name (x86_64, i386…); fold the names onto b64/b32. */
function foldArch(raw: string): string {
  if (raw === "b64" || raw === "b32") return raw;
  const bits = archBits(raw) ?? (raw === "i686" ? 32 : null);
  return bits === 64 ? "b64" : bits === 32 ? "b32" : raw;
}

/**
 * Numbers the way the kernel stores them: u32. `-5`, `4294967291` and
 * `0xFFFFFFFB` are one value, and auditctl's `unset` id is `-1`.
 */
export function canonicalValue(raw: string): string {
  if (raw === "unset") return "4294967295";
  if (!/^(-?\d+|0[xX][0-9a-fA-F]+)$/.test(raw)) return raw;
  const n = BigInt(raw.startsWith("-") ? raw : raw.toLowerCase());
  return BigInt.asUintN(32, n).toString();
}

/** One string per meaning: equal strings ⇔ the same rule. */
export function canonicalRule(rule: string | readonly string[] | NormalRule): string {
  const r = typeof rule === "string" || Array.isArray(rule) ? parseRule(rule as string | readonly string[]) : (rule as NormalRule);
  return [
    `${r.list ?? "-"},${r.action ?? "-"}`,
    `arch=${r.arch ?? "-"}`,
    `S=${r.syscalls.join(",")}`,
    `F=${r.fields.join(" ")}`,
    `K=${r.keys.join(",")}`,
    ...(r.other.length ? [`O=${r.other.join(" ")}`] : []),
  ].join(" | ");
}

export function sameRule(a: string | readonly string[], b: string | readonly string[]): boolean {
  return canonicalRule(a) === canonicalRule(b);
}

/** The first key of a rule line, or null. */
export function ruleKey(rule: string | readonly string[]): string | null {
  return parseRule(rule).keys[0] ?? null;
}
