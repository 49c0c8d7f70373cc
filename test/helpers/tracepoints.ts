/**
 * For the tracepoint tests: test/helpers/sender.c built per ABI, a
 * background collector over tracepointRecords, and a record made into its
 * signal line the way attribute makes it (interpretEvent, eventToSignal).
 */
import type { AssembledEvent } from "../../lib/audit/assemble.ts";
import { interpretEvent, type InterpretOptions } from "../../lib/audit/interpret.ts";
import { parseId } from "../../lib/audit/line.ts";
import type { GapLine, RecordLine, SignalLine } from "../../lib/schema.ts";
import { eventToSignal } from "../../lib/signals/signal-line.ts";
import { senderFactsOf } from "../../lib/sources/tracepoint-calls.ts";
import { tracepointRecords, type TracepointOptions } from "../../lib/sources/tracepoint-live.ts";
import { collectInBackground } from "./live.ts";
import { noLookupIds } from "./run.ts";
import { buildSender, senderSkipReason } from "./sender.ts";

/** sender.c for one ABI under `name` (its comm); null when gcc (or -m32: gcc-multilib) fails or the kernel will not run it. */
export function buildTpSender(abi: "b64" | "b32", name = abi === "b64" ? "wk-tp64" : "wk-tp32"): string | null {
  return buildSender(abi, name)?.path ?? null;
}

export const tpSenderSkipReason = senderSkipReason;

export interface Sent {
  pid: number;
  /** Wall-clock ms just before it was spawned: an earlier holder of its PID sent nothing after this. */
  since: number;
  /** 0, or the call's errno. */
  status: number;
  stdout: string;
}

/** Run the sender once: `linger` ms alive after its call(s). */
export async function tpSend(path: string, linger: number, ...args: Array<string | number>): Promise<Sent> {
  const since = Date.now();
  const child = Bun.spawn([path, "linger", String(linger), ...args.map(String)], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [stdout, status] = await Promise.all([new Response(child.stdout).text(), child.exited]);
  return { pid: child.pid, since, status, stdout };
}

export interface Collected {
  records: RecordLine[];
  gaps: GapLine[];
  ready: Promise<void>;
  stop(): Promise<void>;
}

/** tracepointRecords in the background, collecting every record and gap. */
export function collectTracepoints(options: TracepointOptions): Collected {
  const records: RecordLine[] = [];
  const gaps: GapLine[] = [];
  const { ready, done, stop } = collectInBackground(
    (signal, onReady) => tracepointRecords({ ...options, signal, onReady }),
    (line) => void (line.kind === "gap" ? gaps.push(line) : records.push(line)),
  );
  done.catch((error) => console.error(`tracepoints collector failed: ${(error as Error).message}`));
  return { records, gaps, ready, stop: () => stop().catch(() => {}) };
}

/** A record as attribute reads it: one event, then its signal line (null if it makes none). */
export function recordToSignal(record: RecordLine, options: InterpretOptions = noLookupIds): SignalLine | null {
  const id = parseId(record.id);
  if (id === null) throw new Error(`record id ${JSON.stringify(record.id)} is not SEC.MS:SERIAL`);
  const event: AssembledEvent = {
    node: record.node,
    id: record.id,
    seconds: id.seconds,
    millis: id.millis,
    records: [{ type: record.type, raw: record.raw, bodyStart: 0, time: record.time, source: record.source }],
  };
  return eventToSignal(interpretEvent(event, options));
}

/** A record's sender: the pid capture found for a call (its sender line), else the first line head's thread group (a cache). */
export function senderOf(record: RecordLine): number | null {
  const facts = senderFactsOf(record.raw);
  if (facts) return facts.pid;
  const match = /^\s*.{0,16}?-(\d+)\s+\(\s*(\d+)\)/.exec(record.raw);
  return match ? Number(match[2]) : null;
}
