/**
 * Command-line text → RuleOptions, with a usage error (exit 2) that names the
 * flag for anything the kernel would misread. auditctl itself silently wraps
 * a value above 2^32 (`-F a0=4294967296` becomes `a0=0x0`), so ranges are
 * checked here.
 */
import { readFileSync } from "node:fs";
import { usageError } from "../errors.ts";
import { SIGRTMAX, signalNumber } from "../tables/signals.ts";
import { DEFAULT_KEY, KEY_PATTERN, kernelArches, type Arch, type RuleOptions } from "./build.ts";

export interface RuleFlags {
  key?: string;
  probes?: boolean;
  first?: boolean;
  pidfdOpen?: boolean;
  pid?: string;
  signal?: string;
  uid?: string;
  /** `b64`, `b32` or `both`; default from the running kernel. */
  arch?: string;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

export function ruleOptionsFromFlags(flags: RuleFlags): RuleOptions {
  const options: RuleOptions = { key: parseKey(flags.key ?? DEFAULT_KEY), probes: flags.probes === true };
  if (flags.first) options.first = true;
  if (flags.pidfdOpen) options.pidfdOpen = true;
  if (flags.pid !== undefined) options.pid = parsePid(flags.pid);
  if (flags.signal !== undefined) options.signal = parseSignal(flags.signal);
  if (flags.uid !== undefined) options.uid = parseUid(flags.uid);
  options.arches = parseArch(flags.arch);
  return options;
}

export function parseKey(text: string): string {
  if (!KEY_PATTERN.test(text)) {
    throw usageError(
      `--key ${JSON.stringify(text)}: use 1–255 letters, digits, '.', '_', '+' or '-', starting with a letter or digit (it also names the rules.d file)`,
    );
  }
  return text;
}

/** A pid as the kernel's a0 holds it: a signed 32-bit number (negative = process group). */
export function parsePid(text: string): number {
  const trimmed = text.trim();
  if (!/^-?\d+$/.test(trimmed)) throw usageError(`--pid must be a number (negative for a process group), got ${JSON.stringify(text)}`);
  const pid = Number(trimmed);
  if (pid < INT32_MIN || pid > INT32_MAX) throw usageError(`--pid ${trimmed} is outside the 32-bit range a pid can take`);
  return pid;
}

/** A signal name (KILL, SIGKILL, sigterm, RTMIN+3…) or number 0–64 (lib/tables/signals.ts). */
export function parseSignal(text: string): number {
  const nr = signalNumber(text);
  if (nr !== null) return nr;
  const what = /^\s*\d+\s*$/.test(text) ? `signal numbers go from 0 to ${SIGRTMAX}` : "unknown signal name (try KILL, SIGTERM, HUP or a number)";
  throw usageError(`--signal ${JSON.stringify(text)}: ${what}`);
}

/** A uid number, or a user name looked up in /etc/passwd (or `passwdFile`). */
export function parseUid(text: string, passwdFile = "/etc/passwd"): number {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const uid = Number(trimmed);
    // (uid_t)-1 is "unset" and never a sender's real uid.
    if (uid >= 0xffffffff) throw usageError(`--uid ${trimmed} is not a valid uid (0–4294967294)`);
    return uid;
  }
  let passwd: string;
  try {
    passwd = readFileSync(passwdFile, "utf8");
  } catch (error) {
    throw usageError(`--uid ${trimmed}: cannot read ${passwdFile} to look the name up (${(error as Error).message})`);
  }
  for (const line of passwd.split("\n")) {
    const [user, , uid] = line.split(":");
    if (user === trimmed && uid !== undefined && /^\d+$/.test(uid)) return Number(uid);
  }
  throw usageError(`--uid ${JSON.stringify(text)}: no such user in ${passwdFile}`);
}

const ARCH_CHOICES = new Map<string, readonly Arch[]>([
  ["b64", ["b64"]],
  ["b32", ["b32"]],
  ["both", ["b64", "b32"]],
]);

export function parseArch(text: string | undefined): Arch[] {
  if (text === undefined || text === "") return kernelArches();
  const arches = ARCH_CHOICES.get(text);
  if (!arches) throw usageError(`--arch must be b64, b32 or both, got ${JSON.stringify(text)}`);
  return [...arches];
}
