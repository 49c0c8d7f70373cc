/**
 * Keys of rules that live only as long as one run (watch's, the demo's, the overhead bench's, setup-rule status --probe's): the owner's PID
 * and start time are in the key, so a later run, `setup-rule status` and
 * `setup-rule remove` can tell a rule left by a run that was killed (kill -9
 * gives it no chance to remove its rule) from one whose run still lives.
 */
import { log } from "../log.ts";
import { escapeControl } from "../render/escape.ts";
import { readProcStat } from "./blind-spots.ts";
import { deleteRulesWithKey, kernelAuditControl, type AuditControl } from "./control.ts";

const RUN_KEY = /^whokilled-(watch|demo|bench|probe)-(\d+)-(\d+)-[a-z0-9]{1,12}$/;

/** Who makes run keys: watch, the demo, bench/overhead.ts, setup-rule status --probe. */
export type RunKind = "watch" | "demo" | "bench" | "probe";

export function startTicks(pid: number): number | null {
  return readProcStat(pid)?.startTicks ?? null;
}

/** A key for this run's temporary rules: `whokilled-watch-PID-START-RAND` (watch), `whokilled-demo-…` (the demo), `whokilled-bench-…` (bench/overhead.ts), `whokilled-probe-…` (the cost probe); with no kind, its tracefs instance's name, `whokilled-PID-START-RAND`. */
export function runKey(kind?: RunKind): string {
  return `whokilled-${kind === undefined ? "" : `${kind}-`}${process.pid}-${startTicks(process.pid) ?? "0"}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Is the run that named a key or instance (runKey; no recorded start: named before it was) gone? Its PID has no
 * process, or one started at another time (reused). null while it may live, and for this process's own names.
 */
export function ownerGone(pid: number, recordedStart: number | undefined, ownerStart: (pid: number) => number | null = startTicks): "gone" | "reused" | null {
  if (pid === process.pid) return null;
  const started = ownerStart(pid);
  if (started === null) return "gone";
  return recordedStart !== undefined && recordedStart !== started ? "reused" : null;
}

/** Run keys whose run is gone (ownerGone). A key named otherwise, this process's own, or one whose owner lives, is never listed. */
export function leftRunKeys(keys: readonly string[], ownerStart: (pid: number) => number | null = startTicks): string[] {
  const left = new Set<string>();
  for (const key of keys) {
    const own = RUN_KEY.exec(key);
    if (own && ownerGone(Number(own[2]), Number(own[3]), ownerStart) !== null) left.add(key);
  }
  return [...left].sort();
}

/** Remove the rules of runs that were killed (leftRunKeys), each said on stderr; returns the keys. */
export function removeLeftRunRules(control: AuditControl = kernelAuditControl): string[] {
  const keys = leftRunKeys(control.listRules().flatMap((rule) => rule.keys));
  for (const key of keys) {
    const removed = deleteRulesWithKey(key, control);
    log.warn(`removed ${removed.length} audit rule(s) with key ${escapeControl(key)}, left by a run that was killed`);
  }
  return keys;
}

// Run keys whose rules are still to remove should the process exit without unwinding (process.exit from elsewhere).
const removeAtExit = new Map<string, AuditControl>();
process.on("exit", () => {
  for (const [k, c] of removeAtExit) {
    try {
      deleteRulesWithKey(k, c);
    } catch {
      // Nothing more can be done at exit.
    }
  }
  removeAtExit.clear();
});

/**
 * One run's temporary audit rules, under its run key (runKey(kind)): added through add(), removed by remove(), and at
 * process exit should the run end without remove(). Only kill -9 leaves them; leftRunKeys finds them by their dead owner.
 */
export class RunRules {
  readonly key: string;
  private readonly control: AuditControl;

  constructor(kind: RunKind, control: AuditControl = kernelAuditControl) {
    this.key = runKey(kind);
    this.control = control;
  }

  /** Add rules under the key (`add` is given it); they are removed at exit from before the first goes in, a half-done add included. */
  add<T>(add: (key: string) => T): T {
    removeAtExit.set(this.key, this.control);
    return add(this.key);
  }

  /** Nothing with the key is installed (an add that failed took back what it had added): no removal at exit. */
  forget(): void {
    removeAtExit.delete(this.key);
  }

  /** Delete every rule with the key (deleteRulesWithKey), and no longer at exit; the rules deleted. Nothing when none was added or all are removed already. On an error, exit tries again. */
  remove(): string[] {
    if (!removeAtExit.has(this.key)) return [];
    const removed = deleteRulesWithKey(this.key, this.control);
    removeAtExit.delete(this.key);
    return removed;
  }
}
