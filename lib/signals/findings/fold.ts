/**
 * Fold a killer's many findings of one kind into a few and a summary. A
 * program that kills in a loop over many PIDs raises stale-pid once per PID:
 * tens of thousands of paragraphs nobody reads, and a renderer that needs a
 * gigabyte. The best few (KEEP_PER_KILLER) stay as they are; the rest become one finding
 * that counts them, sums their evidence and lists some of their PIDs. The
 * signal lines (`attribute`) still hold every call.
 */
import { describeProcess, plural } from "../describe.ts";
import type { Finding } from "./types.ts";

export const KEEP_PER_KILLER = 5;
/** PIDs named in the folded finding (of its best-evidenced ones), in numeric order. */
const LISTED_PIDS = 20;
const EXAMPLES = 5;

function groupKey(finding: Finding): string {
  return `${finding.id}\n${finding.killer?.key ?? ""}`;
}

/** Best first; ties keep the order the findings were raised in (as a stable sort does). */
export type FindingOrder = (a: Finding, b: Finding) => number;

interface Ranked<T> {
  finding: Finding;
  /** Arrival order, the last tie-break. */
  seq: number;
  value: T;
}

/** The best `max` of what is offered, in order: what folding reads of the rest past the first few. */
class BestOf<T> {
  readonly items: Ranked<T>[] = [];

  constructor(
    private readonly order: FindingOrder,
    private readonly max: number,
  ) {}

  /** Keep `item` if it is among the best `max`; returns the item it pushed out, if any. */
  offer(item: Ranked<T>): Ranked<T> | null {
    const items = this.items;
    let at = items.length;
    while (at > 0 && (this.order(item.finding, items[at - 1]!.finding) || item.seq - items[at - 1]!.seq) < 0) at--;
    if (at >= this.max) return item;
    items.splice(at, 0, item);
    return items.length > this.max ? items.pop()! : null;
  }
}

/**
 * The findings of one group past its best KEEP_PER_KILLER, folded as they come, in any
 * order: sums over all of them, and only the few the folded finding names
 * (the best of them, its first PIDs and examples) are held.
 */
class RestFold {
  private n = 0;
  private count = 0;
  private first: string | null = null;
  private last: string | null = null;
  /** Each count's sum, and the best finding that had it: the folded counts are named in the order the best of the rest first name them. */
  private readonly counts = new Map<string, { sum: number; firstIn: BestOf<number> }>();
  private readonly model: BestOf<null>;
  private readonly pids: BestOf<number>;
  private readonly examples: BestOf<string>;

  constructor(private readonly order: FindingOrder) {
    this.model = new BestOf(order, 1);
    this.pids = new BestOf(order, LISTED_PIDS);
    this.examples = new BestOf(order, EXAMPLES);
  }

  add(finding: Finding, seq: number): void {
    this.n++;
    const evidence = finding.evidence;
    this.count += evidence.count;
    if (evidence.first !== null && (this.first === null || evidence.first < this.first)) this.first = evidence.first;
    if (evidence.last !== null && (this.last === null || evidence.last > this.last)) this.last = evidence.last;
    Object.entries(evidence.counts).forEach(([name, n], index) => {
      let count = this.counts.get(name);
      if (!count) this.counts.set(name, (count = { sum: 0, firstIn: new BestOf(this.order, 1) }));
      count.sum += n;
      count.firstIn.offer({ finding, seq, value: index });
    });
    this.model.offer({ finding, seq, value: null });
    const pid = finding.target?.pid;
    if (typeof pid === "number") this.pids.offer({ finding, seq, value: pid });
    const example = evidence.examples[0];
    if (example !== undefined) this.examples.offer({ finding, seq, value: example });
  }

  private foldedCounts(): Record<string, number> {
    const out: Record<string, number> = { findings: this.n };
    const first = (count: { firstIn: BestOf<number> }) => count.firstIn.items[0]!;
    const named = [...this.counts].sort(([, a], [, b]) => this.order(first(a).finding, first(b).finding) || first(a).seq - first(b).seq || first(a).value - first(b).value);
    for (const [name, count] of named) out[name] = (out[name] ?? 0) + count.sum;
    return out;
  }

  /** The one finding that stands for them all (none added: null). */
  finding(): Finding | null {
    const model = this.model.items[0]?.finding;
    if (!model) return null;
    const who = model.killer ? describeProcess(model.killer) : "senders audit did not see";
    const pids = this.pids.items.map((item) => item.value).sort((a, b) => a - b);
    const pidText = pids.length > 0 ? `, on PID${pids.length > 1 ? "s" : ""} ${pids.join(", ")}${this.n > pids.length ? ", …" : ""}` : "";
    return {
      id: model.id,
      title: model.title,
      // The best of the rest is sorted first, severity before all else.
      severity: model.severity,
      headline: `…and ${plural(this.n, "more finding")} of this kind for ${who}${pidText}: ${plural(this.count, "signal")} in all`,
      explanation:
        `The same pattern as the findings above, for the same sender, ${plural(this.n, "time")} more. ` +
        `They are folded into this one so the report stays readable; the ${KEEP_PER_KILLER} above have the most evidence.`,
      advice: "As for the findings above. `attribute` with --killer (and --pid for one PID) lists every signal behind them.",
      killer: model.killer,
      target: null,
      evidence: { count: this.count, first: this.first, last: this.last, examples: this.examples.items.map((item) => item.value), counts: this.foldedCounts(), notes: [] },
    };
  }
}

/**
 * Folds a detector at a time and a finding at a time, so a run never holds a
 * detector's thousands of findings (a few KB apiece, all but a few per killer
 * folded anyway): each group keeps its best KEEP_PER_KILLER and folds the rest as they
 * come. The result is what sorting every finding (stably, by `order`) and
 * then folding each group's rest would give: a group is one detector's (the
 * id is the detector's), and ties go by arrival.
 */
export class FindingFolder {
  private readonly kept: Finding[] = [];
  /** Group key → the finding that stands for the group past its best KEEP_PER_KILLER. */
  private readonly folded = new Map<string, Finding>();

  constructor(private readonly order: FindingOrder) {}

  /** One detector's findings, taken one at a time as it raises them. */
  add(findings: Iterable<Finding>): void {
    // Each group (a detector's findings about one killer): its best KEEP_PER_KILLER as they stand, the rest folded.
    const groups = new Map<string, { best: BestOf<null>; rest: RestFold }>();
    let seq = 0;
    for (const finding of findings) {
      const key = groupKey(finding);
      let group = groups.get(key);
      if (!group) groups.set(key, (group = { best: new BestOf(this.order, KEEP_PER_KILLER), rest: new RestFold(this.order) }));
      const out = group.best.offer({ finding, seq: seq++, value: null });
      if (out) group.rest.add(out.finding, out.seq);
    }
    // Kept in the order raised: findings() sorts them all, stably.
    const kept = [...groups.values()].flatMap((group) => group.best.items).sort((a, b) => a.seq - b.seq);
    for (const item of kept) this.kept.push(item.finding);
    for (const [key, group] of groups) {
      const folded = group.rest.finding();
      if (folded) this.folded.set(key, folded);
    }
  }

  /** Every detector's findings, sorted and folded. */
  findings(): Finding[] {
    const out: Finding[] = [];
    const shown = new Map<string, number>();
    for (const finding of this.kept.sort(this.order)) {
      out.push(finding);
      const key = groupKey(finding);
      const n = (shown.get(key) ?? 0) + 1;
      shown.set(key, n);
      const folded = n === KEEP_PER_KILLER ? this.folded.get(key) : undefined;
      if (folded) out.push(folded);
    }
    return out;
  }
}
