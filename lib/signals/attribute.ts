/**
 * Events → `signal` lines: who signalled whom, with what, and how it ended.
 *
 * One signal line per kill-family syscall event (kill, tkill, tgkill,
 * rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal, either ABI) and
 * per tracefs signal_generate record. Victims come from OBJ_PID records:
 * none on ESRCH (the stale-PID case), one per member for a group kill. The
 * target says what was aimed at even when nothing was hit.
 */
import type { AncestorInfo, EventLine, Killer, SignalLine, Victim } from "../schema.ts";
import { parseFields } from "../audit/fields.ts";
import { decodeEscaped, decodeProctitle, execveArgv } from "../audit/interpret.ts";
import { detach } from "../strings.ts";
import { isKillFamily } from "../tables/kill-family.ts";
import type { ProcessSighting } from "./prefilter.ts";

/** Is this event one attribute turns into a signal line? */
export function isSignalEvent(event: EventLine): boolean {
  if (event.type === "SIGNAL_GENERATE") return event.syscall?.signal !== undefined;
  const name = event.syscall?.name;
  return name != null && isKillFamily(name);
}

export function eventToSignal(event: EventLine): SignalLine | null {
  if (!isSignalEvent(event)) return null;
  const syscall = event.syscall!;
  const process = event.process;
  const fromTracefs = event.type === "SIGNAL_GENERATE";
  const victims: Victim[] = event.targets.map((t) => ({ pid: t.pid, comm: t.comm, uid: t.uid, user: t.user }));
  const killer: Killer = {
    pid: process?.pid ?? null,
    ppid: process?.ppid ?? null,
    comm: process?.comm ?? null,
    exe: process?.exe ?? null,
    uid: process?.uid ?? null,
    user: process?.user ?? null,
    auid: process?.auid ?? null,
    argv: event.proctitle ?? [],
  };
  const signal = syscall.signal ?? { nr: 0, name: null };
  let target: SignalLine["target"];
  if (syscall.name === "pidfd_send_signal") {
    // a0 is a file descriptor; the process it names is only in OBJ_PID.
    const fd = syscall.target?.pid ?? null;
    target = { pid: victims[0]?.pid ?? null, scope: "pidfd", ...(fd !== null ? { fd } : {}) };
  } else {
    target = syscall.target ? { ...syscall.target } : { pid: null, scope: "process" };
  }
  const line: SignalLine = {
    kind: "signal",
    id: event.id,
    node: event.node,
    time: event.time,
    syscall: syscall.name,
    arch: syscall.arch,
    signal,
    result: { success: syscall.success, errno: syscall.errno },
    killer,
    target,
    victims,
    key: event.key,
    source: fromTracefs ? "tracefs" : "audit",
  };
  if (signal.nr === 0) line.probe = true;
  if (killer.pid !== null && (target.pid === killer.pid || (victims.length > 0 && victims.every((v) => v.pid === killer.pid)))) line.self = true;
  if (event.origin) line.origin = event.origin;
  return line;
}

/** A raw comm/exe value: `"text"` as written, or hex; `(null)` and `?` are no value. */
function rawText(value: string | null): string | null {
  if (value === null || value === "(null)" || value === "?") return null;
  return value.startsWith('"') ? value.slice(1, -1) : decodeEscaped(value, false);
}

interface StreamProcess {
  pid: number;
  ppid: number | null;
  comm: string | null;
  exe: string | null;
  argv?: string[];
  /** The EXECVE record's line, decoded into argv when first needed. */
  execveRaw?: string;
}

/**
 * Remembers what the stream said about processes (execve events give pid,
 * ppid, comm, exe and argv), so a killer's ancestry can be told from the log
 * alone. Bounded: two generations of `limit` entries; when the newer one is
 * full the older one is dropped whole (no per-entry eviction, which a JS Map
 * makes slow).
 */
export class StreamAncestry {
  private current = new Map<number, StreamProcess>();
  private previous = new Map<number, StreamProcess>();

  constructor(private readonly limit = 8192) {}

  observe(event: EventLine): void {
    const p = event.process;
    if (!p || p.pid === null || event.type === "SIGNAL_GENERATE") return;
    const execve = event.syscall?.name === "execve" || event.syscall?.name === "execveat";
    const known = this.lookup(p.pid);
    const entry: StreamProcess = { pid: p.pid, ppid: p.ppid, comm: detach(p.comm), exe: detach(p.exe) };
    if (execve && event.syscall?.success !== false) {
      // EXECVE holds the new program's argv; the PROCTITLE of an execve can
      // still show the old one (the kernel caches it per task; seen here).
      // Its line is kept and decoded, like the prefilter's, only if a chain needs it.
      // PROCTITLE stays the fallback for an EXECVE record the kernel cut short.
      const record = event.records.find((r) => r.type === "EXECVE");
      if (record) entry.execveRaw = detach(record.raw);
      if (event.proctitle) entry.argv = event.proctitle.map((arg) => detach(arg));
    } else if (known?.argv && known.exe === p.exe) entry.argv = known.argv;
    this.remember(entry);
  }

  /** An execve read off raw bytes by the prefilter (values as written: quoted or hex). */
  sighted(sighting: ProcessSighting): void {
    const entry: StreamProcess = {
      pid: sighting.pid,
      ppid: sighting.ppid,
      comm: rawText(sighting.comm),
      exe: rawText(sighting.exe),
    };
    if (sighting.execve !== undefined) entry.execveRaw = sighting.execve;
    else if (sighting.proctitle !== undefined) {
      const quoted = sighting.proctitle.startsWith('"');
      const argv = decodeProctitle(quoted ? sighting.proctitle.slice(1, -1) : sighting.proctitle, quoted);
      if (argv) entry.argv = argv;
    }
    this.remember(entry);
  }

  private remember(entry: StreamProcess): void {
    this.current.set(entry.pid, entry);
    if (this.current.size >= this.limit) {
      this.previous = this.current;
      this.current = new Map();
    }
  }

  private lookup(pid: number): StreamProcess | undefined {
    return this.current.get(pid) ?? this.previous.get(pid);
  }

  /** Parent first, up to `depth` generations, from what the stream has shown. */
  ancestry(ppid: number | null, depth = 16): AncestorInfo[] {
    const chain: AncestorInfo[] = [];
    const seen = new Set<number>();
    let pid = ppid;
    while (pid !== null && pid > 0 && chain.length < depth && !seen.has(pid)) {
      seen.add(pid);
      const p = this.lookup(pid);
      if (!p) break;
      const ancestor: AncestorInfo = { pid, comm: p.comm, exe: p.exe, from: "stream" };
      if (p.execveRaw !== undefined) {
        // Decoded only now: most processes never turn up in a killer's chain.
        const parsed = parseFields(p.execveRaw, p.execveRaw.indexOf("): ") + 3);
        const argv = execveArgv(parsed.fields, parsed.quoted);
        if (argv) p.argv = argv;
        delete p.execveRaw;
      }
      if (p.argv) ancestor.argv = p.argv;
      chain.push(ancestor);
      pid = p.ppid;
    }
    return chain;
  }
}
