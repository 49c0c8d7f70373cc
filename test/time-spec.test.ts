/**
 * --since/--until times (lib/signals/time-spec.ts). Expected local times are built
 * with new Date(y, m, d, …), so the tests hold in any TZ; the script test in
 * scripts.test.ts runs one value under two zones.
 */
import { describe, expect, test } from "bun:test";
import { parseTimeSpec, isoMs } from "../lib/signals/time-spec.ts";

// Sunday 2026-11-29 15:42:17.250, local time.
const now = new Date(2026, 10, 29, 15, 42, 17, 250);
const at = (value: string) => parseTimeSpec(value, now);

describe("parseTimeSpec", () => {
  test("epoch seconds, with or without a fraction", () => {
    expect(at("1285245427")).toBe(1285245427000);
    expect(at("1285245427.433")).toBe(1285245427433);
    expect(at(" 0 ")).toBe(0);
    expect(at("1.005")).toBe(1005); // 1.005 * 1000 is 1004.9999… in floating point
  });

  test("ISO 8601 without a zone is local time, the date alone too", () => {
    expect(at("2010-09-23")).toBe(new Date(2010, 8, 23).getTime());
    expect(at("2010-09-23 12:37")).toBe(new Date(2010, 8, 23, 12, 37).getTime());
    expect(at("2010-09-23T12:37:07")).toBe(new Date(2010, 8, 23, 12, 37, 7).getTime());
    expect(at("2010-09-23 12:37:07.433")).toBe(new Date(2010, 8, 23, 12, 37, 7, 433).getTime());
    expect(at("2010-09-23 12:37:07,5")).toBe(new Date(2010, 8, 23, 12, 37, 7, 500).getTime());
    expect(at("0099-01-02")).toBe(new Date(2000, 0, 2).setFullYear(99, 0, 2)); // not 1999
  });

  test("with a zone: Z or an offset, with or without its colon", () => {
    expect(at("2010-09-23T12:37:07Z")).toBe(Date.UTC(2010, 8, 23, 12, 37, 7));
    expect(at("2010-09-23t12:37:07.433z")).toBe(Date.UTC(2010, 8, 23, 12, 37, 7, 433));
    expect(at("2010-09-23T14:37:07+02:00")).toBe(Date.UTC(2010, 8, 23, 12, 37, 7));
    expect(at("2010-09-23T07:37:07-0500")).toBe(Date.UTC(2010, 8, 23, 12, 37, 7));
    expect(at("2010-09-23Z")).toBe(Date.UTC(2010, 8, 23));
  });

  test("impossible dates and times are refused, not rolled over", () => {
    for (const bad of ["2010-02-29", "2010-13-01", "2010-00-10", "2010-09-31", "2010-09-23 24:00", "2010-09-23 12:60", "2010-09-23 12:37:60", "2010-09-23T12:00+24:00"]) {
      expect(at(bad)).toBeNull();
    }
    expect(at("2012-02-29")).toBe(new Date(2012, 1, 29).getTime());
  });

  test("ausearch's keywords, from local midnight or the hour", () => {
    expect(at("now")).toBe(now.getTime());
    expect(at("recent")).toBe(now.getTime() - 10 * 60_000);
    expect(at("this-hour")).toBe(new Date(2026, 10, 29, 15).getTime());
    expect(at("today")).toBe(new Date(2026, 10, 29).getTime());
    expect(at("Yesterday")).toBe(new Date(2026, 10, 28).getTime());
    expect(at("week-ago")).toBe(new Date(2026, 10, 22).getTime());
    expect(at("this-month")).toBe(new Date(2026, 10, 1).getTime());
    expect(at("this-year")).toBe(new Date(2026, 0, 1).getTime());
    // Month and year boundaries come from Date's own arithmetic.
    expect(parseTimeSpec("yesterday", new Date(2026, 0, 1, 0, 30))).toBe(new Date(2025, 11, 31).getTime());
  });

  test("a duration back from now: 2h, -2h and 2h ago are the same", () => {
    const twoHours = now.getTime() - 2 * 3_600_000;
    expect(at("2h")).toBe(twoHours);
    expect(at("-2h")).toBe(twoHours);
    expect(at("2h ago")).toBe(twoHours);
    expect(at("90s")).toBe(now.getTime() - 90_000);
    expect(at("30min")).toBe(now.getTime() - 30 * 60_000);
    expect(at("30m")).toBe(now.getTime() - 30 * 60_000);
    expect(at("1d")).toBe(now.getTime() - 86_400_000);
    expect(at("1w")).toBe(now.getTime() - 7 * 86_400_000);
  });

  test("what Date.parse would take loosely is refused", () => {
    for (const bad of ["", "foo", "1e3", "-5", "+2h", "2 h", "2hours", "2010-9-23", "23/09/2010", "Sep 23 2010", "2010-09-23 12", "2010-09-23T12:37:07+2", "today 12:00", "99999999999999999999"]) {
      expect([bad, at(bad)]).toEqual([bad, null]);
    }
  });
});

describe("isoMs", () => {
  test("agrees with Date.parse on our lines' times, in and out of order, and on any other form", () => {
    const times: string[] = [];
    for (let ms = 1285245427000; ms < 1285245430000; ms += 37) times.push(new Date(ms).toISOString());
    times.push(...times.slice(0, 20).reverse());
    times.push(
      "2010-09-23T12:37:07Z",
      "2010-09-23T12:37:07.4Z",
      "2010-09-23T12:37:07.433+02:00",
      "2010-09-23T12:37:07.4x3Z",
      "2010-02-30T00:00:00.000Z",
      "2010-09-23T12:37:60.000Z",
      "not a time at all, 24 ch",
      "",
      "1970-01-01T00:00:00.000Z",
      "2010-09-23T12:37:07.433Z",
    );
    for (const iso of times) expect({ iso, ms: isoMs(iso) }).toEqual({ iso, ms: Date.parse(iso) });
  });
});
