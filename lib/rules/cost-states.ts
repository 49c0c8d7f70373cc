/**
 * The kernel states whose cost on the host is measured, set up and taken down
 * in one place for bench/overhead.ts and `setup-rule status --probe`
 * (probe.ts): whokilled's audit rules under a key unique to the run
 * (run-keys.ts), its tracepoints in a private tracefs instance of its own.
 * What is up is taken down by takeDown(), which the callers put in `finally`,
 * and at process exit; a run killed by kill -9 leaves a key and an instance
 * named after its PID and start time, removed by the next run
 * (removeLeftovers) or `setup-rule remove`.
 *
 * Audit is never switched on here, never locked, and its failure mode is
 * never touched: when audit is off the bench loads its rules with audit as it
 * is (off), the probe skips audit; when it is locked both skip it.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { log } from "../log.ts";
import { escapeControl } from "../render/escape.ts";
import { findTracefs, openQuietInstance, removeLeftInstances, type QuietInstance } from "../sources/tracefs.ts";
import { parseRuleText } from "./audit-rule.ts";
import { buildRules, type RuleOptions } from "./build.ts";
import { hasAuditControl, kernelAuditControl, type AuditControl } from "./control.ts";
import { removeLeftRunRules, RunRules, type RunKind } from "./run-keys.ts";
import type { Tracepoint } from "./way-check.ts";

/** One state to measure: whokilled's audit rules loaded or not, and the tracepoints enabled. */
export interface CostState {
  audit: boolean;
  tracepoints: readonly Tracepoint[];
}

/** What may be done with audit on this host, decided once. */
export interface AuditAccess {
  /** The kernel's `enabled` (0, 1, 2), or null when it cannot be read. */
  enabled: number | null;
  /** Why audit states are not measured, or null. */
  skip: string | null;
  /** What the audit states measure when it is not the plain case, or null. */
  note: string | null;
}

/**
 * whenOff: "load" measures the rules with audit as it is, off (the bench:
 * what loading them costs by itself); "skip" leaves audit out (the probe:
 * its rows are about what setup-rule would do, and that would switch audit on).
 */
export function auditAccess(whenOff: "load" | "skip", control: AuditControl | null): AuditAccess {
  if (control === null) return { enabled: null, skip: "no CAP_AUDIT_CONTROL (not root)", note: null };
  let enabled: number;
  try {
    enabled = control.status().enabled;
  } catch (error) {
    return { enabled: null, skip: `no kernel audit (${(error as Error).message})`, note: null };
  }
  if (enabled === 2) return { enabled, skip: "audit is locked (enabled 2): no rule can be added until reboot", note: null };
  if (enabled === 0 && whenOff === "skip") return { enabled, skip: "audit is off (enabled 0), and whokilled never switches it on to measure it", note: null };
  if (enabled === 0) return { enabled, skip: null, note: "audit is off (enabled 0): the audit rows load the rules with audit as it is, off; nothing switches it on" };
  return { enabled, skip: null, note: null };
}

/** Round `round`'s order of the states: rotated by one each round, so that no state always runs first (or right after a heavy one). */
export function rotated<T>(states: readonly T[], round: number): T[] {
  return states.map((_, i) => states[(i + round) % states.length]!);
}

/** Audit rules and tracefs instances of others present now: they weigh on every state alike, so they are said beside the figures. */
export interface OthersPresent {
  auditRules: number;
  instances: number;
}

export interface CostStatesOptions {
  /** The rules to measure (default: what `setup-rule install` adds); the key is the run's own. */
  rules?: Omit<RuleOptions, "key">;
  whenAuditOff: "load" | "skip";
  /** The kernel's audit (tests: a fake); default the real one when this process may use it. */
  control?: AuditControl;
}

/** Sets up one state at a time and takes it down; see the module comment. */
export class CostStates {
  readonly key: string;
  readonly audit: AuditAccess;
  private readonly control: AuditControl | null;
  private readonly rules: Omit<RuleOptions, "key">;
  /** This run's rules: removed at process exit too (run-keys.ts), as the instance is (tracefs.ts). */
  private readonly runRules: RunRules;
  private instance: QuietInstance | null = null;

  constructor(kind: RunKind, options: CostStatesOptions) {
    this.control = options.control ?? (hasAuditControl() ? kernelAuditControl : null);
    this.runRules = new RunRules(kind, this.control ?? undefined);
    this.key = this.runRules.key;
    this.audit = auditAccess(options.whenAuditOff, this.control);
    this.rules = options.rules ?? {};
  }

  /** Whether a state can be measured here: audit states need audit access. */
  skipReason(state: CostState): string | null {
    return state.audit ? this.audit.skip : null;
  }

  /** Remove what killed runs left: instances, and run-keyed rules when audit can change. */
  removeLeftovers(): void {
    removeLeftInstances();
    if (this.control && this.audit.enabled !== null && this.audit.enabled !== 2) removeLeftRunRules(this.control);
  }

  /** Load the state's rules and enable its tracepoints. On an error, what was set up stays for takeDown. */
  setUp(state: CostState): void {
    if (state.audit) {
      const control = this.control;
      if (this.audit.skip || !control) throw new Error(`cannot load audit rules: ${this.audit.skip ?? "no audit control"}`);
      // Added one by one, not through installRules: that would switch audit on when it is off. A half-done add is taken down too.
      this.runRules.add((key) => {
        for (const rule of buildRules({ ...this.rules, key })) control.addRule(parseRuleText(rule.args));
      });
    }
    if (state.tracepoints.length > 0) this.instance = openQuietInstance(state.tracepoints);
  }

  /**
   * One visit to a state: set it up, note the others' rules and instances present (the most seen, into `others`),
   * run `measure`, and take the state down whatever happens.
   */
  async visit<T>(state: CostState, others: OthersPresent, measure: () => T | Promise<T>): Promise<T> {
    try {
      this.setUp(state);
      const present = this.othersPresent();
      others.auditRules = Math.max(others.auditRules, present.auditRules);
      others.instances = Math.max(others.instances, present.instances);
      return await measure();
    } finally {
      this.takeDown();
    }
  }

  /** Remove this run's rules and instance, if any; safe to call any number of times. */
  takeDown(): void {
    try {
      this.runRules.remove();
    } catch (error) {
      log.error(`could not remove the audit rules with key ${this.key}: ${escapeControl((error as Error).message)}; setup-rule remove --key ${this.key} removes them`);
    }
    this.instance?.remove();
    this.instance = null;
  }

  /** Others' audit rules and tracefs instances present now (a hint: errors count as none). */
  othersPresent(): OthersPresent {
    let auditRules = 0;
    try {
      if (this.control && !this.audit.skip) auditRules = this.control.listRules().filter((rule) => !rule.keys.includes(this.key)).length;
    } catch {
      // Counted as none.
    }
    let instances = 0;
    try {
      const tracefs = findTracefs();
      const own = this.instance?.dir;
      if (tracefs) instances = readdirSync(join(tracefs, "instances")).filter((name) => join(tracefs, "instances", name) !== own).length;
    } catch {
      // No tracefs mounted.
    }
    return { auditRules, instances };
  }
}

/** The median of a non-empty list. */
export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
