import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SignalLine } from "../lib/schema.ts";
import { escapeControl, escapeHtml, escapeMarkdown } from "../lib/render/escape.ts";
import { shouldColor } from "../lib/render/format.ts";
import { renderReport } from "../lib/render/formats.ts";
import { renderJson } from "../lib/render/json.ts";
import { formatSignalRow } from "../lib/render/signal-row.ts";
import { renderText } from "../lib/render/text.ts";
import { analyze, Analyzer, DETECTORS, type Report } from "../lib/signals/findings.ts";
import { DEFAULT_FINDING_OPTIONS, type FindingDetector } from "../lib/signals/findings/types.ts";
import { signalTimeMs } from "../lib/signals/keys.ts";
import { type Summary, SummaryBuilder, type SummaryOptions } from "../lib/signals/report-summary.ts";
import { ORIGIN_FAULT, ORIGIN_KERNEL, ORIGIN_USER, seedSignals, sig } from "./helpers/report-fixtures.ts";

const T0 = Date.parse("2026-03-01T10:00:00Z") / 1000;
const CRON = { pid: 901, comm: "cron", exe: "/usr/sbin/cron", uid: 0, user: "root", argv: ["/usr/sbin/cron", "-f"] };
const EVIL = "evil\x1b[2J\nFAKE LINE";

/** A whole iterable or async iterable of signals through one SummaryBuilder, as report runs it. */
async function summarize(signals: Iterable<SignalLine> | AsyncIterable<SignalLine>, options: SummaryOptions = {}): Promise<Summary> {
  const builder = new SummaryBuilder(options);
  for await (const signal of signals) builder.add(signal);
  return builder.summary();
}

async function* slowly<T>(items: T[]): AsyncGenerator<T> {
  for (const item of items) {
    await Promise.resolve();
    yield item;
  }
}

const ids = (report: Report, id: string) => report.findings.filter((f) => f.id === id);

describe("summary", () => {
  test("seed: one killer, counts per signal, success/failure, errno, time range", async () => {
    const s = await summarize(seedSignals());
    expect(s.totals).toMatchObject({ signals: 3, success: 2, failure: 1, killers: 1, errnos: { ESRCH: 1 } });
    expect(s.totals.first).toBe("2010-09-23T12:37:07.433Z");
    expect(s.totals.last).toBe("2010-09-23T12:37:10.434Z");
    const k = s.killers[0]!;
    expect(k).toMatchObject({ comm: "roxen", exe: "/usr/local/roxen/server-4.5.241/pike/bin/pike", uid: 0, pids: [4299] });
    expect(k).toMatchObject({ total: 3, success: 2, failure: 1, signals: { SIGKILL: 3 }, errnos: { ESRCH: 1 }, targetPidCount: 1, targetPids: [26880] });
    expect(k.examples).toEqual(["1285245427.433:22", "1285245427.433:23", "1285245430.434:34"]);
    expect(s.signals).toEqual({ SIGKILL: 3 });
    // findpid (named by OBJ_PID) and the unnamed holder of 26880 in :23; ESRCH hit nobody.
    const findpid = s.victims.find((v) => v.comm === "findpid")!;
    expect(findpid).toMatchObject({ pid: 26880, uid: 1010, total: 1, examples: ["1285245427.433:22"] });
    expect(findpid.killers[0]).toMatchObject({ comm: "roxen", count: 1 });
    expect(s.timeline.unit).toBe("minute");
    expect(s.timeline.buckets).toEqual([{ start: "2010-09-23T12:37:00.000Z", count: 3, failed: 1 }]);
  });

  test("killers ranked by count, then failures; victims by hits", async () => {
    const a = { comm: "a", exe: "/bin/a", pid: 1 };
    const b = { comm: "b", exe: "/bin/b", pid: 2 };
    const c = { comm: "c", exe: "/bin/c", pid: 3 };
    const signals = [
      ...Array.from({ length: 5 }, (_, i) => sig({ id: `a${i}`, time: T0 + i, killer: a, target: 100 + i, victims: [{ comm: "x", uid: 5 }] })),
      sig({ id: "b0", time: T0, killer: b, target: 7, victims: [{ comm: "v", uid: 5 }] }),
      sig({ id: "b1", time: T0 + 1, killer: b, target: 7, victims: [{ comm: "v", uid: 5 }] }),
      sig({ id: "c0", time: T0, killer: c, success: false, target: 8 }),
      sig({ id: "c1", time: T0 + 1, killer: c, target: 8, victims: [{ comm: "w", uid: 5 }] }),
    ];
    const s = await summarize(slowly(signals));
    expect(s.killers.map((k) => k.comm)).toEqual(["a", "c", "b"]);
    expect(s.killers[0]!.targetPidCount).toBe(5);
    expect(s.victims[0]).toMatchObject({ pid: 7, comm: "v", total: 2 });
    expect(s.totals.killers).toBe(3);
  });

  test("same exe+comm+uid from different pids is one killer; another uid is another", async () => {
    const s = await summarize([
      sig({ id: "1", time: T0, killer: { pid: 10 } }),
      sig({ id: "2", time: T0, killer: { pid: 11 } }),
      sig({ id: "3", time: T0, killer: { pid: 12, uid: 33, user: "www-data" } }),
    ]);
    expect(s.killers.length).toBe(2);
    expect(s.killers[0]).toMatchObject({ total: 2, pids: [10, 11] });
  });

  test("timeline: auto picks minutes for short spans, hours for long ones; forced units", async () => {
    const short = [sig({ id: "1", time: T0 }), sig({ id: "2", time: T0 + 150 })];
    const long = [sig({ id: "1", time: T0 }), sig({ id: "2", time: T0 + 5 * 3600 + 10, success: false })];
    const s1 = await summarize(short);
    expect(s1.timeline.unit).toBe("minute");
    expect(s1.timeline.buckets.map((b) => b.count)).toEqual([1, 0, 1]);
    const s2 = await summarize(long);
    expect(s2.timeline.unit).toBe("hour");
    expect(s2.timeline.buckets.length).toBe(6);
    expect(s2.timeline.buckets[5]).toMatchObject({ count: 1, failed: 1 });
    const s3 = await summarize(long, { bucket: "minute" });
    expect(s3.timeline.unit).toBe("minute");
    expect(s3.timeline.buckets.length).toBe(301);
    const s4 = await summarize(short, { bucket: "hour" });
    expect(s4.timeline).toMatchObject({ unit: "hour", buckets: [{ start: "2026-03-01T10:00:00.000Z", count: 2, failed: 0 }] });
  });

  test("bounded: examples and target pids are capped, counts stay exact", () => {
    const b = new SummaryBuilder({ maxExamples: 2, maxTargetPids: 10 });
    for (let i = 0; i < 1000; i++) b.add(sig({ id: `id${i}`, time: T0 + i, target: 1000 + i, victims: [{ comm: "v", uid: 1 }] }));
    const s = b.summary();
    expect(s.killers[0]!.total).toBe(1000);
    expect(s.killers[0]!.examples).toEqual(["id0", "id1"]);
    expect(s.killers[0]!.targetPidCount).toBe(10);
    expect(s.killers[0]!.targetPidsTruncated).toBe(true);
    expect(s.victims.length).toBe(1000);
    expect(s.victims[0]!.examples.length).toBe(1);
  });

  test("signals without a time are counted but not on the timeline; id stands in for time", async () => {
    expect(signalTimeMs({ id: "1285245427.433:22", time: null })).toBe(1285245427433);
    const s = await summarize([sig({ id: "x", time: null }), sig({ id: "1285245427.433:22", time: null })]);
    expect(s.totals).toMatchObject({ signals: 2, untimed: 1 });
    expect(s.timeline.buckets.length).toBe(1);
  });
});

describe("findings: stale-pid", () => {
  test("the seed's three calls raise it", async () => {
    const report = await analyze(seedSignals());
    const stale = ids(report, "stale-pid");
    expect(stale.length).toBe(1);
    const f = stale[0]!;
    expect(f.severity).toBe("critical");
    expect(f.killer).toMatchObject({ comm: "roxen", uid: 0, exe: "/usr/local/roxen/server-4.5.241/pike/bin/pike", pids: [4299] });
    expect(f.target).toEqual({ pid: 26880 });
    expect(f.evidence).toMatchObject({ count: 3, first: "2010-09-23T12:37:07.433Z", last: "2010-09-23T12:37:10.434Z" });
    expect(f.evidence.counts).toMatchObject({ calls: 3, success: 2, ESRCH: 1 });
    expect(f.evidence.examples).toEqual(["1285245427.433:22", "1285245427.433:23", "1285245430.434:34"]);
    expect(f.headline).toContain("26880");
    expect(f.explanation).toMatch(/lost track of a child/);
    expect(f.advice).toMatch(/Restart the killer/);
    expect(f.evidence.notes.join(" ")).toContain("findpid");
  });

  test("only failures: still raised, as a warning", async () => {
    const report = await analyze([0, 5, 10].map((d, i) => sig({ id: `f${i}`, time: T0 + d, success: false })));
    expect(ids(report, "stale-pid").map((f) => f.severity)).toEqual(["warning"]);
  });

  test("not raised without ESRCH, with too few calls, in one instant, across PIDs, for probes or group kills", async () => {
    const cases: SignalLine[][] = [
      [0, 5, 10].map((d, i) => sig({ id: `ok${i}`, time: T0 + d })),
      [sig({ id: "1", time: T0 }), sig({ id: "2", time: T0 + 5, success: false })],
      [0, 0, 0].map((d, i) => sig({ id: `burst${i}`, time: T0 + d, success: i === 2 ? false : true })),
      [0, 5, 10].map((d, i) => sig({ id: `p${i}`, time: T0 + d, target: 500 + i, success: i !== 1 })),
      [0, 5, 10].map((d, i) => sig({ id: `probe${i}`, time: T0 + d, nr: 0, success: i !== 1 })),
      [0, 5, 10].map((d, i) => sig({ id: `g${i}`, time: T0 + d, scope: "group", success: i !== 1 })),
      // Different killers share nothing.
      [0, 5, 10].map((d, i) => sig({ id: `k${i}`, time: T0 + d, killer: { comm: `k${i}` }, success: i !== 1 })),
    ];
    for (const signals of cases) {
      const report = await analyze(signals);
      expect(ids(report, "stale-pid")).toEqual([]);
    }
  });

  test("thresholds are options", async () => {
    const two = [sig({ id: "1", time: T0 }), sig({ id: "2", time: T0 + 5, success: false })];
    expect(ids(await analyze(two, { staleMinCalls: 2 }), "stale-pid").length).toBe(1);
  });
});

describe("memory bounds: (killer, PID) pairs and victims", () => {
  // A supervisor that kills each child once: a new pair and a new victim per kill.
  const oneEach = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => sig({ id: `c${from + i}`, time: T0 + from + i, target: 1000 + from + i, victims: [{ pid: 1000 + from + i, comm: "worker", uid: 1000 }] }));

  test("below the caps nothing is let go, and the report says nothing of it", async () => {
    // The seed holds one pair and two victims (findpid, and PID 26880 where no OBJ_PID named it).
    const report = await analyze([...seedSignals(), ...oneEach(5)], { maxPairs: 6, maxVictims: 7 });
    expect(report.limits).toEqual({ pairsNotKept: 0, stormKillersNotKept: 0, causeSignalsNotGrouped: 0, parentDeathSignalsNotKept: 0 });
    expect(report.summary.totals.victimsNotKept).toBe(0);
    expect(report.summary.totals.killersNotKept).toBe(0);
    expect(report.summary.totals.victims).toBe(report.summary.victims.length);
    expect(renderText(report, { color: false })).not.toContain("to bound memory");
  });

  test("past the caps the oldest hit-once pair and victim go; repeated ones, and the stale PID, stay", async () => {
    // The seed's stale PID first, then 50 children killed once each, then the stale PID again.
    const seed = seedSignals();
    const later = sig({ id: "again", time: "2010-09-23T12:40:00.000Z", success: false, errno: "ESRCH" });
    const report = await analyze([...seed, ...oneEach(50, 100), later], { maxPairs: 10, maxVictims: 10 });
    expect(report.limits.pairsNotKept).toBe(41); // 51 pairs made, 10 kept
    const stale = ids(report, "stale-pid");
    expect(stale.length).toBe(1);
    expect(stale[0]!.evidence.counts).toMatchObject({ calls: 4, ESRCH: 2 });
    const t = report.summary.totals;
    expect(report.summary.victims.length).toBe(10);
    expect(t.victimsNotKept).toBe(42); // the seed's two (each hit once; an ESRCH call hits nobody) and 40 children
    expect(t.victims).toBe(52);
    expect(t.signals).toBe(54); // every signal still counted
    expect(report.summary.victims.map((v) => v.pid)).toEqual(Array.from({ length: 10 }, (_, i) => 1140 + i));
    const text = renderText(report, { color: false });
    expect(text).toContain("to bound memory, 42 victims hit once are counted but not listed; 41 PIDs a killer aimed at once were forgotten");
    expect(renderReport(report, "markdown", {})).toContain("**Note:** to bound memory");
    expect(renderReport(report, "html", {})).toContain("<b>Note:</b> to bound memory");
    expect(JSON.parse(renderJson(report)).limits).toEqual({ pairsNotKept: 41, stormKillersNotKept: 0, causeSignalsNotGrouped: 0, parentDeathSignalsNotKept: 0 });
  });

  test("when every pair and victim has been hit again, new ones are not kept, and counted", async () => {
    const twice = [...oneEach(3), ...oneEach(3)];
    const report = await analyze([...twice, ...oneEach(4, 10)], { maxPairs: 3, maxVictims: 3 });
    expect(report.limits.pairsNotKept).toBe(4);
    expect(report.summary.totals.victimsNotKept).toBe(4);
    expect(report.summary.victims.map((v) => [v.pid, v.total])).toEqual([[1000, 2], [1001, 2], [1002, 2]]);
  });
});

describe("memory bounds: killers", () => {
  // A sender that renames itself before each kill is a new killer (exe, comm, uid) every time.
  const renamed = (n: number, from = 0, at = T0) =>
    Array.from({ length: n }, (_, i) =>
      sig({ id: `r${from + i}`, time: at + from + i, target: 5000 + from + i, killer: { pid: 700, comm: `x${from + i}`, exe: "/tmp/x" }, victims: [{ pid: 5000 + from + i, comm: "victim", uid: 1000 }] }),
    );

  test("past the cap the oldest killer that sent one signal goes; one that sent more stays, counted in full", async () => {
    const cron = (id: string, t: number) => sig({ id, time: t, killer: CRON, target: 4242 });
    const report = await analyze([cron("c1", T0), cron("c2", T0 + 1), ...renamed(30, 0, T0 + 2), cron("c3", T0 + 100)], { maxKillers: 5 });
    const t = report.summary.totals;
    expect(t.signals).toBe(33);
    expect(report.summary.killers.length).toBe(5);
    expect(t.killersNotKept).toBe(26); // 31 killers, 5 kept
    expect(t.killers).toBe(31);
    expect(report.summary.killers[0]).toMatchObject({ comm: "cron", total: 3 });
    expect(report.summary.killers.slice(1).map((k) => k.comm)).toEqual(["x26", "x27", "x28", "x29"]);
    // A victim still names its killer after the killer was let go.
    const early = report.summary.victims.find((v) => v.pid === 5000);
    expect(early?.killers).toEqual([{ key: '["/tmp/x","x0",0]', comm: "x0", exe: "/tmp/x", uid: 0, count: 1 }]);
    const text = renderText(report, { color: false });
    expect(text).toContain("to bound memory, 26 killers that sent one signal are counted but not listed");
    expect(JSON.parse(renderJson(report)).summary.totals.killersNotKept).toBe(26);
  });

  test("when every killer has sent more than one signal, a new one is not kept, and counted", async () => {
    const twice = [...renamed(3), ...renamed(3).map((s) => ({ ...s, id: `${s.id}b` }))];
    const report = await analyze([...twice, ...renamed(4, 10)], { maxKillers: 3 });
    expect(report.summary.killers.map((k) => [k.comm, k.total])).toEqual([["x0", 2], ["x1", 2], ["x2", 2]]);
    expect(report.summary.totals.killersNotKept).toBe(4);
    expect(report.summary.totals.signals).toBe(10);
  });

  test("the storm check follows at most maxKillers killers, and still finds a storm that began before the crowd", async () => {
    const storm = (n: number, from: number, at: number) => Array.from({ length: n }, (_, i) => sig({ id: `s${from + i}`, time: at, killer: CRON, target: 9000 + from + i }));
    const signals = [...storm(2, 0, T0), ...renamed(40, 0, T0), ...storm(8, 2, T0 + 1)];
    const report = await analyze(signals, { maxKillers: 5, stormThreshold: 10, stormWindowSec: 60 });
    const found = ids(report, "signal-storm");
    expect(found.length).toBe(1);
    expect(found[0]!.killer?.comm).toBe("cron");
    expect(found[0]!.evidence.counts).toMatchObject({ peak: 10, total: 10 });
    expect(report.limits.stormKillersNotKept).toBe(36); // 41 killers followed at some time, 5 at the end
    expect(renderText(report, { color: false })).toContain("the storm check let go of 36 killers that had sent one signal");
  });

  test("a killer whose last (killer, PID) pair was let go is let go with it", async () => {
    const analyzer = new Analyzer({ maxPairs: 4 });
    for (const s of renamed(50)) analyzer.add(s);
    const report = analyzer.finish();
    expect(report.limits.pairsNotKept).toBe(46);
    const pairs = (analyzer as unknown as { shared: Map<string, unknown> }).shared.get("pairs") as { killers: Map<string, unknown> };
    expect(pairs.killers.size).toBe(4);
  });
});

describe("who started the killer (ancestry from the stream or /proc)", () => {
  const CHAIN = [
    { pid: 4274, comm: "roxen-start", exe: "/bin/sh", argv: ["/bin/sh", "/usr/local/roxen/start", "--once"], from: "stream" as const },
    { pid: 1, comm: "init", exe: "/sbin/init", from: "stream" as const },
  ];
  const withChain = () => seedSignals().map((s, i) => ({ ...s, killer: { ...s.killer, ...(i === 1 ? { ancestry: CHAIN } : {}) } }));

  test("the summary keeps the first chain a killer had, and its findings name it", async () => {
    const report = await analyze(withChain());
    expect(report.summary.killers[0]!.ancestry).toEqual(CHAIN);
    for (const f of report.findings) expect(f.evidence.notes).toContain('Started by: roxen-start[4274] "/bin/sh /usr/local/roxen/start --once" ← init[1]');
    const clean = await analyze(seedSignals());
    expect(clean.summary.killers[0]!.ancestry).toEqual([]);
    expect(clean.findings[0]!.evidence.notes.join(" ")).not.toContain("Started by");
  });

  test("every format shows it, escaped", async () => {
    const evil = withChain().map((s) => ({ ...s, killer: { ...s.killer, ancestry: s.killer.ancestry?.map((a) => ({ ...a, comm: `${a.comm}\x1b[2J` })) } }));
    const report = await analyze(evil);
    const text = renderText(report, { color: false });
    expect(text).toContain("#1 started by roxen-start\\x1b[2J[4274]");
    expect(text).not.toContain("\x1b");
    expect(renderReport(report, "markdown")).toContain("| Started by |");
    expect(renderReport(report, "html")).toContain("<th>Started by</th>");
    expect(JSON.parse(renderJson(report)).summary.killers[0].ancestry[0].pid).toBe(4274);
    expect(formatSignalRow(evil[1]!)).toContain("← roxen-start\\x1b[2J[4274] ← init\\x1b[2J[1]");
  });
});

describe("findings: folded per killer", () => {
  // One killer that comes back to 12 PIDs, each time finding nobody: 12 stale-pid findings.
  const loop = (killer: { comm: string; pid: number }, pids: number) =>
    Array.from({ length: pids * 3 }, (_, i) =>
      sig({ id: `${killer.comm}${i}`, time: T0 + 10 * Math.floor(i / pids) + (i % pids) / 100, killer, target: 1000 + (i % pids) * 7, success: false }),
    );

  test("past 5 of a kind, a killer's findings fold into one that counts and sums the rest", async () => {
    const report = await analyze(loop({ comm: "looper", pid: 50 }, 12));
    const stale = ids(report, "stale-pid");
    expect(stale.length).toBe(6);
    expect(stale.slice(0, 5).map((f) => f.target?.pid)).toEqual([1000, 1007, 1014, 1021, 1028]);
    const folded = stale[5]!;
    expect(folded.target).toBeNull();
    expect(folded.killer).toMatchObject({ comm: "looper", pids: [50] });
    expect(folded.evidence.counts).toEqual({ findings: 7, calls: 21, success: 0, ESRCH: 21, SIGKILL: 21 });
    expect(folded.evidence.count).toBe(21);
    expect(folded.evidence.examples.length).toBe(5);
    expect(folded.headline).toContain("7 more findings of this kind for looper (pid 50");
    expect(folded.headline).toContain("PIDs 1035, 1042, 1049, 1056, 1063, 1070, 1077: 21 signals in all");
    expect(folded.evidence.first! <= folded.evidence.last!).toBe(true);
  });

  test("each killer folds on its own; 5 or fewer are left alone", async () => {
    const report = await analyze([...loop({ comm: "one", pid: 1 }, 8), ...loop({ comm: "two", pid: 2 }, 5)]);
    const stale = ids(report, "stale-pid");
    expect(stale.filter((f) => f.killer?.comm === "one").length).toBe(6);
    expect(stale.filter((f) => f.killer?.comm === "two").length).toBe(5);
    expect(stale.filter((f) => f.target === null).map((f) => f.killer?.comm)).toEqual(["one"]);
    // Every call is still counted once, folded or not.
    expect(stale.reduce((n, f) => n + f.evidence.count, 0)).toBe(8 * 3 + 5 * 3);
  });

  test("every format renders a folded finding", async () => {
    const report = await analyze(loop({ comm: "looper", pid: 50 }, 12));
    for (const format of ["text", "markdown", "json", "html"] as const) {
      const out = renderReport(report, format, { color: false, width: 100 });
      expect({ format, folded: out.includes("7 more findings of this kind") }).toEqual({ format, folded: true });
    }
  });
});

describe("findings: recycled-pid", () => {
  test("same killer, same PID, different holders (comm and uid)", async () => {
    const report = await analyze([
      sig({ id: "1", time: T0, victims: [{ comm: "cron", uid: 0, user: "root" }] }),
      sig({ id: "2", time: T0 + 6, victims: [{ comm: "findpid", uid: 1010 }] }),
      sig({ id: "3", time: T0 + 12, victims: [{ comm: "findpid", uid: 1010 }] }),
    ]);
    const f = ids(report, "recycled-pid");
    expect(f.length).toBe(1);
    expect(f[0]!.severity).toBe("critical");
    expect(f[0]!.target).toEqual({ pid: 26880 });
    expect(f[0]!.headline).toMatch(/cron, findpid/);
    expect(f[0]!.evidence.count).toBe(3);
    expect(f[0]!.evidence.notes.length).toBe(2);
  });

  test("a holder whose uid is unknown (a victim reaped before /proc was read) stands in for none of two that differ", async () => {
    const report = await analyze([
      sig({ id: "1", time: T0, victims: [{ comm: "findpid", uid: null }] }),
      sig({ id: "2", time: T0 + 6, victims: [{ comm: "findpid", uid: 0, user: "root" }] }),
      sig({ id: "3", time: T0 + 12, victims: [{ comm: "findpid", uid: 65534, user: "nobody" }] }),
    ]);
    const f = ids(report, "recycled-pid");
    expect(f.length).toBe(1);
    expect(f[0]!.headline).toMatch(/findpid, findpid \(2 different users\)/);
  });

  test("different uid alone is enough", async () => {
    const report = await analyze([
      sig({ id: "1", time: T0, victims: [{ comm: "sh", uid: 0 }] }),
      sig({ id: "2", time: T0 + 6, victims: [{ comm: "sh", uid: 1000 }] }),
    ]);
    expect(ids(report, "recycled-pid").length).toBe(1);
  });

  test("not raised for one holder, unknown holders, different killers, or group kills", async () => {
    const cases: SignalLine[][] = [
      [sig({ id: "1", time: T0, victims: [{ comm: "a", uid: 1 }] }), sig({ id: "2", time: T0 + 5, victims: [{ comm: "a", uid: 1 }] })],
      seedSignals(), // one named holder, one unnamed
      [sig({ id: "1", time: T0, victims: [{ comm: "a", uid: 1 }] }), sig({ id: "2", time: T0 + 5, killer: CRON, victims: [{ comm: "b", uid: 2 }] })],
      [
        sig({ id: "1", time: T0, scope: "group", victims: [{ pid: 1, comm: "a", uid: 1 }, { pid: 2, comm: "b", uid: 2 }] }),
        sig({ id: "2", time: T0 + 5, scope: "group", victims: [{ pid: 3, comm: "c", uid: 3 }] }),
      ],
    ];
    for (const signals of cases) expect(ids(await analyze(signals), "recycled-pid")).toEqual([]);
  });
});

describe("findings: signal-storm", () => {
  const burst = (n: number, spreadSec: number, killer = CRON) =>
    Array.from({ length: n }, (_, i) => sig({ id: `s${i}`, time: T0 + (i * spreadSec) / n, killer, target: 2000 + i }));

  test("100 signals within 60 s from one killer", async () => {
    const report = await analyze(burst(100, 50));
    const f = ids(report, "signal-storm");
    expect(f.length).toBe(1);
    expect(f[0]!.killer).toMatchObject({ comm: "cron" });
    expect(f[0]!.evidence.count).toBeGreaterThanOrEqual(100);
    expect(f[0]!.evidence.counts).toMatchObject({ peak: 100, windowSeconds: 60, total: 100 });
    expect(f[0]!.evidence.examples.length).toBeGreaterThan(0);
  });

  test("not raised below the threshold, when spread out, or when split across killers", async () => {
    expect(ids(await analyze(burst(99, 30)), "signal-storm")).toEqual([]);
    expect(ids(await analyze(burst(100, 200)), "signal-storm")).toEqual([]);
    const split = [...burst(60, 20), ...burst(60, 20, { ...CRON, comm: "other", exe: "/bin/other" })];
    expect(ids(await analyze(split), "signal-storm")).toEqual([]);
  });

  test("the rate is over the signals' real span, not the window's length", async () => {
    // 5000 signals in 3 s: about 1,700/s, not 5000 / 60 s = 83/s.
    const report = await analyze(burst(5000, 3));
    const f = ids(report, "signal-storm")[0]!;
    expect(f.evidence.counts).toMatchObject({ peak: 5000, windowSeconds: 60, spanMs: 2999 });
    expect(f.headline).toContain("sent 5000 signals within 3.0 s (1,667/s;");
    expect(f.evidence.first).toBe(new Date(T0 * 1000).toISOString());
    expect(f.evidence.last).toBe(new Date(T0 * 1000 + 2999).toISOString());
    // Spread over 50 s: 100 signals, 2.0/s; all in one millisecond: the rate of that millisecond.
    expect(ids(await analyze(burst(100, 50)), "signal-storm")[0]!.headline).toContain("within 50 s (2.0/s;");
    expect(ids(await analyze(burst(100, 0)), "signal-storm")[0]!.headline).toContain("within 0 ms (100,000/s;");
  });

  test("threshold and window are options; out-of-order input still counts", async () => {
    const signals = burst(10, 4).reverse();
    expect(ids(await analyze(signals, { stormThreshold: 10, stormWindowSec: 5 }), "signal-storm").length).toBe(1);
    expect(ids(await analyze(signals, { stormThreshold: 11, stormWindowSec: 5 }), "signal-storm")).toEqual([]);
  });
});

describe("findings: blind-spot", () => {
  const tracefs = (spec: Parameters<typeof sig>[0]) => sig({ ...spec, source: "tracefs", success: spec.success ?? null, errno: null });
  const oomVictim = [{ pid: 7777, comm: "mysqld", uid: 27 }];

  test("the kernel's own SIGKILL (OOM killer) is a blind spot", async () => {
    const report = await analyze([tracefs({ id: "t1", time: T0, killer: { pid: 7777, comm: "mysqld", exe: null, uid: null, user: null }, target: 7777, victims: oomVictim, origin: ORIGIN_KERNEL })]);
    const f = ids(report, "blind-spot");
    expect(f.length).toBe(1);
    expect(f[0]!.severity).toBe("warning");
    expect(f[0]!.headline).toMatch(/kernel itself sent SIGKILL to mysqld\[7777\]/);
    expect(f[0]!.headline).toContain("mysqld[7777]");
    // The signal alone cannot prove an OOM kill: the report says so, and how to confirm it.
    expect(f[0]!.headline).toContain("possibly the OOM killer");
    expect(f[0]!.advice).toContain("dmesg | grep -i 'killed process'");
    // The task tracefs names as sender was only running at the time: the kernel is the killer.
    expect(report.summary.killers.map((k) => k.comm)).toEqual(["[kernel]"]);
    expect(report.summary.victims[0]).toMatchObject({ pid: 7777, comm: "mysqld" });
  });

  test("faults and timers have their own findings, not blind-spot; SIGCHLD is not reported", async () => {
    const report = await analyze([
      tracefs({ id: "t1", time: T0, nr: 11, target: 50, victims: [{ pid: 50, comm: "crashy" }], origin: ORIGIN_FAULT }),
      tracefs({ id: "t2", time: T0, nr: 17, target: 50, origin: { code: 1, kind: "other", label: "child" } }),
      tracefs({ id: "t3", time: T0, nr: 14, name: "SIGALRM", target: 50, origin: ORIGIN_KERNEL }),
    ]);
    expect(ids(report, "blind-spot")).toEqual([]);
    expect(ids(report, "self-inflicted")[0]!.headline).toMatch(/crashy\[50\] crashed \(SIGSEGV/);
    expect(ids(report, "timer")[0]!.headline).toMatch(/SIGALRM to .*from its own timer/);
  });

  test("kernel-sent signals past the cause groups' bound are said, not dropped unsaid", async () => {
    // 1,000 groups are held; each victim's comm is a group of its own here.
    const signals = Array.from({ length: 1003 }, (_, i) =>
      tracefs({ id: `t${i}`, time: T0 + i, nr: 14, name: "SIGALRM", target: 2000 + i, victims: [{ pid: 2000 + i, comm: `job${i}` }], origin: ORIGIN_KERNEL }),
    );
    const report = await analyze(signals);
    expect(report.summary.totals.signals).toBe(1003);
    expect(report.limits.causeSignalsNotGrouped).toBe(3);
    expect(renderText(report, { color: false })).toContain("3 signals the kernel or the process itself sent, past 1000 groups of one cause, are counted but in no finding");
    expect(JSON.parse(renderJson(report)).limits.causeSignalsNotGrouped).toBe(3);
  });

  test("signals parent-death let go before pairing them are said, not dropped unsaid; those that could not pair are not", async () => {
    // 10,000 sending tasks are followed, the last 20 signals of each: here 10,004 senders.
    const senders = Array.from({ length: 10_002 }, (_, i) => tracefs({ id: `t${i}`, time: T0 + i / 1000, nr: 15, killer: { pid: 3000 + i, comm: `sender${i}` }, target: 30_000 + i, origin: ORIGIN_USER }));
    // 22 signals within 3 ms: the two let go could still come right before their sender's exit.
    const burst = Array.from({ length: 22 }, (_, i) => tracefs({ id: `b${i}`, time: T0 + 20 + i / 10_000, nr: 15, killer: { pid: 2999, comm: "burst" }, target: 29_999, origin: ORIGIN_USER }));
    // 25 signals a minute apart: each was followed by another, so its sender was alive after it.
    const steady = Array.from({ length: 25 }, (_, i) => tracefs({ id: `s${i}`, time: T0 + 30 + i * 60, nr: 15, killer: { pid: 2998, comm: "steady" }, target: 29_998, origin: ORIGIN_USER }));
    const report = await analyze([...senders, ...burst, ...steady]);
    // 4 tasks' one signal each (the first senders), and burst's 2.
    expect(report.limits.parentDeathSignalsNotKept).toBe(4 + 2);
    expect(renderText(report, { color: false })).toContain("the parent-death check let go of 6 signals it could not yet pair with its sender's exit");
    expect(JSON.parse(renderJson(report)).limits.parentDeathSignalsNotKept).toBe(6);
    // A steady sender alone: nothing said.
    expect((await analyze(steady)).limits.parentDeathSignalsNotKept).toBe(0);
  });

  test("a tracefs signal with its audit twin is merged, not a finding, not counted twice", async () => {
    const killer = { pid: 4299 };
    for (const order of ["audit-first", "tracefs-first"]) {
      const audit = sig({ id: "a1", time: T0, killer, victims: [{ comm: "sleep", uid: 0 }] });
      const trace = tracefs({ id: "t1", time: T0 + 0.5, killer: { ...killer, exe: null, uid: null, user: null }, victims: [{ comm: "sleep" }], origin: ORIGIN_USER });
      const report = await analyze(order === "audit-first" ? [audit, trace] : [trace, audit]);
      expect(ids(report, "blind-spot")).toEqual([]);
      expect(report.crossCheck.merged).toBe(1);
      expect(report.summary.totals.signals).toBe(1);
      expect(report.summary.totals.sources).toEqual({ audit: 1, tracefs: 0 });
    }
  });

  test("a process's signal that audit missed while audit was running is a blind spot", async () => {
    const report = await analyze([
      sig({ id: "a1", time: T0, killer: { pid: 10 }, target: 20 }),
      tracefs({ id: "t1", time: T0 + 3, killer: { pid: 666, comm: "sneaky", exe: null, uid: null, user: null }, target: 30, victims: [{ comm: "app" }], nr: 15, origin: ORIGIN_USER }),
      sig({ id: "a2", time: T0 + 10, killer: { pid: 10 }, target: 21 }),
    ]);
    const f = ids(report, "blind-spot");
    expect(f.length).toBe(1);
    expect(f[0]!.headline).toMatch(/sneaky .*SIGTERM.*audit did not record/);
    expect(f[0]!.killer).toMatchObject({ comm: "sneaky", pids: [666] });
    expect(report.crossCheck.unmatched).toBe(1);
  });

  test("watching both ways: the tracepoints' line of a call audit recorded is merged, failed calls too, in either order", async () => {
    const killer = { pid: 4299 };
    const calls = (source: "audit" | "tracepoints", id: string, dt: number) => [
      sig({ id: `${id}1`, time: T0 + dt, killer, victims: [{ comm: "findpid", uid: 0 }], source }),
      sig({ id: `${id}2`, time: T0 + 1 + dt, killer, success: false, source }),
      sig({ id: `${id}3`, time: T0 + 2 + dt, killer, success: false, source }),
    ];
    for (const order of ["audit-first", "tracepoints-first", "interleaved"]) {
      const audit = calls("audit", "a", 0);
      const traced = calls("tracepoints", "t", 0.3);
      const lines = order === "audit-first" ? [...audit, ...traced] : order === "tracepoints-first" ? [...traced, ...audit] : audit.flatMap((a, i) => [traced[i]!, a]);
      const report = await analyze(lines);
      expect(report.crossCheck).toEqual({ merged: 3, unmatched: 0, noAudit: 0 });
      expect(report.summary.totals.signals).toBe(3);
      expect(report.summary.totals.sources.audit).toBe(3);
      expect(report.summary.totals.sources.tracepoints ?? 0).toBe(0);
      expect(ids(report, "blind-spot")).toEqual([]);
      expect(renderText(report)).toContain("3 duplicates (one signal seen by two sources) counted once");
    }
    // Every renderer says the same: the merged lines alone (no tracepoints line left) still name the sources.
    const merged = await analyze(calls("audit", "a", 0).concat(calls("tracepoints", "t", 0.3)));
    const sentence = "3 audit, 0 tracefs; 3 duplicates (one signal seen by two sources) counted once";
    for (const format of ["text", "markdown", "html"] as const) expect(renderReport(merged, format, { color: false })).toContain(sentence);
    // Another call, another target or another signal is not a twin.
    const other = await analyze([sig({ id: "a", time: T0, killer }), sig({ id: "t", time: T0, killer, target: 26881, source: "tracepoints" })]);
    expect(other.crossCheck.merged).toBe(0);
    expect(other.summary.totals.signals).toBe(2);
    // Nothing merged: no "0 duplicates" in any of them.
    for (const format of ["text", "markdown", "html"] as const) {
      const text = renderReport(other, format, { color: false });
      expect(text).toContain("1 audit, 0 tracefs, 1 tracepoints");
      expect(text).not.toContain("duplicates");
    }
  });

  test("a call the tracepoints saw and audit did not, while audit ran, is a blind spot of audit's", async () => {
    const report = await analyze([
      sig({ id: "a1", time: T0, killer: { pid: 10 }, target: 20 }),
      sig({ id: "t1", time: T0 + 3, killer: { pid: 666, comm: "forked-early", exe: "/usr/bin/old" }, target: 30, success: false, source: "tracepoints" }),
      sig({ id: "a2", time: T0 + 10, killer: { pid: 10 }, target: 21 }),
    ]);
    expect(report.crossCheck.unmatched).toBe(1);
    const f = ids(report, "blind-spot");
    expect(f).toHaveLength(1);
    expect(f[0]!.headline).toMatch(/forked-early .*SIGKILL.*audit did not record/);
    // The tracepoints alone: nothing to compare with, no blind spot.
    const alone = await analyze([sig({ id: "t1", time: T0, killer: { pid: 666 }, source: "tracepoints" })]);
    expect(alone.crossCheck.noAudit).toBe(1);
    expect(ids(alone, "blind-spot")).toEqual([]);
  });

  test("tracefs alone (no audit at all, or outside audit's time) raises nothing for process signals", async () => {
    const only = [tracefs({ id: "t1", time: T0, killer: { pid: 666, comm: "x" }, target: 30, nr: 15, origin: ORIGIN_USER })];
    const r1 = await analyze(only);
    expect(ids(r1, "blind-spot")).toEqual([]);
    expect(r1.crossCheck.noAudit).toBe(1);
    expect(r1.summary.totals.signals).toBe(1);
    const r2 = await analyze([sig({ id: "a1", time: T0 - 3600 }), ...only]);
    expect(ids(r2, "blind-spot")).toEqual([]);
  });
});

describe("registry and analyzer", () => {
  test("every detector has an id, title and detect; the 2010 patterns first, then the killer catalogue", () => {
    const detectorIds = DETECTORS.map((d) => d.id);
    expect(detectorIds.slice(0, 4)).toEqual(["stale-pid", "recycled-pid", "signal-storm", "blind-spot"]);
    expect(detectorIds).toEqual(expect.arrayContaining(["timeout", "pkill", "supervisor", "systemd-stop", "container-stop", "memory-pressure"]));
    expect(new Set(detectorIds).size).toBe(detectorIds.length);
    for (const d of DETECTORS) expect(d.title.length).toBeGreaterThan(5);
  });

  test("findings sorted most severe first; a clean stream has none", async () => {
    const report = await analyze([
      ...seedSignals(),
      sig({ id: "t", time: "2010-09-23T12:37:08Z", source: "tracefs", nr: 14, name: "SIGALRM", target: 50, origin: ORIGIN_KERNEL }),
    ]);
    expect(report.findings[0]!.severity).toBe("critical");
    expect(report.findings.at(-1)!.severity).toBe("info");
    const clean = await analyze([sig({ id: "1", time: T0, victims: [{ comm: "a", uid: 1 }] })]);
    expect(clean.findings).toEqual([]);
  });

  test("gap lines are counted", async () => {
    const report = await analyze([...seedSignals(), { kind: "gap", source: "netlink", time: "2010-09-23T12:37:09Z", reason: "ENOBUFS", lost: 12 }]);
    expect(report.gaps).toMatchObject({ count: 1, lost: 12 });
    expect(renderText(report)).toMatch(/1 gap, 12 records lost/);
  });

  test("a subset of detectors runs alone (stale-pid and recycled-pid share their table)", async () => {
    const signals = [
      sig({ id: "1", time: T0, victims: [{ comm: "cron", uid: 0 }] }),
      sig({ id: "2", time: T0 + 6, victims: [{ comm: "findpid", uid: 1010 }] }),
      sig({ id: "3", time: T0 + 12, success: false }),
    ];
    const only = (id: string) => DETECTORS.filter((d) => d.id === id);
    expect((await analyze(signals, { detectors: only("recycled-pid") })).findings.map((f) => f.id)).toEqual(["recycled-pid"]);
    expect((await analyze(signals, { detectors: only("stale-pid") })).findings.map((f) => f.id)).toEqual(["stale-pid"]);
    const both = await analyze(signals);
    expect(both.findings.map((f) => f.id)).toEqual(["stale-pid", "recycled-pid"]);
    // Counted once, not once per detector.
    expect(both.findings[0]!.evidence.count).toBe(3);
  });

  test("the report's limits are the sum of what each detector's limits hook says; the cause-group detectors and signal-storm say theirs", async () => {
    const letting = (id: string, limits: Partial<Report["limits"]>): FindingDetector<null> => ({ id, title: `lets go ${id}`, init: () => null, observe: () => {}, detect: () => [], limits: () => limits });
    const report = await analyze([...seedSignals()], { detectors: [letting("a", { causeSignalsNotGrouped: 2 }), letting("b", { causeSignalsNotGrouped: 3, stormKillersNotKept: 1 }), letting("c", {})] });
    expect(report.limits).toEqual({ pairsNotKept: 0, stormKillersNotKept: 1, causeSignalsNotGrouped: 5, parentDeathSignalsNotKept: 0 });
    const fresh = (d: FindingDetector<any>) => d.limits?.(d.init(DEFAULT_FINDING_OPTIONS, new Map()));
    const saying = DETECTORS.filter((d) => d.limits !== undefined).map((d) => [d.id, fresh(d)]);
    expect(Object.fromEntries(saying)).toEqual({
      "signal-storm": { stormKillersNotKept: 0 },
      "tty-hangup": { causeSignalsNotGrouped: 0 },
      timer: { causeSignalsNotGrouped: 0 },
      "resource-limit": { causeSignalsNotGrouped: 0 },
      "parent-death": { causeSignalsNotGrouped: 0, parentDeathSignalsNotKept: 0 },
      "self-inflicted": { causeSignalsNotGrouped: 0 },
    });
  });

  test("Analyzer can be fed one signal at a time", () => {
    const a = new Analyzer();
    for (const s of seedSignals()) a.add(s);
    expect(a.finish().findings.map((f) => f.id)).toEqual(["stale-pid"]);
  });
});

describe("escaping", () => {
  test("escapeControl: C0, DEL, C1, ESC, backslash, bidi", () => {
    expect(escapeControl("a\x1b[31mb\nc\td")).toBe("a\\x1b[31mb\\x0ac\\x09d");
    expect(escapeControl("\x00\x7f\x9b\u0085")).toBe("\\x00\\x7f\\x9b\\x85");
    expect(escapeControl("back\\slash")).toBe("back\\\\slash");
    expect(escapeControl("abc\u202eexe.txt")).toBe("abc\\u{202e}exe.txt");
    expect(escapeControl("plain ünïcödé 日本 /usr/bin/x")).toBe("plain ünïcödé 日本 /usr/bin/x");
  });

  test("escapeHtml and escapeMarkdown", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    expect(escapeMarkdown("*b* | `c` [l](u) <i>")).toBe("\\*b\\* \\| \\`c\\` \\[l\\](u) \\<i\\>");
    expect(escapeMarkdown("# heading", { lineStart: true })).toBe("\\# heading");
    expect(escapeMarkdown("/usr/local/x-1.2")).toBe("/usr/local/x-1.2");
  });

  const evilReport = () =>
    analyze([
      sig({ id: "1", time: T0, killer: { comm: EVIL, exe: `/tmp/${EVIL}` }, victims: [{ comm: EVIL, uid: 1 }] }),
      sig({ id: "2", time: T0 + 5, killer: { comm: EVIL, exe: `/tmp/${EVIL}` }, victims: [{ comm: "other", uid: 2 }] }),
      sig({ id: "3", time: T0 + 9, killer: { comm: EVIL, exe: `/tmp/${EVIL}` }, success: false }),
    ]);

  test("a comm holding ESC and a newline is escaped in text, markdown and html", async () => {
    const report = await evilReport();
    expect(report.findings.length).toBeGreaterThan(0);
    // How the escaped comm reads in each format's source (Markdown escapes its own backslashes and brackets).
    const expected = {
      text: "evil\\x1b[2J\\x0aFAKE LINE",
      markdown: "evil\\\\x1b\\[2J\\\\x0aFAKE LINE",
      html: "evil\\x1b[2J\\x0aFAKE LINE",
    };
    for (const format of ["text", "markdown", "html"] as const) {
      const out = renderReport(report, format, { color: false });
      expect(out).not.toContain("\x1b");
      // The newline in comm must not start a forged line of its own.
      expect(out).not.toMatch(/^\s*FAKE LINE/m);
      expect(out).toContain(expected[format]);
    }
    // Colour adds our own sequences, never the input's.
    const colored = renderText(report, { color: true });
    expect(colored).toContain("\x1b[");
    expect(colored).not.toContain("\x1b[2J");
    expect(colored).toContain("evil\\x1b[2J\\x0aFAKE LINE");
  });

  test("json keeps the comm as it is (JSON's own escaping only)", async () => {
    const report = await evilReport();
    const text = renderJson(report);
    expect(text.endsWith("}\n")).toBe(true);
    expect(text.split("\n").length).toBe(2); // one line + final newline
    expect(text).not.toContain("\x1b");
    const parsed = JSON.parse(text);
    expect(parsed.kind).toBe("report");
    expect(parsed.summary.killers[0].comm).toBe(EVIL);
    expect(parsed.findings.some((f: { killer: { comm: string } | null }) => f.killer?.comm === EVIL)).toBe(true);
    // Stable: same input, same bytes; fixed top-level key order.
    expect(renderJson(await evilReport())).toBe(text);
    expect(Object.keys(parsed)).toEqual(["kind", "version", "summary", "findings", "crossCheck", "gaps", "coverage", "limits"]);
    expect(parsed.limits).toEqual({ pairsNotKept: 0, stormKillersNotKept: 0, causeSignalsNotGrouped: 0, parentDeathSignalsNotKept: 0 });
  });

  test("formatSignalRow: readable and escaped", () => {
    const [a, , c] = seedSignals();
    expect(formatSignalRow(a!)).toBe(
      "2010-09-23 12:37:07.433Z  roxen[4299] uid 0(root) /usr/local/roxen/server-4.5.241/pike/bin/pike  SIGKILL → 26880 findpid[26880] uid 1010  ok",
    );
    expect(formatSignalRow(c!)).toMatch(/SIGKILL → 26880 \(no such process\)  failed ESRCH$/);
    const evil = formatSignalRow(sig({ id: "e", time: T0, killer: { comm: EVIL, argv: [EVIL, "--x"] }, victims: [{ comm: EVIL, uid: 1 }] }));
    expect(evil).not.toContain("\x1b");
    expect(evil).not.toContain("\n");
    expect(evil).toContain("evil\\x1b[2J\\x0aFAKE LINE[4299]");
    const colored = formatSignalRow(a!, { color: true });
    expect(colored).toContain("\x1b[");
    expect(colored.replace(/\x1b\[\d+m/g, "")).toBe(formatSignalRow(a!));
  });

  test("hostile non-string values from JSON input do not get through", () => {
    const s = sig({ id: "x", time: T0 });
    (s.killer as unknown as { pid: unknown }).pid = "\x1b[2J";
    (s.target as unknown as { pid: unknown }).pid = "\x1b]0;title\x07";
    const row = formatSignalRow(s);
    expect(row).not.toContain("\x1b");
  });
});

describe("colour", () => {
  test("only on a TTY, never with NO_COLOR or to a file", () => {
    expect(shouldColor({ isTTY: true, env: {} })).toBe(true);
    expect(shouldColor({ isTTY: false, env: {} })).toBe(false);
    expect(shouldColor({ isTTY: undefined, env: {} })).toBe(false);
    expect(shouldColor({ isTTY: true, env: { NO_COLOR: "1" } })).toBe(false);
    expect(shouldColor({ isTTY: true, env: { NO_COLOR: "" } })).toBe(true);
    expect(shouldColor({ isTTY: true, env: {}, toFile: true })).toBe(false);
  });

  test("text has ANSI codes only when asked", async () => {
    const report = await analyze(seedSignals());
    expect(renderText(report, { color: false })).not.toContain("\x1b");
    expect(renderText(report, { color: true })).toContain("\x1b[");
    expect(renderText(report)).toContain("Timeline (per minute, UTC)");
    expect(renderText(report)).toMatch(/12:37 +│█+▒+ 3 \(1 failed\)/);
  });
});

describe("scripts/report.ts", () => {
  const dir = mkdtempSync(join(tmpdir(), "wk-report-"));
  const write = (name: string, signals: SignalLine[]) => {
    const path = join(dir, name);
    writeFileSync(path, signals.map((s) => JSON.stringify(s)).join("\n") + "\n");
    return path;
  };
  const seedFile = write("seed.jsonl", seedSignals());
  const cleanFile = write("clean.jsonl", [sig({ id: "1", time: T0, victims: [{ comm: "a", uid: 1 }] })]);
  const script = join(import.meta.dir, "..", "scripts", "report.ts");

  function run(args: string[], env: Record<string, string> = {}) {
    const proc = Bun.spawnSync([process.execPath, script, "--no-lookup", ...args], {
      env: { ...process.env, NO_COLOR: "", ...env },
      stdout: "pipe",
      stderr: "pipe",
    });
    return { code: proc.exitCode, stdout: proc.stdout.toString(), stderr: proc.stderr.toString() };
  }

  test("a log gathered from several hosts: each host's PIDs are its own (node is part of killer and victim)", () => {
    const log = join(import.meta.dir, "fixtures", "multi-node.log");
    const json = JSON.parse(run(["-f", log, "--format", "json"]).stdout);
    // The same agent hit PID 500 on web1 and web2 and found it free on web3: three hosts, no pattern.
    // On web1 alone it came back to PID 500, once to find it free: that is the stale PID.
    expect(json.summary.totals).toMatchObject({ signals: 5, killers: 3, victims: 3 });
    expect(json.summary.killers.map((k: { node: string; total: number }) => [k.node, k.total])).toEqual([["web1", 3], ["web3", 1], ["web2", 1]]);
    expect(json.summary.victims.map((v: { node: string; comm: string }) => `${v.node}/${v.comm}`).sort()).toEqual(["web1/backup.sh", "web1/nginx", "web2/postgres"]);
    const findings = json.findings.map((f: { id: string; killer: { node: string }; evidence: { count: number } }) => [f.id, f.killer.node, f.evidence.count]);
    expect(findings).toEqual([["stale-pid", "web1", 3], ["recycled-pid", "web1", 3]]);
    const text = run(["-f", log]).stdout;
    expect(text).toContain("agent on web1 (pid 700, uid 0, /usr/bin/agent) sent SIGTERM to PID 500 3 times");
    expect(text).toMatch(/^  #  NODE  COMM /m);
    expect(text).toMatch(/^  NODE  PID  COMM /m);
    expect(run(["-f", log, "--format", "markdown"]).stdout).toContain("| # | Node | Killer |");
    expect(run(["-f", log, "--format", "html"]).stdout).toContain("<th>Node</th>");
    // A single host's report has no NODE column.
    expect(run(["-f", seedFile]).stdout).not.toContain("NODE");
  });

  test("text report of the seed (signal lines in)", () => {
    const r = run(["-f", seedFile]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("stale-pid");
    expect(r.stdout).toContain("roxen");
    expect(r.stdout).not.toContain("\x1b"); // stdout is a pipe
  }, 30_000);

  const seedLog = join(import.meta.dir, "corpus", "seed", "ausearch-grep-kill.log");
  test("raw audit text in (the seed's grep'd SYSCALL lines)", () => {
    const r = run(["-f", seedLog, "--format", "json"]);
    expect(r.code).toBe(0);
    const parsed = JSON.parse(r.stdout);
    expect(parsed.findings.map((f: { id: string }) => f.id)).toEqual(["stale-pid"]);
    expect(parsed.summary.totals.signals).toBe(3);
  }, 30_000);

  test("--fail-on findings exits 3 when there are findings, 0 when clean", () => {
    expect(run(["-f", seedFile, "--fail-on", "findings"]).code).toBe(3);
    expect(run(["-f", cleanFile, "--fail-on", "findings"]).code).toBe(0);
    expect(run(["-f", seedFile, "--fail-on", "never"]).code).toBe(0);
  }, 30_000);

  test("--quiet-if-clean prints nothing at all on a clean run, the report otherwise", () => {
    const clean = run(["-f", cleanFile, "--quiet-if-clean"]);
    expect(clean).toEqual({ code: 0, stdout: "", stderr: "" });
    const dirty = run(["-f", seedFile, "--quiet-if-clean", "--fail-on", "findings"]);
    expect(dirty.code).toBe(3);
    expect(dirty.stdout).toContain("stale-pid");
  }, 30_000);

  test("--quiet-if-clean and --fail-on findings pass over info findings (a kill that was meant)", () => {
    const timeoutKiller = { pid: 950, comm: "timeout", exe: "/usr/bin/timeout", uid: 0, user: "root", argv: ["timeout", "1", "sleep", "10"] };
    const meant = write("timeout.jsonl", [sig({ id: "t1", time: T0, killer: timeoutKiller, target: 951, nr: 15, victims: [{ pid: 951, comm: "sleep", uid: 0 }] })]);
    const json = JSON.parse(run(["-f", meant, "--format", "json"]).stdout);
    expect(json.findings.map((f: { id: string; severity: string }) => `${f.id}:${f.severity}`)).toEqual(["timeout:info"]);
    expect(run(["-f", meant, "--quiet-if-clean", "--fail-on", "findings"])).toEqual({ code: 0, stdout: "", stderr: "" });
  }, 30_000);

  test("stdin, --output, formats, storm flags", () => {
    const out = join(dir, "r.html");
    const r = Bun.spawnSync([process.execPath, script, "--no-lookup", "--format", "html", "--output", out], {
      stdin: Bun.file(seedFile),
      stdout: "pipe",
      stderr: "pipe",
    });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.toString()).toBe("");
    expect(readFileSync(out, "utf8")).toContain("<svg");
    expect(run(["-f", seedFile, "--format", "markdown"]).stdout).toContain("# whokilled report");
    const storm = write("storm.jsonl", Array.from({ length: 12 }, (_, i) => sig({ id: `s${i}`, time: T0 + i / 4, killer: CRON, target: 3000 + i })));
    expect(run(["-f", storm, "--format", "json"]).stdout).not.toContain("signal-storm");
    expect(run(["-f", storm, "--format", "json", "--storm-threshold", "10", "--storm-window", "5"]).stdout).toContain("signal-storm");
    expect(run(["-f", storm, "--storm-threshold", "ten"]).code).toBe(2);
  }, 30_000);

  test("audit and tracefs in one run: twins merged, blind spots found, in either file order", () => {
    const audit = join(dir, "kill.log");
    writeFileSync(
      audit,
      'type=OBJ_PID msg=audit(1285245427.433:22): opid=26880 oauid=-1 ouid=1010 oses=-1 obj=(none) ocomm="findpid"\n' +
        'type=SYSCALL msg=audit(1285245427.433:22): arch=40000003 syscall=37 per=400000 success=yes exit=0 a0=6900 a1=9 a2=a0a95e0 a3=0 items=0 ppid=4274 pid=4299 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="roxen" exe="/usr/local/roxen/server-4.5.241/pike/bin/pike" key=(null)\n',
    );
    const record = (n: number, time: string, raw: string) =>
      JSON.stringify({ kind: "record", type: "SIGNAL_GENERATE", id: `${Date.parse(time) / 1000}:${n}`, node: null, raw, source: { file: "tracefs", line: n }, time });
    const trace = join(dir, "trace.jsonl");
    writeFileSync(
      trace,
      [
        record(1, "2010-09-23T12:37:07.600Z", "roxen-4299 [001] d..1. 440.413824: signal_generate: sig=9 errno=0 code=0 comm=findpid pid=26880 grp=1 res=0"),
        record(2, "2010-09-23T12:37:08.000Z", "mysqld-5000 [000] d..1. 441.000000: signal_generate: sig=9 errno=0 code=128 comm=mysqld pid=5000 grp=1 res=0"),
        record(3, "2010-09-23T12:37:08.100Z", "sneaky-777 [000] d..1. 441.100000: signal_generate: sig=15 errno=0 code=0 comm=app pid=778 grp=1 res=0"),
      ].join("\n") + "\n",
    );
    for (const files of [["-f", audit, "-f", trace], ["-f", trace, "-f", audit]]) {
      const r = run([...files, "--format", "json"]);
      expect(r.code).toBe(0);
      const parsed = JSON.parse(r.stdout);
      expect(parsed.crossCheck).toEqual({ merged: 1, unmatched: 1, noAudit: 0 });
      expect(parsed.summary.totals.signals).toBe(3);
      const headlines = parsed.findings.map((f: { id: string; headline: string }) => `${f.id}: ${f.headline}`);
      expect(headlines.length).toBe(2);
      expect(headlines.some((h: string) => /^blind-spot: The kernel itself sent SIGKILL to mysqld\[5000\]/.test(h))).toBe(true);
      expect(headlines.some((h: string) => /^blind-spot: sneaky \(pid 777\) sent SIGTERM/.test(h))).toBe(true);
    }
  }, 30_000);

  test("filters from signalFilterArgs apply", () => {
    const r = run(["-f", seedFile, "--format", "json", "--failed"]);
    const parsed = JSON.parse(r.stdout);
    expect(parsed.summary.totals.signals).toBe(1);
  }, 30_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));
});
