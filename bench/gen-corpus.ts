#!/usr/bin/env bun
/**
 * A log of real records: every audit.log record in test/corpus (the
 * public projects' logs and the original case), repeated with fresh stamps
 * until the log has about N lines. gen-log.ts writes records as this
 * project understands them; these are records as real kernels, auditd and
 * user-space programs wrote them, quirks included (old LOGIN formats, SELinux
 * contexts, cut-off lines, AVCs, records of other arches).
 *
 * - Only audit.log lines are taken (`[node=…] type=… msg=audit(…): …`);
 *   ausearch's `----`/`time->` lines and the like are not records.
 * - EOE records are left out: auditd never writes them to audit.log (they
 *   come from netlink captures in the corpus), and ausearch is much slower
 *   on them (a fifth of the lines of a 200,000-line sample cost it 40 % more).
 * - A line that repeats an earlier one exactly is taken once (some projects
 *   ship the same sample twice).
 * - Each copy gives every (file, stamp) pair a new stamp, 3 ms and one serial
 *   after the last, so events keep their records together and never merge
 *   across files or copies.
 *
 * Deterministic for a given corpus; the stamp file names the sources, so a
 * changed corpus makes a new log.
 *
 *   bun bench/gen-corpus.ts [OUT] [--lines N] [--corpus DIR]
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { reusableStamp, stampPath, writeLogFile } from "./gen-log.ts";

export const CORPUS_GENERATOR_VERSION = 1;
export const DEFAULT_CORPUS_DIR = resolve(import.meta.dir, "../test/corpus");

export interface CorpusStats {
  generatorVersion: number;
  /** sha1 of the source files' names and contents. */
  sources: string;
  /** Distinct records taken from the corpus (one copy). */
  records: number;
  files: number;
  lines: number;
  bytes: number;
}

const RECORD = /^(?:node=\S+ )?type=(\S+) msg=audit\((\d+\.\d+:\d+)\): /;

function logFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (at: string) => {
    for (const entry of readdirSync(at, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".log")) out.push(path);
    }
  };
  walk(dir);
  return out;
}

interface Source {
  /** Each record with the offset and length of its stamp `audit(…)` text. */
  records: Array<{ line: string; stampAt: number; stampEnd: number; stamp: string }>;
}

function readCorpus(dir: string): { sources: Source[]; digest: string; records: number } {
  const hash = createHash("sha1");
  const seen = new Set<string>();
  const sources: Source[] = [];
  let records = 0;
  for (const path of logFiles(dir)) {
    const text = readFileSync(path, "utf8");
    hash.update(relative(dir, path)).update("\0").update(text).update("\0");
    const source: Source = { records: [] };
    for (const line of text.split("\n")) {
      const m = RECORD.exec(line);
      if (!m || m[1] === "EOE" || seen.has(line)) continue;
      seen.add(line);
      const stampAt = line.indexOf("audit(") + "audit(".length;
      const stampEnd = line.indexOf(")", stampAt);
      source.records.push({ line, stampAt, stampEnd, stamp: m[2]! });
    }
    if (source.records.length > 0) sources.push(source);
    records += source.records.length;
  }
  return { sources, digest: hash.digest("hex"), records };
}

/** The corpus's records, copied with fresh stamps until `lines` lines, to `write`. */
export function generateCorpusLog(dir: string, lines: number, write: (line: string) => void): CorpusStats {
  const { sources, digest, records } = readCorpus(dir);
  if (records === 0) throw new Error(`no audit.log records under ${dir}`);
  let serial = 1000;
  let ms = 1_700_000_000_000;
  let written = 0;
  let bytes = 0;
  while (written < lines) {
    for (const source of sources) {
      const fresh = new Map<string, string>();
      for (const { line, stampAt, stampEnd, stamp } of source.records) {
        let next = fresh.get(stamp);
        if (next === undefined) {
          serial++;
          ms += 3;
          next = `${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}:${serial}`;
          fresh.set(stamp, next);
        }
        const out = line.slice(0, stampAt) + next + line.slice(stampEnd);
        write(out);
        written++;
        bytes += Buffer.byteLength(out) + 1;
      }
    }
  }
  return { generatorVersion: CORPUS_GENERATOR_VERSION, sources: digest, records, files: sources.length, lines: written, bytes };
}

/** Make (or reuse, when made from the same corpus) the log at `path`. */
export function ensureCorpusLog(path: string, lines: number, dir = DEFAULT_CORPUS_DIR): { stats: CorpusStats; reused: boolean } | null {
  if (!existsSync(dir)) return null;
  const { digest } = readCorpus(dir);
  const stamp = reusableStamp<CorpusStats>(path, (s) => s.generatorVersion === CORPUS_GENERATOR_VERSION && s.sources === digest && s.lines >= lines && s.lines < lines + 2000);
  if (stamp) return { stats: stamp, reused: true };
  const stats = writeLogFile(
    path,
    (write) => generateCorpusLog(dir, lines, write),
    (result, bytes) => {
      if (bytes !== result.bytes) throw new Error(`gen-corpus: wrote ${bytes} bytes, counted ${result.bytes}`);
    },
  );
  writeFileSync(stampPath(path), JSON.stringify(stats, null, 2) + "\n");
  return { stats, reused: false };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { lines: { type: "string" }, corpus: { type: "string" } } });
  const out = resolve(positionals[0] ?? resolve(import.meta.dir, ".data/corpus-1000000.log"));
  const made = ensureCorpusLog(out, Number(values.lines ?? 1_000_000), values.corpus ? resolve(values.corpus) : DEFAULT_CORPUS_DIR);
  if (!made) throw new Error(`no corpus found (${values.corpus ?? DEFAULT_CORPUS_DIR})`);
  const s = made.stats;
  process.stderr.write(`${made.reused ? "reused" : "wrote"} ${out}: ${s.lines} lines, ${(s.bytes / 1e6).toFixed(1)} MB, ${s.records} distinct records from ${s.files} files (stamp ${stampPath(out)})\n`);
}
