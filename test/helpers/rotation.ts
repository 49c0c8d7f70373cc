/**
 * A log that moves under its reader, for the checkpoint and follow tests:
 * numbered audit records to write, auditd's rotation and logrotate's
 * copytruncate and compress, and the lost/duplicated count of a read.
 */
import { appendFileSync, copyFileSync, readdirSync, readFileSync, renameSync, statSync, truncateSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/** Record number `n`, with a filler of `n % every` × `fill` so lines differ in length. */
export function userRecord(n: number, fill: string, every: number): string {
  return `type=USER msg=audit(1700000000.${String(n % 1000).padStart(3, "0")}:${n}): pid=1 uid=0 msg='n=${n} ${fill.repeat(n % every)}'`;
}

/** The writer of the rotation tests: whole records appended by name, as auditd writes them, kept in write order. */
export class RecordWriter {
  readonly written: string[] = [];
  private serial = 0;

  constructor(
    private readonly fill: string,
    private readonly every: number,
  ) {}

  /** Append the next n records to `file`. */
  emit(file: string, n: number): void {
    let text = "";
    for (let i = 0; i < n; i++) {
      const line = userRecord(++this.serial, this.fill, this.every);
      this.written.push(line);
      text += `${line}\n`;
    }
    appendFileSync(file, text);
  }
}

/** The log's rotated generations present (`LOG.N`, `LOG.N.gz`), as [N, name], oldest (highest N) first. */
export function generations(logPath: string): [number, string][] {
  const base = basename(logPath).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`^${base}\\.(\\d+)(\\.gz)?$`);
  return readdirSync(dirname(logPath))
    .map((name) => pattern.exec(name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m): [number, string] => [Number(m[1]), m[0]])
    .sort((a, b) => b[0] - a[0]);
}

/** logrotate's numbering: .N[.gz] → .N+1[.gz], oldest first. */
function shiftGenerations(logPath: string): void {
  const dir = dirname(logPath);
  for (const [n, name] of generations(logPath)) renameSync(join(dir, name), join(dir, name.replace(new RegExp(`\\.${n}(\\.gz)?$`), `.${n + 1}$1`)));
}

/** auditd's rotation: the generations shifted, the log → .1, a new empty log. */
export function rotateLog(logPath: string): void {
  shiftGenerations(logPath);
  renameSync(logPath, `${logPath}.1`);
  writeFileSync(logPath, "");
}

/** logrotate's copytruncate: the generations shifted, a copy of the log → .1, the log truncated in place (same inode). */
export function copytruncateLog(logPath: string): void {
  shiftGenerations(logPath);
  copyFileSync(logPath, `${logPath}.1`);
  truncateSync(logPath, 0);
}

/** logrotate's compress: .1 → .1.gz (a new inode; gzip keeps the mtime). */
export function compressNewest(logPath: string): void {
  const old = `${logPath}.1`;
  const { atime, mtime } = statSync(old);
  writeFileSync(`${old}.gz`, Bun.gzipSync(readFileSync(old)));
  utimesSync(`${old}.gz`, atime, mtime);
  unlinkSync(old);
}

/** Lines lost (written, never read) and duplicated (read more than once). */
export function lostAndDuplicated(written: readonly string[], read: readonly string[]): { lost: number; duplicated: number } {
  const seen = new Map<string, number>();
  for (const line of read) seen.set(line, (seen.get(line) ?? 0) + 1);
  return {
    lost: written.filter((line) => !seen.has(line)).length,
    duplicated: [...seen.values()].reduce((sum, n) => sum + n - 1, 0),
  };
}
