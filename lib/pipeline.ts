/**
 * Upstream forms → events. decode, attribute and report all start here, so
 * each accepts raw audit text, `record` lines and `event` lines alike; other
 * line kinds (signal, gap, bait…) are handed on untouched for the caller.
 */
import type { AssembledEvent } from "./audit/assemble.ts";
import { Decoder, type DecoderStats } from "./audit/decoder.ts";
import { EventJsonWriter } from "./audit/event-json.ts";
import { IdNames } from "./audit/ids.ts";
import { InputErrors } from "./audit/input-errors.ts";
import { interpretEvent } from "./audit/interpret.ts";
import type { InputItem, LineWriter } from "./jsonl.ts";
import type { AnyLine } from "./schema.ts";

export interface DecodeSettings {
  lookup: boolean;
  passwdFile?: string;
  groupFile?: string;
  windowSeconds?: number;
  maxInFlight?: number;
  /** Interpret only the events this accepts (the rest are grouped and counted as skipped). */
  eventFilter?: (event: AssembledEvent) => boolean;
}

export class EventStage {
  readonly decoder: Decoder;
  private out: AnyLine[] = [];
  private readonly pass: (line: AnyLine) => void;
  /** The byte writer, when the stage was given a LineWriter. */
  readonly eventWriter: EventJsonWriter | undefined;

  /**
   * With a `writer`, every line goes straight to it, in order, and events as
   * bytes without an EventLine object (decode's case: the same bytes, several
   * times cheaper); push and flush then return nothing.
   */
  constructor(settings: DecodeSettings, readonly errors: InputErrors, writer?: LineWriter) {
    const ids = new IdNames({ lookup: settings.lookup, passwdFile: settings.passwdFile, groupFile: settings.groupFile });
    let emit: (event: AssembledEvent) => void;
    if (writer) {
      const json = new EventJsonWriter(writer, { ids });
      this.eventWriter = json;
      emit = (event) => json.write(event);
      this.pass = (line) => writer.write(line);
    } else {
      this.eventWriter = undefined;
      emit = (event) => this.out.push(interpretEvent(event, { ids }));
      this.pass = (line) => this.out.push(line);
    }
    this.decoder = new Decoder(
      { errors, windowSeconds: settings.windowSeconds, maxInFlight: settings.maxInFlight, eventFilter: settings.eventFilter },
      emit,
    );
  }

  /** Feed a batch; returns the lines that are ready (events and passed-through lines, in order). */
  push(items: readonly InputItem[]): AnyLine[] {
    for (const item of items) {
      if (item.form === "raw") {
        this.decoder.pushRaw(item.text, item.source);
      } else if (item.value.kind === "record") {
        this.decoder.pushRecord(item.value);
      } else {
        this.pass(item.value);
      }
    }
    this.decoder.settle();
    return this.take();
  }

  /** End of input: whatever events are still open. */
  flush(): AnyLine[] {
    this.decoder.flush();
    return this.take();
  }

  get stats(): DecoderStats {
    return this.decoder.stats;
  }

  private take(): AnyLine[] {
    const ready = this.out;
    this.out = [];
    return ready;
  }
}
