/**
 * journald's audit entries (lib/audit/journal.ts) back to audit records.
 * The field layout follows systemd's journald-audit.c; test/fixtures/journal.log
 * runs the seed through it end to end (golden and scripts tests).
 */
import { describe, expect, test } from "bun:test";
import { journalAuditRecord } from "../lib/audit/journal.ts";
import { parseLine } from "../lib/audit/line.ts";

const entry = (over: Record<string, unknown> = {}) => ({
  _TRANSPORT: "audit",
  _AUDIT_TYPE: "1300",
  _AUDIT_ID: "34",
  _SOURCE_REALTIME_TIMESTAMP: "1285245430007000",
  MESSAGE: "SYSCALL arch=40000003 syscall=37 success=no exit=-3",
  ...over,
});

describe("journalAuditRecord", () => {
  test("the stamp comes back from microseconds and the serial, milliseconds zero-padded", () => {
    expect(journalAuditRecord(entry())).toEqual({ text: "type=SYSCALL msg=audit(1285245430.007:34): arch=40000003 syscall=37 success=no exit=-3" });
    const parsed = parseLine((journalAuditRecord(entry()) as { text: string }).text);
    expect(parsed).toMatchObject({ kind: "record", type: "SYSCALL", id: "1285245430.007:34", seconds: 1285245430, millis: 7, serial: 34 });
  });

  test("the type is named from its number, as the netlink source names it; bytes are UTF-8", () => {
    expect(journalAuditRecord(entry({ _AUDIT_TYPE: "1318", MESSAGE: "OBJ_PID opid=26880" }))).toEqual({ text: "type=OBJ_PID msg=audit(1285245430.007:34): opid=26880" });
    expect(journalAuditRecord(entry({ _AUDIT_TYPE: "1499", MESSAGE: "AUDIT1499 x=1" }))).toEqual({ text: "type=UNKNOWN[1499] msg=audit(1285245430.007:34): x=1" });
    const bytes = [...Buffer.from("SYSCALL comm=\"caf\u00e9\"")];
    expect(journalAuditRecord(entry({ MESSAGE: bytes }))).toEqual({ text: 'type=SYSCALL msg=audit(1285245430.007:34): comm="café"' });
  });

  test("another transport is no record; an audit entry missing a part is an error that names it", () => {
    expect(journalAuditRecord({ _TRANSPORT: "kernel", MESSAGE: "eth0 up" })).toBeNull();
    expect(journalAuditRecord(entry({ _AUDIT_ID: undefined }))).toEqual({ error: "journal audit entry without a numeric _AUDIT_ID" });
    expect(journalAuditRecord(entry({ _AUDIT_TYPE: "SYSCALL" }))).toEqual({ error: "journal audit entry without a numeric _AUDIT_TYPE" });
    expect(journalAuditRecord(entry({ _SOURCE_REALTIME_TIMESTAMP: undefined }))).toEqual({
      error: "journal audit entry without _SOURCE_REALTIME_TIMESTAMP (the record's own time)",
    });
    expect(journalAuditRecord(entry({ MESSAGE: 42 }))).toEqual({ error: "journal audit entry without a MESSAGE" });
  });

  test("journalctl's text output is refused with the command to use; the kernel-log form it prints for -k is read", () => {
    for (const line of [
      "Sep 23 12:37:07 web1 audit[4299]: SYSCALL arch=40000003 syscall=37 success=yes exit=0",
      "Sep  3 02:07:07 web1 audit: OBJ_PID opid=26880 ocomm=\"findpid\"",
      "2010-09-23T12:37:07+0000 web1 audit[4299]: SYSCALL arch=40000003 syscall=37",
    ]) {
      expect(parseLine(line).error).toContain("journalctl -o json _TRANSPORT=audit");
    }
    expect(parseLine("Sep 23 12:37:07 web1 kernel: audit: type=1300 audit(1285245427.433:22): arch=40000003 syscall=37")).toMatchObject({
      kind: "record",
      type: "SYSCALL",
      id: "1285245427.433:22",
    });
  });
});
