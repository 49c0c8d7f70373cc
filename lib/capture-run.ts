/**
 * capture's sources wired to its output: files (with rotation), and the live
 * sources (follow, checkpoint, netlink, tracefs), several of which may run at
 * once and are merged as they arrive.
 */
import type { InputErrors } from "./audit/input-errors.ts";
import { lineToRecord, RecordLineWriter, type CaptureStats } from "./capture.ts";
import type { LineWriter } from "./jsonl.ts";
import { log } from "./log.ts";
import type { GapLine, RecordLine } from "./schema.ts";
import type { CheckpointRun } from "./sources/checkpoint.ts";
import { rotatedFiles, type SourceLine } from "./sources/file.ts";
import { tooLongProblem } from "./sources/lines.ts";
import { SlotReader, type SlotLineSink } from "./sources/slot-reader.ts";

export type CaptureMode = "follow" | "checkpoint" | "netlink" | "tracefs";

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
}

/** Run the live sources until they end or the signal aborts; flushes output per batch for latency. */
export async function captureLive(modes: readonly CaptureMode[], options: LiveOptions): Promise<CaptureTotals> {
  const stats: CaptureTotals = { records: 0, structural: 0, gaps: 0 };
  const streams: AsyncGenerator<Array<RecordLine | GapLine>>[] = [];
  let checkpoint: CheckpointRun | null = null;
  // The id the checkpoint remembers must come from the checkpointed log itself.
  let lastCheckpointId: string | null = null;

  const fromLines = async function* (lines: AsyncIterable<SourceLine[]>, checkpointed: boolean) {
    for await (const batch of lines) {
      const records: RecordLine[] = [];
      for (const line of batch) {
        if (line.tooLong !== undefined || line.damaged !== undefined) {
          options.errors.report({ file: line.file, line: line.line }, line.damaged ?? tooLongProblem(line.tooLong!));
          continue;
        }
        const record = lineToRecord(line.bytes.toString("utf8"), { file: line.file, line: line.line }, options.errors, stats);
        if (record) {
          records.push(record);
          if (checkpointed) lastCheckpointId = record.id;
        }
      }
      yield records;
    }
  };
  const single = async function* <T>(items: AsyncIterable<T>) {
    for await (const item of items) yield [item];
  };

  for (const mode of modes) {
    if (mode === "follow") {
      const { followFileLines } = await import("./sources/follow.ts");
      streams.push(fromLines(followFileLines(options.path, { signal: options.signal, fromStart: options.fromStart }), false));
      log.info(`follow: watching ${options.path}`);
    } else if (mode === "checkpoint") {
      const { readSinceCheckpoint } = await import("./sources/checkpoint.ts");
      checkpoint = readSinceCheckpoint(options.path, options.checkpointFile!, { signal: options.signal });
      streams.push(fromLines(checkpoint.lines, true));
    } else if (mode === "netlink") {
      const { netlinkRecords } = await import("./sources/netlink.ts");
      streams.push(single(netlinkRecords({ signal: options.signal, onReady: () => log.info("netlink: listening to the kernel's audit multicast group") })));
    } else {
      const { tracefsRecords } = await import("./sources/tracefs.ts");
      // The ring buffer's "[LOST N EVENTS]" arrives as a callback: yield it in order, as a gap line.
      const lost: GapLine[] = [];
      const records = tracefsRecords({
        signal: options.signal,
        filter: options.tracefsFilter,
        onReady: () => log.info("tracefs: listening to signal:signal_generate"),
        onLost: (gap) => lost.push(gap),
      });
      streams.push(
        (async function* () {
          for await (const record of records) yield [...lost.splice(0), record];
          if (lost.length > 0) yield lost.splice(0);
        })(),
      );
    }
  }

  for await (const batch of merge(streams)) {
    for (const line of batch) {
      if (line.kind === "gap") stats.gaps++;
      else if (line.source.file === "netlink" || line.source.file === "tracefs") stats.records++;
      options.writer.write(line);
    }
    options.writer.flush();
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
