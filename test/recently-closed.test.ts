/**
 * The assembler's memory of closed events (lib/audit/recently-closed.ts): a
 * ring of the last N keys, read newest first until a question needs an
 * index by serial, which is then kept up as the ring turns over.
 */
import { describe, expect, test } from "bun:test";
import { RecentlyClosed } from "../lib/audit/recently-closed.ts";
import { KeyedSerialIndex, SerialIndex } from "../lib/audit/serial-index.ts";

/** The plain answer: is (serial, key) among the last `capacity` added? */
function naive(added: Array<[number, string]>, capacity: number, serial: number, key: string): boolean {
  return added.slice(-capacity).some(([s, k]) => s === serial && k === key);
}

/** Deterministic numbers below n (an LCG), so a failing step can be replayed. */
function seededRandom(seed: number): (n: number) => number {
  return (n) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
}

describe("RecentlyClosed", () => {
  test("answers as a plain list of the last N would, through the ring turning over and the index", () => {
    const capacity = 100;
    const closed = new RecentlyClosed(capacity);
    const added: Array<[number, string]> = [];
    const random = seededRandom(1);
    for (let step = 0; step < 5000; step++) {
      // Few serials and keys, so serials are shared and keys closed twice.
      const serial = random(60);
      const key = `h${random(3)}:${serial}`;
      if (random(3) === 0) {
        expect({ step, serial, key, has: closed.has(serial, key) }).toEqual({ step, serial, key, has: naive(added, capacity, serial, key) });
      } else {
        closed.add(serial, key);
        added.push([serial, key]);
      }
    }
  });

  test("before any index: the newest entries answer, and a short ring answers in full", () => {
    const closed = new RecentlyClosed(1000);
    for (let i = 0; i < 10; i++) closed.add(i, `k${i}`);
    expect(closed.has(0, "k0")).toBe(true);
    expect(closed.has(0, "k1")).toBe(false);
    expect(closed.has(10, "k10")).toBe(false);
  });
});

describe("SerialIndex", () => {
  test("answers as a Map would over random sets, gets and deletes: clusters shifted back, growth, serials past 2^32", () => {
    const index = new SerialIndex<number>(4);
    const map = new Map<number, number>();
    const random = seededRandom(7);
    // Few distinct serials, so probes collide and deletes shift clusters; some far above 32 bits.
    const serialOf = (n: number) => (n % 5 === 0 ? 2 ** 40 + n : n % 7 === 0 ? 2 ** 53 - 1 - n : n);
    for (let step = 0; step < 20_000; step++) {
      const serial = serialOf(random(300));
      const op = random(3);
      if (op === 0) {
        index.set(serial, step);
        map.set(serial, step);
      } else if (op === 1) {
        expect({ step, deleted: index.delete(serial) }).toEqual({ step, deleted: map.delete(serial) });
      } else {
        expect({ step, value: index.get(serial) }).toEqual({ step, value: map.get(serial) });
      }
      expect(index.size).toBe(map.size);
    }
    for (const [serial, value] of map) expect(index.get(serial)).toBe(value);
  });
});

describe("KeyedSerialIndex", () => {
  test("answers as a Map by (serial, key) would: one value per serial, or several keys sharing one; delete only takes the value its key holds", () => {
    interface Entry {
      key: string;
      step: number;
    }
    const index = new KeyedSerialIndex<Entry>(4, (entry) => entry.key);
    const map = new Map<string, Entry>();
    const random = seededRandom(11);
    for (let step = 0; step < 20_000; step++) {
      const serial = random(40);
      const key = `h${random(4)}:${serial}`;
      const op = random(3);
      if (op === 0) {
        const entry = { key, step };
        index.set(serial, entry);
        map.set(`${serial}/${key}`, entry);
      } else if (op === 1) {
        // Half the time a stale value (an older entry of that key), which must not take the newer one out.
        const held = map.get(`${serial}/${key}`);
        const value = held !== undefined && random(2) === 0 ? held : { key, step: -1 };
        index.delete(serial, value);
        if (held === value) map.delete(`${serial}/${key}`);
      } else {
        expect({ step, value: index.get(serial, key) }).toEqual({ step, value: map.get(`${serial}/${key}`) });
      }
    }
    for (const [both, entry] of map) expect(index.get(Number(both.split("/")[0]), entry.key)).toBe(entry);
  });
});
