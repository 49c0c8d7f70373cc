/**
 * One readable line per signal, for `attribute --format table`:
 *
 *   2010-09-23 12:37:07.433Z  roxen[4299] uid 0(root) /usr/local/roxen/…/pike  SIGKILL → 26880 findpid[26880] uid 1010  ok
 *
 * Every attacker-controlled part is escaped (lib/render/escape.ts).
 */
import type { Placement, SignalLine } from "../schema.ts";
import { workloadLabel } from "../signals/workload.ts";
import { describeAncestry } from "../signals/describe.ts";
import { isEsrch, signalName, victimsOf } from "../signals/keys.ts";
import { escapeControl, escapeOr } from "./escape.ts";
import { formatTime, num, painter, truncate, uidLabel } from "./format.ts";

export interface SignalRowOptions {
  /** ANSI colour (the caller decides: TTY and no NO_COLOR). */
  color?: boolean;
}

const MAX_VICTIMS_SHOWN = 4;
/** Longest argv shown, in columns. */
const ARGV_WIDTH = 60;

/** ` (ns pid 1, docker container 3f2a9c0d1e4b)` where /proc told it (`--proc`); unit names come from the host, escaped all the same. */
function placedText(p: Placement): string {
  const parts: string[] = [];
  if (p.nsPid !== undefined) parts.push(`ns pid ${p.nsPid}`);
  if (p.workload) parts.push(escapeControl(workloadLabel(p.workload)));
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}

export function formatSignalRow(signal: SignalLine, options: SignalRowOptions = {}): string {
  const paint = painter(options.color === true);
  const k = signal.killer;

  const killerParts = [paint(`${escapeOr(k.comm)}[${num(k.pid)}]`, "bold") + placedText(k), `uid ${uidLabel(k.uid, k.user)}`];
  if (k.exe) killerParts.push(escapeControl(k.exe));
  if (k.argv.length > 0) {
    const argv = truncate(k.argv.map(escapeControl).join(" "), ARGV_WIDTH);
    if (argv !== escapeOr(k.comm)) killerParts.push(paint(`"${argv}"`, "dim"));
  }
  // Who started the killer (names only here; report gives the parent's command line).
  if (k.ancestry && k.ancestry.length > 0) killerParts.push(paint(`← ${escapeControl(describeAncestry(k.ancestry, { argv: false }))}`, "dim"));

  const t = signal.target;
  let target: string;
  if (t.scope === "group") target = `group ${num(t.pid)}`;
  else if (t.scope === "all") target = "every process";
  // An inferred target (no OBJ_PID: the process was gone) says what it rests on.
  else if (t.scope === "pidfd") target = `pidfd→${num(t.pid)}${t.pidFrom === "pidfd_open" || t.pidFrom === "earlier-call" ? ` (inferred from ${t.pidFrom === "pidfd_open" ? "its pidfd_open" : "an earlier call"})` : ""}`;
  else if (t.scope === "thread" && t.tid !== undefined) target = `${num(t.pid)}/${num(t.tid)}`;
  // The journal may name only the unit (its main process, or the cgroup systemd-oomd killed).
  else if (t.pid === null && signal.unit !== undefined) target = `unit ${escapeControl(signal.unit)}`;
  else target = num(t.pid);

  const victims = victimsOf(signal).filter((v) => v.comm !== null || v.uid !== null);
  let hit = "";
  if (victims.length > 0) {
    const shown = victims
      .slice(0, MAX_VICTIMS_SHOWN)
      .map((v) => `${escapeOr(v.comm)}[${num(v.pid)}]${placedText(v)} uid ${uidLabel(v.uid, v.user)}`);
    if (victims.length > MAX_VICTIMS_SHOWN) shown.push(`+${victims.length - MAX_VICTIMS_SHOWN} more`);
    hit = ` ${paint(shown.join(", "), "cyan")}`;
  } else if (isEsrch(signal)) {
    hit = ` ${paint("(no such process)", "dim")}`;
  }

  const success = signal.result.success;
  const result = success === true ? paint("ok", "green") : success === false ? paint(`failed ${escapeOr(signal.result.errno, "")}`.trimEnd(), "red") : "result ?";

  const via: string[] = [];
  if (signal.syscall && signal.syscall !== "kill") via.push(escapeControl(signal.syscall));
  if (signal.source === "tracefs") {
    const kind = signal.cause?.rule ?? signal.origin?.kind;
    via.push(`tracefs${kind ? ` ${escapeControl(kind)}` : ""}`);
    // The running task is context, not the sender, for a kernel-sent signal: say so beside it.
    const context = signal.context;
    if (context && context.pid !== signal.killer.pid) via.push(`while ${context.pid === 0 ? "<idle>" : escapeOr(context.comm)}[${context.pid}] ran`);
  }
  // Seen by the syscall tracepoints, not audit: no auid, and a gone sender's uid is not known.
  if (signal.source === "tracepoints") via.push("tracepoints");
  // systemd's word, from the journal: said as such, never as an audit record.
  if (signal.source === "journal") via.push(`journal${signal.cause ? ` ${escapeControl(signal.cause.rule)}` : ""}`);
  const viaText = via.length > 0 ? ` ${paint(`(${via.join(", ")})`, "dim")}` : "";

  return [
    paint(formatTime(signal.time, true), "dim"),
    "  ",
    // A gathered log's host goes first: PIDs and names mean something only on it.
    signal.node === null ? "" : `${paint(escapeControl(signal.node), "bold")}  `,
    killerParts.join(" "),
    "  ",
    paint(signalName(signal.signal), "yellow"),
    " → ",
    target,
    hit,
    "  ",
    result,
    viaText,
  ].join("");
}
