/**
 * A failed pidfd_send_signal without OBJ_PID gets its target from earlier
 * evidence (lib/signals/pidfd.ts): the caller's pidfd_open of that
 * descriptor, or its earlier call on it that had an OBJ_PID. Hand-made
 * lines in the kernel's shape (test/fixtures/pidfd-reaped.log has real
 * ones), each case through attribute's object path and its byte path.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SignalLine } from "../lib/schema.ts";
import type { SignalFilterOptions } from "../lib/signals/filter.ts";
import { PidfdTable } from "../lib/signals/pidfd.ts";
import { attributeFiles, attributeStream } from "./helpers/run.ts";

const dir = mkdtempSync(join(tmpdir(), "wk-pidfd-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Call {
  serial: number;
  pid?: number;
  ppid?: number;
  exe?: string;
  node?: string;
}

/** One event per second: serial N at 1700000000 + N s. */
const head = (c: Call, type: string) => `${c.node ? `node=${c.node} ` : ""}type=${type} msg=audit(${1700000000 + c.serial}.000:${c.serial}):`;
const caller = (c: Call) =>
  `items=0 ppid=${c.ppid ?? 100} pid=${c.pid ?? 200} auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="svc" exe="${c.exe ?? "/usr/bin/svc"}" key="k"`;

/** pidfd_open(pid) = fd */
const open = (c: Call, pid: number, fd: number) => [`${head(c, "SYSCALL")} arch=c000003e syscall=434 success=yes exit=${fd} a0=${pid.toString(16)} a1=0 a2=0 a3=0 ${caller(c)}`];
/** pidfd_send_signal(fd, SIGTERM): a hit (OBJ_PID) or ESRCH (none). */
const send = (c: Call, fd: number, hit: number | null) => [
  `${head(c, "SYSCALL")} arch=c000003e syscall=424 success=${hit === null ? "no exit=-3" : "yes exit=0"} a0=${fd.toString(16)} a1=f a2=0 a3=0 ${caller(c)}`,
  ...(hit === null ? [] : [`${head(c, "OBJ_PID")} opid=${hit} oauid=-1 ouid=0 oses=-1 ocomm="worker"`]),
];

let n = 0;
/** Both paths over these lines: they must agree; the signal lines. */
async function attribute(lines: string[][], filter: SignalFilterOptions = {}): Promise<SignalLine[]> {
  const path = join(dir, `case-${n++}.log`);
  writeFileSync(path, lines.flat().join("\n") + "\n");
  const objects = await attributeFiles([path], filter, { lookup: false });
  const bytes = await attributeStream([path], filter, { lookup: false });
  expect(bytes.text).toBe(objects.lines.map((l) => `${JSON.stringify(l)}\n`).join(""));
  return objects.signals;
}

const targets = (signals: SignalLine[]) => signals.map((s) => s.target);

describe("inferred from earlier evidence, on both paths", () => {
  test("pidfd_open, then a call that hit, then one that found the process gone", async () => {
    const signals = await attribute([open({ serial: 1 }, 4242, 5), send({ serial: 2 }, 5, 4242), send({ serial: 3 }, 5, null)]);
    expect(targets(signals)).toEqual([
      { pid: 4242, scope: "pidfd", fd: 5, pidFrom: "obj_pid" },
      { pid: 4242, scope: "pidfd", fd: 5, pidFrom: "earlier-call" },
    ]);
    expect(signals[1]!.victims).toEqual([]);
  });

  test("pidfd_open alone", async () => {
    expect(targets(await attribute([open({ serial: 1 }, 4242, 5), send({ serial: 2 }, 5, null)]))).toEqual([{ pid: 4242, scope: "pidfd", fd: 5, pidFrom: "pidfd_open" }]);
  });

  test("the newest evidence wins: a descriptor number closed and opened again on another process", async () => {
    const signals = await attribute([open({ serial: 1 }, 4242, 5), send({ serial: 2 }, 5, 4242), open({ serial: 3 }, 777, 5), send({ serial: 4 }, 5, null)]);
    expect(signals[1]!.target).toEqual({ pid: 777, scope: "pidfd", fd: 5, pidFrom: "pidfd_open" });
  });

  test("never from another caller: another pid, the same pid with another parent or program (a recycled PID), another host", async () => {
    const evidence = [open({ serial: 1 }, 4242, 5)];
    for (const other of [{ pid: 201 }, { ppid: 101 }, { exe: "/usr/bin/other" }, { node: "db2" }]) {
      const signals = await attribute([...evidence, send({ serial: 2, ...other }, 5, null)]);
      expect(signals[0]!.target).toEqual({ pid: null, scope: "pidfd", fd: 5 });
    }
    // Nor from another descriptor, nor from evidence that comes after the call.
    expect((await attribute([...evidence, send({ serial: 2 }, 6, null)]))[0]!.target.pid).toBeNull();
    expect((await attribute([send({ serial: 1 }, 5, null), open({ serial: 2 }, 4242, 5)]))[0]!.target.pid).toBeNull();
  });

  test("the filters see the inferred target (--pid), and evidence counts even from calls they drop", async () => {
    const lines = [open({ serial: 1 }, 4242, 5), send({ serial: 2 }, 5, 4242), send({ serial: 3 }, 5, null)];
    expect((await attribute(lines, { pid: 4242, failed: true })).map((s) => s.id)).toEqual(["1700000003.000:3"]);
    // --since after every piece of evidence: pidfd_open is still read (the prefilter keeps it whatever the window).
    const late = [open({ serial: 1 }, 4242, 5), send({ serial: 900 }, 5, null)];
    expect(targets(await attribute(late, { since: "1700000500" }))).toEqual([{ pid: 4242, scope: "pidfd", fd: 5, pidFrom: "pidfd_open" }]);
  });
});

describe("PidfdTable", () => {
  const caller = { node: null, pid: 1, ppid: 0, exe: "/x" };
  test("as of a time; bounded, the oldest descriptor let go first", () => {
    const table = new PidfdTable(2);
    table.note(caller, 3, 30, "pidfd_open", 100);
    expect(table.lookup(caller, 3, 99)).toBeNull();
    expect(table.lookup(caller, 3, 100)).toEqual({ pid: 30, from: "pidfd_open" });
    table.note(caller, 4, 40, "pidfd_open", 101);
    table.note(caller, 3, 31, "earlier-call", 102); // refreshed: 4 is now the oldest
    table.note(caller, 5, 50, "pidfd_open", 103);
    expect(table.lookup(caller, 4, 200)).toBeNull();
    expect(table.lookup(caller, 3, 200)).toEqual({ pid: 31, from: "earlier-call" });
    expect(table.lookup(caller, 5, 200)).toEqual({ pid: 50, from: "pidfd_open" });
    // Nonsense is not evidence.
    table.note(caller, -1, 60, "pidfd_open", 1);
    table.note(caller, 6, 0, "pidfd_open", 1);
    expect(table.lookup(caller, 6, 200)).toBeNull();
  });
});

describe("report", () => {
  test("a pidfd that outlived its process is no stale PID: a pidfd cannot reach a recycled one", async () => {
    const { analyze } = await import("../lib/signals/findings.ts");
    const lines = [open({ serial: 1 }, 4242, 5), send({ serial: 2 }, 5, 4242)];
    for (let serial = 3; serial < 9; serial++) lines.push(send({ serial }, 5, null));
    const signals = await attribute(lines);
    expect(signals.filter((s) => s.target.pid === 4242)).toHaveLength(7);
    const report = await analyze(signals);
    expect(report.findings.map((f) => f.id)).not.toContain("stale-pid");
  });
});

test("attribute --format table says an inferred target is inferred, and from what", async () => {
  const { formatSignalRow } = await import("../lib/render/signal-row.ts");
  const signals = await attribute([open({ serial: 1 }, 4242, 5), send({ serial: 2 }, 5, null)]);
  expect(formatSignalRow(signals[0]!, { color: false })).toContain("pidfd→4242 (inferred from its pidfd_open) (no such process)");
});
