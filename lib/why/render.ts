/**
 * `why`'s answer as text people read: one plain answer first, then the
 * evidence lines, then what is missing and the command that sets the trap.
 * Every string from the evidence is attacker-controlled (comm, exe, argv,
 * journal messages): escaped here (lib/render/escape.ts).
 */
import { escapeControl } from "../render/escape.ts";
import { plural } from "../signals/describe.ts";
import type { WhyAnswer } from "./why.ts";

const MAX_EVIDENCE = 20;

function when(time: string | null, bootSeconds?: number): string {
  if (time !== null) return time.replace("T", " ").replace(/\.\d+Z$/, "Z");
  return bootSeconds !== undefined ? `${bootSeconds} s after boot` : "at a time the log does not say";
}

export function renderWhyText(answer: WhyAnswer): string {
  const e = escapeControl;
  const subject = answer.query.pid !== null ? `pid ${answer.query.pid}` : e(answer.query.comm ?? "?");
  const out: string[] = [];
  const ending = answer.ending;
  if (ending !== null) {
    out.push(`${e(ending.what)}, ${when(ending.time, ending.bootSeconds)}.`);
    out.push(`Who: ${e(ending.who)}.`);
    out.push(`From: ${e(ending.source)}${answer.settled ? "" : " (not settled: see below)"}.`);
    if (answer.others.length > 0) {
      const shown = answer.others.slice(-5).join(", ");
      out.push(`Also ended in that time: ${plural(answer.others.length, "other process", "other processes")} named ${subject} (pid ${answer.others.length > 5 ? "…, " : ""}${shown}); ask for one by its pid.`);
    }
  } else {
    out.push(`No evidence says how ${subject} ended.`);
  }
  /** A titled block of escaped lines, left out when there are none. */
  const section = (title: string, lines: string[]) => {
    if (lines.length > 0) out.push("", title, ...lines.map((line) => `  ${e(line)}`));
  };
  section("What it looks like:", answer.findings.filter((f) => f.id !== "blind-spot").slice(0, 3).map((f) => `${f.id}: ${f.headline}`));
  section("Evidence:", answer.evidence.slice(-MAX_EVIDENCE).map((item) => `[${item.source}] ${item.text}`));
  if (answer.evidence.length > MAX_EVIDENCE) out.push(`  … ${answer.evidence.length - MAX_EVIDENCE} earlier lines (--format json has them all)`);
  section("Missing:", answer.missing);
  section("To catch it next time:", answer.trap);
  out.push("", "Sources:");
  for (const read of answer.sources) {
    const more = read.from.length > 1 ? ` and ${read.from.length - 1} more` : "";
    const from = read.from.length > 0 ? ` ${e(read.from[0]!)}${more}` : "";
    out.push(`  ${read.source}: ${read.read ? "read" : "not read"}${from} (${e(read.note)})`);
  }
  return `${out.join("\n")}\n`;
}
