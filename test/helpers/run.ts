/**
 * Run pipeline stages in-process over files, the way the scripts do, and
 * collect everything: output lines, error messages, counters.
 */
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { IdNames, type ThisHost } from "../../lib/audit/ids.ts";
import type { InterpretOptions } from "../../lib/audit/interpret.ts";
import { lineToRecord } from "../../lib/sources/record-lines.ts";
import { OomJoiner } from "../../lib/sources/kernel-oom.ts";
import { InputErrors } from "../../lib/audit/input-errors.ts";
import { LineWriter } from "../../lib/bytes/line-writer.ts";
import { readInputs } from "../../lib/sources/inputs.ts";
import { EventStage, type DecodeSettings } from "../../lib/audit/event-stage.ts";
import type { AnyLine, NoticeLine, SignalLine } from "../../lib/schema.ts";
import { runAttribute, SignalStage } from "../../lib/signals/signal-stage.ts";
import type { SignalFilterOptions } from "../../lib/signals/filter.ts";

export const fixturesDir = join(import.meta.dir, "..", "fixtures");
/** Real audit logs from public projects, with their oracle outputs and sources (test/corpus/SOURCES.md). */
export const corpusDir = join(import.meta.dir, "..", "corpus");

/** Audit text below `root`, sorted: *.log and *.txt files that are not ausearch/aureport output or the corpus's own notes. */
export function auditLogsUnder(root: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(root).sort()) {
    const path = join(root, name);
    if (statSync(path).isDirectory()) out.push(...auditLogsUnder(path));
    else if (/\.(log|txt)$/.test(name) && !/ausearch|aureport|SOURCES|README/i.test(name)) out.push(path);
  }
  return out;
}

/** Every fixture log and corpus file, each with a short name for a test's title. */
export function fixtureAndCorpusLogs(): Array<{ path: string; name: string }> {
  return [...auditLogsUnder(fixturesDir).filter((p) => p.endsWith(".log")), ...auditLogsUnder(corpusDir)].map((path) => ({
    path,
    name: path.startsWith(corpusDir) ? `corpus/${relative(corpusDir, path)}` : relative(fixturesDir, path),
  }));
}

/**
 * This machine as a test sees it (lib/audit/ids.ts ThisHost): the minimal
 * passwd/group, a host name no log uses, and its own audit log in the
 * fixtures and corpus (`local`) or nowhere (every file is another host's).
 */
export function testHost(local: boolean): Partial<ThisHost> {
  return {
    passwdFile: join(fixturesDir, "passwd.minimal"),
    groupFile: join(fixturesDir, "group.minimal"),
    logDirs: local ? [fixturesDir, corpusDir] : ["/nonexistent-wk-log-dir/"],
    name: "wk-test-host",
  };
}

/** The default (lookups on, no --passwd): fixtures read as this host's log, and as another host's. */
export const localLogIds: DecodeSettings = { lookup: true, thisHost: testHost(true) };
export const foreignLogIds: DecodeSettings = { lookup: true, thisHost: testHost(false) };
export const localLogInterpret: InterpretOptions = { ids: new IdNames(localLogIds) };
export const foreignLogInterpret: InterpretOptions = { ids: new IdNames(foreignLogIds) };

/** Interpretation options without lookups, and with the oracle's minimal passwd/group. */
export const noLookupIds: InterpretOptions = { ids: new IdNames({ lookup: false }) };
export const minimalPasswdIds: InterpretOptions = {
  ids: new IdNames({ lookup: true, passwdFile: join(fixturesDir, "passwd.minimal"), groupFile: join(fixturesDir, "group.minimal") }),
};

/** The same minimal passwd/group the corpus oracle was generated with: only root and nobody have names. */
export const oracleIds: DecodeSettings = {
  lookup: true,
  passwdFile: join(fixturesDir, "passwd.minimal"),
  groupFile: join(fixturesDir, "group.minimal"),
};

export async function decodeFiles(paths: string[], settings: DecodeSettings = oracleIds) {
  const messages: string[] = [];
  const errors = new InputErrors({ strict: false, print: (m) => messages.push(m), printLimit: 10_000 });
  const stage = new EventStage(settings, errors);
  const lines: AnyLine[] = [];
  for await (const batch of readInputs(paths, errors)) lines.push(...stage.push(batch));
  lines.push(...stage.flush());
  return { lines, messages, errors: errors.count, notAudit: errors.notAudit, stats: stage.stats, folded: stage.decoder.folded };
}

/** As attribute runs: raw lines through the byte prefilter, unless `prefilter: false` (every line decoded). */
export async function attributeFiles(
  paths: string[],
  filter: SignalFilterOptions = {},
  settings: DecodeSettings = oracleIds,
  { prefilter = true }: { prefilter?: boolean } = {},
) {
  const messages: string[] = [];
  const errors = new InputErrors({ strict: false, print: (m) => messages.push(m), printLimit: 10_000 });
  const stage = new SignalStage({ ...settings, filter }, errors);
  const lines: Array<SignalLine | NoticeLine> = [];
  for await (const batch of readInputs(paths, errors, prefilter ? { prefilter: stage.prefilter } : {})) lines.push(...stage.push(batch));
  lines.push(...stage.flush());
  return { lines, signals: lines.filter((l): l is SignalLine => l.kind === "signal"), messages, errors: errors.count, stats: stage.stats, unrelated: stage.unrelated };
}

/** `path` as capture writes it, one `record` line per audit record, into `target`. */
/**
 * As the attribute script runs: the streaming stage, its lines written by
 * a LineWriter (signal lines from the records' bytes where it can), to a
 * temporary file read back as text.
 */
export async function attributeStream(paths: string[], filter: SignalFilterOptions = {}, settings: DecodeSettings = oracleIds) {
  const messages: string[] = [];
  const errors = new InputErrors({ strict: false, print: (m) => messages.push(m), printLimit: 10_000 });
  const dir = mkdtempSync(join(tmpdir(), "wk-stream-"));
  const out = join(dir, "out.jsonl");
  const fd = openSync(out, "w");
  try {
    const writer = new LineWriter(fd);
    const run = await runAttribute(paths, { ...settings, filter }, errors, writer);
    writer.flush();
    return { text: readFileSync(out, "utf8"), messages, errors: errors.count, stats: run.stats, unrelated: run.unrelated };
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function writeRecordLines(path: string, target: string): string {
  const errors = new InputErrors({ strict: false, print: () => {}, printLimit: 0 });
  const stats = { records: 0, structural: 0 };
  const oom = new OomJoiner();
  const out: string[] = [];
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((text, i) => {
      const record = lineToRecord(text.replace(/\r$/, ""), { file: path, line: i + 1 }, errors, stats, oom);
      if (record) out.push(JSON.stringify(record));
    });
  writeFileSync(target, out.length ? out.join("\n") + "\n" : "");
  return target;
}

/** A script run as users run it: a subprocess with no stdin, its stdout, stderr, exit code and pid. */
export async function runScriptProcess(name: string, args: string[]): Promise<{ stdout: string; stderr: string; code: number; pid: number }> {
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "..", "..", "scripts", `${name}.ts`), ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { stdout, stderr, code, pid: child.pid };
}

/** stdout as JSON Lines; throws if any line is not JSON (a stray log line). */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

export interface SetupRuleRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as JSON Lines (jsonLines), parsed on first read: a run that prints text is read as text. */
  readonly lines: Record<string, unknown>[];
}

/**
 * scripts/setup-rule.ts run to its end with bun itself (process.execPath under
 * `bun test`), in the repository, NO_COLOR set; `prefix` goes before it (e.g.
 * setpriv to run it as another user).
 */
export function setupRuleSync(args: readonly string[], prefix: readonly string[] = []): SetupRuleRun {
  const result = Bun.spawnSync([...prefix, process.execPath, join(import.meta.dir, "..", "..", "scripts", "setup-rule.ts"), ...args], {
    cwd: join(import.meta.dir, "..", ".."),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const stdout = result.stdout.toString();
  let lines: Record<string, unknown>[] | undefined;
  return {
    code: result.exitCode ?? -1,
    stdout,
    stderr: result.stderr.toString(),
    get lines() {
      return (lines ??= jsonLines(stdout));
    },
  };
}
