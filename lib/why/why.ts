/**
 * `why PID|COMM`: the after-the-fact question, answered from the evidence a
 * machine already keeps. It is the pipeline's own stages under one call:
 * each source is captured (audit.log and its rotations, the kernel log, the
 * journal), one SignalStage attributes them all (with live /proc for the
 * killer's ancestry), the signals about the process and the window are kept,
 * and the report's analysis names them in the catalogue's words. Nothing
 * here interprets a record a second way: the kernel log's fault line is the
 * one thing read beside the stages (lib/why/kernel-fault.ts), as corroboration.
 */
import { accessSync, constants, readFileSync } from "node:fs";
import type { InputErrors } from "../audit/input-errors.ts";
import type { DecodeSettings } from "../audit/event-stage.ts";
import type { Killer, NoticeLine, RecordLine, SignalLine } from "../schema.ts";
import { analyze, compareFindings, type Finding } from "../signals/findings.ts";
import { SignalStage } from "../signals/signal-stage.ts";
import { timeWindow, type SignalTimeWindow } from "../signals/filter.ts";
import { isoMs } from "../signals/time-spec.ts";
import { readFileLines, rotatedFiles } from "../sources/file.ts";
import { classifyLine, type InputItem } from "../sources/inputs.ts";
import { kernelLogStamp } from "../sources/kernel-oom.ts";
import { journalctlArgs, journalctlPath, journalctlRecords, journalFileRecords, JournalLines } from "../sources/journal-read.ts";
import { journalFactsOfRaw, type JournalFacts } from "../sources/journal-systemd.ts";
import { parseKernelFault, type KernelFault } from "./kernel-fault.ts";
import type { SourceName } from "../sources/registry.ts";
import { baseName } from "../tables/killers.ts";
import { endsProcessByDefault } from "../tables/signals.ts";
import { DEFAULT_AUDIT_LOG } from "../audit/ids.ts";
import { reportUnreadLine } from "../sources/lines.ts";
import { userCommand } from "../cli/stage-command.ts";
import { usageError } from "../errors.ts";
import { plural } from "../signals/describe.ts";

export type WhyQuery = { pid: number; comm?: undefined } | { comm: string; pid?: undefined };

export interface WhyInputs {
  /** Audit logs to read as given; absent: /var/log/audit/audit.log and its rotations, if readable. */
  auditLogs?: readonly string[];
  /** A kernel log file (dmesg, kern.log, journalctl -k); absent: run dmesg. */
  kernelLog?: string;
  /** A journal file (journalctl -o json or -o export); absent: run journalctl, when installed. */
  journal?: string;
}

export interface WhyOptions extends DecodeSettings {
  query: WhyQuery;
  since?: string;
  until?: string;
  /** Only the lines from this host of a gathered log (its node=NAME): lines that carry no node= are left out too. */
  node?: string;
  inputs: WhyInputs;
  /** Read the machine's own sources for those not given (false: only the files given, as tests do). */
  discover: boolean;
  /** The killer's ancestry from live /proc. */
  proc: boolean;
  errors: InputErrors;
  signal?: AbortSignal;
}

/** One source of evidence: whether it was read, from where, and what it held or why it was not read. */
export interface SourceRead {
  source: "audit log" | "kernel log" | "journal";
  read: boolean;
  from: string[];
  note: string;
}

export interface WhyEvidence {
  source: string;
  time: string | null;
  /** The line as the source has it (not escaped: renderers escape). */
  text: string;
}

export interface WhyEnding {
  time: string | null;
  /** dmesg's seconds since boot, when the wall time is not in the log. */
  bootSeconds?: number;
  signal: string | null;
  /** The exit status, when the journal says the process exited rather than was killed. */
  exitStatus?: number;
  /** What ended it, in one sentence. */
  what: string;
  /** Who or what did it. */
  who: string;
  /** Where that came from. */
  source: string;
}

export interface WhyAnswer {
  kind: "why";
  query: { pid: number | null; comm: string | null };
  window: { since: string | null; until: string | null };
  /** The evidence names who or what ended it. */
  settled: boolean;
  ending: WhyEnding | null;
  killer: Killer | null;
  /** The report's findings over these signals: the catalogue's words. */
  findings: Finding[];
  signals: SignalLine[];
  evidence: WhyEvidence[];
  missing: string[];
  /** The commands that set the trap for next time. */
  trap: string[];
  /** Asked by name: the other processes of that name that ended in the window (the answer is about the last one). */
  others: number[];
  sources: SourceRead[];
  /** What was read: every signal the sources held, and how many concern this process in the window. */
  totals: { signals: number; matching: number; journalEntries: number };
}

function readable(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** Does this signal line concern the process asked about? */
function aboutQuery(signal: SignalLine, query: WhyQuery, facts: JournalFacts | undefined): boolean {
  if (query.pid !== undefined) {
    return signal.target.pid === query.pid || signal.target.tid === query.pid || signal.victims.some((v) => v.pid === query.pid);
  }
  const comm = query.comm;
  return signal.victims.some((v) => commIs(v.comm, comm)) || (facts !== undefined && unitMatches(facts, comm));
}

/** Is this process (a victim, a faulting task) the one asked about? */
function isAsked(p: { pid: number | null; comm: string | null }, query: WhyQuery): boolean {
  return query.pid !== undefined ? p.pid === query.pid : commIs(p.comm, query.comm);
}

/** The kernel keeps 15 bytes of a comm (TASK_COMM_LEN): a longer name asked for matches its first 15. */
function commIs(comm: string | null, asked: string): boolean {
  return comm !== null && (comm === asked || (Buffer.byteLength(asked) > 15 && comm.length >= 15 && asked.startsWith(comm)));
}

/** A journal fact about `name`: its unit (`name`, `name.service`), its command, or the cgroup systemd-oomd killed. */
function unitMatches(facts: JournalFacts, name: string): boolean {
  const m = facts.message;
  const named = (part: string) => part === name || part.replace(/\.[a-z]+$/, "") === name;
  if (m.unit !== null && named(m.unit)) return true;
  if (baseName(facts.command?.split(" ")[0]) === name) return true;
  if (m.kind === "kill" && commIs(m.comm, name)) return true;
  if (m.kind === "oomd") return m.cgroup.split("/").some(named);
  return false;
}

function inWindow(time: string | null, window: SignalTimeWindow): boolean {
  const ms = time === null ? Number.NaN : isoMs(time);
  // A line whose wall time is unknown (dmesg's boot-relative stamps) is kept: the window cannot judge it.
  if (Number.isNaN(ms)) return true;
  return (window.sinceMs === undefined || ms >= window.sinceMs) && (window.untilMs === undefined || ms < window.untilMs);
}

/** Whether to look for this machine's own source (not given as a file); when not, the source is noted as not read. */
function discovering(options: WhyOptions, reads: SourceRead[], source: SourceRead["source"]): boolean {
  if (!options.discover) reads.push({ source, read: false, from: [], note: "only the files given are read" });
  return options.discover;
}

const KERNEL_LOG_ISO = ["dmesg", "--time-format", "iso"];

/** The kernel log: a file's lines, or dmesg's output (wall-clock stamps where this dmesg can print them). */
async function* kernelLogLines(options: WhyOptions, reads: SourceRead[]): AsyncGenerator<{ text: string; file: string; line: number }> {
  if (options.inputs.kernelLog !== undefined) {
    const file = options.inputs.kernelLog;
    reads.push({ source: "kernel log", read: true, from: [file], note: "as given" });
    for await (const batch of readFileLines(file, { signal: options.signal })) {
      for (const line of batch) {
        // A line past the limit, or a damaged .gz, is an input error like any other, never dropped unsaid.
        if (!reportUnreadLine(line, (problem) => options.errors.report({ file, line: line.line }, problem))) yield { text: line.bytes.toString("utf8"), file, line: line.line };
      }
    }
    return;
  }
  if (!discovering(options, reads, "kernel log")) return;
  for (const argv of [KERNEL_LOG_ISO, ["dmesg"]]) {
    if (Bun.which(argv[0]!) === null) break;
    const out = Bun.spawnSync(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    if (out.exitCode !== 0) continue;
    reads.push({ source: "kernel log", read: true, from: [argv.join(" ")], note: "the kernel's ring buffer: only as far back as it holds" });
    let n = 0;
    for (const text of out.stdout.toString("utf8").split("\n")) yield { text, file: "dmesg", line: ++n };
    return;
  }
  reads.push({ source: "kernel log", read: false, from: ["dmesg"], note: "dmesg is not installed or not readable (kernel.dmesg_restrict: run as root)" });
}

async function* journalBatches(options: WhyOptions, window: SignalTimeWindow, reads: SourceRead[], lines: JournalLines): AsyncGenerator<RecordLine[]> {
  if (options.inputs.journal !== undefined) {
    reads.push({ source: "journal", read: true, from: [options.inputs.journal], note: "as given" });
    yield* journalFileRecords(options.inputs.journal, options.errors, lines, options.signal);
    return;
  }
  if (!discovering(options, reads, "journal")) return;
  if (journalctlPath() === null) {
    reads.push({ source: "journal", read: false, from: [], note: "no journalctl on this machine" });
    return;
  }
  const args = journalctlArgs(window.sinceMs, window.untilMs);
  reads.push({ source: "journal", read: true, from: [["journalctl", ...args].join(" ")], note: "systemd's, systemd-oomd's and audit's entries" });
  yield* journalctlRecords(args, options.errors, lines);
}

function auditLogPaths(options: WhyOptions, reads: SourceRead[]): string[] {
  if (options.inputs.auditLogs !== undefined) {
    reads.push({ source: "audit log", read: true, from: [...options.inputs.auditLogs], note: "as given" });
    return [...options.inputs.auditLogs];
  }
  if (!discovering(options, reads, "audit log")) return [];
  const paths = rotatedFiles(DEFAULT_AUDIT_LOG).filter(readable);
  if (paths.length === 0) reads.push({ source: "audit log", read: false, from: [DEFAULT_AUDIT_LOG], note: "not there or not readable (no auditd, or not root)" });
  // Listed newest first, as people name them; read oldest first, as they were written.
  else reads.push({ source: "audit log", read: true, from: [...paths].reverse(), note: "this machine's auditd log" });
  return paths;
}

/** Answer `why` for one process. */
export async function why(options: WhyOptions): Promise<WhyAnswer> {
  const { query, errors } = options;
  const window = timeWindow({ since: options.since, until: options.until });
  const reads: SourceRead[] = [];
  // No filter in the stage: the window keeps lines without a wall time, and a comm may name a unit.
  const stage = new SignalStage({ ...options, filter: { probes: false } }, errors);
  // Only the signals about this process are kept (a log's others are counted): memory grows with what is asked, not with the log.
  const mine: SignalLine[] = [];
  const notices: NoticeLine[] = [];
  let signalsRead = 0;
  // The hosts of a gathered log (node=): each has its own PIDs.
  const nodesRead = new Set<string>();
  const journalFacts = new Map<string, { facts: JournalFacts; record: RecordLine }>();
  const collect = (lines: Array<SignalLine | NoticeLine>) => {
    for (const line of lines) {
      if (line.kind !== "signal") notices.push(line);
      else {
        signalsRead++;
        if (line.node !== null) nodesRead.add(line.node);
        if (options.node !== undefined && line.node !== options.node) continue;
        if (aboutQuery(line, query, journalFacts.get(line.id)?.facts) && inWindow(line.time, window)) mine.push(line);
      }
    }
  };

  // 1. audit.log and its rotations, read as attribute reads them.
  for await (const _ of stage.chunks(auditLogPaths(options, reads), options.signal)) collect(stage.drain());

  // 2. The kernel log: its OOM reports (and any audit records it holds) through the stage; fault lines beside it.
  const faults: Array<{ fault: KernelFault; raw: string; time: string | null; bootSeconds: number | null }> = [];
  for await (const { text, file, line } of kernelLogLines(options, reads)) {
    // As any stage reads a line: `journalctl -k -o json` lines are JSON.
    const item = classifyLine(text, { file, line }, errors);
    if (item !== null) collect(stage.push([item]));
    if (text.includes("segfault at") || text.includes("traps: ")) {
      const stamp = kernelLogStamp(text);
      const fault = stamp ? parseKernelFault(stamp.message) : null;
      if (fault && stamp) faults.push({ fault, raw: text, time: stamp.time, bootSeconds: stamp.bootSeconds });
    }
  }

  // 3. The journal: systemd's own records, kept by id to match their signals.
  const journalLines = new JournalLines(errors);
  for await (const records of journalBatches(options, window, reads, journalLines)) {
    const items: InputItem[] = [];
    for (const record of records) {
      const facts = record.type.startsWith("SYSTEMD_") ? journalFactsOfRaw(record.raw) : null;
      if (facts !== null) journalFacts.set(record.id, { facts, record });
      items.push({ form: "json", value: record, source: record.source });
    }
    collect(stage.push(items));
  }
  collect(stage.flush());

  // 4. What concerns this process, in the window.
  mine.sort((a, b) => timeOf(a) - timeOf(b));
  const mineIds = new Set(mine.map((s) => s.id));
  // By pid: the units of the kills of this pid, whose other lines around them (a stop timeout, the main process's end) are context.
  const units = new Set(mine.map((s) => journalFacts.get(s.id)?.facts.message.unit).filter((u): u is string => typeof u === "string"));
  const context = [...journalFacts.values()].filter(({ facts, record }) => {
    // The journal's entries carry no node=: under --node only the signals' own lines count.
    if (options.node !== undefined || mineIds.has(record.id) || !inWindow(facts.time, window)) return false;
    if (query.comm !== undefined) return unitMatches(facts, query.comm);
    return facts.message.unit !== null && units.has(facts.message.unit);
  });
  const myFaults = options.node !== undefined ? [] : faults.filter(({ fault, time }) => isAsked(fault, query) && inWindow(time, window));
  const hosts = [...new Set(mine.map((s) => s.node).filter((node): node is string => node !== null))].sort();
  if (hosts.length > 1) {
    const subject = query.pid !== undefined ? `pid ${query.pid}` : query.comm;
    throw usageError(`the lines about ${subject} come from ${plural(hosts.length, "host")} (${hosts.join(", ")}), each with its own PIDs: ask about one with --node NAME`);
  }
  if (options.node !== undefined) {
    for (const read of reads) if (read.read && read.source !== "audit log") read.note += "; its lines carry no node=, so --node leaves them out";
  }

  const report = await analyze([...mine, ...notices]);
  const findings = report.findings.filter((f) => f.severity !== "info" || f.id !== "blind-spot").sort(compareFindings);
  const totals = { signals: signalsRead, matching: mine.length, journalEntries: journalLines.stats.records + journalLines.stats.structural };
  return answer(options, { mine, context, myFaults, findings, reads, window, journalFacts, totals, nodes: [...nodesRead].sort(), multiHost: nodesRead.size > 1 });
}

function timeOf(signal: SignalLine): number {
  if (signal.time !== null) return isoMs(signal.time);
  return signal.bootSeconds !== undefined ? signal.bootSeconds * 1000 : Number.NEGATIVE_INFINITY;
}

interface Gathered {
  mine: SignalLine[];
  context: Array<{ facts: JournalFacts; record: RecordLine }>;
  myFaults: Array<{ fault: KernelFault; raw: string; time: string | null; bootSeconds: number | null }>;
  findings: Finding[];
  reads: SourceRead[];
  window: SignalTimeWindow;
  journalFacts: Map<string, { facts: JournalFacts; record: RecordLine }>;
  totals: WhyAnswer["totals"];
  /** The hosts the signals read came from (node=); several: the evidence names each line's. */
  nodes: string[];
  multiHost: boolean;
}

type Fault = Gathered["myFaults"][number];

function faultMs({ time, bootSeconds }: Fault): number {
  if (time !== null) return isoMs(time);
  return bootSeconds !== null ? bootSeconds * 1000 : Number.NEGATIVE_INFINITY;
}

const SOURCE_WORDS: Record<SourceName, string> = { audit: "audit", tracefs: "tracefs", "kernel-log": "the kernel log", journal: "the journal", tracepoints: "the syscall tracepoints" };

function sourceWords(signal: SignalLine): string {
  if (signal.source === "audit" && signal.syscall === null && signal.cause?.rule !== undefined) return "audit's ANOM_ABEND record";
  return SOURCE_WORDS[signal.source];
}

/** Who sent it, in plain words. */
function whoText(signal: SignalLine): string {
  const k = signal.killer;
  if (signal.source === "journal") return signal.cause?.label ?? `${k.comm ?? "systemd"} (pid ${k.pid ?? "?"}), from the journal`;
  if (signal.cause !== undefined && (signal.syscall === null || signal.source !== "audit")) return signal.cause.label;
  const name = `${k.comm ?? "?"}[${k.pid ?? "?"}]`;
  const parts = [k.exe, k.uid !== null ? `uid ${k.uid}${k.user ? ` ${k.user}` : ""}` : null, k.argv.length > 0 ? `"${k.argv.join(" ")}"` : null].filter((p): p is string => p !== null);
  const chain = k.ancestry && k.ancestry.length > 0 ? `, started by ${k.ancestry.slice(0, 4).map((a) => `${a.comm ?? "?"}[${a.pid}]`).join(" ← ")}` : "";
  return `${name}${parts.length > 0 ? ` (${parts.join(", ")})` : ""} with ${signal.syscall ?? "a signal"}()${chain}`;
}

function isSettledBy(signal: SignalLine): boolean {
  if (signal.source === "audit" && signal.syscall !== null) return true; // a kill-family call, its sender named by audit
  if (signal.source === "kernel-log") return signal.cause?.kind === "oom";
  if (signal.source === "journal") return signal.killer.pid !== null || signal.killer.comm === "[kernel]";
  return false;
}

function answer(options: WhyOptions, g: Gathered): WhyAnswer {
  const { query } = options;
  const evidence: WhyEvidence[] = [];
  for (const signal of g.mine) for (const text of rawLinesOf(signal, g.journalFacts, g.multiHost)) evidence.push({ source: sourceWords(signal), time: signal.time, text });
  for (const { raw, time } of g.myFaults) evidence.push({ source: "the kernel log", time, text: raw });
  for (const { facts, record } of g.context) evidence.push({ source: "the journal", time: facts.time, text: journalLine(facts, record) });
  evidence.sort((a, b) => (a.time ?? "").localeCompare(b.time ?? ""));

  // What ended it: the last delivered signal that ends a process by default, one whose sender is known before one whose is not.
  const delivered = g.mine.filter((s) => s.result.success !== false && s.signal.nr !== null && endsProcessByDefault(s.signal.nr));
  // A name stands for every process that had it: the answer is about the one that ended last (by a signal or a fault), the others are counted.
  const victimOf = (s: SignalLine) => (query.comm !== undefined ? (s.victims.find((v) => commIs(v.comm, query.comm!))?.pid ?? s.target.pid ?? mainPidOf(s, g)) : query.pid);
  // Signals first, then faults: at one instant, the fault line (the kernel's own word) is taken as the later.
  const endings = [...delivered.map((s) => ({ ms: timeOf(s), pid: victimOf(s) ?? null })), ...g.myFaults.map((f) => ({ ms: faultMs(f), pid: f.fault.pid }))];
  const lastEnding = endings.reduce<(typeof endings)[number] | null>((latest, e) => (latest === null || e.ms >= latest.ms ? e : latest), null);
  const lastPid = query.pid ?? lastEnding?.pid ?? null;
  const fatal = query.comm === undefined || lastPid === null ? delivered : delivered.filter((s) => victimOf(s) === lastPid);
  const fatalFaults = query.comm === undefined ? g.myFaults : g.myFaults.filter(({ fault }) => fault.pid === lastPid);
  const last = fatal.findLast(isSettledBy) ?? fatal[fatal.length - 1] ?? null;
  const answeredPid = lastPid ?? (last !== null ? victimOf(last) : null);
  const others = query.comm === undefined ? [] : [...new Set(endings.map((e) => e.pid).filter((pid): pid is number => pid !== null && pid !== answeredPid))];
  const exit = [...g.context].reverse().find(({ facts }) => facts.message.kind === "exit");
  let ending: WhyEnding | null = null;
  let settled = false;
  let killer: Killer | null = null;
  const pidText = query.pid !== undefined ? `pid ${query.pid}` : query.comm!;
  if (last !== null) {
    // The line that ended it may not name the victim (OBJ_PID left out): an earlier line to the same PID may.
    const victim = last.victims.find((v) => isAsked(v, query)) ?? last.victims[0] ?? g.mine.flatMap((s) => s.victims).findLast((v) => isAsked(v, query));
    const onNode = g.multiHost && last.node !== null ? ` on ${last.node}` : "";
    const victimText = (victim ? `${victim.comm ?? "?"}${victim.pid !== null ? ` (pid ${victim.pid})` : ""}` : unitVictim(last) ?? pidText) + onNode;
    const fault = fatalFaults.find(({ fault }) => fault.signal === last.signal.name);
    settled = isSettledBy(last) || (fault !== undefined && last.cause?.kind === "fault");
    killer = last.killer.pid !== null || last.killer.comm !== null ? last.killer : null;
    ending = {
      time: last.time,
      ...(last.bootSeconds !== undefined ? { bootSeconds: last.bootSeconds } : {}),
      signal: last.signal.name,
      what: `${victimText} was ended by ${last.signal.name ?? `signal ${last.signal.nr}`}`,
      who: whoText(last) + (fault !== undefined && last.cause?.kind === "fault" ? `; the kernel log confirms it: ${fault.fault.what}${fault.fault.address !== null ? ` at ${fault.fault.address}` : ""}` : ""),
      source: sourceWords(last),
    };
  } else if (fatalFaults.length > 0) {
    // The kernel log's fault line alone: the process faulted; audit was not there to say it ended by it.
    const { fault, time, bootSeconds } = fatalFaults[fatalFaults.length - 1]!;
    settled = true;
    ending = {
      time,
      ...(time === null && bootSeconds !== null ? { bootSeconds } : {}),
      signal: fault.signal,
      what: `${fault.comm} (pid ${fault.pid}) was ended by ${fault.signal}`,
      who: `a fault in the process itself (${fault.what}${fault.address !== null ? ` at ${fault.address}` : ""}): the kernel sent ${fault.signal} to the faulting task`,
      source: "the kernel log",
    };
  } else if (exit !== undefined && exit.facts.message.kind === "exit" && exit.facts.message.code === "exited") {
    const m = exit.facts.message;
    settled = true;
    ending = {
      time: exit.facts.time,
      signal: null,
      exitStatus: m.status,
      what: `${m.unit ?? pidText}: its ${m.process.toLowerCase()} exited with status ${m.status}${m.statusName ? `/${m.statusName}` : ""}`,
      who: "no signal: the process exited by itself (systemd, from the journal)",
      source: "the journal",
    };
  }

  const window = { since: g.window.sinceMs !== undefined ? new Date(g.window.sinceMs).toISOString() : null, until: g.window.untilMs !== undefined ? new Date(g.window.untilMs).toISOString() : null };
  const missing: string[] = [];
  const trap: string[] = [];
  const auditRead = g.reads.find((r) => r.source === "audit log")?.read === true;
  if (!settled) {
    if (ending === null) missing.push(`Nothing in the sources read says how ${pidText} ended${describeWindow(window)}.`);
    else missing.push(`${ending.source} says ${ending.signal ?? "it"} ended it, not who sent it.`);
    // Calls aimed at it say a rule was loaded: what they did is what is missing.
    const calls = g.mine.filter((s) => s.source === "audit" && s.syscall !== null && (query.pid !== undefined || answeredPid === null || victimOf(s) === answeredPid));
    if (options.node !== undefined && g.nodes.length > 0 && !g.nodes.includes(options.node)) missing.push(`No signal read is from host ${options.node}: those read are from ${g.nodes.join(", ")}.`);
    if (!auditRead) missing.push("No audit log was read: audit's kill rules record every sender, with its program, user and parents.");
    else if (calls.length > 0) {
      const what = [...new Set(calls.map((s) => `${s.signal.name ?? `signal ${s.signal.nr}`} ${s.result.success === false ? `failed${s.result.errno !== null ? ` with ${s.result.errno}` : ""}` : "delivered"}`))];
      missing.push(`The audit log holds ${plural(calls.length, "kill-family call")} aimed at it (so a kill rule was loaded then), but none delivered a signal that ends a process: ${what.join(", ")}.`);
    } else missing.push("The audit log holds no kill-family call for it: no kill rule was loaded then (or another rule's filter left it out).");
    if (ending === null && g.reads.some((r) => r.source === "kernel log" && r.read)) {
      missing.push("The kernel log is rate-limited: under load it drops a crash's `segfault` line and audit's copies of records (ANOM_ABEND). auditd, left running, keeps every audit record in audit.log.");
    }
    const alive = query.pid !== undefined ? commNow(query.pid, options) : null;
    if (alive !== null) missing.push(`pid ${query.pid} is running now (${alive}): it has not ended, or the PID was given to another process since.`);
    // A recycled PID: calls found it free (ESRCH), or it was seen under more than one name.
    const names = new Set(g.mine.flatMap((s) => s.victims.filter((v) => v.pid === query.pid).map((v) => v.comm)));
    const recycled = query.pid !== undefined && (g.mine.some((s) => s.result.errno === "ESRCH") || names.size > 1);
    trap.push(`${userCommand("setup-rule")} install --persist`);
    if (recycled) trap.push(`${userCommand("bait")} --pid ${query.pid}   # the PID is recycled: hold it with a bait child and see who kills it`);
    trap.push(`${userCommand("why")} ${query.pid ?? query.comm}   # after the next time`);
  }
  return {
    kind: "why",
    query: { pid: query.pid ?? null, comm: query.comm ?? null },
    window,
    settled,
    ending,
    killer,
    findings: g.findings,
    signals: g.mine,
    evidence,
    missing,
    trap,
    others,
    sources: g.reads,
    totals: g.totals,
  };
}

/**
 * The pid of a unit's main process, for systemd's `Main process exited` (which names none): the one process
 * of the unit systemd killed whose comm is the unit's command, when exactly one is.
 */
function mainPidOf(signal: SignalLine, g: Gathered): number | null {
  if (signal.cause?.rule !== "systemd-exit" || signal.unit === undefined) return null;
  const command = baseName(g.journalFacts.get(signal.id)?.facts.command?.split(" ")[0]);
  if (command === null) return null;
  const pids = new Set(g.mine.filter((s) => s.unit === signal.unit).flatMap((s) => s.victims.filter((v) => v.pid !== null && commIs(v.comm, command)).map((v) => v.pid)));
  return pids.size === 1 ? [...pids][0]! : null;
}

/** Who a journal signal with no victim pid hit: what the journal says of the unit. */
function unitVictim(signal: SignalLine): string | null {
  if (signal.unit === undefined) return null;
  if (signal.cause?.rule === "systemd-exit") return `${signal.unit}'s main process`;
  if (signal.cause?.rule === "systemd-oomd") return `every process of ${signal.unit}`;
  return `a process of ${signal.unit}`;
}

function describeWindow({ since, until }: WhyAnswer["window"]): string {
  const parts = [since !== null ? `since ${since}` : null, until !== null ? `until ${until}` : null].filter((part) => part !== null);
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
}

/** The comm of the process that holds the PID now, when reading this machine; null when none does (or not asked). */
function commNow(pid: number, options: WhyOptions): string | null {
  if (!options.discover || !options.proc) return null;
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return null;
  }
}

/** The raw lines a signal rests on, where the signal line carries them (with its host, in a log gathered from several). */
function rawLinesOf(signal: SignalLine, journal: Map<string, { facts: JournalFacts; record: RecordLine }>, multiHost: boolean): string[] {
  const entry = journal.get(signal.id);
  if (entry !== undefined) return [journalLine(entry.facts, entry.record)];
  if (signal.cause?.oom !== undefined) return signal.cause.oom.lines;
  const how = signal.syscall ?? (signal.source === "audit" ? "ANOM_ABEND" : signal.source);
  const k = signal.killer;
  const killer = `${k.comm ?? "?"}[${k.pid ?? "?"}]${k.exe !== null ? ` ${k.exe}` : ""}${k.uid !== null ? ` uid ${k.uid}` : ""}`;
  const victim = signal.victims[0]?.comm ? ` ${signal.victims[0].comm}` : "";
  const result = signal.result.success === false ? `failed ${signal.result.errno ?? ""}`.trimEnd() : "ok";
  // An audit event is found again by its serial: `ausearch -a SERIAL`.
  const serial = signal.source === "audit" ? ` (ausearch -a ${signal.id.slice(signal.id.indexOf(":") + 1)})` : "";
  const node = multiHost && signal.node !== null ? `  ${signal.node}` : "";
  return [`${signal.time ?? signal.id}${node}  ${killer} ${how} ${signal.signal.name ?? signal.signal.nr} → ${signal.target.pid ?? "?"}${victim}  ${result}${serial}`];
}

/** A journal entry as `journalctl` prints it: time, who logged it, the message. */
function journalLine(facts: JournalFacts, record: RecordLine): string {
  const by = facts.by.comm !== null ? `${facts.by.comm}[${facts.by.pid ?? "?"}]` : "?";
  // The message as logged (spaces and all): only the prefix is ours.
  const head = [facts.time ?? "?", facts.hostname, `${by}:`].filter((part): part is string => part !== null).join(" ");
  return `${head} ${facts.text} (${record.source.file}:${record.source.line})`;
}
