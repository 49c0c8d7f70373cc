/**
 * attribute's byte writer for signal lines (lib/signals/bytes/signal-writer.ts)
 * against the object path it stands in for: for every event of every
 * fixture, corpus file and generated log, read as attribute reads them
 * (ASCII lines as bytes), the writer either declines or writes exactly
 * JSON.stringify(eventToSignal(interpretEvent(event))) and a newline, and
 * drops a probe exactly when the default filter would. It must also take
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
import { interpretEvent, type InterpretOptions } from "../lib/audit/interpret.ts";
import { isAsciiRange } from "../lib/bytes/read.ts";
import type { LineWriter } from "../lib/bytes/line-writer.ts";
import { ByteBuffer } from "../lib/bytes/json.ts";
import { ProcessSightings, StreamAncestry } from "../lib/signals/ancestry.ts";
import { eventToSignal } from "../lib/signals/signal-line.ts";
import { SignalJsonWriter } from "../lib/signals/bytes/signal-writer.ts";
import { ByteArena } from "../lib/bytes/arena.ts";
import { compileFactFilter, type SignalFilterOptions } from "../lib/signals/filter.ts";
import {
  attributeFiles,
  attributeStream,
  corpusDir,
  fixtureAndCorpusLogs,
  foreignLogInterpret,
  localLogInterpret,
  minimalPasswdIds,
  noLookupIds,
  writeRecordLines,
} from "./helpers/run.ts";

/** Collects what the writer writes, line by line (the LineWriter interface it uses). */
class CapturingWriter {
  private readonly bytes = new ByteBuffer(1 << 16);
  lines = 0;
  reserve(n: number): Buffer {
    return this.bytes.ensure(n);
  }
  get offset(): number {
    return this.bytes.pos;
  }
  commit(end: number, lines = 1): void {
    this.bytes.pos = end;
    this.lines += lines;
  }
  take(): string {
    const text = this.bytes.buf.toString("utf8", 0, this.bytes.pos);
    this.bytes.pos = 0;
    return text;
  }
}

/**
 * Each event of `text` to `each`, its ASCII lines read as bytes (ByteRecords)
 * as attribute reads them, the rest as text. The decoder lets go of the
 * bytes once an event is handed over, so each is looked at then.
 */
function forEachEvent(text: string, file: string, each: (event: AssembledEvent) => void, asText = false): void {
  const decoder = new Decoder({ errors: new InputErrors({ strict: false, print: () => {} }) }, each);
  const bytes = Buffer.from(text, "utf8");
  let start = 0;
  let line = 0;
  while (start < bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    line++;
    if (end > start) {
      if (!asText && isAsciiRange(bytes, start, end)) decoder.pushBytes(bytes, start, end, line, file);
      else decoder.pushRaw(bytes.toString("utf8", start, end), { file, line });
    }
    start = end + 1;
  }
  decoder.flush();
}

function compare(text: string, file: string, options: InterpretOptions, probes: boolean, asText = false) {
  const capture = new CapturingWriter();
  const ancestry = new StreamAncestry(new ProcessSightings(new ByteArena(1 << 20)));
  const writer = new SignalJsonWriter(capture as unknown as LineWriter, { ids: options.ids, ancestry, filter: compileFactFilter({ probes }) });
  // The same facts made into SignalLine objects (report, --proc, the table).
  const objectAncestry = new StreamAncestry(new ProcessSightings(new ByteArena(1 << 20)));
  const objects = new SignalJsonWriter(null, { ids: options.ids, ancestry: objectAncestry, filter: compileFactFilter({ probes }) });
  // The object path's stream state (signal-stage.ts), for a failed pidfd_send_signal's target: what pidfd_open
  // events and earlier calls said (execve events are left out of both: ancestry is compared in the tests below).
  const referenceStream = new StreamAncestry(new ProcessSightings(new ByteArena(1 << 20)));
  let taken = 0;
  let signals = 0;
  const declined: string[] = [];
  forEachEvent(text, file, (event) => {
    const line = interpretEvent(event, options);
    const reference = eventToSignal(line, { pidfds: referenceStream.pidfds, atMs: line.time === null ? Number.POSITIVE_INFINITY : Date.parse(line.time) });
    // Audit's ANOM_ABEND is no kill-family call: the object path makes its line, and it is not counted here.
    const killCall = reference !== null && line.type !== "ANOM_ABEND";
    if (killCall) signals++;
    else if (reference === null && line.syscall?.name === "pidfd_open") referenceStream.observe(line);
    const object = objects.signal(event);
    const result = writer.write(event);
    expect({ id: event.id, made: typeof object === "string" ? object : "written" }).toEqual({ id: event.id, made: result });
    if (result === "declined") {
      if (killCall) declined.push(event.id);
      else if (line.syscall?.name === "pidfd_open") {
        ancestry.observe(line);
        objectAncestry.observe(line);
      }
      return;
    }
    if (typeof object !== "string") expect(`${JSON.stringify(object)}\n`).toBe(`${JSON.stringify(reference)}\n`);
    taken++;
    expect(reference).not.toBeNull();
    if (result === "filtered") {
      expect({ id: event.id, probe: reference!.probe === true && !probes }).toEqual({ id: event.id, probe: true });
      expect(capture.take()).toBe("");
    } else {
      expect({ id: event.id, probe: reference!.probe === true && !probes }).toEqual({ id: event.id, probe: false });
      expect(capture.take()).toBe(`${JSON.stringify(reference)}\n`);
    }
  });
  return { taken, signals, declined };
}

const noLookup = noLookupIds;
const withPasswd = minimalPasswdIds;

describe("signal lines written from bytes = the object path's", () => {
  let totalTaken = 0;
  let totalSignals = 0;

  for (const { path, name } of fixtureAndCorpusLogs()) {
    test(name, () => {
      const text = readFileSync(path, "utf8");
      for (const options of [noLookup, withPasswd, localLogInterpret, foreignLogInterpret]) {
        for (const probes of [false, true]) {
          // Records held as text (report, `record` lines) are read the same way.
          if (probes) compare(text, path, options, probes, true);
          const { taken, signals } = compare(text, path, options, probes);
          expect(taken).toBeLessThanOrEqual(signals);
          if (options === noLookup && probes) {
            totalTaken += taken;
            totalSignals += signals;
          }
        }
      }
    });
  }

  test("generated logs (both ABIs, all six calls, hex and enriched fields, a non-ASCII comm)", () => {
    for (const seed of [DEFAULT_SEED, 7, 99]) {
      const text = generateString({ seed, lines: 20_000 }).text;
      for (const [options, probes] of [[noLookup, false], [noLookup, true], [foreignLogInterpret, true]] as const) {
        const { taken, signals, declined } = compare(text, `generated-${seed}.log`, options, probes);
        expect(signals).toBeGreaterThan(100);
        expect({ seed, declined: declined.length }).toEqual({ seed, declined: signals - taken });
        // Only the odd event (a non-ASCII line) is left to the object path.
        expect(taken).toBeGreaterThan(signals * 0.95);
      }
    }
  });

  test("across fixtures and corpus it takes most kill-family events", () => {
    console.error(`signal writer took ${totalTaken} of ${totalSignals} kill-family events in the fixtures and corpus`);
    expect(totalSignals).toBeGreaterThan(25);
    expect(totalTaken).toBeGreaterThan(totalSignals * 0.8);
  });
});

/** attribute as the script runs it (byte writer where it can) against the batch path (objects): the same lines, counts and errors. */
async function same(paths: string[], filter: SignalFilterOptions) {
  const batch = await attributeFiles(paths, filter);
  const stream = await attributeStream(paths, filter);
  const expected = batch.lines.map((line) => `${JSON.stringify(line)}\n`).join("");
  expect(stream.text).toBe(expected);
  expect(stream.stats).toEqual(batch.stats);
  // Events grouped but not interpreted: told apart on the bytes in one, on the text in the other.
  expect(stream.unrelated).toEqual(batch.unrelated);
  expect({ errors: stream.errors, messages: stream.messages }).toEqual({ errors: batch.errors, messages: batch.messages });
  return batch.signals.length;
}

describe("attribute's streaming output (byte writer where it can) = the batch path's (objects)", () => {
  const dir = mkdtempSync(join(tmpdir(), "wk-signal-json-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const generated = join(dir, "generated.log");
  // execve events feed the killers' ancestry; both ABIs, hex and enriched fields, probes.
  writeFileSync(generated, generateString({ seed: DEFAULT_SEED, lines: 20_000 }).text);
  const inputs = [...fixtureAndCorpusLogs(), { path: generated, name: "generated log" }];


  for (const { path, name } of inputs) {
    test(name, async () => {
      // Default (probes dropped) and with probes.
      await same([path], {});
      await same([path], { probes: true });
      // The filters the writer applies itself, with values the log has; then two that need the objects.
      const { signals } = await attributeFiles([path], { probes: true });
      const middle = signals[Math.floor(signals.length / 2)];
      const filters: SignalFilterOptions[] = [{ failed: true }, { excludeSelf: true }, { signal: "KILL" }, { signal: "0" }];
      if (middle) {
        if (middle.target.pid !== null) filters.push({ pid: middle.target.pid });
        if (middle.victims[0]?.pid != null) filters.push({ pid: middle.victims[0].pid });
        if (middle.node !== null) filters.push({ node: middle.node });
        if (middle.time !== null) filters.push({ since: middle.time }, { until: middle.time });
        if (middle.victims[0]?.comm != null) filters.push({ victimComm: middle.victims[0].comm });
        if (middle.killer.comm !== null) filters.push({ killer: middle.killer.comm });
      }
      for (const filter of filters) await same([path], { probes: true, ...filter });
    });
  }

  test("capture's record lines of the generated log and the seed, several inputs in one run", async () => {
    const records = writeRecordLines(generated, join(dir, "generated.jsonl"));
    const seed = join(corpusDir, "seed", "ausearch-grep-kill.log");
    expect(await same([records, seed, generated], { probes: true })).toBeGreaterThan(100);
  });
});

describe("hand-made variations, each held to the object path", () => {
  const stamp = (n: number) => `msg=audit(1700000000.${String(n % 1000).padStart(3, "0")}:${n})`;
  const ids = "ppid=1 pid=4299 auid=1000 uid=1000 gid=1000 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3";
  const kill = (n: number, fields: string, call = "arch=c000003e syscall=62 success=yes exit=0") => `type=SYSCALL ${stamp(n)}: ${call} ${fields}`;
  const variations = [
    kill(1, `a0=6900 a1=9 a2=0 a3=0 items=0 ${ids} comm="roxen" exe="/usr/bin/pike" key=(null)`),
    // hex comm with a space, hex exe, two keys joined by 0x01, unset ids
    kill(2, `a0=6900 a1=9 a2=0 a3=0 items=0 ppid=1 pid=2 auid=4294967295 uid=0 gid=0 euid=0 tty=(none) ses=4294967295 comm=6120622063 exe=2F746D702F612062 key=6B31016B32`),
    // ENRICHED tail with the user's name, a negative target, a key in quotes
    kill(3, `a0=ffffff9c a1=f a2=0 a3=0 items=0 ${ids} comm="x" key="whokilled"\u001dARCH=x86_64 SYSCALL=kill AUID="alice" UID="alice" EUID="root"`),
    kill(4, `a0=1 a1=9 a2=0 a3=0 items=0 ${ids} comm="x" exe="/x" key=(null)`, "arch=c000003e syscall=62 success=no exit=-3"),
    kill(5, `a0=10 a1=12 a2=a a3=0 items=0 ${ids} comm="x" exe="/x" key=(null)`, "arch=c000003e syscall=234 success=yes exit=0"),
    kill(6, `a0=ffffffff a1=9 a2=0 a3=0 items=0 ${ids} comm="x" exe="/x" key=(null)`, "arch=40000003 syscall=37 success=no exit=-1"),
    kill(7, `a0=5 a1=f a2=0 a3=0 items=0 ${ids} comm="systemd" exe="/usr/lib/systemd/systemd" key=(null)`, "arch=c000003e syscall=424 success=yes exit=0"),
    `type=OBJ_PID ${stamp(7)}: opid=777 oauid=-1 ouid=33 oses=-1 obj=unconfined ocomm="worker"\u001dOAUID="unset" OUID="www-data"`,
    // a group kill: two victims, a hex ocomm; PROCTITLE (null) first, then a real one
    kill(8, `a0=fffffc18 a1=f a2=0 a3=0 items=0 ${ids} comm="x" exe="/x" key=(null)`),
    `type=OBJ_PID ${stamp(8)}: opid=1000 oauid=1000 ouid=1000 oses=3 ocomm=6120622063`,
    `type=OBJ_PID ${stamp(8)}: opid=1001 oauid=1000 ouid=1001 oses=3 ocomm="b"`,
    `type=PROCTITLE ${stamp(8)}: proctitle=(null)`,
    `type=PROCTITLE ${stamp(8)}: proctitle=6B696C6C002D39002D31303030`,
    // a probe, with a quoted proctitle
    kill(9, `a0=1 a1=0 a2=0 a3=0 items=0 pid=5 comm="probe"`),
    `type=PROCTITLE ${stamp(9)}: proctitle="kill -0 1"`,
    kill(10, `a0=1 a1=9 avc:  denied  { read } for ${ids} comm="x" exe="/x" key=(null) extra`),
    // a1 missing: the signal is read from the next argument present (as buildSyscall lists them)
    kill(11, `a0=1 a2=9 a3=0 ${ids} comm="x"`),
    // odd success and exit, 16 and 17 hex digits, an upper-case arch and one of 9 digits (no arch, so no signal)
    kill(12, `a0=ffffffffffffff9c a1=0000000000000009 ${ids}`, "arch=C000003E syscall=62 success=maybe exit=abc"),
    kill(13, `a0=1ffffffffffffff9c a1=9 ${ids}`, "arch=0c000003e syscall=62 success=yes exit=-0"),
    // syscall number spelled another way, ids with leading zeros, signs and text
    kill(14, `a0=1 a1=9 ppid=01 pid=-0 auid=-1 uid=0000 comm="x"`, "arch=c000003e syscall=0x3e success=yes exit=0"),
    kill(15, `a0=1 a1=9 pid=7 uid=abc comm="(none)" exe=3F key=(none)`),
    kill(16, `a0=1 a1=9 pid=7 uid=1000 comm=""\u001dUID="unknown(1000)"`),
    kill(17, `a0=1 a1=9 pid=7 uid=1000 comm=""\u001dUID=unset`),
    kill(18, `a0=1 a1=9 pid=7 uid=0 comm="x"\u001dAUID="root"`),
    // non-ASCII bytes in hex (UTF-8, and a bad sequence), controls in a comm and a key
    kill(19, `a0=1 a1=9 pid=7 uid=0 comm=C3A96C6C65 exe=FF41 key=6B1B31`),
    kill(20, `a0=1 a1=9 pid=7 uid=0 comm=611B5B33316D exe="/a\\"b"`),
    // proctitles: trailing NUL, only NULs, odd-length hex, non-ASCII
    kill(21, `a0=1 a1=9 pid=7 comm="x"`),
    `type=PROCTITLE ${stamp(21)}: proctitle=6B696C6C00`,
    kill(22, `a0=1 a1=9 pid=7 comm="x"`),
    `type=PROCTITLE ${stamp(22)}: proctitle=0000`,
    kill(23, `a0=1 a1=9 pid=7 comm="x"`),
    `type=PROCTITLE ${stamp(23)}: proctitle=6B696C6`,
    kill(24, `a0=1 a1=9 pid=7 comm="x"`),
    `type=PROCTITLE ${stamp(24)}: proctitle=C3A900C3`,
    kill(25, `a0=1 a1=9 pid=7 comm="x"`),
    `type=PROCTITLE ${stamp(25)}: proctitle=""`,
    `type=PROCTITLE ${stamp(25)}: proctitle=00`,
    // tkill (tid is a0), rt_tgsigqueueinfo, a self-kill, pidfd without OBJ_PID
    kill(26, `a0=7 a1=6 pid=7 comm="x"`, "arch=c000003e syscall=200 success=yes exit=0"),
    kill(27, `a0=7 a1=8 a2=2 pid=7 comm="x"`, "arch=c000003e syscall=297 success=yes exit=0"),
    kill(28, `a0=3 a1=9 pid=7 comm="x"`, "arch=c000003e syscall=424 success=no exit=-9"),
    // the kill family on the other arches
    kill(29, `a0=1 a1=9 pid=7 comm="x"`, "arch=c00000b7 syscall=129 success=yes exit=0"),
    kill(30, `a0=1 a1=9 a2=f pid=7 comm="x"`, "arch=40000028 syscall=268 success=yes exit=0"),
    kill(31, `a0=1 a1=9 pid=7 comm="x"`, "arch=c0000015 syscall=37 success=yes exit=0"),
    kill(32, `a0=1 a1=9 pid=7 comm="x"`, "arch=80000016 syscall=37 success=yes exit=0"),
  ];

  test("the filters the writer applies itself agree with the object path's on them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "wk-variations-"));
    try {
      const path = join(dir, "variations.log");
      writeFileSync(path, `${variations.join("\n")}\n`);
      // tgkill's tid (0x12), rt_tgsigqueueinfo's (8), a group kill's victim (1001), a target pid (26880), signals by name and
      // number; comms in hex, with a space, (none); a killer by pid, comm and exe; keys joined by 0x01, quoted, (none).
      const filters: SignalFilterOptions[] = [
        {}, { pid: 18 }, { pid: 8 }, { pid: 1001 }, { pid: 26880 }, { signal: "TERM" }, { signal: "9" }, { failed: true }, { excludeSelf: true },
        { victimComm: "a b c" }, { victimComm: "worker" }, { killer: "4299" }, { killer: "a b c" }, { killer: "/tmp/a b" }, { killer: "systemd" },
        { key: "k2" }, { key: "whokilled" }, { key: "k1,k2" },
      ];
      for (const filter of filters) {
        await same([path], filter);
        await same([path], { probes: true, ...filter });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("each is taken and agrees with the object path, without and with passwd names, with and without probes", () => {
    const text = variations.join("\n");
    for (const options of [noLookup, withPasswd, foreignLogInterpret]) {
      for (const probes of [false, true]) {
        const { taken, signals, declined } = compare(text, "variations", options, probes);
        expect(declined).toEqual([]);
        expect(taken).toBe(signals);
        // All but the one with a 9-digit arch, which archName does not read.
        expect(signals).toBe(31);
      }
    }
  });
});

describe("what the fact reader declines (the object path takes it: interpretEvent)", () => {
  const line = (body: string) => `type=SYSCALL msg=audit(1700000000.123:42): ${body}`;
  const kill = "arch=c000003e syscall=62 success=yes exit=0 a0=6900 a1=9 a2=0 a3=0 items=0 ppid=1 pid=4299 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1";
  const made = (body: string, asText: boolean) => {
    const ancestry = new StreamAncestry(new ProcessSightings(new ByteArena(1 << 16)));
    const objects = new SignalJsonWriter(null, { ids: noLookup.ids, ancestry, filter: compileFactFilter({ probes: true }) });
    const results: Array<ReturnType<SignalJsonWriter["signal"]>> = [];
    forEachEvent(line(body), "t", (event) => results.push(objects.signal(event)), asText);
    return results[0];
  };

  test("a plain kill is taken, with the ENRICHED tail's user name, from bytes or text", () => {
    for (const asText of [false, true]) {
      const signal = made(`${kill} comm="roxen" exe="/usr/bin/pike" key=(null)\u001dARCH=x86_64 SYSCALL=kill UID="www" AUID="root"`, asText);
      expect(signal).toMatchObject({ killer: { pid: 4299, comm: "roxen", exe: "/usr/bin/pike", user: "www" }, syscall: "kill", signal: { nr: 9, name: "SIGKILL" } });
      expect(signal).toMatchObject({ target: { pid: 26880, scope: "process" }, time: "2023-11-14T22:13:20.123Z" });
    }
  });

  test("declined: not the kill family, syscall before arch, a repeated field, a single quote, an unterminated quote", () => {
    const cases = [
      "arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=4 pid=1 comm=\"sh\"",
      "syscall=62 arch=c000003e success=yes exit=0 a0=1 a1=9 a2=0 a3=0 pid=1 comm=\"sh\"",
      `${kill} comm="a" comm="b"`,
      `${kill} comm='x y'`,
      `${kill} comm="unterminated`,
    ];
    for (const body of cases) for (const asText of [false, true]) expect({ body, asText, made: made(body, asText) }).toEqual({ body, asText, made: "declined" });
  });
});
