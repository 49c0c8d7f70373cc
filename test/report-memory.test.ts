/**
 * What report keeps for a big stream, counted in entries (never timed):
 * each table stays within its cap whatever the stream's length, says how
 * many it let go, and keeps no copy per signal of what one killer shares.
 * The RSS these caps give on big logs is in docs/PERFORMANCE.md.
 */
import { describe, expect, test } from "bun:test";
import { renderText } from "../lib/render/text.ts";
import { analyze, compareFindings } from "../lib/signals/findings.ts";
import { FindingFolder, KEEP_PER_KILLER } from "../lib/signals/findings/fold.ts";
import { SequenceTable } from "../lib/signals/findings/sequences.ts";
import { DEFAULT_FINDING_OPTIONS, SEVERITY_ORDER, type Finding, type Severity } from "../lib/signals/findings/types.ts";
import { describeProcess, plural } from "../lib/signals/describe.ts";
import { sig } from "./helpers/report-fixtures.ts";

const T0 = Date.parse("2026-03-01T10:00:00Z") / 1000;

/** A finding with what sorting and folding read; ties (same severity, count and headline) on purpose. */
function finding(id: string, killer: string, pid: number, severity: Severity, count: number, headline: string): Finding {
  return {
    id,
    title: id,
    severity,
    headline,
    explanation: "",
    advice: "",
    killer: { key: killer, node: null, pids: [1], comm: killer, exe: null, uid: 0, user: null },
    target: { pid },
    evidence: { count, first: `2025-01-01T00:00:${String(pid % 60).padStart(2, "0")}.000Z`, last: null, examples: [`id-${id}-${pid}`], counts: { [`n${pid % 3}`]: 1 }, notes: [] },
  };
}

/** The definition the folder streams: sort all, keep each (kind, killer) group's best `keep`, fold the rest into one. */
function foldAllAtOnce(all: Finding[], keep = KEEP_PER_KILLER): Finding[] {
  const sorted = [...all].sort(compareFindings);
  const key = (f: Finding) => `${f.id}\n${f.killer?.key ?? ""}`;
  const groups = new Map<string, Finding[]>();
  for (const f of sorted) groups.set(key(f), [...(groups.get(key(f)) ?? []), f]);
  const out: Finding[] = [];
  const shown = new Map<string, number>();
  for (const f of sorted) {
    const n = shown.get(key(f)) ?? 0;
    if (n >= keep) continue;
    out.push(f);
    shown.set(key(f), n + 1);
    const rest = groups.get(key(f))!.slice(keep);
    if (n + 1 !== keep || rest.length === 0) continue;
    const model = rest[0]!;
    let severity = model.severity;
    let count = 0;
    let first: string | null = null;
    let last: string | null = null;
    const counts: Record<string, number> = { findings: rest.length };
    const pids: number[] = [];
    const examples: string[] = [];
    for (const r of rest) {
      if (SEVERITY_ORDER[r.severity] < SEVERITY_ORDER[severity]) severity = r.severity;
      count += r.evidence.count;
      if (r.evidence.first !== null && (first === null || r.evidence.first < first)) first = r.evidence.first;
      if (r.evidence.last !== null && (last === null || r.evidence.last > last)) last = r.evidence.last;
      for (const [name, c] of Object.entries(r.evidence.counts)) counts[name] = (counts[name] ?? 0) + c;
      const pid = r.target?.pid;
      if (typeof pid === "number" && pids.length < 20) pids.push(pid);
      if (r.evidence.examples[0] !== undefined && examples.length < 5) examples.push(r.evidence.examples[0]);
    }
    pids.sort((a, b) => a - b);
    const pidText = pids.length > 0 ? `, on PID${pids.length > 1 ? "s" : ""} ${pids.join(", ")}${rest.length > pids.length ? ", …" : ""}` : "";
    out.push({
      id: model.id,
      title: model.title,
      severity,
      headline: `…and ${plural(rest.length, "more finding")} of this kind for ${model.killer ? describeProcess(model.killer) : "senders audit did not see"}${pidText}: ${plural(count, "signal")} in all`,
      explanation:
        `The same pattern as the findings above, for the same sender, ${plural(rest.length, "time")} more. ` +
        `They are folded into this one so the report stays readable; the ${keep} above have the most evidence.`,
      advice: "As for the findings above. `attribute` with --killer (and --pid for one PID) lists every signal behind them.",
      killer: model.killer,
      target: null,
      evidence: { count, first, last, examples, counts, notes: [] },
    });
  }
  return out;
}

describe("FindingFolder", () => {
  test("folding a finding at a time, detector by detector, gives what sorting all and folding gives", () => {
    const severities: Severity[] = ["critical", "warning", "info"];
    for (const seedStart of [7, 11, 2026]) {
      const byDetector: Finding[][] = [];
      let seed = seedStart;
      const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
      for (const id of ["stale-pid", "pkill", "timeout"]) {
        const list: Finding[] = [];
        for (let i = 0; i < 300; i++) {
          const f = finding(id, `k${next(4)}`, 1000 + next(400), severities[next(3)]!, 1 + next(5), `h${next(3)}`);
          // Some without a PID or an example, some with their counts named in another order: the fold must name the same ones.
          if (next(7) === 0) f.target = null;
          if (next(9) === 0) f.evidence.examples = [];
          if (next(5) === 0) f.evidence.counts = { z: 1, [`n${next(3)}`]: 2 };
          list.push(f);
        }
        byDetector.push(list);
      }
      const all = foldAllAtOnce(byDetector.flat());
      const folder = new FindingFolder(compareFindings);
      for (const list of byDetector) folder.add(list);
      expect(JSON.stringify(folder.findings())).toBe(JSON.stringify(all));
      expect(all.length).toBeLessThan(3 * 300);
    }
  });

  test("a detector's findings are taken as it raises them: a generator is never drained into an array first", () => {
    let live = 0;
    let most = 0;
    function* raise(): Generator<Finding> {
      for (let i = 0; i < 5_000; i++) {
        live++;
        most = Math.max(most, live);
        yield finding("pkill", `k${i % 3}`, 10_000 + i, "warning", 1 + (i % 7), "h");
        live--;
      }
    }
    const folder = new FindingFolder(compareFindings);
    folder.add(raise());
    expect(most).toBe(1);
    expect(folder.findings()).toHaveLength(3 * (KEEP_PER_KILLER + 1));
  });
});

describe("retained entries on a big stream, default caps", () => {
  // A supervisor that kills each child once (a new victim and (killer, PID) pair per kill), and pkill runs that each hit a few new processes.
  const KILLS = 24_000;
  const signals = () =>
    Array.from({ length: KILLS }, (_, i) =>
      i % 2 === 0
        ? sig({ id: `c${i}`, time: T0 + i, nr: 15, target: 100_000 + i, victims: [{ pid: 100_000 + i, comm: "worker", uid: 1000 }] })
        : sig({
            id: `p${i}`,
            time: T0 + i,
            nr: 15,
            target: 100_000 + i,
            // Each run of pkill is its own process; its argv arrives as a new array with every signal.
            killer: { pid: 50_000 + Math.floor(i / 8), ppid: 1, comm: "pkill", exe: "/usr/bin/pkill", uid: 0, argv: ["pkill", "-f", "worker --queue default"] },
            victims: [{ pid: 100_000 + i, comm: "worker", uid: 1000 }],
          }),
    );

  test("victims and pairs stop at their caps and say how many they let go; every signal still counts", async () => {
    const report = await analyze(signals());
    const t = report.summary.totals;
    expect(t.signals).toBe(KILLS);
    expect(report.summary.victims.length).toBe(2_000);
    expect(t.victimsNotKept).toBe(KILLS - 2_000);
    expect(DEFAULT_FINDING_OPTIONS.maxPairs).toBe(20_000);
    // Every kill aims at a new PID: one pair each, all hit once.
    expect(report.limits.pairsNotKept).toBe(KILLS - 20_000);
    expect(renderText(report, { color: false })).toContain(`to bound memory, ${KILLS - 2_000} victims hit once are counted but not listed; ${KILLS - 20_000} PIDs a killer aimed at once were forgotten`);
    // A few findings per kind and killer, the rest folded into one.
    const perGroup = new Map<string, number>();
    for (const f of report.findings) perGroup.set(`${f.id} ${f.killer?.key}`, (perGroup.get(`${f.id} ${f.killer?.key}`) ?? 0) + 1);
    for (const n of perGroup.values()) expect(n).toBeLessThanOrEqual(KEEP_PER_KILLER + 1);
  });

  test("kill sequences of one killer share its argv instead of keeping each signal's copy", () => {
    const table = new SequenceTable(DEFAULT_FINDING_OPTIONS.maxSequences, 5);
    for (const signal of signals()) table.add({ signal, ms: Date.parse(signal.time!), crossCheck: null, killerKey: "pkill" });
    // The supervisor's children name no parent, so only pkill's victims make sequences: one each.
    const pkill = [...table.sequences.values()];
    expect(pkill.length).toBe(KILLS / 2);
    expect(pkill.every((s) => s.kind === "pkill")).toBe(true);
    expect(new Set(pkill.map((s) => s.killerArgv)).size).toBe(1);
    expect(new Set(pkill.map((s) => s.killerAncestry)).size).toBe(1);
    expect(table.sequences.notKept + table.timers.notKept).toBe(0);
  });
});
