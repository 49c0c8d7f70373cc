/**
 * Upstream forms → events. decode, attribute and report all start here, so
 * each accepts raw audit text, `record` lines and `event` lines alike; other
 * line kinds (signal, gap, bait…) are handed on untouched for the caller.
 */
import type { AssembledEvent } from "./audit/assemble.ts";
import { Decoder, type DecoderStats } from "./audit/decoder.ts";
import { IdNames } from "./audit/ids.ts";
import { InputErrors } from "./audit/input-errors.ts";
import type { InputItem } from "./jsonl.ts";
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

  constructor(settings: DecodeSettings, readonly errors: InputErrors) {
    const ids = new IdNames({ lookup: settings.lookup, passwdFile: settings.passwdFile, groupFile: settings.groupFile });
    this.decoder = new Decoder(
      { ids, errors, windowSeconds: settings.windowSeconds, maxInFlight: settings.maxInFlight, eventFilter: settings.eventFilter },
      (event) => this.out.push(event),
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
        this.out.push(item.value);
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
