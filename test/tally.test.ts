import { describe, expect, test } from "bun:test";
import { EvictionOrder, PidSet, rankedRecord, Tally } from "../lib/signals/tally.ts";

describe("Tally", () => {
  test("counts names like a Map, ranks like rankedRecord", () => {
    const tally = new Tally();
    const reference = new Map<string, number>();
    const names = ["SIGKILL", "SIGTERM", "SIGKILL", "SIGHUP", "SIGTERM", "SIGKILL", "EPERM", "ESRCH", "ESRCH"];
    for (const name of names) {
      tally.bump(name);
      reference.set(name, (reference.get(name) ?? 0) + 1);
    }
    tally.bump("SIGHUP", 2);
    reference.set("SIGHUP", reference.get("SIGHUP")! + 2);
    expect(tally.size).toBe(reference.size);
    expect(tally.has("SIGTERM")).toBe(true);
    expect(tally.has("SIGINT")).toBe(false);
    expect(Object.entries(tally.ranked())).toEqual(Object.entries(rankedRecord(reference)));
    expect(Object.keys(tally.ranked())).toEqual(["SIGHUP", "SIGKILL", "ESRCH", "SIGTERM", "EPERM"]);
  });

  test("a name that looks like a number is still a name", () => {
    const tally = new Tally();
    tally.bump("1");
    tally.bump("1");
    tally.bump("2", 5);
    expect(tally.entries()).toEqual([
      ["1", 2],
      ["2", 5],
    ]);
  });
});

describe("PidSet", () => {
  test("the same answers as a Set, before and after it outgrows its array", () => {
    const pids = new PidSet();
    const reference = new Set<number>();
    for (const pid of [5, 3, 5, 900, -1, 0, 3, ...Array.from({ length: 40 }, (_, i) => 1000 - i), 5, 999]) {
      pids.add(pid);
      reference.add(pid);
      expect(pids.size).toBe(reference.size);
    }
    for (const pid of [5, 3, 900, -1, 0, 961, 960, 4, 1001]) expect(pids.has(pid)).toBe(reference.has(pid));
    expect(pids.sorted()).toEqual([...reference].sort((a, b) => a - b));
  });
});

describe("EvictionOrder", () => {
  test("gives the oldest entry the test accepts, each entry once, across its compactions", () => {
    const order = new EvictionOrder<number>();
    for (let i = 0; i < 20_000; i++) order.push(i);
    // Odd numbers "were hit again": passed over, never given.
    const taken: number[] = [];
    for (let i = 0; i < 9_000; i++) taken.push(order.takeOldest((n) => n % 2 === 0)!);
    expect(taken).toEqual(Array.from({ length: 9_000 }, (_, i) => 2 * i));
    order.push(20_000);
    expect(order.takeOldest((n) => n % 2 === 0)).toBe(18_000);
    expect(order.takeOldest(() => true)).toBe(18_001);
  });

  test("null once nothing can go, and the entries passed over are dropped", () => {
    const order = new EvictionOrder<string>();
    order.push("a");
    order.push("b");
    expect(order.takeOldest(() => false)).toBeNull();
    order.push("c");
    expect(order.takeOldest(() => true)).toBe("c");
    expect(order.takeOldest(() => true)).toBeNull();
  });
});
