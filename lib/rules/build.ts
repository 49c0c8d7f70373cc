/**
 * Options → audit rules for the kill family. Pure: no process is run and no
 * file is read, so every combination can be tested without root.
 *
 * One rule per (arch, set of syscalls sharing the same filters). The kernel
 * matches a rule's -F fields against each syscall's own arguments, and the
 * signal sits in a1 for four of the six calls but in a2 for tgkill and
 * rt_tgsigqueueinfo, so filters on the signal split the family in two.
 * pidfd_send_signal's a0 is a file descriptor, so a --pid filter splits it
 * off as well.
 *
 * On request (pidfdOpen), a rule for pidfd_open (successful calls) comes with
 * pidfd_send_signal: its a0 is the PID and its exit the descriptor, so a
 * pidfd_send_signal that fails with ESRCH (the kernel then logs no OBJ_PID)
 * can still be tied to its target (lib/signals/pidfd.ts).
 */
import { machine } from "node:os";
import { archBits } from "../tables/arch.ts";
import { KILL_FAMILY, KILL_SYSCALLS, type KillSyscall } from "../tables/kill-family.ts";
import { signalName } from "../tables/signals.ts";

export type Arch = "b64" | "b32";

/** What a generated rule may list: the kill family, and pidfd_open for pidfd targets. */
export type RuleSyscall = KillSyscall | "pidfd_open";

/** The argument (`a1` or `a2`) holding this call's signal. */
export function signalArg(syscall: KillSyscall): string {
  return `a${KILL_FAMILY[syscall].signalArg}`;
}

export const DEFAULT_KEY = "whokilled";

export interface RuleOptions {
  /** Rule key (`-k`); also names the persisted rules.d file. */
  key: string;
  /** Keep signal-0 existence probes (default: filtered out in the kernel). */
  probes?: boolean;
  /** Target pid as passed in a0 (negative: a group kill of process group −pid). */
  pid?: number;
  /** Only this signal number (0–64). Implies nothing about --probes: it is an exact match. */
  signal?: number;
  /** Only senders with this real uid. */
  uid?: number;
  /** ABIs to cover; default: both on a 64-bit kernel, b32 on a 32-bit one. */
  arches?: readonly Arch[];
  /** Only these calls of the family (default: all six). The demo's rogue uses kill alone, and a narrower rule costs other keys' rules less. */
  syscalls?: readonly KillSyscall[];
  /**
   * Add a pidfd_open rule when pidfd_send_signal is covered (never with a negative or zero --pid, a group). Off by
   * default: runtimes such as Bun and systemd open a pidfd for every child they start, so on a busy host it logs much.
   */
  pidfdOpen?: boolean;
  /**
   * Insert at the head of the exit list (`-A`) instead of appending (`-a`).
   * The kernel logs a syscall under the first rule that matches it, so an
   * earlier broad rule would log these calls under its own key, and an earlier
   * `never` rule would hide them. First place wins that back, at the cost of
   * taking kill-family events away from the keys of later rules.
   */
  first?: boolean;
}

export interface BuiltRule {
  arch: Arch;
  syscalls: RuleSyscall[];
  key: string;
  /** The rule in auditctl syntax as argv (`-a always,exit …`): what install encodes for the kernel. */
  args: string[];
  /** The same rule as one auditctl / rules.d line. */
  line: string;
  /** What the rule matches and what it cannot, for people. */
  detail: string;
}

/**
 * ABIs a kernel of this machine type can run. A 64-bit kernel runs 32-bit
 * processes too (when built with compat support); they are logged with the
 * 32-bit arch and syscall numbers, so they need their own rules.
 */
export function kernelArches(machineName: string = machine()): Arch[] {
  // uname -m names (x86_64, aarch64, ppc64le…) are the audit arch names; an
  // unknown one (i686, armv7l) is a 32-bit machine.
  return archBits(machineName) === 64 ? ["b64", "b32"] : ["b32"];
}

/** Keys become a file name and a rules.d argument: keep them plain. */
export const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/;

export function buildRules(options: RuleOptions): BuiltRule[] {
  const arches = options.arches ?? kernelArches();
  const rules: BuiltRule[] = [];
  for (const arch of arches) {
    // Syscalls whose filter lists are identical share one rule, in KILL_SYSCALLS order.
    const family = options.syscalls ?? KILL_SYSCALLS;
    const groups = Map.groupBy(family, (syscall) => fieldsFor(syscall, options).join(" "));
    const all: Array<{ syscalls: RuleSyscall[]; fields: string[] }> = [...groups.values()].map((syscalls) => ({ syscalls, fields: fieldsFor(syscalls[0]!, options) }));
    // A negative --pid is a process group, which no pidfd_open names: no rule then.
    const pidfdOpen = options.pidfdOpen === true && family.includes("pidfd_send_signal") && !(options.pid !== undefined && options.pid <= 0);
    if (pidfdOpen) all.push({ syscalls: ["pidfd_open"], fields: pidfdOpenFields(options) });
    for (const { syscalls, fields } of all) {
      const args = [
        options.first ? "-A" : "-a",
        "always,exit",
        "-F",
        `arch=${arch}`,
        ...syscalls.flatMap((s) => ["-S", s]),
        ...fields.flatMap((f) => ["-F", f]),
        "-k",
        options.key,
      ];
      rules.push({
        arch,
        syscalls,
        key: options.key,
        args,
        line: args.join(" "),
        detail: describe(arch, syscalls, options),
      });
    }
  }
  return rules;
}

function fieldsFor(syscall: KillSyscall, options: RuleOptions): string[] {
  const fields: string[] = [];
  if (options.pid !== undefined && syscall !== "pidfd_send_signal") fields.push(`a0=${options.pid}`);
  const arg = signalArg(syscall);
  if (options.signal !== undefined) fields.push(`${arg}=${options.signal}`);
  else if (!options.probes) fields.push(`${arg}!=0`);
  if (options.uid !== undefined) fields.push(`uid=${options.uid}`);
  return fields;
}

/** pidfd_open's rule: successful calls only; its a0 is a PID, so --pid applies as it is; --uid as for the signals. */
function pidfdOpenFields(options: RuleOptions): string[] {
  const fields = ["success=1"];
  if (options.pid !== undefined) fields.push(`a0=${options.pid}`);
  if (options.uid !== undefined) fields.push(`uid=${options.uid}`);
  return fields;
}

function describe(arch: Arch, syscalls: readonly RuleSyscall[], options: RuleOptions): string {
  const callers = `from ${arch === "b64" ? "64" : "32"}-bit callers`;
  if (syscalls.length === 1 && syscalls[0] === "pidfd_open") {
    const parts = [
      `pidfd_open ${callers}, successful calls: which PID each pidfd names, so a pidfd_send_signal that fails with ESRCH (no OBJ_PID) still names its target`,
    ];
    if (options.pid !== undefined) parts.push(`a0=${options.pid}: only pidfds of pid ${options.pid}`);
    if (options.uid !== undefined) parts.push(`only callers with real uid ${options.uid}`);
    return parts.join("; ");
  }
  const family = syscalls as readonly KillSyscall[];
  const parts = [`${family.join(", ")} ${callers}`];
  const signalArgs = [...new Set(family.map(signalArg))].join("/");
  if (options.signal !== undefined) {
    const name = signalName(options.signal) ?? (options.signal === 0 ? "the existence probe" : "?");
    parts.push(`only signal ${options.signal}, ${name} (${signalArgs})`);
  }
  else if (!options.probes) parts.push(`signal-0 probes left out (${signalArgs}!=0)`);
  if (options.pid !== undefined) {
    const unfiltered = "not filtered by pid: pidfd_send_signal's a0 is a file descriptor, so this rule logs its signals to every process";
    parts.push(family.includes("pidfd_send_signal") ? unfiltered : pidDetail(options.pid, family));
  }
  if (options.uid !== undefined) parts.push(`only senders with real uid ${options.uid}`);
  if (options.first) parts.push("at the head of the list (-A): matched before any other rule");
  return parts.join("; ");
}

function pidDetail(pid: number, syscalls: readonly KillSyscall[]): string {
  // The kernel compares an argument's low 32 bits with the rule's u32 value,
  // so -5 matches a0=fffffffb (32-bit caller) and a0=fffffffffffffffb (64-bit).
  if (pid < -1) return `a0=${pid}: only kill(${pid}, …), a group kill of process group ${-pid}; the other calls reject a negative id`;
  if (pid === -1) return "a0=-1: only kill(-1, …), a signal to every process the sender may signal";
  if (pid === 0) return "a0=0: only kill(0, …), a signal to the sender's own process group";
  const threadCalls = syscalls.includes("tkill") ? "; tkill's a0 is a thread id, so only its main thread matches" : "";
  return `a0=${pid}: only calls aimed at pid ${pid} directly, not group kills of its process group${threadCalls}`;
}

/** The rules as /etc/audit/rules.d text, as `--persist` writes it and `print --format rules` shows it. */
export function rulesFileText(rules: readonly BuiltRule[], options: RuleOptions): string {
  const header = [
    `## whokilled setup-rule: who sends signals (kill family), key ${options.key}`,
    `## Load with: augenrules --load   Remove with: setup-rule remove --persist${options.key === DEFAULT_KEY ? "" : ` --key ${options.key}`}`,
  ];
  if (!options.probes && options.signal === undefined) header.push("## Signal-0 existence probes are left out (a1!=0 / a2!=0).");
  return `${[...header, ...rules.map((r) => r.line)].join("\n")}\n`;
}
