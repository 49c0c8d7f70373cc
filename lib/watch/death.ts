/**
 * watch's answer: one `death` line per watched process that ended, and its
 * forms for people (one text line) and for --exec (environment variables).
 * docs/SCHEMA.md documents the line.
 */
import { escapeControl, escapeOr } from "../render/escape.ts";
import type { Killer, SignalCause, Workload } from "../schema.ts";
import { workloadLabel } from "../signals/workload.ts";
import { formatSpan } from "../signals/describe.ts";

/** How a watched process ended. */
export type DeathHow = "signal" | "exit" | "oom" | "unknown";

/** Where the sender's facts come from: an audit record, the trace line alone, live /proc, or no process (the kernel). */
export type SenderFrom = "audit" | "tracefs" | "proc" | "kernel";

/** A signal line's killer, less what watch cannot know at once (ppid, ancestry), plus where it was learnt. */
export interface DeathSender extends Omit<Killer, "ppid" | "ancestry"> {
  from: SenderFrom;
}

export interface DeathLine {
  kind: "death";
  /** When it ended (the exit tracepoint's time on the wall clock), ISO 8601. */
  time: string;
  pid: number;
  /** The PID inside its own PID namespace, when that is not the host's. */
  nsPid: number | null;
  comm: string;
  exe: string | null;
  uid: number | null;
  /** Its systemd unit / container, from /proc/PID/cgroup while it lived. */
  workload: Workload | null;
  /** When it started (/proc/PID/stat, read while it lived), or null. */
  startedAt: string | null;
  /** How long it ran, ms; null when its start was not seen. */
  ranMs: number | null;
  how: DeathHow;
  /** exit_group's code (how "exit"). */
  exitCode: number | null;
  /** The signal that ended it (how "signal" or "oom"). */
  signal: { nr: number; name: string } | null;
  /** Who sent it; null when no sender was seen. */
  sender: DeathSender | null;
  /** The catalogue's cause of the signal (lib/signals/cause.ts, lib/tables/kernel-signals.ts). */
  cause: SignalCause | null;
  /** The catalogue's row for the sender (lib/tables/killers.ts). */
  killer: { kind: string; what: string; graceSetting: string | null } | null;
  /** One sentence: how it ended and why. */
  explanation: string;
  /** A signal it handled (or that was still pending) before it exited by itself: often why it exited. */
  before: { signal: { nr: number; name: string }; sender: DeathSender | null; cause: SignalCause | null } | null;
  /** audit: seen (an audit record named the sender), blind-spot (audit was on, yet logged no call), off, or not-needed (no syscall sent it). */
  audit: "seen" | "blind-spot" | "off" | "not-needed";
  /** What watch matched it by: `pid 42`, `comm sleep`, `unit nginx.service`, `cgroup /x`. */
  matchedBy: string;
  notes: string[];
  /** The raw trace lines (and audit record ids) it rests on. */
  evidence: string[];
}

function senderText(sender: DeathSender | null): string {
  if (!sender) return "an unseen sender";
  if (sender.from === "kernel") return "the kernel";
  const parts = [`${escapeOr(sender.comm, "<...>")}[${sender.pid ?? "?"}]`];
  if (sender.uid !== null) parts.push(`uid ${sender.uid}${sender.user ? `(${escapeControl(sender.user)})` : ""}`);
  if (sender.exe) parts.push(escapeControl(sender.exe));
  if (sender.argv.length > 0) parts.push(`"${escapeControl(sender.argv.join(" ")).slice(0, 120)}"`);
  return parts.join(" ");
}

/** The one text line for people: every attacker-controlled string escaped. */
export function deathText(line: DeathLine): string {
  const where: string[] = [];
  const label = line.workload ? workloadLabel(line.workload) : "";
  if (label) where.push(escapeControl(label));
  if (line.nsPid !== null) where.push(`ns pid ${line.nsPid}`);
  const who = `${escapeControl(line.comm)}[${line.pid}]${where.length > 0 ? ` (${where.join(", ")})` : ""}`;
  let what: string;
  if (line.how === "exit") {
    what = `exited with code ${line.exitCode}`;
    const before = line.before;
    if (before) what += ` after ${before.signal.name}${before.sender?.pid === line.pid ? " (its own)" : ` from ${senderText(before.sender)}`}`;
  } else if (line.how === "oom") {
    what = `killed by the kernel's OOM killer (${line.signal?.name ?? "SIGKILL"})`;
  } else if (line.how === "signal") {
    what = `killed by ${line.signal!.name} from ${senderText(line.sender)}`;
  } else {
    what = "ended (how was not seen)";
  }
  const ran = line.ranMs !== null ? `ran ${formatSpan(line.ranMs)}` : "ran ?";
  const blind = line.audit === "blind-spot" ? " [audit blind spot: tracefs only]" : "";
  return `${line.time} ${who} ${what}: ${escapeControl(line.explanation)}; ${ran}${blind}`;
}

/** The answer as environment variables for --exec: WHOKILLED_PID, WHOKILLED_SIGNAL, … (empty when unknown). */
export function deathEnvironment(line: DeathLine): Record<string, string> {
  const text = (value: string | number | null | undefined) => (value === null || value === undefined ? "" : String(value));
  return {
    WHOKILLED_PID: text(line.pid),
    WHOKILLED_NS_PID: text(line.nsPid),
    WHOKILLED_COMM: line.comm,
    WHOKILLED_HOW: line.how,
    WHOKILLED_EXIT_CODE: text(line.exitCode),
    WHOKILLED_SIGNAL: text(line.signal?.name),
    WHOKILLED_SIGNAL_NR: text(line.signal?.nr),
    WHOKILLED_SENDER_PID: text(line.sender?.pid),
    WHOKILLED_SENDER_COMM: text(line.sender?.comm),
    WHOKILLED_SENDER_EXE: text(line.sender?.exe),
    WHOKILLED_SENDER_UID: text(line.sender?.uid),
    WHOKILLED_CAUSE: text(line.cause?.rule),
    WHOKILLED_EXPLANATION: line.explanation,
    WHOKILLED_RAN_MS: text(line.ranMs),
    WHOKILLED_UNIT: text(line.workload?.unit),
    WHOKILLED_CONTAINER: text(line.workload?.container?.id),
    WHOKILLED_TIME: line.time,
  };
}
