/**
 * The damaged logs behind issue 17 §6 and §9, each small enough to read:
 * two SYSCALL records under one stamp, a record stamped far ahead, a
 * PROCTITLE before its SYSCALL. Each is held to one answer in the four
 * pipeline forms (test/pipeline-forms.test.ts holds them on large logs) and
 * to what decode says about it.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventAssembler, SECOND_SYSCALL_ENDS, SECOND_SYSCALL_STARTS, type AssembledEvent } from "../lib/audit/assemble.ts";
import { InputErrors } from "../lib/audit/input-errors.ts";
import { LineWriter } from "../lib/bytes/line-writer.ts";
import { runAttribute } from "../lib/signals/signal-stage.ts";
import { captureFiles } from "../lib/sources/capture-run.ts";
import { attributeStream, oracleIds } from "./helpers/run.ts";
import { decodeScript } from "./helpers/streams.ts";

const dir = mkdtempSync(join(tmpdir(), "wk-damage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function logFile(lines: string[]): string {
  const path = join(dir, `log-${files++}.log`);
  writeFileSync(path, lines.join("\n") + "\n");
  return path;
}

const stamp = (seconds: number, serial: number) => `msg=audit(${seconds}.100:${serial})`;
const syscall = (s: string, nr: number, pid: number, comm: string, a0 = "1f4", a1 = "9") =>
  `type=SYSCALL ${s}: arch=c000003e syscall=${nr} success=yes exit=0 a0=${a0} a1=${a1} a2=0 a3=0 items=0 ppid=1 pid=${pid} auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="${comm}" exe="/usr/bin/${comm}" key=(null)`;
const objPid = (s: string, pid: number, comm: string) => `type=OBJ_PID ${s}: opid=${pid} oauid=-1 ouid=0 oses=-1 ocomm="${comm}"`;
const hex = (text: string) => Buffer.from(text.replace(/ /g, "\0")).toString("hex").toUpperCase();
const proctitle = (s: string, argv: string) => `type=PROCTITLE ${s}: proctitle=${hex(argv)}`;

/** attribute LOG, and decode LOG | attribute: the same signal lines, returned parsed. */
async function oneAnswer(path: string) {
  const raw = await attributeStream([path]);
  const decoded = await decodeScript([path]);
  const events = join(dir, `events-${files++}.jsonl`);
  writeFileSync(events, decoded.text);
  const viaDecode = await attributeStream([events]);
  expect(viaDecode.text).toBe(raw.text);
  return {
    signals: raw.text.split("\n").filter(Boolean).map((line) => JSON.parse(line)),
    events: decoded.text.split("\n").filter(Boolean).map((line) => JSON.parse(line)),
    raw,
  };
}

describe("two SYSCALL records under one stamp (a damaged or merged log)", () => {
  const s = stamp(1700000001, 10);
  const read = syscall(s, 0, 600, "cat", "3", "7ffd");
  const kill = syscall(s, 62, 700, "kill");
  const kernelOrder = {
    "read, then kill": [read, proctitle(s, "cat x"), kill, objPid(s, 500, "sleep"), proctitle(s, "kill -9 500")],
    "kill, then read": [kill, objPid(s, 500, "sleep"), proctitle(s, "kill -9 500"), read, proctitle(s, "cat x")],
  };
  for (const [name, lines] of Object.entries(kernelOrder)) {
    test(`${name}: each call keeps its own event, both say so, and the kill is found the same in every form`, async () => {
      const { signals, events } = await oneAnswer(logFile(lines));
      expect(events.map((e) => [e.syscall?.name, e.warnings])).toEqual(
        name.startsWith("read")
          ? [["read", [SECOND_SYSCALL_ENDS]], ["kill", [SECOND_SYSCALL_STARTS]]]
          : [["kill", [SECOND_SYSCALL_ENDS]], ["read", [SECOND_SYSCALL_STARTS]]],
      );
      expect(signals).toHaveLength(1);
      expect(signals[0].signal.name).toBe("SIGKILL");
      expect(signals[0].killer.argv).toEqual(["kill", "-9", "500"]);
      expect(signals[0].victims.map((v: { pid: number }) => v.pid)).toEqual([500]);
    });
  }

  test("the same SYSCALL twice (a log fed twice) is one record folded, not a second event", async () => {
    const { events } = await oneAnswer(logFile([kill, kill, objPid(s, 500, "sleep"), proctitle(s, "kill -9 500")]));
    expect(events).toHaveLength(1);
    expect(events[0].warnings).toBeUndefined();
  });
});

describe("audit time", () => {
  const collect = () => {
    const events: AssembledEvent[] = [];
    return { events, assembler: new EventAssembler((e) => events.push({ ...e, records: [...e.records] })) };
  };
  const rec = (type: string) => ({ type, raw: `type=${type} x`, bodyStart: 7 });

  test("one record stamped far ahead (a damaged stamp) closes nothing around it, and does not stop events closing later", () => {
    const { events, assembler } = collect();
    assembler.push(null, "100.000:1", 100, 0, rec("SYSCALL"), 1);
    // A damaged stamp, 10^8 s ahead: alone, it is not believed.
    assembler.push(null, "100000100.000:2", 100000100, 0, rec("PATH"), 2);
    assembler.push(null, "100.000:1", 100, 0, rec("OBJ_PID"), 1);
    expect(events).toEqual([]);
    // Time moves on as the other records say: event 1 closes by the window, in one piece.
    assembler.push(null, "110.000:3", 110, 0, rec("SYSCALL"), 3);
    assembler.push(null, "110.000:3", 110, 0, rec("OBJ_PID"), 3);
    expect(events.map((e) => [e.id, e.records.map((r) => r.type)])).toEqual([["100.000:1", ["SYSCALL", "OBJ_PID"]]]);
    assembler.flush();
    expect(events.map((e) => e.id)).toEqual(["100.000:1", "100000100.000:2", "110.000:3"]);
  });

  test("a gap in a quiet log is believed once the next record agrees", () => {
    const { events, assembler } = collect();
    assembler.push(null, "100.000:1", 100, 0, rec("SYSCALL"), 1);
    assembler.push(null, "3700.000:2", 3700, 0, rec("SYSCALL"), 2);
    expect(events).toEqual([]);
    assembler.push(null, "3700.000:2", 3700, 0, rec("OBJ_PID"), 2);
    expect(events.map((e) => e.id)).toEqual(["100.000:1"]);
  });

  test("records a consumer skips unread (pass) close events where pushing them would", () => {
    const pushed = collect();
    const passed = collect();
    const kill = (a: EventAssembler) => {
      a.push(null, "100.000:1", 100, 0, rec("SYSCALL"), 1);
      a.push(null, "100.000:1", 100, 0, rec("PROCTITLE"), 1);
    };
    kill(pushed.assembler);
    kill(passed.assembler);
    for (let i = 0; i < 300; i++) {
      pushed.assembler.push(null, `100.000:${i + 2}`, 100, 0, rec("USER_ACCT"), i + 2);
      passed.assembler.pass(100);
    }
    // Complete, and held for 256 more records: both closed it at the same record.
    expect(pushed.events.filter((e) => e.id === "100.000:1")).toHaveLength(1);
    expect(passed.events.map((e) => e.id)).toEqual(["100.000:1"]);
  });

  test("a run of records passed at once (count) closes what passing them one by one closes, in the same order", () => {
    // Times that hold still, step, jump past the window (believed or not) and come back: each a run of 1 to 300.
    const runs: Array<[number, number]> = [[100, 3], [100, 1], [101, 300], [5000, 1], [101, 2], [5000, 2], [5001, 1], [9000, 250], [9001, 1], [20000, 1], [9002, 40]];
    const kill = (a: EventAssembler, serial: number, seconds: number) => {
      a.push(null, `${seconds}.000:${serial}`, seconds, 0, rec("SYSCALL"), serial);
      a.push(null, `${seconds}.000:${serial}`, seconds, 0, rec("PROCTITLE"), serial);
      a.push(null, `${seconds + 1}.000:${serial + 1}`, seconds + 1, 0, rec("SYSCALL"), serial + 1);
    };
    const oneByOne = collect();
    const inRuns = collect();
    let serial = 1;
    for (const [seconds, count] of runs) {
      for (let i = 0; i < count; i++) oneByOne.assembler.pass(seconds, i === count - 1);
      inRuns.assembler.pass(seconds, true, count);
      expect(inRuns.events.map((e) => e.id)).toEqual(oneByOne.events.map((e) => e.id));
      kill(oneByOne.assembler, serial, seconds);
      kill(inRuns.assembler, serial, seconds);
      serial += 2;
    }
    oneByOne.assembler.flush();
    inRuns.assembler.flush();
    expect(inRuns.events.map((e) => e.id)).toEqual(oneByOne.events.map((e) => e.id));
    expect(oneByOne.events.length).toBeGreaterThan(10);
  });
});

describe("a PROCTITLE before its SYSCALL (ausearch order)", () => {
  const kill = stamp(1700000001, 10);
  const exec = stamp(1700000001, 11);
  const lines = [
    proctitle(kill, "kill -9 500"),
    syscall(kill, 62, 700, "kill"),
    objPid(kill, 500, "sleep"),
    proctitle(exec, "sh -c true"),
    syscall(exec, 59, 800, "sh", "1", "2"),
    `type=EXECVE ${exec}: argc=3 a0="sh" a1="-c" a2="true"`,
  ];

  test("attribute's summary accounts for every record: decoded, read for ancestry, or skipped", async () => {
    const path = logFile(lines);
    const { signals } = await oneAnswer(path);
    expect(signals).toHaveLength(1);
    expect(signals[0].killer.argv).toEqual(["kill", "-9", "500"]);
    for (const form of [path, await capturedTo(path)]) {
      const fd = openSync(join(dir, `out-${files++}.jsonl`), "w");
      try {
        const run = await runAttribute([form], { ...oracleIds, filter: {} }, new InputErrors({ strict: false, print: () => {}, printLimit: 0 }), new LineWriter(fd));
        // The kill's 3 records decoded; the execve's SYSCALL, EXECVE and PROCTITLE (held until its SYSCALL came) read for ancestry.
        expect({ decoded: run.records, ancestry: run.unrelated.ancestry, skipped: run.unrelated.lines }).toEqual({ decoded: 3, ancestry: 3, skipped: 0 });
      } finally {
        closeSync(fd);
      }
    }
  });
});

/** `path` as capture writes it (record lines), in a file of its own. */
async function capturedTo(path: string): Promise<string> {
  const out = join(dir, `records-${files++}.jsonl`);
  const fd = openSync(out, "w");
  try {
    const writer = new LineWriter(fd);
    await captureFiles([path], { rotated: false, errors: new InputErrors({ strict: false, print: () => {}, printLimit: 0 }), writer });
    writer.flush();
  } finally {
    closeSync(fd);
  }
  return out;
}
