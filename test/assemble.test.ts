/**
 * The event assembler's duplicate folding (lib/audit/assemble.ts): a record
 * identical to one already in its event (the same log fed twice) is folded
 * into it, whether the event is small (compared one by one) or holds
 * thousands of records under one stamp (compared through a body hash).
 */
import { describe, expect, test } from "bun:test";
import { EventAssembler, type AssembledEvent, type PendingRecord } from "../lib/audit/assemble.ts";
import { ByteRecord } from "../lib/audit/bytes/record.ts";

const STAMP = "1700000000.000:77";
const prefix = `type=PATH msg=audit(${STAMP}): `;

function pathRecord(item: number, asBytes: boolean): PendingRecord {
  const raw = `${prefix}item=${item} name="/tmp/f${item}" nametype=NORMAL`;
  if (!asBytes) return { type: "PATH", raw, bodyStart: prefix.length, source: { file: "t", line: item + 1 } };
  const bytes = Buffer.from(`junk\n${raw}\n`, "latin1");
  return new ByteRecord("PATH", bytes, 5, 5 + raw.length, prefix.length, "t", item + 1);
}

function assemble(records: PendingRecord[], maxRecords?: number): { events: AssembledEvent[]; duplicates: number } {
  const events: AssembledEvent[] = [];
  const assembler = new EventAssembler((event) => events.push(event), { maxRecords });
  for (const record of records) assembler.push(null, STAMP, 1700000000, 0, record, 77);
  assembler.flush();
  return { events, duplicates: assembler.duplicates };
}

describe("duplicate records in one event", () => {
  for (const size of [5, 31, 32, 33, 2000]) {
    test(`${size} distinct records, each fed twice (bytes, then text): one event of ${size}, ${size} folded`, () => {
      const first = Array.from({ length: size }, (_, i) => pathRecord(i, true));
      const again = Array.from({ length: size }, (_, i) => pathRecord(size - 1 - i, false));
      const { events, duplicates } = assemble([...first, ...again]);
      expect(events.length).toBe(1);
      expect(duplicates).toBe(size);
      // The first copy of each stays, in arrival order.
      expect(events[0]!.records).toEqual(first);
    });
  }

  test("records that differ only after the stamp's prefix are all kept, past the hash threshold too", () => {
    const records = Array.from({ length: 100 }, (_, i) => pathRecord(i % 50, i % 2 === 0));
    const { events, duplicates } = assemble(records);
    expect(duplicates).toBe(50);
    expect(events[0]!.records.map((r) => r.raw.slice(prefix.length).split(" ")[0])).toEqual(Array.from({ length: 50 }, (_, i) => `item=${i}`));
  });
});

describe("an event that never ends", () => {
  test("is closed at maxRecords with a warning; the rest of its id forms further events, nothing lost", () => {
    const records = Array.from({ length: 25 }, (_, i) => pathRecord(i, i % 3 === 0));
    const { events } = assemble(records, 10);
    expect(events.map((e) => e.records.length)).toEqual([10, 10, 5]);
    expect(events.flatMap((e) => e.records)).toEqual(records);
    expect(events.map((e) => e.id)).toEqual([STAMP, STAMP, STAMP]);
    expect(events[0]!.warnings).toEqual(["closed at 10 records, more than any kernel event has; further records with this id form further events"]);
    expect(events[1]!.warnings?.length).toBe(2);
    expect(events[2]!.warnings).toEqual(["records of this event arrived after it was closed; they form a second event with the same id"]);
  });

  test("the default leaves room for the biggest kernel events", () => {
    const records = Array.from({ length: 2000 }, (_, i) => pathRecord(i, true));
    expect(assemble(records).events.length).toBe(1);
  });
});

describe("records out of stamp order", () => {
  let made = 0;
  /** A CWD record of event `serial` (it never closes its event by itself), each one different: identical ones would fold. */
  function cwd(serial: number): PendingRecord {
    const head = `type=CWD msg=audit(1700000000.000:${serial}): `;
    return { type: "CWD", raw: `${head}cwd="/${made++}"`, bodyStart: head.length };
  }
  function run(pushes: Array<[string | null, number]>, options = {}): AssembledEvent[] {
    const events: AssembledEvent[] = [];
    const assembler = new EventAssembler((event) => events.push(event), options);
    for (const [node, serial] of pushes) assembler.push(node, `1700000000.000:${serial}`, 1700000000, 0, cwd(serial), serial);
    assembler.flush();
    return events;
  }
  const shape = (events: AssembledEvent[]) => events.map((e) => `${e.node ?? "-"}/${e.id.split(":")[1]}×${e.records.length}${e.warnings ? "!" : ""}`);

  // Far enough back that the newest events alone cannot answer: the index by serial is built.
  for (const open of [3, 31, 32, 33, 500]) {
    test(`a record for the oldest of ${open} open events joins it`, () => {
      const serials = Array.from({ length: open }, (_, i) => 100 + i);
      const events = run([...serials.map((s): [null, number] => [null, s]), [null, 100], [null, 100 + open - 1], [null, 99]]);
      expect(events.length).toBe(open + 1);
      expect(events.find((e) => e.id.endsWith(":100"))!.records.length).toBe(2);
      expect(events.find((e) => e.id.endsWith(`:${100 + open - 1}`))!.records.length).toBe(2);
      expect(events.find((e) => e.id.endsWith(":99"))!.records.length).toBe(1);
    });
  }

  test("hosts sharing serials stay apart, before and after the index", () => {
    const pushes: Array<[string, number]> = [];
    for (let round = 0; round < 3; round++) for (let host = 0; host < 40; host++) pushes.push([`h${host}`, 5 + (round === 2 ? 1 : 0)]);
    const events = run(pushes);
    expect(events.length).toBe(80);
    expect(events.filter((e) => e.id.endsWith(":5")).every((e) => e.records.length === 2)).toBe(true);
    expect(new Set(events.map((e) => `${e.node}/${e.id}`)).size).toBe(80);
  });

  test("a record after its event closed forms a second event with a warning, however many events closed since", () => {
    // maxInFlight 1: each new event closes the one before it.
    for (const between of [1, 40, 5000]) {
      const pushes: Array<[null, number]> = [[null, 7], ...Array.from({ length: between }, (_, i): [null, number] => [null, 1000 + i]), [null, 7]];
      const events = run(pushes, { maxInFlight: 1 });
      expect(shape(events).filter((s) => s.startsWith("-/7×"))).toEqual(["-/7×1", "-/7×1!"]);
    }
  });
});

describe("memory", () => {
  test("events that close in order leave nothing behind: the queue of open events stays as long as what is open", () => {
    const assembler = new EventAssembler(() => {});
    for (let serial = 1; serial <= 200_000; serial++) {
      // 100 events a second, each closed by audit time two seconds on.
      const seconds = 1700000000 + Math.floor(serial / 100);
      const head = `type=CWD msg=audit(${seconds}.000:${serial}): `;
      assembler.push(null, `${seconds}.000:${serial}`, seconds, 0, { type: "CWD", raw: `${head}cwd="/"`, bodyStart: head.length }, serial);
    }
    const queued = (assembler as unknown as { order: unknown[] }).order.length;
    expect(queued).toBeLessThan(20_000);
    assembler.flush();
  });
});
