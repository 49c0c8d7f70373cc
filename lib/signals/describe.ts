/**
 * Plain-language names for killers, victims and durations, used in finding
 * headlines. These strings are NOT escaped: comm/exe are attacker-controlled,
 * and every renderer escapes whatever it prints (lib/render/escape.ts).
 */
import { baseName } from "../tables/killers.ts";

export interface ProcessLike {
  /** The host, in a log gathered from several. */
  node?: string | null;
  pid?: number | null;
  pids?: readonly number[];
  comm: string | null;
  exe?: string | null;
  uid: number | null;
  user?: string | null;
}

function uidText(uid: number | null, user: string | null | undefined): string | null {
  if (uid === null) return user ? `user ${user}` : null;
  return user ? `uid ${uid} ${user}` : `uid ${uid}`;
}

/** `roxen (pid 4299, uid 0 root, /usr/local/roxen/server-4.5.241/pike/bin/pike)`; `roxen on web1 (…)` for a host's. */
export function describeProcess(p: ProcessLike): string {
  const comm = p.comm ?? baseName(p.exe) ?? "unknown process";
  const name = p.node ? `${comm} on ${p.node}` : comm;
  const parts: string[] = [];
  const pids = p.pids && p.pids.length > 0 ? [...p.pids].sort((a, b) => a - b) : p.pid !== null && p.pid !== undefined ? [p.pid] : [];
  if (pids.length === 1) parts.push(`pid ${pids[0]}`);
  else if (pids.length > 1) parts.push(`pids ${pids.slice(0, 5).join(", ")}${pids.length > 5 ? ", …" : ""}`);
  const uid = uidText(p.uid, p.user);
  if (uid) parts.push(uid);
  if (p.exe) parts.push(p.exe);
  return parts.length > 0 ? `${name} (${parts.join(", ")})` : name;
}

/**
 * A killer's parents, nearest first: `sh[300] "sh -c /usr/local/bin/cleanup" ← cron[200] ← systemd[1]`.
 * The nearest one's command line says which job it was; the rest give the
 * lineage. Past 3 generations (the rest is rarely news) the chain ends in `← …`.
 */
export function describeAncestry(
  chain: ReadonlyArray<{ pid: number; comm: string | null; exe: string | null; argv?: string[] }>,
  { argv = true }: { argv?: boolean } = {},
): string {
  const parts = chain.slice(0, 3).map((p, i) => {
    const name = `${p.comm ?? baseName(p.exe) ?? "?"}[${p.pid}]`;
    if (!argv || i > 0 || !p.argv || p.argv.length === 0) return name;
    const command = p.argv.join(" ");
    return `${name} "${command.length > 80 ? `${command.slice(0, 79)}…` : command}"`;
  });
  if (chain.length > 3) parts.push("…");
  return parts.join(" ← ");
}

/** `3 s`, `2 min 5 s`, `1 h 4 min`, `2 d 3 h` (coarse, for sentences). */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** `350 ms`, `2.9 s`, then formatDuration's coarse units: a burst's length or a grace period, where seconds matter. */
export function formatSpan(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return formatDuration(ms);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
