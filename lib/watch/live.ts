/**
 * watch, live: a private tracefs instance (signals, deliveries, exit codes,
 * exits, OOM victims), the audit multicast stream with a temporary rule for
 * the kill family under a key unique to the run (the sender's exe, uid and
 * argv), and /proc rescanned for new matching processes. Deaths come out
 * through the core (core.ts) as `death` lines, as soon as they are known.
 *
 * The rule and the instance are removed on every way out: the end of the
 * watch, an abort (Ctrl-C), an error, the consumer stopping, process.exit.
 * Only kill -9 leaves them; the next capture --tracefs, setup-rule remove or
 * watch finds the instance by its dead owner; the rule's key names the run.
 */
import { WhokilledError } from "../errors.ts";
import { removeLeftRunRules, RunRules } from "../rules/run-keys.ts";
import { log } from "../log.ts";
import { escapeControl } from "../render/escape.ts";
import { kernelAuditControl } from "../rules/control.ts";
import { installRules, listInstalled } from "../rules/install.ts";
import { InputErrors } from "../audit/input-errors.ts";
import type { SignalLine } from "../schema.ts";
import { plural } from "../signals/describe.ts";
import { SignalStage } from "../signals/signal-stage.ts";
import { abortableSleep } from "../sources/abortable-sleep.ts";
import { netlinkRecords } from "../sources/netlink.ts";
import { tracefsRecords } from "../sources/tracefs.ts";
import { WatchCore, type WatchedProcess } from "./core.ts";
import type { DeathLine } from "./death.ts";
import { ProcProcesses, describeTarget, inCgroup, type WatchTarget } from "./targets.ts";
import { workloadOfPath } from "../signals/workload.ts";
import { WATCH_EXTRA_EVENTS, WATCH_SIGNAL_FILTER } from "./trace-events.ts";

export interface WatchOptions {
  target: WatchTarget;
  /** Stop after the first death. With --pid watch stops after that process's death anyway. */
  once?: boolean;
  /** Use audit for the sender's exe, uid and argv (default true; off without root or kernel audit). */
  audit?: boolean;
  /** How often /proc is read again for new matching processes (ms, default 250). */
  rescanMs?: number;
  signal?: AbortSignal;
  /** Called once watching: deaths from then on are seen. */
  onReady?: (state: WatchState) => void;
}

export interface WatchState {
  target: string;
  tracked: number;
  audit: { on: true; key: string } | { on: false; why: string };
}

const TICK_MS = 20;
const DEFAULT_RESCAN_MS = 250;
const VANISHED_MS = 1000;

/** Install the temporary kill-family rule, or say why audit is not used. Never switches audit on or changes its mode. */
function startAudit(wanted: boolean): { state: WatchState["audit"]; rules: RunRules | null } {
  const off = (why: string) => ({ state: { on: false as const, why }, rules: null });
  if (!wanted) return off("--way tracepoints");
  let enabled: number;
  try {
    enabled = kernelAuditControl.status().enabled;
  } catch (error) {
    return off(`no kernel audit (${(error as Error).message})`);
  }
  if (enabled === 0) return off("audit is off (switching it on now would not make senders already running visible; `setup-rule install` does, for later ones)");
  if (enabled === 2) return off("audit is locked (enabled 2): no rule can be added until reboot");
  try {
    removeLeftRunRules();
  } catch (error) {
    log.warn(`watch: could not look for rules left by killed watch runs: ${(error as Error).message}`);
  }
  const rules = new RunRules("watch");
  try {
    rules.add((key) => installRules({ key }));
  } catch (error) {
    // installRules took back the rules it had added.
    rules.forget();
    return off(`the audit rule could not be added (${(error as Error).message})`);
  }
  return { state: { on: true, key: rules.key }, rules };
}

function stopAudit(rules: RunRules | null): void {
  if (!rules) return;
  try {
    rules.remove();
    const left = listInstalled(rules.key);
    if (left.length > 0) log.error(`watch: rules with key ${rules.key} are still installed: ${left.map((l) => escapeControl(l.rule)).join("; ")}`);
  } catch (error) {
    log.error(`watch: could not remove the rules with key ${rules.key}: ${(error as Error).message}`);
  }
}

/**
 * Every death of a process matching the target, as it happens, until the
 * signal aborts, `once` has one, or the watched PID is gone.
 */
export async function* watchDeaths(options: WatchOptions): AsyncGenerator<DeathLine> {
  const { target, once = false } = options;
  const rescanMs = options.rescanMs ?? DEFAULT_RESCAN_MS;
  if (options.signal?.aborted) return;
  if (process.getuid?.() !== 0) throw new WhokilledError("E_PERM", "watch needs root: it reads the kernel's tracepoints (tracefs) and its audit stream");
  const proc = new ProcProcesses();
  const matchedBy = describeTarget(target);
  if (target.by === "pid") {
    const tgid = proc.tgid(target.pid);
    if (tgid === null) throw new WhokilledError("E_USAGE", `watch: no process ${target.pid}`);
    if (tgid !== target.pid) throw new WhokilledError("E_USAGE", `watch: ${target.pid} is a thread of process ${tgid}: watch --pid ${tgid}`);
    if (proc.isZombie(target.pid)) throw new WhokilledError("E_USAGE", `watch: process ${target.pid} has already ended (a zombie its parent has not reaped)`);
  }

  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const ready: DeathLine[] = [];
  let wake: (() => void) | null = null;
  const notify = () => {
    const w = wake;
    wake = null;
    w?.();
  };
  stop.signal.addEventListener("abort", notify);
  let failure: unknown = null;
  const fail = (error: unknown) => {
    failure ??= error;
    stop.abort();
  };

  const { state: audit, rules } = startAudit(options.audit !== false);
  const core: WatchCore = new WatchCore(
    { audit },
    {
      now: () => Date.now(),
      matchUntracked: (pid, comm) => {
        if (pid === process.pid) return null;
        if (target.by === "comm" && comm === target.comm) return proc.snapshot(pid, matchedBy) ?? bare(pid, comm, matchedBy);
        // A zombie not yet reaped still shows its cgroup.
        if ((target.by === "unit" || target.by === "cgroup") && proc.matches(pid, target)) return proc.snapshot(pid, matchedBy);
        return null;
      },
      senderFromProc: (pid, comm) => proc.sender(pid, comm),
      attached: (pid, path, comm, atMs): WatchedProcess | null => {
        if (!pathMatches(target, path) || pid === process.pid) return null;
        const tgid = proc.tgid(pid);
        if (tgid !== null && tgid !== pid) return core.isTracked(tgid) ? null : proc.snapshot(tgid, matchedBy);
        // Gone already: it joined and ended within the moment it took to read this line; its exit line comes next.
        return (tgid !== null ? proc.snapshot(pid, matchedBy) : null) ?? { ...bare(pid, comm, matchedBy), unverified: true };
      },
      // A process about to end that the last /proc scan has not seen yet (it joined the cgroup, or was born, since).
      consider: (pid): WatchedProcess | null => {
        if (target.by === "pid") return null;
        // A signal may name a thread: the process is its thread group.
        const tgid = proc.tgid(pid);
        if (tgid === null || tgid === process.pid || core.isTracked(tgid) || !proc.matches(tgid, target)) return null;
        return proc.snapshot(tgid, matchedBy);
      },
      childOf: (parent, pid, comm, atMs) => {
        if (target.by !== "unit" && target.by !== "cgroup") return null;
        // sched_process_fork fires for new threads too: only a thread group leader is a process.
        const tgid = proc.tgid(pid);
        if (tgid !== null && tgid !== pid) return null;
        const child = tgid !== null ? proc.snapshot(pid, parent.matchedBy) : null;
        // Gone already (reaped): born in its parent's cgroup, at the fork.
        return child ? { ...child, atFork: true } : { ...parent, pid, comm, exe: null, startedAtMs: atMs, unverified: true, atFork: true };
      },
    },
  );
  const take = () => {
    const deaths = core.poll();
    if (deaths.length > 0) {
      ready.push(...deaths);
      notify();
    }
  };

  const traceStarted = Promise.withResolvers<void>();
  const tasks: Promise<void>[] = [];
  /** Runs `task` beside the others: its failure stops the watch. */
  const background = (task: () => Promise<void>) => tasks.push(task().catch(fail));
  // Tracepoints first: from the moment they are on, no death is missed; the processes are read after.
  background(async () => {
    for await (const record of tracefsRecords({
      signal: stop.signal,
      filter: WATCH_SIGNAL_FILTER,
      extraEvents: WATCH_EXTRA_EVENTS,
      recordTgid: true,
      onReady: () => traceStarted.resolve(),
    })) {
      if (record.kind === "gap") {
        log.warn(`watch: ${record.reason}: a death in that time may be told late (once /proc shows it gone) and without its cause`);
        continue;
      }
      core.pushTrace(record.raw, record.time ? Date.parse(record.time) : Date.now());
      take();
    }
  });
  if (audit.on) {
    background(async () => {
      const errors = new InputErrors({ strict: false, print: (message) => log.debug(`watch: audit: ${message}`) });
      const stage = new SignalStage({ filter: {}, lookup: true, localNames: true }, errors);
      for await (const record of netlinkRecords({ signal: stop.signal })) {
        if (record.kind !== "record") {
          log.warn(`watch: ${record.reason}`);
          continue;
        }
        for (const line of stage.push([{ form: "json", value: record, source: record.source }])) {
          if (line.kind === "signal") core.pushAudit(line as SignalLine, line.time ? Date.parse(line.time) : Date.now());
        }
        take();
      }
    });
  }
  await Promise.race([traceStarted.promise, Promise.all(tasks)]);

  const scan = () => {
    for (const pid of target.by === "pid" ? [target.pid] : proc.pids()) {
      if (pid === process.pid || core.isTracked(pid) || !proc.matches(pid, target)) continue;
      const snapshot = proc.snapshot(pid, matchedBy);
      if (snapshot) core.track(snapshot);
    }
  };
  // A tracked process that exec'd another program: its comm and exe read again (its start time stays).
  // One gone from /proc (or its PID taken by a newer process) for a second, with no exit line: the kernel dropped
  // its line; told as far as known. A second, so that a reader slowed by load is never overtaken.
  const missingSince = new Map<number, number>();
  const refresh = () => {
    const now = Date.now();
    for (const watched of core.trackedProcesses()) {
      const comm = proc.comm(watched.pid);
      const snapshot = comm !== null && comm !== watched.comm ? proc.snapshot(watched.pid, watched.matchedBy) : null;
      if (comm === null || (snapshot !== null && snapshot.startedAtMs !== watched.startedAtMs)) {
        const since = missingSince.get(watched.pid) ?? now;
        missingSince.set(watched.pid, since);
        if (now - since >= VANISHED_MS) {
          missingSince.delete(watched.pid);
          core.vanished(watched.pid);
        }
        continue;
      }
      missingSince.delete(watched.pid);
      if (snapshot) core.track(snapshot);
    }
  };
  let targetGone = false;
  try {
    if (failure === null && !stop.signal.aborted) {
      scan();
      if (target.by === "pid" && !core.isTracked(target.pid)) throw new WhokilledError("E_USAGE", `watch: process ${target.pid} ended before the watch began`);
      options.onReady?.({ target: matchedBy, tracked: core.trackedProcesses().length, audit });
      // The clock: deaths whose audit grace is over, and new matching processes.
      background(async () => {
        let lastScan = Date.now();
        while (!stop.signal.aborted) {
          await abortableSleep(TICK_MS, stop.signal);
          take();
          if (Date.now() - lastScan >= rescanMs) {
            lastScan = Date.now();
            refresh();
            if (target.by !== "pid") scan();
          }
        }
      });
    }
    while (failure === null && !stop.signal.aborted) {
      const death = ready.shift();
      if (!death) {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      yield death;
      if (once || (target.by === "pid" && death.pid === target.pid)) {
        targetGone = true;
        break;
      }
    }
    // Stopped (Ctrl-C): deaths already seen still go out, without waiting for audit.
    if (!targetGone && failure === null) for (const death of [...ready, ...core.flush()]) yield death;
  } finally {
    stop.abort();
    options.signal?.removeEventListener("abort", onAbort);
    await Promise.allSettled(tasks);
    stopAudit(rules);
    // Nothing silently lost: a trace line of an enabled event that did not parse is counted here.
    if (core.unparsed > 0) log.warn(`watch: ${plural(core.unparsed, "trace line")} could not be read`);
  }
  if (failure !== null) throw failure;
}

/** Does a cgroup path (as cgroup_attach_task prints it) put a process in the watched unit or cgroup? */
function pathMatches(target: WatchTarget, path: string): boolean {
  if (target.by === "cgroup") return inCgroup(path, target.path);
  if (target.by === "unit") return workloadOfPath(path)?.unit === target.unit;
  return false;
}

/** A process seen only at its end (its /proc entry already reaped). */
function bare(pid: number, comm: string, matchedBy: string): WatchedProcess {
  return { pid, comm, startedAtMs: null, exe: null, uid: null, placement: null, memoryCgroup: null, memoryLimitBytes: null, matchedBy };
}
