/**
 * The event assembler's duplicate folding (lib/audit/assemble.ts): a record
 * identical to one already in its event (the same log fed twice) is folded
 * into it, whether the event is small (compared one by one) or holds
 * thousands of records under one stamp (compared through a body hash).
 */
import { describe, expect, test } from "bun:test";
import { EventAssembler, type AssembledEvent, type PendingRecord } from "../lib/audit/assemble.ts";
import { ByteRecord } from "../lib/audit/byte-record.ts";

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
