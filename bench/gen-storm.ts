#!/usr/bin/env bun
/**
 * A kill storm: the original case, scaled up. A root web server (roxen,
 * pid 4299) has lost track of its children and SIGKILLs a few hundred stale
 * PIDs over and over, every few milliseconds; most calls find nobody
 * (ESRCH, no OBJ_PID), some hit whoever holds the PID now (cron jobs,
 * shells, a bait). Every record is written as the kernel and auditd write
 * them (SYSCALL, OBJ_PID on a hit, PROCTITLE; ENRICHED tails), so the log is
 * nearly all kill-family events: the case where `attribute` has the most to
 * decode and ausearch's `-sc kill` filter drops nothing. Deterministic.
 *
 *   bun bench/gen-storm.ts [OUT] [--kills N]
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { reusableStamp, stampPath, writeLogFile } from "./gen-log.ts";

export const STORM_GENERATOR_VERSION = 1;
export const DEFAULT_KILLS = 200_000;

export interface StormStats {
  generatorVersion: number;
  kills: number;
  hits: number;
  esrch: number;
  lines: number;
  bytes: number;
}

/** xorshift32: the same log on every machine. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

const hex = (text: string) => Buffer.from(text, "utf8").toString("hex").toUpperCase();
const HOLDERS = [
  { comm: "get_samples", uid: 1010, user: "sampler", title: hex("/bin/sh\0-c\0~/bin/get_samples") },
  { comm: "sh", uid: 1010, user: "sampler", title: hex("/bin/sh\0-c\0~/bin/get_samples") },
  { comm: "cron", uid: 0, user: "root", title: hex("/usr/sbin/CRON\0-f") },
  { comm: "findpid", uid: 1010, user: "sampler", title: hex("./findpid\x0026880") },
  { comm: "python3", uid: 33, user: "www-data", title: hex("python3\0/srv/app/worker.py") },
];
const ROGUE =
  'ppid=4274 pid=4299 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="roxen" exe="/usr/local/roxen/server-4.5.241/pike/bin/pike" subj=unconfined key="wk-kill"';
const ROGUE_NAMES = 'ARCH=x86_64 SYSCALL=kill AUID="unset" UID="root" GID="root" EUID="root" SUID="root" FSUID="root" EGID="root" SGID="root" FSGID="root"';
const ROGUE_TITLE = hex("/usr/local/roxen/server-4.5.241/pike/bin/pike\0/usr/local/roxen/server-4.5.241/base_server/roxenloader.pike");

/** The storm's lines, in order, to `write`. */
export function generateStorm(kills: number, write: (line: string) => void): StormStats {
  const random = rng(26880);
  const stalePids = Array.from({ length: 300 }, (_, i) => 20_000 + ((i * 7919) % 12_000));
  stalePids[0] = 26880;
  let ms = Date.UTC(2026, 10, 29, 6, 25, 0);
  let serial = 1_093_114;
  const stats: StormStats = { generatorVersion: STORM_GENERATOR_VERSION, kills, hits: 0, esrch: 0, lines: 0, bytes: 0 };
  const emit = (line: string) => {
    write(line);
    stats.lines++;
    stats.bytes += line.length + 1;
  };
  for (let k = 0; k < kills; k++) {
    ms += 1 + Math.floor(random() * 8);
    serial += 1 + (random() < 0.2 ? Math.floor(random() * 5) : 0);
    const stamp = `msg=audit(${Math.floor(ms / 1000)}.${String(ms % 1000).padStart(3, "0")}:${serial})`;
    const pid = stalePids[Math.floor(random() * stalePids.length)]!;
    const hit = random() < 0.25;
    const exit = hit ? "success=yes exit=0" : "success=no exit=-3";
    const a3 = (0x7f0000000000 + Math.floor(random() * 0xffffffff)).toString(16);
    emit(`type=SYSCALL ${stamp}: arch=c000003e syscall=62 ${exit} a0=${pid.toString(16)} a1=9 a2=0 a3=${a3} items=0 ${ROGUE}\u001d${ROGUE_NAMES}`);
    if (hit) {
      const holder = HOLDERS[Math.floor(random() * HOLDERS.length)]!;
      emit(`type=OBJ_PID ${stamp}: opid=${pid} oauid=-1 ouid=${holder.uid} oses=-1 obj=unconfined ocomm="${holder.comm}"\u001dOAUID="unset" OUID="${holder.user}"`);
      stats.hits++;
    } else stats.esrch++;
    emit(`type=PROCTITLE ${stamp}: proctitle=${ROGUE_TITLE}`);
  }
  return stats;
}

/** Write the storm log (via a temp file) and its stamp, or reuse a current one. */
export function ensureStorm(path: string, kills: number): { stats: StormStats; reused: boolean } {
  const current = reusableStamp<StormStats>(path, (stats) => stats.generatorVersion === STORM_GENERATOR_VERSION && stats.kills === kills);
  if (current) return { stats: current, reused: true };
  const stats = writeLogFile(path, (write) => generateStorm(kills, write));
  writeFileSync(stampPath(path), JSON.stringify(stats, null, 2) + "\n");
  return { stats, reused: false };
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ args: process.argv.slice(2), options: { kills: { type: "string" } }, allowPositionals: true });
  const kills = values.kills ? Number(values.kills) : DEFAULT_KILLS;
  if (!Number.isInteger(kills) || kills <= 0) {
    process.stderr.write("gen-storm: --kills must be a whole number\n");
    process.exit(2);
  }
  const out = positionals[0] ?? `bench/.data/storm-${kills}.log`;
  const { stats, reused } = ensureStorm(out, kills);
  process.stderr.write(`gen-storm: ${reused ? "reused" : "wrote"} ${out}: ${stats.kills} kills (${stats.esrch} ESRCH), ${stats.lines} lines, ${(stats.bytes / 1e6).toFixed(1)} MB\n`);
}
