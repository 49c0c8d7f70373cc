/**
 * capture's sources wired to its output: files (with rotation), and the live
 * sources (follow, checkpoint, netlink, tracefs, tracepoints), several of
 * which may run at once and are merged as they arrive.
 */
import type { InputErrors } from "../audit/input-errors.ts";
import { OomJoiner } from "./kernel-oom.ts";
import { lineToRecord, RecordLineWriter, type CaptureStats } from "./record-lines.ts";
import type { LineWriter } from "../bytes/line-writer.ts";
import { log } from "../log.ts";
import { coverageLineText } from "../render/coverage-line.ts";
import { escapeControl } from "../render/escape.ts";
import type { KillCoverage } from "../rules/kill-coverage.ts";
import type { CoverageLine, GapLine, NoticeLine, RecordLine } from "../schema.ts";
import type { CheckpointRun } from "./checkpoint.ts";
import { rotatedFiles, type SourceLine } from "./file.ts";
import { reportUnreadLine } from "./lines.ts";
import { isLiveFile } from "./registry.ts";
import { SlotReader, type SlotLineSink } from "./slot-reader.ts";

export type CaptureMode = "follow" | "checkpoint" | "netlink" | "tracefs" | "tracepoints";

export interface CaptureTotals extends CaptureStats {
  gaps: number;
}

interface CommonOptions {
  errors: InputErrors;
  writer: LineWriter;
  signal?: AbortSignal;
}

export async function captureFiles(
  paths: readonly string[],
  options: CommonOptions & { rotated: boolean },
): Promise<CaptureTotals> {
  const stats: CaptureTotals = { records: 0, structural: 0, gaps: 0 };
  const files = options.rotated ? paths.flatMap((path) => (path === "-" ? [path] : rotatedFiles(path))) : paths;
  // Lines read as bytes and plain records written straight from them (no string per line).
  const records = new RecordLineWriter(options.writer, options.errors, stats);
  const sinkFor = (file: string): SlotLineSink => ({
    line: (bytes, start, end, line, _slot, ascii) => records.line(bytes, start, end, ascii, file, line),
    reuse: () => {},
    inputError: (line, problem) => options.errors.report({ file, line }, problem),
  });
  for await (const _ of new SlotReader().batchesOfPaths(files, sinkFor, options.signal)) {
    // Each chunk's lines go out before the next read, which may wait (`tail -f log | capture -`):
    // a burst of lines must not sit in the buffer until more input comes. A file costs a write per MiB.
    options.writer.flush();
  }
  return stats;
}

export interface LiveOptions extends CommonOptions {
  path: string;
  checkpointFile?: string;
  fromStart: boolean;
  tracefsFilter?: string;
  /** netlink: say whether audit can see every kill call (default true; off for a capture scoped on purpose). */
  checkCoverage?: boolean;
  /** netlink: how to judge whether audit can see kill calls (default: ask the kernel); tests pass a fake. */
  coverageCheck?: () => KillCoverage;
  /** netlink: how often to judge it again (default COVERAGE_CHECK_INTERVAL_MS). */
  coverageIntervalMs?: number;
}

/** Run the live sources until they end or the signal aborts; flushes output per batch for latency. */
export async function captureLive(modes: readonly CaptureMode[], options: LiveOptions): Promise<CaptureTotals> {
  const stats: CaptureTotals = { records: 0, structural: 0, gaps: 0 };
  const streams: AsyncGenerator<Array<RecordLine | NoticeLine>>[] = [];
  // Aborted when the output stops (the reader went away, an error): the tracing sources sleep on their
  // signal between reads, and must end, removing their instance, before the merge can return.
  const ended = new AbortController();
  const liveSignal = options.signal ? AbortSignal.any([options.signal, ended.signal]) : ended.signal;
  let checkpoint: CheckpointRun | null = null;
  // The id the checkpoint remembers must come from the checkpointed log itself.
  let lastCheckpointId: string | null = null;

  const fromLines = async function* (lines: AsyncIterable<SourceLine[]>, source: "follow" | "checkpoint") {
    const oom = new OomJoiner();
    for await (const batch of lines) {
      const records: Array<RecordLine | GapLine> = [];
      for (const line of batch) {
        if (line.gap !== undefined) {
          records.push({ kind: "gap", source, time: new Date().toISOString(), reason: line.gap.reason, lost: line.gap.lost });
          continue;
        }
        if (reportUnreadLine(line, (problem) => options.errors.report({ file: line.file, line: line.line }, problem))) continue;
        const record = lineToRecord(line.bytes.toString("utf8"), { file: line.file, line: line.line }, options.errors, stats, oom);
        if (record) {
          records.push(record);
          if (source === "checkpoint") lastCheckpointId = record.id;
        }
      }
      yield records;
    }
  };
  const single = async function* <T>(items: AsyncIterable<T>, onEnd?: () => void) {
    try {
      for await (const item of items) yield [item];
    } finally {
      onEnd?.();
    }
  };

  for (const mode of modes) {
    if (mode === "follow") {
      const { followFileLines } = await import("./follow.ts");
      // liveSignal: beside another source, the merge waits for follow to end, and follow waits for new lines.
      streams.push(fromLines(followFileLines(options.path, { signal: liveSignal, fromStart: options.fromStart }), "follow"));
      log.info(`follow: watching ${options.path}`);
    } else if (mode === "checkpoint") {
      const { readSinceCheckpoint } = await import("./checkpoint.ts");
      checkpoint = readSinceCheckpoint(options.path, options.checkpointFile!, { signal: options.signal });
      streams.push(fromLines(checkpoint.lines, "checkpoint"));
    } else if (mode === "netlink") {
      const { netlinkRecords } = await import("./netlink.ts");
      const { coverageLines } = await import("../rules/kill-coverage.ts");
      // The coverage check ends with the records: a failed netlink source must not leave it polling.
      const ended = new AbortController();
      const signal = options.signal ? AbortSignal.any([options.signal, ended.signal]) : ended.signal;
      streams.push(single(netlinkRecords({ signal: liveSignal, onReady: () => log.info("netlink: listening to the kernel's audit multicast group") }), () => ended.abort()));
      // Whether audit can see kill calls at all: said at once, and again whenever that changes.
      if (options.checkCoverage !== false) streams.push(single(coverageLines({ signal, check: options.coverageCheck, intervalMs: options.coverageIntervalMs })));
    } else if (mode === "tracepoints") {
      const { tracepointRecords } = await import("./tracepoint-live.ts");
      streams.push(
        single(
          tracepointRecords({
            signal: liveSignal,
            onReady: () => log.info("tracepoints: listening to the kill family's syscall tracepoints, signal_generate, task creation, rename and exec (no audit rule)"),
            onEnd: (seen) => {
              const outside = seen.outside > 0 ? `, ${seen.outside} signal${seen.outside === 1 ? "" : "s"} outside any traced call` : "";
              const unfinished = seen.unfinished > 0 ? ` (${seen.unfinished} without their exit line)` : "";
              log.info(`tracepoints: ${seen.calls} kill-family call${seen.calls === 1 ? "" : "s"}${unfinished}${outside}`);
            },
          }),
        ),
      );
    } else {
      const { tracefsRecords } = await import("./tracefs.ts");
      // The ring buffer's "[LOST N EVENTS]" comes in the stream, in order, as a gap line.
      streams.push(
        single(
          tracefsRecords({
            signal: liveSignal,
            filter: options.tracefsFilter,
            onReady: () => log.info("tracefs: listening to signal:signal_generate"),
          }),
        ),
      );
    }
  }

  const sayCoverage = coverageLog();
  const merged = merge(streams);
  try {
    for (;;) {
      const next = await merged.next();
      if (next.done) break;
      for (const line of next.value) {
        if (line.kind === "coverage") sayCoverage(line);
        else if (line.kind === "gap") stats.gaps++;
        else if (isLiveFile(line.source.file)) stats.records++;
        options.writer.write(line);
      }
      options.writer.flush();
    }
  } finally {
    // Before the merge's return, which waits for each source to stop.
    ended.abort();
    await merged.return(undefined);
  }
  if (checkpoint) {
    // Records may be missing between runs: say so in the data, not only on stderr.
    for (const notice of checkpoint.notices) {
      if (notice.kind !== "lost" && notice.kind !== "truncated") continue;
      stats.gaps++;
      options.writer.write({ kind: "gap", source: "checkpoint", time: new Date().toISOString(), reason: notice.message, lost: null } satisfies GapLine);
    }
    options.writer.flush();
    // Only after the output is written: a crash before this re-reads rather than skips.
    checkpoint.commit(lastCheckpointId);
  }
  return stats;
}

/** Says on stderr what each coverage line says: a warning while audit cannot see every kill call, a note when it can again. */
function coverageLog(): (line: CoverageLine) => void {
  let warned = false;
  return (line) => {
    if (line.state !== "full") log.warn(escapeControl(coverageLineText(line)));
    else if (warned) log.info(escapeControl(coverageLineText(line)));
    warned = line.state !== "full";
  };
}

/** Interleave several async generators, yielding items as each produces them. */
export async function* merge<T>(sources: AsyncGenerator<T>[]): AsyncGenerator<T> {
  if (sources.length === 1) {
    yield* sources[0]!;
    return;
  }
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<T> }>>();
  const next = (index: number) => sources[index]!.next().then((result) => ({ index, result }));
  sources.forEach((_, index) => pending.set(index, next(index)));
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(index);
        continue;
      }
      pending.set(index, next(index));
      yield result.value;
    }
  } finally {
    await Promise.all(sources.map((source) => source.return(undefined)));
  }
}
