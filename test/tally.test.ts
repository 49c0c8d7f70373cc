import { describe, expect, test } from "bun:test";
import { BoundedMap, EvictionOrder, PidSet, rankedRecord, setBounded, Tally } from "../lib/signals/tally.ts";

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

describe("BoundedMap", () => {
  interface Entry {
    key: string;
    hits: number;
  }
  const table = (max: number) => new BoundedMap<Entry>(max, (e) => e.key, (e) => e.hits === 1);
  const put = (map: BoundedMap<Entry>, key: string, hits = 1): boolean => {
    if (!map.makeRoom()) return false;
    map.add({ key, hits });
    return true;
  };

  test("under max every entry is kept and nothing is counted", () => {
    const map = table(3);
    for (const key of ["a", "b", "c"]) expect(put(map, key)).toBe(true);
    expect([...map.values()].map((e) => e.key)).toEqual(["a", "b", "c"]);
    expect(map.notKept).toBe(0);
  });

  test("when full, the oldest entry that may go makes room; one that may not stays", () => {
    const map = table(3);
    put(map, "a", 2);
    put(map, "b");
    put(map, "c");
    expect(put(map, "d")).toBe(true);
    expect(map.get("b")).toBeUndefined();
    expect(map.get("a")?.hits).toBe(2);
    expect([...map.values()].map((e) => e.key)).toEqual(["a", "c", "d"]);
    expect(map.notKept).toBe(1);
  });

  test("when none may go, the new entry is turned away, and counted", () => {
    const map = table(2);
    put(map, "a", 2);
    put(map, "b", 3);
    expect(put(map, "c")).toBe(false);
    expect(put(map, "d")).toBe(false);
    expect(map.size).toBe(2);
    expect(map.notKept).toBe(2);
  });

  test("an entry passed over while it could not go is not reconsidered later", () => {
    const map = table(2);
    const a = { key: "a", hits: 2 };
    map.makeRoom();
    map.add(a);
    put(map, "b");
    expect(put(map, "c")).toBe(true); // b goes; a was passed over
    a.hits = 1;
    expect(put(map, "d")).toBe(true); // c goes: a left the order when it was passed over
    expect([...map.values()].map((e) => e.key).sort()).toEqual(["a", "d"]);
  });
});

describe("setBounded", () => {
  test("holds at most max keys; the least recently set goes first, and setting a key again makes it the newest", () => {
    const map = new Map<string, number>();
    for (const [key, value] of [["a", 1], ["b", 2], ["c", 3]] as const) setBounded(map, key, value, 3);
    expect([...map]).toEqual([["a", 1], ["b", 2], ["c", 3]]);
    setBounded(map, "a", 10, 3); // re-set: no eviction, a moves to the end
    expect([...map]).toEqual([["b", 2], ["c", 3], ["a", 10]]);
    setBounded(map, "d", 4, 3); // full: b, the least recently set, goes
    expect([...map]).toEqual([["c", 3], ["a", 10], ["d", 4]]);
  });

  test("the same keys and order as setting then trimming past max (the trace-tasks and pidfd tables' old way)", () => {
    const bounded = new Map<number, number>();
    const trimmed = new Map<number, number>();
    let seed = 7;
    for (let i = 0; i < 2000; i++) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const key = seed % 37;
      setBounded(bounded, key, i, 16);
      trimmed.delete(key);
      trimmed.set(key, i);
      if (trimmed.size > 16) trimmed.delete(trimmed.keys().next().value!);
      expect([...bounded]).toEqual([...trimmed]);
    }
  });
});
