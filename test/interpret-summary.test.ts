/**
 * attribute's cheap summary of a kill-family event (lib/audit/interpret-summary.ts)
 * against interpretEvent, the reference: for every event of every fixture,
 * corpus file and generated log, either the summary declines (null) or it
 * makes the same signal line and the same summary fields. It must also take
 * nearly every kill-family event, or it is not worth having.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_SEED, generateString } from "../bench/gen-log.ts";
import type { AssembledEvent } from "../lib/audit/assemble.ts";
import { Decoder } from "../lib/audit/decoder.ts";
import { InputErrors } from "../lib/audit/input-errors.ts";
import { decodeEscaped, interpretEvent, type InterpretOptions } from "../lib/audit/interpret.ts";
import { summarizeSignalEvent } from "../lib/audit/interpret-summary.ts";
import { eventToSignal } from "../lib/signals/attribute.ts";
import { fixtureAndCorpusLogs, minimalPasswdIds, noLookupIds } from "./helpers/run.ts";

const dir = mkdtempSync(join(tmpdir(), "wk-summary-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function eventsOf(text: string, file: string): AssembledEvent[] {
  const events: AssembledEvent[] = [];
  const decoder = new Decoder({ errors: new InputErrors({ strict: false, print: () => {} }) }, (event) => events.push(event));
  text.split("\n").forEach((line, i) => {
    if (line !== "") decoder.pushRaw(line, { file, line: i + 1 });
  });
  decoder.flush();
  return events;
}

/** The summary against the reference over these events: what each made, and how many the summary took. */
function compare(events: AssembledEvent[], options: InterpretOptions) {
  let taken = 0;
  let signals = 0;
  const declined: string[] = [];
  for (const event of events) {
    const full = interpretEvent(event, options);
    const reference = eventToSignal(full);
    if (reference) signals++;
    const summary = summarizeSignalEvent(event, options);
    if (summary === null) {
      if (reference) declined.push(event.id);
      continue;
    }
    taken++;
    const { records: _r, warnings: _w, ...fullSummary } = full;
    const { records: _s, ...leanSummary } = summary;
    expect({ id: event.id, summary: leanSummary }).toEqual({ id: event.id, summary: fullSummary });
    expect({ id: event.id, signal: eventToSignal(summary) }).toEqual({ id: event.id, signal: reference });
  }
  return { taken, signals, declined };
}

const noLookup = noLookupIds;
const withPasswd = minimalPasswdIds;

describe("summary of a kill-family event = interpretEvent's", () => {
  let totalTaken = 0;
  let totalSignals = 0;

  for (const { path, name } of fixtureAndCorpusLogs()) {
    test(name, () => {
      const events = eventsOf(readFileSync(path, "utf8"), path);
      for (const options of [noLookup, withPasswd]) {
        const { taken, signals } = compare(events, options);
        expect(taken).toBeLessThanOrEqual(signals);
        if (options === noLookup) {
          totalTaken += taken;
          totalSignals += signals;
        }
      }
    });
  }

  test("generated logs (both ABIs, all six calls, hex and enriched fields, a non-ASCII comm)", () => {
    for (const seed of [DEFAULT_SEED, 7, 99]) {
      const path = join(dir, `generated-${seed}.log`);
      const text = generateString({ seed, lines: 20_000 }).text;
      writeFileSync(path, text);
      const { taken, signals, declined } = compare(eventsOf(text, path), noLookup);
      expect(signals).toBeGreaterThan(100);
      // Only the odd event is left to the reference path.
      expect({ seed, declined: declined.length }).toEqual({ seed, declined: signals - taken });
      expect(taken).toBeGreaterThan(signals * 0.95);
    }
  });

  test("across fixtures and corpus it takes most kill-family events", () => {
    console.error(`summary took ${totalTaken} of ${totalSignals} kill-family events in the fixtures and corpus`);
    expect(totalSignals).toBeGreaterThan(25);
    expect(totalTaken).toBeGreaterThan(totalSignals * 0.8);
  });
});

describe("hand-made variations, each held to the reference", () => {
  const stamp = (n: number) => `msg=audit(1700000000.${String(n % 1000).padStart(3, "0")}:${n})`;
  const base = (n: number, fields: string) => `type=SYSCALL ${stamp(n)}: arch=c000003e syscall=62 success=yes exit=0 ${fields}`;
  const ids = "ppid=1 pid=4299 auid=1000 uid=1000 gid=1000 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3";
  const variations = [
    base(1, `a0=6900 a1=9 a2=0 a3=0 items=0 ${ids} comm="roxen" exe="/usr/bin/pike" key=(null)`),
    base(2, `a0=6900 a1=9 a2=0 a3=0 items=0 ppid=1 pid=2 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=6120622063 exe=2F746D702F612062 key=6B31016B32`),
    base(3, `a0=ffffff9c a1=f a2=0 a3=0 items=0 ${ids} comm="x" key="whokilled"\u001dARCH=x86_64 SYSCALL=kill AUID="alice" UID="alice" EUID="root"`),
    `type=SYSCALL ${stamp(4)}: arch=c000003e syscall=62 success=no exit=-3 a0=1 a1=9 a2=0 a3=0 items=0 ${ids} comm="x" exe="/x" key=(null)`,
    `type=SYSCALL ${stamp(5)}: arch=c000003e syscall=234 success=yes exit=0 a0=10 a1=12 a2=a a3=0 items=0 ${ids} comm="x" exe="/x" key=(null)`,
    `type=SYSCALL ${stamp(6)}: arch=40000003 syscall=37 success=no exit=-1 a0=ffffffff a1=9 a2=0 a3=0 items=0 ${ids} comm="x" exe="/x" key=(null)`,
    `type=SYSCALL ${stamp(7)}: arch=c000003e syscall=424 success=yes exit=0 a0=5 a1=f a2=0 a3=0 items=0 ${ids} comm="systemd" exe="/usr/lib/systemd/systemd" key=(null)`,
    `type=OBJ_PID ${stamp(7)}: opid=777 oauid=-1 ouid=33 oses=-1 obj=unconfined ocomm="worker"\u001dOAUID="unset" OUID="www-data"`,
    `type=SYSCALL ${stamp(8)}: arch=c000003e syscall=62 success=yes exit=0 a0=fffffc18 a1=f a2=0 a3=0 items=0 ${ids} comm="x" exe="/x" key=(null)`,
    `type=OBJ_PID ${stamp(8)}: opid=1000 oauid=1000 ouid=1000 oses=3 ocomm=6120622063`,
    `type=OBJ_PID ${stamp(8)}: opid=1001 oauid=1000 ouid=1001 oses=3 ocomm="b"`,
    `type=PROCTITLE ${stamp(8)}: proctitle=(null)`,
    `type=PROCTITLE ${stamp(8)}: proctitle=6B696C6C002D39002D31303030`,
    `type=SYSCALL ${stamp(9)}: arch=c000003e syscall=62 success=yes exit=0 a0=1 a1=0 a2=0 a3=0 items=0 pid=5 comm="probe"`,
    `type=PROCTITLE ${stamp(9)}: proctitle="kill -0 1"`,
    `type=SYSCALL ${stamp(10)}: arch=c000003e syscall=62 success=yes exit=0 a0=1 a1=9 avc:  denied  { read } for ${ids} comm="x" exe="/x" key=(null) extra`,
  ];

  test("every variation is taken and agrees, without and with passwd names", () => {
    const events = eventsOf(variations.join("\n"), "variations");
    for (const options of [noLookup, withPasswd]) {
      const { taken, signals, declined } = compare(events, options);
      expect(declined).toEqual([]);
      expect(taken).toBe(signals);
      expect(signals).toBe(10);
    }
  });
});

describe("what the summary declines", () => {
  const line = (body: string) => `type=SYSCALL msg=audit(1700000000.123:42): ${body}`;
  const kill = "arch=c000003e syscall=62 success=yes exit=0 a0=6900 a1=9 a2=0 a3=0 items=0 ppid=1 pid=4299 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1";
  const summarize = (body: string) => summarizeSignalEvent(eventsOf(line(body), "t")[0]!, noLookup);

  test("a plain kill is taken, with the ENRICHED tail's user name", () => {
    const summary = summarize(`${kill} comm="roxen" exe="/usr/bin/pike" key=(null)\u001dARCH=x86_64 SYSCALL=kill UID="www" AUID="root"`);
    expect(summary?.process).toMatchObject({ pid: 4299, comm: "roxen", exe: "/usr/bin/pike", user: "www" });
    expect(summary?.syscall).toMatchObject({ name: "kill", signal: { nr: 9, name: "SIGKILL" }, target: { pid: 26880, scope: "process" } });
    expect(summary?.time).toBe("2023-11-14T22:13:20.123Z");
  });

  test("declined: not the kill family, syscall before arch, a repeated field, a single quote, an unterminated quote", () => {
    const cases = [
      "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 pid=1 comm=\"sh\"",
      "syscall=62 arch=c000003e success=yes exit=0 a0=1 a1=9 a2=0 a3=0 pid=1 comm=\"sh\"",
      `${kill} comm="a" comm="b"`,
      `${kill} comm='x y'`,
      `${kill} comm="unterminated`,
    ];
    for (const body of cases) expect({ body, summary: summarize(body) }).toEqual({ body, summary: null });
  });
});

describe("decodeEscaped", () => {
  // The definition: hex-shaped and unquoted → the bytes as UTF-8 (U+FFFD for bad sequences); else as written.
  const reference = (value: string, quoted: boolean) =>
    quoted || value.length % 2 !== 0 || value.length === 0 || !/^[0-9A-Fa-f]+$/.test(value) ? value : new TextDecoder().decode(Buffer.from(value, "hex"));

  test("agrees with Buffer.from(hex) + TextDecoder on chosen and random values", () => {
    const chosen = ["", "A", "6869", "2F62696E2F7368002D63", "c3a9", "C3A9", "ff", "C3", "e282ac41", "F09F9880", "EDA080", "00", "7f80", "6g", "0x41", "(null)", "é9"];
    let seed = 26880;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const random = Array.from({ length: 20_000 }, () => Array.from({ length: Math.floor(next() * 24) * 2 }, () => "0123456789ABCDEFabcdefg"[Math.floor(next() * 23)]).join(""));
    const long = "41".repeat(5000) + "C3A9";
    for (const value of [...chosen, ...random, long]) {
      for (const quoted of [false, true]) expect({ value, quoted, out: decodeEscaped(value, quoted) }).toEqual({ value, quoted, out: reference(value, quoted) });
    }
  });
});
