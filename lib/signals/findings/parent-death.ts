/**
 * parent-death: a process had asked for a signal when its parent dies
 * (prctl PR_SET_PDEATHSIG), and its parent died. The kernel sends it from the
 * dying parent's exit path with SI_USER, in the parent's context: on its own
 * the line looks like a kill() by the parent. What tells them apart is the
 * parent's own exit notification right after, in the same context: the
 * SIGCHLD (CLD_EXITED/KILLED/DUMPED) it sends to its parent as it exits.
 * Measured on kernel 6.18: 5 µs apart (docs/KERNEL-SIGNALS.md). SIGCHLD is
 * only in the stream when capture keeps it (`--tracefs-filter 'sig != 17 || code < 4'`).
 */
import { plural } from "../describe.ts";
import { CauseGroups, groupFacts, signalList, taskList } from "./cause-groups.ts";
import { defineDetector, type ObservedSignal } from "./types.ts";
import { SIG } from "../../tables/signals.ts";

/** CLD_EXITED, CLD_KILLED, CLD_DUMPED: the child is gone. */
const EXIT_CODES = new Set([1, 2, 3]);
/**
 * The exit notification follows the parent-death signals in the same exit
 * path (5 µs measured); lines carry milliseconds, so allow a few.
 */
const WINDOW_MS = 5;
/** Contexts followed, and the last signals kept of each (a parent-death signal and its exit come microseconds apart). */
const MAX_PENDING = 10_000;
const KEPT_PER_CONTEXT = 20;

interface Exit {
  ms: number | null;
  /** Who the exit notification went to (the exiting process's parent). */
  parent: number | null;
}

interface DeathState {
  /** Context PID (node-qualified) → SI_USER signals it sent (the last few). */
  sent: Map<string, ObservedSignal[]>;
  /** PID (node-qualified) → its exit notifications (SIGCHLD in its own context). */
  exits: Map<string, Exit[]>;
  maxExamples: number;
  /** Signals detect() could not group (past MAX_CAUSE_GROUPS), for the report's limits. */
  notGrouped: number;
  /** Signals and exit notifications let go before detect() could pair them, for the report's limits. */
  notKept: number;
}

const contextKey = (node: string | null, pid: number) => `${node}\n${pid}`;

/** `value` kept under `key`, within the bounds: what that let go, each with its key. */
function remember<T>(map: Map<string, T[]>, key: string, value: T): Array<[string, T[]]> {
  const list = map.get(key) ?? [];
  list.push(value);
  const letGo: Array<[string, T[]]> = [];
  if (list.length > KEPT_PER_CONTEXT) letGo.push([key, list.splice(0, list.length - KEPT_PER_CONTEXT)]);
  map.delete(key);
  if (map.size >= MAX_PENDING) {
    const oldest = map.entries().next().value!;
    map.delete(oldest[0]);
    letGo.push(oldest);
  }
  map.set(key, list);
  return letGo;
}

const near = (a: number | null, b: number | null) => a === null || b === null || (b >= a && b - a <= WINDOW_MS);

/** Of the signals let go, those that could still have been a parent-death signal: sent within WINDOW_MS of the task's last one seen. */
function couldPair(state: DeathState, key: string, letGo: readonly ObservedSignal[]): number {
  const latest = Math.max(...[...(state.sent.get(key) ?? []), ...letGo].map((s) => s.ms ?? Number.NEGATIVE_INFINITY));
  return letGo.filter((s) => s.ms === null || latest - s.ms <= WINDOW_MS).length;
}

export const parentDeath = defineDetector<DeathState>({
  id: "parent-death",
  title: "Parent-death signal",
  init: (options) => ({ sent: new Map(), exits: new Map(), maxExamples: options.maxExamples, notGrouped: 0, notKept: 0 }),
  limits: (state) => ({ causeSignalsNotGrouped: state.notGrouped, parentDeathSignalsNotKept: state.notKept }),
  // Lines may reach detectors out of order (the correlator holds process signals back for an audit twin), so pairing waits for detect().
  observe(state, observed) {
    const { signal, ms } = observed;
    const context = signal.context;
    if (!context || signal.source !== "tracefs") return;
    const key = contextKey(signal.node, context.pid);
    if (signal.cause?.rule === "sent-by-process" && signal.origin?.code === 0) {
      // A signal the task sent well before another one was not sent on its way out: letting it go loses nothing.
      for (const [k, letGo] of remember(state.sent, key, observed)) state.notKept += couldPair(state, k, letGo);
    } else if (signal.signal.nr === SIG.CHLD && EXIT_CODES.has(signal.origin?.code ?? -1)) {
      // An exit matters while a signal its task sent just before it is held.
      for (const [k, letGo] of remember(state.exits, key, { ms, parent: signal.target.pid })) {
        const sent = state.sent.get(k) ?? [];
        state.notKept += letGo.filter((e) => sent.some((s) => near(s.ms, e.ms))).length;
      }
    }
  },
  *detect({ state }) {
    const groups = new CauseGroups(state.maxExamples);
    for (const [key, sent] of state.sent) {
      const exits = state.exits.get(key);
      if (!exits) continue;
      const parentPid = sent[0]!.signal.context!.pid;
      for (const earlier of sent) {
        const exit = exits.find((e) => near(earlier.ms, e.ms));
        if (!exit) continue;
        // The child died first and told this sender: an ordinary kill() the sender waited on (timeout does this).
        const child = earlier.signal.target.pid;
        const childExits = child === null ? [] : (state.exits.get(contextKey(earlier.signal.node, child)) ?? []);
        if (childExits.some((e) => e.parent === parentPid && (e.ms === null || exit.ms === null || e.ms <= exit.ms))) continue;
        // With audit running and no kill() from the parent, it cannot have been a kill() just before exiting.
        const tag = earlier.crossCheck === "unmatched" ? "auditHadNoKill" : "noAuditToCompare";
        groups.add(JSON.stringify([earlier.signal.node, earlier.signal.context!.comm, earlier.signal.victims[0]?.comm ?? null]), earlier, tag);
      }
    }
    state.notGrouped = groups.notGrouped;
    for (const g of groups.groups()) {
      const parents = taskList(g.contexts.values());
      const children = taskList(g.victims.values(), g.moreVictims);
      yield {
        severity: "warning",
        headline: `${children} got ${signalList(g)} because its parent ${parents || "?"} exited (PR_SET_PDEATHSIG; ${plural(g.count, "signal")})`,
        explanation:
          "These processes had asked the kernel (prctl PR_SET_PDEATHSIG) for a signal when their parent dies, and the parent exited: the kernel sent it " +
          "from the parent's exit path, with SI_USER, so it looks like a kill() by the parent, but the parent never called kill(). " +
          "What shows it is the parent's own exit notification (SIGCHLD to its parent) right after, from the same task. " +
          "Note: the \"parent\" is the thread that created the child; if that thread exits, the signal comes even while the rest of the process lives.",
        advice:
          "Find why the parent exited (its logs, its own exit status or killer). If the child should outlive it, do not set PR_SET_PDEATHSIG " +
          "(or the language's equivalent: Go's SysProcAttr.Pdeathsig, Python's preexec_fn with prctl), or create the child from a thread that lives as long as the process.",
        ...groupFacts(g, [
          `The dying parent (context of the signal and of its own exit notification, with the child still alive): ${parents || "?"}`,
          (g.counts.noAuditToCompare ?? 0) > 0
            ? "Without audit, a kill() of the child just before the parent's exit would look the same; an audit kill rule (setup-rule install) settles it"
            : "Audit was running and recorded no kill() from the parent: the kernel sent it",
        ]),
      };
    }
  },
});
