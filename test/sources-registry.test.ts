/**
 * The source registry (lib/sources/registry.ts): what each source declares,
 * and that the stages reach a source's own records only through it.
 */
import { describe, expect, test } from "bun:test";
import type { AssembledEvent } from "../lib/audit/assemble.ts";
import { interpretEvent } from "../lib/audit/interpret.ts";
import { eventToSignal } from "../lib/signals/signal-line.ts";
import { AUDIT_SOURCE, isAuditText, sourceNamed, sourceOfType, SOURCES } from "../lib/sources/registry.ts";
import { noLookupIds } from "./helpers/run.ts";

function ownEvent(type: string, raw: string): AssembledEvent {
  return { node: null, id: "1700000000.000:1", seconds: 1_700_000_000, millis: 0, records: [{ type, raw, bodyStart: 0, time: "2023-11-14T22:13:20.000Z" }] };
}

describe("source registry", () => {
  test("names and own record types are unique; each own type maps back to its source", () => {
    expect(new Set(SOURCES.map((s) => s.name)).size).toBe(SOURCES.length);
    const types = SOURCES.flatMap((s) => s.ownRecordTypes);
    expect(new Set(types).size).toBe(types.length);
    for (const spec of SOURCES) {
      expect(sourceNamed(spec.name)).toBe(spec);
      for (const type of spec.ownRecordTypes) {
        expect(sourceOfType(type)).toBe(spec);
        expect(isAuditText(type)).toBe(false);
      }
    }
    expect(sourceOfType("SYSCALL")).toBe(AUDIT_SOURCE);
  });

  test("every source with record types of its own says how they become events; audit text is read by the audit grammar", () => {
    expect(AUDIT_SOURCE.interpret).toBeUndefined();
    for (const spec of SOURCES) if (spec.ownRecordTypes.length > 0) expect(typeof spec.interpret).toBe("function");
  });

  test("a record its source cannot read is an event with no signal and a warning that names its type", () => {
    for (const spec of SOURCES) {
      for (const type of spec.ownRecordTypes) {
        const event = interpretEvent(ownEvent(type, "garbage"), noLookupIds);
        expect(event.syscall).toBeNull();
        expect(event.warnings?.[0]).toStartWith(`${type}: `);
        expect(event.records[0]!.raw).toBe("garbage");
        expect(eventToSignal(event)).toBeNull();
      }
    }
  });

  test("a source's record becomes its signal through the source's own rules", () => {
    const line = "bash-9954 [001] d..1. 440.413824: signal_generate: sig=9 errno=0 code=0 comm=sleep pid=9955 grp=1 res=0";
    const signal = eventToSignal(interpretEvent(ownEvent("SIGNAL_GENERATE", line), noLookupIds))!;
    expect(signal.source).toBe("tracefs");
    expect(signal.victims.map((v) => v.pid)).toEqual([9955]);
    // finishSignal: the cause rules ran (SI_USER from a running task: the sender is that task).
    expect(signal.cause).toBeDefined();
  });
});
