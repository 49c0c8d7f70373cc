/**
 * The audit netlink multicast source: datagram parsing (pure), then the live
 * socket on the real kernel: latency of one kill, EOE, a 5,000-kill burst.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { NETLINK_GAP_REASON, netlinkDatagramToRecords, netlinkRecords } from "../lib/sources/netlink.ts";
import { kernelAuditControl } from "../lib/rules/control.ts";
import type { GapLine, RecordLine } from "../lib/schema.ts";
import { addRuleNow, auditSkipReason, collectInBackground, deadlinePuller, removeKeyNow, removeOnExit, spawnVictim, uniqueKey, waitFor } from "./helpers/live.ts";
import { buildSender, senderSkipReason } from "./helpers/sender.ts";

/** nlmsghdr (little-endian, as on every Linux target we run on) + body. */
function datagram(type: number, body: string, options: { declaredLength?: number; nul?: boolean } = {}): Uint8Array {
  const text = new TextEncoder().encode(body + (options.nul ? "\0" : ""));
  const bytes = new Uint8Array(16 + text.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, options.declaredLength ?? bytes.length, true);
  view.setUint16(4, type, true);
  view.setUint16(6, 0, true);
  view.setUint32(8, 0, true);
  view.setUint32(12, 0, true);
  bytes.set(text, 16);
  return bytes;
}

describe("netlinkDatagramToRecords", () => {
  const syscall = 'audit(1700000000.123:456): arch=c000003e syscall=62 success=yes exit=0 a0=1e61 a1=9 comm="wk-sender64" key="k"';

  test("a SYSCALL datagram becomes an audit.log-shaped record", () => {
    expect(netlinkDatagramToRecords(datagram(1300, syscall), 7)).toEqual([
      {
        kind: "record",
        type: "SYSCALL",
        id: "1700000000.123:456",
        node: null,
        raw: `type=SYSCALL msg=${syscall}`,
        source: { file: "netlink", line: 7 },
      },
    ]);
  });

  test("trailing NULs and newlines are stripped; EOE and unknown types keep their number", () => {
    const [eoe] = netlinkDatagramToRecords(datagram(1320, "audit(1700000000.123:456): \n", { nul: true }), 1);
    expect(eoe?.type).toBe("EOE");
    expect(eoe?.raw).toBe("type=EOE msg=audit(1700000000.123:456): ");
    const [unknown] = netlinkDatagramToRecords(datagram(1999, "audit(1.002:3): x=1"), 1);
    expect(unknown?.type).toBe("UNKNOWN[1999]");
    expect(unknown?.id).toBe("1.002:3");
  });

  test("nlmsg_len bounds the message; a length past the end of the datagram is clamped to it", () => {
    const short = datagram(1318, "audit(5.000:9): opid=1 ocomm=\"x\"", { declaredLength: 16 + 22 });
    expect(netlinkDatagramToRecords(short, 1)[0]?.raw).toBe("type=OBJ_PID msg=audit(5.000:9): opid=1");
    const long = datagram(1318, "audit(5.000:9): opid=1", { declaredLength: 9999 });
    expect(netlinkDatagramToRecords(long, 1)[0]?.raw).toBe("type=OBJ_PID msg=audit(5.000:9): opid=1");
  });

  test("two messages in one datagram, netlink control messages skipped, empty bodies dropped", () => {
    const first = datagram(1300, "audit(1.000:1): a=1"); // 35 bytes → aligned to 36
    const padded = new Uint8Array(36 + 16 + 16 + 16 + 19);
    padded.set(first, 0);
    padded.set(datagram(3, ""), 36); // NLMSG_DONE
    padded.set(datagram(1320, ""), 52); // empty body
    padded.set(datagram(1320, "audit(1.000:1):"), 68);
    const records = netlinkDatagramToRecords(padded, 4);
    expect(records.map((r) => r.type)).toEqual(["SYSCALL", "EOE"]);
    expect(records.every((r) => r.source.line === 4)).toBe(true);
  });

  test("no stamp: id is empty, the text is kept", () => {
    expect(netlinkDatagramToRecords(datagram(1300, "garbage"), 1)[0]).toMatchObject({ id: "", raw: "type=SYSCALL msg=garbage" });
  });
});

// --- live ---

const skip = auditSkipReason();
if (skip) console.error(`netlink live tests skipped: ${skip}`);
const sender = skip ? null : buildSender("b64");
if (!skip && !sender) console.error(`netlink live tests skipped: ${senderSkipReason("b64")}`);

interface Arrival {
  line: RecordLine | GapLine;
  at: number;
}

function startCollector() {
  const seen: Arrival[] = [];
  const collector = collectInBackground((signal, onReady) => netlinkRecords({ signal, onReady }), (line) => seen.push({ line, at: Date.now() }));
  return { seen, ...collector };
}

/** Inodes of this process's audit netlink sockets (protocol 9 in /proc/net/netlink). */
function ourAuditSockets(): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // fd closed while listing
    }
  }
  // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
  return readFileSync("/proc/net/netlink", "utf8")
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[1] === "9" && inodes.has(f[9] ?? ""))
    .map((f) => f[9]!);
}

const records = (seen: Arrival[]) => seen.filter((a): a is Arrival & { line: RecordLine } => a.line.kind === "record");
const hexPid = (pid: number) => pid.toString(16);

describe.skipIf(skip !== null || !sender)("netlink on the real kernel", () => {
  const key = uniqueKey("netlink");
  let collector: ReturnType<typeof startCollector>;
  const children: Bun.Subprocess[] = [];

  beforeAll(async () => {
    collector = startCollector();
    await collector.ready;
    removeOnExit(key);
    addRuleNow(["-a", "always,exit", "-F", "arch=b64", "-S", "kill", "-S", "tkill", "-S", "tgkill", "-k", key]);
    // Our rule's CONFIG_CHANGE coming through proves the socket works and the
    // kernel's queue has drained up to now (it can lag when auditd is busy).
    const keyField = `key="${key}"`;
    const configured = await waitFor(() => records(collector.seen).find((a) => a.line.type === "CONFIG_CHANGE" && a.line.raw.includes(keyField)), 30000, 10);
    if (!configured) throw new Error("the CONFIG_CHANGE record for our rule never arrived over netlink");
  }, 40000);

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(9);
    await collector?.stop();
    removeKeyNow(key);
  });

  test("one kill: SYSCALL, OBJ_PID and EOE arrive within a second", async () => {
    const victim = spawnVictim();
    children.push(victim);
    await Bun.sleep(20);
    const waitedBefore = kernelAuditControl.status().backlog_wait_time_actual;
    const before = Date.now();
    const killer = Bun.spawn([sender!.path, "kill", String(victim.pid), "9"], { stdout: "ignore", stderr: "pipe" });
    expect(await killer.exited).toBe(0);
    const keyField = `key="${key}"`;
    const syscall = await waitFor(
      () => records(collector.seen).find((a) => a.line.type === "SYSCALL" && a.line.raw.includes(keyField) && a.line.raw.includes(` a0=${hexPid(victim.pid)} `)),
      15000,
      5,
    );
    if (!syscall) {
      const since = records(collector.seen).filter((a) => a.at >= before);
      console.error(
        `netlink: no SYSCALL for kill(${victim.pid}) by pid ${killer.pid}; ${since.length} records since, ${since.filter((a) => a.line.raw.includes(keyField)).length} with our key; ` +
          `rules now: ${kernelAuditControl.listRules().filter((r) => r.keys.includes(key)).map((r) => r.line).join(" | ") || "none with our key"}; status: ${JSON.stringify(kernelAuditControl.status())}`,
      );
    }
    expect(syscall).toBeDefined();
    const id = syscall!.line.id;
    const objPid = await waitFor(() => records(collector.seen).find((a) => a.line.type === "OBJ_PID" && a.line.id === id), 5000, 5);
    const eoe = await waitFor(() => records(collector.seen).find((a) => a.line.type === "EOE" && a.line.id === id), 5000, 5);
    expect(objPid).toBeDefined();
    expect(eoe).toBeDefined();

    const raw = syscall!.line.raw;
    expect(raw).toStartWith(`type=SYSCALL msg=audit(${id}): arch=c000003e syscall=62 `);
    expect(raw).toContain(`comm="${sender!.comm}"`);
    expect(raw).toContain(" a1=9 ");
    expect(raw).toContain(` pid=${killer.pid} `);
    expect(objPid!.line.raw).toContain(` opid=${victim.pid} `);
    expect(objPid!.line.raw).toContain('ocomm="sleep"');
    expect(syscall!.line.source.file).toBe("netlink");

    const stampMs = Number(id.split(":")[0]) * 1000;
    const latest = Math.max(syscall!.at, objPid!.at, eoe!.at);
    console.error(
      `netlink: kill seen ${syscall!.at - before} ms after the sender started (${syscall!.at - stampMs} ms after the audit stamp); EOE after ${eoe!.at - before} ms`,
    );
    // The kernel multicasts from kauditd, which is paced by auditd. When
    // auditd falls behind (other load on a shared machine), the kernel makes
    // audited tasks wait and counts it in backlog_wait_time_actual; then a late
    // record says nothing about this reader, and only arrival is required.
    const congested = kernelAuditControl.status().backlog_wait_time_actual - waitedBefore;
    if (latest - before >= 1000 && congested > 0) {
      console.error(`netlink: ${latest - before} ms, but auditd was behind (backlog_wait_time_actual +${congested}): not the reader's latency`);
    } else {
      expect(latest - before).toBeLessThan(1000);
    }
    expect(collector.seen.filter((a) => a.line.kind === "gap")).toEqual([]);
  }, 30000);

  test("a burst of 5,000 kills: every SYSCALL arrives, no gap", async () => {
    const count = 5000;
    const victim = spawnVictim();
    children.push(victim);
    await Bun.sleep(20);
    const keyField = `key="${key}"`;
    const a0 = ` a0=${hexPid(victim.pid)} `;
    const lostBefore = auditLost();
    const started = Date.now();
    // Signal 0 probes: a real kill syscall each (audited, OBJ_PID written), and the victim lives on.
    const killer = Bun.spawn([sender!.path, "loop", String(count), "kill", String(victim.pid), "0"], { stdout: "ignore", stderr: "pipe" });
    expect(await killer.exited).toBe(0);
    const sent = Date.now();
    const matching = () => records(collector.seen).filter((a) => a.line.type === "SYSCALL" && a.line.raw.includes(keyField) && a.line.raw.includes(a0));
    const objPidsOf = (syscalls: ReturnType<typeof matching>) => {
      const ids = new Set(syscalls.map((a) => a.line.id));
      return records(collector.seen).filter((a) => a.line.type === "OBJ_PID" && ids.has(a.line.id)).length;
    };
    // An event's records come as separate messages: the last OBJ_PID may still be on its way when the last SYSCALL is in.
    await waitFor(() => (matching().length >= count && objPidsOf(matching()) >= count ? true : undefined), 60000, 20);
    const got = matching();
    const objPidCount = objPidsOf(got);
    const gaps = collector.seen.filter((a) => a.line.kind === "gap");
    const last = got.at(-1)?.at ?? Date.now();
    console.error(
      `netlink burst: ${got.length}/${count} SYSCALL and ${objPidCount} OBJ_PID records with the key; ${gaps.length} gaps; ` +
        `sender ran ${sent - started} ms, last record ${last - sent} ms after it exited; kernel lost counter +${auditLost() - lostBefore}`,
    );
    expect(gaps.map((g) => (g.line as GapLine).reason)).toEqual([]);
    expect(got.length).toBe(count);
    expect(objPidCount).toBe(count);
  }, 90000);

  test("a tiny receive buffer and a stalled consumer: ENOBUFS becomes a gap line, then records flow again", async () => {
    const victim = spawnVictim();
    children.push(victim);
    const controller = new AbortController();
    const stream = netlinkRecords({ receiveBufferBytes: 4096, signal: controller.signal });
    const { pull, drain } = deadlinePuller(stream);
    try {
      // The first record (our own EVENT_LISTENER) proves the socket is bound; then stop pulling.
      expect((await pull(5000))?.done).toBe(false);
      const killer = Bun.spawn([sender!.path, "loop", "500", "kill", String(victim.pid), "0"], { stdout: "ignore", stderr: "pipe" });
      expect(await killer.exited).toBe(0);
      await Bun.sleep(200);
      let before = 0;
      let gap: GapLine | undefined;
      for (let next = await pull(2000); next && !next.done; next = await pull(2000)) {
        if (next.value.kind === "gap") {
          gap = next.value;
          break;
        }
        before++;
      }
      console.error(`netlink: with a 4 KiB buffer, ${before} records were read before the gap line`);
      expect(gap).toMatchObject({ kind: "gap", source: "netlink", reason: NETLINK_GAP_REASON, lost: null });
      expect(Number.isNaN(Date.parse(gap!.time))).toBe(false);
      // Drain what the full buffer still holds, then the socket must carry new records again.
      while (await pull(300)) {}
      const after = Bun.spawn([sender!.path, "kill", String(victim.pid), "0"], { stdout: "ignore", stderr: "pipe" });
      expect(await after.exited).toBe(0);
      let resumed = false;
      for (let next = await pull(3000); next && !next.done && !resumed; next = await pull(3000)) {
        if (next.value.kind === "record" && next.value.raw.includes(` pid=${after.pid} `)) resumed = true;
      }
      expect(resumed).toBe(true);
    } finally {
      // Abort first: a next() still waiting for data would otherwise hold return() up.
      controller.abort();
      await drain();
      await stream.return(undefined);
    }
  }, 30000);

  test("abort closes the socket", async () => {
    expect(ourAuditSockets().length).toBeGreaterThanOrEqual(1);
    await collector.stop();
    expect(ourAuditSockets()).toEqual([]);
  });

  test("breaking out of the loop closes the socket", async () => {
    // Our own bind logs an EVENT_LISTENER record, so one record always comes.
    for await (const _ of netlinkRecords({})) {
      expect(ourAuditSockets().length).toBe(1);
      break;
    }
    expect(ourAuditSockets()).toEqual([]);
  });
});

function auditLost(): number {
  return kernelAuditControl.status().lost;
}

test("the gap reason is the documented one", () => {
  expect(NETLINK_GAP_REASON).toBe("ENOBUFS: the kernel dropped records (socket buffer full)");
});
