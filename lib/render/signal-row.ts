/**
 * One readable line per signal, for `attribute --format table`:
 *
 *   2010-09-23 12:37:07.433Z  roxen[4299] uid 0(root) /usr/local/roxen/…/pike  SIGKILL → 26880 findpid[26880] uid 1010  ok
 *
 * Every attacker-controlled part is escaped (lib/render/escape.ts).
 */
import type { SignalLine } from "../schema.ts";
import { describeAncestry } from "../signals/describe.ts";
import { signalName, victimsOf } from "../signals/keys.ts";
import { escapeControl, escapeOr } from "./escape.ts";
import { formatTime, num, painter, truncate, uidLabel } from "./format.ts";

export interface SignalRowOptions {
  /** ANSI colour (the caller decides: TTY and no NO_COLOR). */
  color?: boolean;
  /** Longest argv shown, in columns (default 60; 0 hides argv). */
  argvWidth?: number;
}

const MAX_VICTIMS_SHOWN = 4;

export function formatSignalRow(signal: SignalLine, options: SignalRowOptions = {}): string {
  const paint = painter(options.color === true);
  const k = signal.killer;
  const argvWidth = options.argvWidth ?? 60;

  const killerParts = [paint(`${escapeOr(k.comm)}[${num(k.pid)}]`, "bold"), `uid ${uidLabel(k.uid, k.user)}`];
  if (k.exe) killerParts.push(escapeControl(k.exe));
  if (argvWidth > 0 && k.argv.length > 0) {
    const argv = truncate(k.argv.map(escapeControl).join(" "), argvWidth);
    if (argv !== escapeOr(k.comm)) killerParts.push(paint(`"${argv}"`, "dim"));
  }
  // Who started the killer (names only here; report gives the parent's command line).
  if (k.ancestry && k.ancestry.length > 0) killerParts.push(paint(`← ${escapeControl(describeAncestry(k.ancestry, { argv: false }))}`, "dim"));

  const t = signal.target;
  let target: string;
  if (t.scope === "group") target = `group ${num(t.pid)}`;
  else if (t.scope === "all") target = "every process";
  else if (t.scope === "pidfd") target = `pidfd→${num(t.pid)}`;
  else if (t.scope === "thread" && t.tid !== undefined) target = `${num(t.pid)}/${num(t.tid)}`;
  else target = num(t.pid);

  const victims = victimsOf(signal).filter((v) => v.comm !== null || v.uid !== null);
  let hit = "";
  if (victims.length > 0) {
    const shown = victims
      .slice(0, MAX_VICTIMS_SHOWN)
      .map((v) => `${escapeOr(v.comm)}[${num(v.pid)}] uid ${uidLabel(v.uid, v.user)}`);
    if (victims.length > MAX_VICTIMS_SHOWN) shown.push(`+${victims.length - MAX_VICTIMS_SHOWN} more`);
    hit = ` ${paint(shown.join(", "), "cyan")}`;
  } else if (signal.result.success === false && (signal.result.errno ?? "").toUpperCase() === "ESRCH") {
    hit = ` ${paint("(no such process)", "dim")}`;
  }

  let result: string;
  if (signal.result.success === true) result = paint("ok", "green");
  else if (signal.result.success === false) result = paint(`failed ${escapeOr(signal.result.errno, "")}`.trimEnd(), "red");
  else result = "result ?";

  const via: string[] = [];
  if (signal.syscall && signal.syscall !== "kill") via.push(escapeControl(signal.syscall));
  if (signal.source === "tracefs") via.push(`tracefs${signal.origin ? ` ${escapeControl(signal.origin.kind)}` : ""}`);
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
