/**
 * A trace line's wall time comes from its own head, whatever its task's comm
 * holds: a comm with an event's marker in it (`a: sys_kill(`) or a
 * `digits.digits: ` pattern (`x1.5: y`) still gets its trace time (real
 * kernel; the comm is set through /proc/PID/comm).
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { RecordLine } from "../lib/schema.ts";
import { TRACEPOINT_KILL } from "../lib/sources/tracepoint-calls.ts";
import { parseTraceHead } from "../lib/sources/tracefs-line.ts";
import { tracefsRecords } from "../lib/sources/tracefs.ts";
import { spawnVictim, tracefsSkipReason, waitFor, waitForComm } from "./helpers/live.ts";
import { collectTracepoints } from "./helpers/tracepoints.ts";

const skip = tracefsSkipReason();
if (skip) console.error(`tracefs time tests skipped: ${skip}`);

/** A shell that renames itself to `comm`, then sends `sig` to `pid` with its builtin kill: wall ms before and after. */
async function killAs(comm: string, pid: number, sig: number): Promise<{ before: number; after: number }> {
  const before = Date.now();
  const child = Bun.spawn(["sh", "-c", 'printf %s "$1" > /proc/$$/comm && kill -"$2" "$3"', "sh", comm, String(sig), String(pid)], { stdout: "ignore", stderr: "pipe" });
  const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  if (code !== 0) throw new Error(`the renamed sender failed (${code}): ${stderr}`);
  return { before, after: Date.now() };
}

describe.skipIf(skip !== null)("a comm that looks like part of a trace line keeps the line's trace time", () => {
  const children: Bun.Subprocess[] = [];
  afterAll(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill(9);
  });

  test("tracefs: `a: sys_kill(` names no event; its sys_kill line, read late, is placed at its trace time, not when it was read", async () => {
    const victim = spawnVictim();
    children.push(victim);
    expect(await waitForComm(victim.pid, "sleep")).toBe(true);
    const stop = new AbortController();
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const records = tracefsRecords({
      signal: stop.signal,
      filter: `pid == ${victim.pid}`,
      extraEvents: [{ path: "syscalls/sys_enter_kill", marker: ": sys_kill(", filter: `pid == ${victim.pid}` }],
      onReady: () => ready(),
    });
    try {
      // The first pull opens the instance; a plain sender's line ends it, and the reader then waits at that yield.
      const first = records.next();
      await isReady;
      await killAs("wk-plain", victim.pid, 28);
      expect((await first).done).toBe(false);
      const sent = await killAs("a: sys_kill(", victim.pid, 28);
      // Nothing reads trace_pipe meanwhile: a time taken when the line is read would be this much late.
      await Bun.sleep(1500);
      let line: RecordLine | undefined;
      for (let pulls = 0; pulls < 50 && !line; pulls++) {
        const result = await records.next();
        if (result.done) break;
        if (result.value.kind === "gap") continue;
        const read = parseTraceHead(result.value.raw);
        if (read?.head.comm === "a: sys_kill(" && read.body.startsWith("sys_kill(")) line = result.value;
      }
      expect(line).toBeDefined();
      expect(line!.type).toBe("TRACEFS_EVENT");
      const time = Date.parse(line!.time!);
      expect(time).toBeGreaterThanOrEqual(sent.before - 50);
      expect(time).toBeLessThanOrEqual(sent.after + 50);
    } finally {
      stop.abort();
      await records.return(undefined);
    }
  }, 20000);

  test("tracepoints: a sender named `x1.5: y` gets its call's wall time, not one shifted by the machine's uptime", async () => {
    const victim = spawnVictim();
    children.push(victim);
    expect(await waitForComm(victim.pid, "sleep")).toBe(true);
    const collected = collectTracepoints({ bufferSizeKb: 1024 });
    try {
      await collected.ready;
      const sent = await killAs("x1.5: y", victim.pid, 28);
      const call = await waitFor(
        () => collected.records.find((record) => record.type === TRACEPOINT_KILL && parseTraceHead(record.raw.split("\n")[0]!)?.head.comm === "x1.5: y"),
        5000,
        10,
      );
      expect(call).toBeDefined();
      const time = Date.parse(call!.time!);
      expect(time).toBeGreaterThanOrEqual(sent.before - 50);
      expect(time).toBeLessThanOrEqual(sent.after + 50);
      expect(call!.id).toBe(`${Math.floor(time / 1000)}.${String(time % 1000).padStart(3, "0")}:${call!.source!.line}`);
    } finally {
      await collected.stop();
    }
  }, 20000);
});
