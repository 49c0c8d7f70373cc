/**
 * journald's audit entries (lib/audit/journal.ts) back to audit records.
 * The field layout follows systemd's journald-audit.c; test/fixtures/journal.log
 * runs the seed through it end to end (golden and scripts tests).
 * systemd's own messages (lib/sources/journal-systemd.ts) from the
 * hand-written fixtures in test/fixtures/journal/ (see its README).
 */
import { describe, expect, test } from "bun:test";
import { journalAuditRecord } from "../lib/audit/journal.ts";
import { parseLine } from "../lib/audit/line.ts";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "bun:test";
import { InputErrors } from "../lib/audit/input-errors.ts";
import { journalFactsOf, parseExportEntry, parseSystemdMessage } from "../lib/sources/journal-systemd.ts";
import { journalFileRecords, JournalLines } from "../lib/sources/journal-read.ts";
import { classifyLine } from "../lib/sources/inputs.ts";
import { lineToRecord } from "../lib/sources/record-lines.ts";
import { OomJoiner } from "../lib/sources/kernel-oom.ts";
import type { RecordLine } from "../lib/schema.ts";

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

// --- systemd's own messages (lib/sources/journal-systemd.ts); fixtures hand-written, see test/fixtures/journal/README.md ---

const JOURNAL_DIR = "test/fixtures/journal";

async function recordsOf(file: string): Promise<{ records: RecordLine[]; messages: string[] }> {
  const messages: string[] = [];
  const errors = new InputErrors({ strict: false, print: (m) => messages.push(m) });
  const records: RecordLine[] = [];
  for await (const batch of journalFileRecords(`${JOURNAL_DIR}/${file}`, errors)) records.push(...batch);
  return { records, messages };
}

describe("systemd's messages", () => {
  test("each kind, with the unit from its prefix or the entry", () => {
    expect(parseSystemdMessage("webapp.service: State 'stop-sigterm' timed out. Killing.")).toEqual({ kind: "stop-timeout", unit: "webapp.service", state: "stop-sigterm" });
    expect(parseSystemdMessage("session-3.scope: Stopping timed out. Killing.")).toEqual({ kind: "stop-timeout", unit: "session-3.scope", state: null });
    // systemd before v236 wrote the state without State '…'.
    expect(parseSystemdMessage("foo.service stop-final-sigterm timed out. Killing.")).toEqual({ kind: "stop-timeout", unit: "foo.service", state: "stop-final-sigterm" });
    expect(parseSystemdMessage("webapp.service: Killing process 4821 (serve) with signal SIGKILL.")).toEqual({
      kind: "kill", unit: "webapp.service", pid: 4821, comm: "serve", signal: 9, signalName: "SIGKILL",
    });
    // A comm with a parenthesis and a space in it (comm is the process's own choice).
    expect(parseSystemdMessage("Killing process 77 (a) b) with signal SIGTERM.", "x.service")).toMatchObject({ unit: "x.service", pid: 77, comm: "a) b", signal: 15 });
    expect(parseSystemdMessage("webapp.service: Main process exited, code=killed, status=9/KILL")).toEqual({
      kind: "exit", unit: "webapp.service", process: "Main process", code: "killed", status: 9, statusName: "SIGKILL",
    });
    expect(parseSystemdMessage("report.service: Main process exited, code=exited, status=3/NOTIMPLEMENTED")).toMatchObject({ code: "exited", status: 3, statusName: "NOTIMPLEMENTED" });
    expect(parseSystemdMessage("parser.service: Main process exited, code=dumped, status=11/SEGV")).toMatchObject({ code: "dumped", status: 11, statusName: "SIGSEGV" });
    expect(parseSystemdMessage("x.service: main process exited, code=killed, status=15/TERM")).toMatchObject({ process: "Main process", code: "killed", status: 15 });
    expect(parseSystemdMessage("batch.service: A process of this unit has been killed by the OOM killer.")).toEqual({ kind: "oom", unit: "batch.service" });
    expect(
      parseSystemdMessage("Killed /user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-4242.scope due to memory pressure for /user.slice/user-1000.slice/user@1000.service being 86.80% > 50.00% for > 20s with reclaim activity"),
    ).toEqual({
      kind: "oomd", unit: null, cgroup: "/user.slice/user-1000.slice/user@1000.service/app.slice/app-firefox-4242.scope",
      pressureCgroup: "/user.slice/user-1000.slice/user@1000.service", pressure: "86.80%", limit: "50.00%", duration: "20s",
    });
    expect(parseSystemdMessage("webapp.service: Failed with result 'timeout'.")).toBeNull();
    expect(parseSystemdMessage("Killing process 5 (x) with signal SIGNOTONE.")).toBeNull();
  });

  test("only systemd's own entries count: another program repeating the words does not", () => {
    const words = { MESSAGE: "Killing process 1 (init) with signal SIGKILL.", __REALTIME_TIMESTAMP: "1796608800000000" };
    expect(journalFactsOf({ ...words, _COMM: "systemd", _PID: "1" })?.by).toEqual({ pid: 1, comm: "systemd", exe: null });
    expect(journalFactsOf({ ...words, _COMM: "evil", SYSLOG_IDENTIFIER: "systemd" })).toBeNull();
    expect(journalFactsOf({ ...words, SYSLOG_IDENTIFIER: "systemd" })).not.toBeNull();
    expect(journalFactsOf({ ...words, _COMM: "systemd", MESSAGE: "Killed /x.scope due to memory pressure for / being 1.00% > 0.50% for > 20s with reclaim activity" })).toBeNull();
  });

  test("the export format: KEY=VALUE lines; a binary field is left out and named", () => {
    expect(parseExportEntry(["MESSAGE=x", "_PID=1", "BLOB", "MESSAGE=second"])).toEqual({ entry: { MESSAGE: "x", _PID: "1" }, binary: ["BLOB"] });
  });

  const CASES: Array<[string, string[]]> = [
    ["stop-sigterm-timeout.json", ["SYSTEMD_STOP_TIMEOUT", "SYSTEMD_KILL", "SYSTEMD_KILL", "SYSTEMD_EXIT"]],
    ["scope-stop-timeout.export", ["SYSTEMD_STOP_TIMEOUT", "SYSTEMD_KILL", "SYSTEMD_KILL"]],
    ["oom-killer.json", ["SYSTEMD_OOM", "SYSTEMD_EXIT"]],
    ["systemd-oomd.json", ["SYSTEMD_OOMD"]],
    ["main-process-exit.json", ["SYSTEMD_EXIT", "SYSTEMD_EXIT", "SYSTEMD_EXIT"]],
  ];
  for (const [file, types] of CASES) {
    test(`${file}: one record per message, the entry as read kept as its raw text`, async () => {
      const { records, messages } = await recordsOf(file);
      expect(messages).toEqual([]);
      expect(records.map((r) => r.type)).toEqual(types);
      const text = readFileSync(`${JOURNAL_DIR}/${file}`, "utf8");
      for (const record of records) {
        expect(text).toContain(record.raw);
        expect(record.time).toMatch(/^2026-12-07T0[23]:\d\d:\d\d\.\d{3}Z$/);
        expect(record.id).toBe(`${Math.floor(Date.parse(record.time!) / 1000)}.${record.time!.slice(20, 23)}:${record.id.split(":")[1]}`);
      }
    });
  }

  test("capture --journal reads both forms, and journalctl -o json lines through -f too", () => {
    const run = (args: string[]) => Bun.spawnSync(["./node_modules/.bin/bun", "scripts/capture.ts", ...args], { stdout: "pipe", stderr: "pipe" });
    const exported = run(["--journal", `${JOURNAL_DIR}/scope-stop-timeout.export`]);
    expect(exported.exitCode).toBe(0);
    expect(exported.stdout.toString().trim().split("\n").map((l) => JSON.parse(l).type)).toEqual(["SYSTEMD_STOP_TIMEOUT", "SYSTEMD_KILL", "SYSTEMD_KILL"]);
    expect(exported.stderr.toString()).toContain("3 records, 1 other journal entries");
    const json = run(["-f", `${JOURNAL_DIR}/stop-sigterm-timeout.json`]);
    expect(json.exitCode).toBe(0);
    expect(json.stdout.toString().trim().split("\n").map((l) => JSON.parse(l).type)).toEqual(["SYSTEMD_STOP_TIMEOUT", "SYSTEMD_KILL", "SYSTEMD_KILL", "SYSTEMD_EXIT"]);
    expect(run(["--journal", "x", "--netlink"]).exitCode).toBe(2);
    // A flag is never taken for the FILE.
    expect(run(["--journal", "--strict"]).stderr.toString()).toContain("--journal took --strict as its FILE");
  });
});

describe("the journal source through the stages", () => {
  const stage = (script: string, args: string[], stdin?: string) => {
    const out = Bun.spawnSync(["./node_modules/.bin/bun", `scripts/${script}.ts`, ...(script === "capture" ? [] : ["--no-lookup"]), ...args], { stdin: stdin === undefined ? "ignore" : Buffer.from(stdin), stdout: "pipe", stderr: "pipe" });
    expect(out.exitCode, out.stderr.toString()).toBe(0);
    return out.stdout.toString();
  };

  test("decode: a stop timeout and an exit with a status are events with no signal; a kill is one with its signal", () => {
    const events = stage("decode", [`${JOURNAL_DIR}/stop-sigterm-timeout.json`]).trim().split("\n").map((l) => JSON.parse(l));
    expect(events.map((e) => [e.type, e.syscall?.signal?.name ?? null])).toEqual([
      ["SYSTEMD_STOP_TIMEOUT", null],
      ["SYSTEMD_KILL", "SIGKILL"],
      ["SYSTEMD_KILL", "SIGKILL"],
      ["SYSTEMD_EXIT", "SIGKILL"],
    ]);
    expect(events[0].records[0].fields).toMatchObject({ message: "webapp.service: State 'stop-sigterm' timed out. Killing.", unit: "webapp.service", state: "stop-sigterm", by_pid: "1", by_comm: "systemd" });
  });

  test("capture --journal | attribute: signal lines from the journal, never said as audit", () => {
    const records = stage("capture", ["--journal", `${JOURNAL_DIR}/scope-stop-timeout.export`]);
    const signals = stage("attribute", [], records).trim().split("\n").map((l) => JSON.parse(l));
    expect(signals.map((s) => [s.source, s.syscall, s.killer.pid, s.target.pid, s.victims[0].comm, s.unit])).toEqual([
      ["journal", null, 1, 1699, "kwin_x11", "session-3.scope"],
      ["journal", null, 1, 1797, "CPMMListener", "session-3.scope"],
    ]);
    expect(stage("attribute", ["--format", "table"], records)).toContain("SIGKILL → 1699 kwin_x11[1699] uid ?  ok (journal systemd-kill)");
  });

  test("report: systemd-stop names the unit, oom-kill the unit systemd reported, the sources count the journal", () => {
    const report = JSON.parse(stage("report", ["--format", "json", `${JOURNAL_DIR}/stop-sigterm-timeout.json`, `${JOURNAL_DIR}/oom-killer.json`]));
    expect(report.summary.totals.sources).toMatchObject({ audit: 0, tracefs: 0, journal: 5 });
    const ids = report.findings.map((f: any) => f.id);
    expect(ids).toContain("systemd-stop");
    expect(ids).toContain("oom-kill");
    expect(report.findings.find((f: any) => f.id === "systemd-stop").evidence.notes).toContain("Which unit: webapp.service, says the journal.");
  });

  test("report: systemd-oomd's kill of a cgroup is the memory-pressure finding, its unit standing for its processes", () => {
    const report = JSON.parse(stage("report", ["--format", "json", `${JOURNAL_DIR}/systemd-oomd.json`]));
    expect(report.findings.map((f: any) => f.id)).toEqual(["memory-pressure"]);
    expect(report.findings[0].headline).toContain("killed 1 process to free memory: every process of app-firefox-4242.scope (SIGKILL)");
  });
});

describe("a `{` line: classifyLine (decode, attribute, report) and capture's lineToRecord read it alike (readJsonLine)", () => {
  const both = (text: string) => {
    const decodeMessages: string[] = [];
    const captureMessages: string[] = [];
    const item = classifyLine(text, { file: "j", line: 3 }, new InputErrors({ strict: false, print: (m) => decodeMessages.push(m) }));
    const stats = { records: 0, structural: 0 };
    const record = lineToRecord(text, { file: "j", line: 3 }, new InputErrors({ strict: false, print: (m) => captureMessages.push(m) }), stats, new OomJoiner());
    return { item, record, stats, decodeMessages, captureMessages };
  };

  test("each of systemd's messages in the fixtures: the same record", () => {
    let seen = 0;
    for (const file of ["main-process-exit.json", "oom-killer.json", "stop-sigterm-timeout.json", "systemd-oomd.json"]) {
      for (const text of readFileSync(`${JOURNAL_DIR}/${file}`, "utf8").split("\n").filter((l) => l !== "")) {
        const { item, record, stats, decodeMessages, captureMessages } = both(text);
        expect(decodeMessages).toEqual([]);
        expect(captureMessages).toEqual([]);
        if (record === null) {
          // Another message of the journal: structure on both paths.
          expect(item).toEqual({ form: "raw", text: "", source: { file: "j", line: 3 } });
          expect(stats).toEqual({ records: 0, structural: 1 });
        } else {
          seen++;
          expect(item).toEqual({ form: "json", value: record, source: { file: "j", line: 3 } });
          expect(stats).toEqual({ records: 1, structural: 0 });
        }
      }
    }
    expect(seen).toBeGreaterThan(0);
  });

  test("an audit entry becomes its record; one missing a part is the same error on both paths; other JSON and no JSON are each path's own", () => {
    const audit = both(JSON.stringify(entry()));
    expect(audit.item).toMatchObject({ form: "raw", text: "type=SYSCALL msg=audit(1285245430.007:34): arch=40000003 syscall=37 success=no exit=-3" });
    expect(audit.record).toMatchObject({ kind: "record", type: "SYSCALL", id: "1285245430.007:34" });
    const damaged = both(JSON.stringify(entry({ _AUDIT_ID: undefined })));
    expect(damaged.item).toBeNull();
    expect(damaged.record).toBeNull();
    expect(damaged.decodeMessages).toEqual(damaged.captureMessages);
    expect(damaged.decodeMessages.join("")).toContain("journal audit entry without a numeric _AUDIT_ID");
    const other = both(JSON.stringify({ _TRANSPORT: "stdout", MESSAGE: "hello" }));
    expect(other.item).toEqual({ form: "raw", text: "", source: { file: "j", line: 3 } });
    expect(other.stats).toEqual({ records: 0, structural: 1 });
    const notJson = both("{ not json");
    expect(notJson.decodeMessages.join("")).toContain("invalid JSON");
    expect(notJson.captureMessages.join("")).toContain("not an audit record");
  });
});

describe("a journal time past what a date can hold", () => {
  const PAST = "9999999999999999999";
  test("is an error naming the kernel entry, and no time for one of systemd's messages: never a crash", () => {
    expect(journalAuditRecord({ _TRANSPORT: "kernel", MESSAGE: "x", __REALTIME_TIMESTAMP: PAST })).toEqual({
      error: `journal kernel entry whose __REALTIME_TIMESTAMP (${PAST} µs) is past what a date can hold`,
    });
    const entries = readFileSync(`${import.meta.dir}/fixtures/journal/stop-sigterm-timeout.json`, "utf8").trim().split("\n").map((line) => JSON.parse(line) as Record<string, string>);
    const facts = entries.map((entry) => journalFactsOf({ ...entry, __REALTIME_TIMESTAMP: PAST, _SOURCE_REALTIME_TIMESTAMP: PAST })).filter((f) => f !== null);
    expect(facts.length).toBeGreaterThan(0);
    for (const f of facts) expect(f.time).toBeNull();
  });
});

describe("--journal: a line that is no journal entry is an input error naming file and line, never dropped", () => {
  const dir = mkdtempSync(join(tmpdir(), "wk-journal-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const read = async (path: string) => {
    const messages: string[] = [];
    const errors = new InputErrors({ strict: false, print: (m) => messages.push(m) });
    const lines = new JournalLines(errors);
    const records: RecordLine[] = [];
    for await (const batch of journalFileRecords(path, errors, lines)) records.push(...batch);
    return { records, messages, stats: lines.stats, errors: errors.count };
  };
  const run = (args: string[]) => Bun.spawnSync(["./node_modules/.bin/bun", ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const TEXT = [
    "Dec 07 02:01:30 web1 systemd[1]: webapp.service: State 'stop-sigterm' timed out. Killing.",
    "Dec 07 02:01:30 web1 systemd[1]: webapp.service: Killing process 4821 (serve) with signal SIGKILL.",
  ].join("\n") + "\n";
  const exportText = readFileSync(`${JOURNAL_DIR}/scope-stop-timeout.export`, "utf8");
  const exportEntries = exportText.split("\n\n").filter((e) => e.trim() !== "");

  test("journalctl's plain text output: each line refused with the hint (-o json or -o export)", async () => {
    const path = write("text.txt", TEXT);
    const { records, messages, errors } = await read(path);
    expect(records).toEqual([]);
    expect(errors).toBe(2);
    expect(messages[0]).toStartWith(`${path}:1: journalctl's text output`);
    expect(messages[1]).toStartWith(`${path}:2: journalctl's text output`);
    for (const m of messages) {
      expect(m).toContain("journalctl -o json");
      expect(m).toContain("journalctl -o export");
    }
    // The other text forms journalctl prints (short-iso, -precise, -full, -monotonic, -unix, its -- markers) alike.
    const forms = write("forms.txt", [
      "2026-12-07T02:01:30+0000 web1 systemd[1]: x.service: Killing process 5 (x) with signal SIGKILL.",
      "2026-12-07T02:01:30.001234+00:00 web1 systemd[1]: x",
      "Dec 07 02:01:30.001234 web1 systemd[1]: x",
      "Mon 2026-12-07 02:01:30 UTC web1 systemd[1]: x",
      "[  610.000001] web1 systemd[1]: x",
      "1796610000.000001 web1 systemd[1]: x",
      "-- Boot 5c1d0e7f9a2b4c6d8e0f1a2b3c4d5e6f --",
    ].join("\n"));
    const all = await read(forms);
    expect(all.messages.length).toBe(7);
    all.messages.forEach((m, i) => expect(m).toStartWith(`${forms}:${i + 1}: journalctl's text output`));
  });

  test("capture --journal and why --journal on text: errors on stderr, counted; --strict stops at the first", () => {
    const path = write("text2.txt", TEXT);
    const capture = run(["scripts/capture.ts", "--journal", path]);
    expect(capture.exitCode).toBe(0);
    expect(capture.stdout.toString()).toBe("");
    const stderr = capture.stderr.toString();
    expect(stderr).toContain(`${path}:1: journalctl's text output`);
    expect(stderr).toContain(`${path}:2: journalctl's text output`);
    expect(stderr).toContain("0 records, 0 other journal entries, 0 binary fields left out, 2 errors");
    const strict = run(["scripts/capture.ts", "--journal", path, "--strict"]);
    expect(strict.exitCode).toBe(1);
    expect(strict.stderr.toString()).toContain(`${path}:1: journalctl's text output`);
    expect(strict.stderr.toString()).not.toContain(`${path}:2:`);
    const whyOut = run(["scripts/why.ts", "4821", "--journal", path, "--no-proc", "--no-lookup"]);
    expect(whyOut.stderr.toString()).toContain(`${path}:1: journalctl's text output`);
    expect(whyOut.stderr.toString()).toContain("2 errors");
    expect(run(["scripts/why.ts", "4821", "--journal", path, "--no-proc", "--no-lookup", "--strict"]).exitCode).toBe(1);
  });

  test("a line that is not JSON inside `-o json` output: an error; the entries around it are read", async () => {
    const lines = readFileSync(`${JOURNAL_DIR}/stop-sigterm-timeout.json`, "utf8").split("\n").filter((l) => l !== "");
    const path = write("mixed.json", [...lines.slice(0, 2), "not json at all", ...lines.slice(2)].join("\n") + "\n");
    const { records, messages } = await read(path);
    expect(records.map((r) => r.type)).toEqual(["SYSTEMD_STOP_TIMEOUT", "SYSTEMD_KILL", "SYSTEMD_KILL", "SYSTEMD_EXIT"]);
    expect(messages).toEqual([`${path}:3: not a journal entry: neither a \`journalctl -o json\` line nor an \`-o export\` field (KEY=VALUE): "not json at all"`]);
  });

  test("a malformed export line: an error naming it; the entry's other fields still make its record", async () => {
    const [first, ...rest] = exportEntries;
    const bad = ["lower=case", "1ST=digit first", "WITH SPACE=x", "=no name", "just words", `${"A".repeat(65)}=too long`, "MESSAGE\u001b[31m=evil"];
    const fields = first!.split("\n");
    const path = write("bad.export", [[fields[0], ...bad, ...fields.slice(1)].join("\n"), ...rest].join("\n\n") + "\n");
    const { records, messages, stats } = await read(path);
    expect(records.map((r) => r.type)).toEqual(["SYSTEMD_STOP_TIMEOUT", "SYSTEMD_KILL", "SYSTEMD_KILL"]);
    expect(records[0]!.source.line).toBe(1);
    expect(records[0]!.raw).toBe(first!);
    expect(stats).toMatchObject({ records: 3, structural: 1, exportEntries: 4, binaryFields: 0 });
    expect(messages.length).toBe(bad.length);
    messages.forEach((m, i) => expect(m).toStartWith(`${path}:${i + 2}: `));
    expect(messages[0]).toContain('"lower" is no journal field name');
    expect(messages[1]).toContain('"1ST" is no journal field name');
    expect(messages[2]).toContain('"WITH SPACE" is no journal field name');
    expect(messages[3]).toContain("an export field without its name");
    expect(messages[4]).toContain("not a journal entry");
    expect(messages[5]).toContain("is no journal field name");
    // Attacker-controlled text is escaped on stderr.
    expect(messages[6]).not.toContain("\u001b");
    expect(messages[6]).toContain("\\x1b");
  });

  // journalctl -o export writes a field that is not printable text as NAME, "\n", a 64-bit little-endian length, the bytes, "\n".
  const binaryField = (name: string, data: Buffer) => {
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(BigInt(data.length));
    return Buffer.concat([Buffer.from(`${name}\n`), size, data, Buffer.from("\n")]);
  };

  test("binary export fields (newlines, CR LF, `=` and empty lines in their bytes, a length byte that is a newline or `{`) are read past", async () => {
    const [first, ...rest] = exportEntries;
    const fields = first!.split("\n");
    const ten = Buffer.from("a\n\nb=c\r\nxy"); // length 10: its first byte is a newline
    const cr = Buffer.from('{"x":1}\r'); // ends in CR, before the field's closing newline
    const brace = Buffer.from(`${"x".repeat(60)}\n\nBAD LINE\n${"y".repeat(52)}`); // length 123: its first byte is `{`
    expect(brace.length).toBe(123);
    const entry = Buffer.concat([
      Buffer.from(`${fields.slice(0, 3).join("\n")}\n`),
      binaryField("BLOB_ONE", ten),
      binaryField("BLOB_TWO", cr),
      binaryField("BLOB_THREE", brace),
      Buffer.from(`${fields.slice(3).join("\n")}\n\n`),
    ]);
    const path = write("binary.export", Buffer.concat([entry, Buffer.from(rest.join("\n\n") + "\n")]));
    const { records, messages, stats } = await read(path);
    expect(messages).toEqual([]);
    expect(records.map((r) => r.type)).toEqual(["SYSTEMD_STOP_TIMEOUT", "SYSTEMD_KILL", "SYSTEMD_KILL"]);
    expect(stats).toMatchObject({ records: 3, structural: 1, exportEntries: 4, binaryFields: 3 });
    expect(records[0]!.raw).toBe([...fields.slice(0, 3), "BLOB_ONE", "BLOB_TWO", "BLOB_THREE", ...fields.slice(3)].join("\n"));
    // The next entries keep their own line numbers.
    const second = readFileSync(path).subarray(0, readFileSync(path).indexOf("__CURSOR", entry.length - 1)).toString("latin1").split("\n").length;
    expect(records[1]!.source.line).toBe(second);
  });

  test("a binary field past the line limit is read past by its length; one whose data does not end at a newline is an error", async () => {
    const [first, ...rest] = exportEntries;
    const fields = first!.split("\n");
    const big = Buffer.concat([Buffer.from("\n"), Buffer.alloc(1_300_000, 0x78), Buffer.from("\nend=of it")]);
    const bigPath = write("big.export", Buffer.concat([Buffer.from(`${fields.join("\n")}\n`), binaryField("COREDUMP", big), Buffer.from(`\n${rest.join("\n\n")}\n`)]));
    const bigRead = await read(bigPath);
    expect(bigRead.messages).toEqual([]);
    expect(bigRead.records.map((r) => r.type)).toEqual(["SYSTEMD_STOP_TIMEOUT", "SYSTEMD_KILL", "SYSTEMD_KILL"]);
    expect(bigRead.stats.binaryFields).toBe(1);
    // A length of 3 before 6 bytes of data.
    const short = binaryField("BLOB", Buffer.from("abcdef"));
    short.writeBigUInt64LE(3n, 5);
    const shortPath = write("short.export", Buffer.concat([Buffer.from(`${fields.join("\n")}\n`), short, Buffer.from(`\n${rest.join("\n\n")}\n`)]));
    const shortRead = await read(shortPath);
    expect(shortRead.records.map((r) => r.type)).toEqual(["SYSTEMD_STOP_TIMEOUT", "SYSTEMD_KILL", "SYSTEMD_KILL"]);
    expect(shortRead.messages).toEqual([`${shortPath}:${fields.length + 1}: binary export field BLOB of 3 bytes does not end at a newline: lines ${fields.length + 2}-${fields.length + 2} were read as its data`]);
  });

  test("a binary field cut short, or a bare name with no length after it: errors, and the lines after it are read", async () => {
    const [first] = exportEntries;
    const cut = Buffer.concat([Buffer.from(`${first}\n`), binaryField("BLOB", Buffer.from("0123456789")).subarray(0, 16)]);
    const cutPath = write("cut.export", cut);
    const cutRead = await read(cutPath);
    expect(cutRead.records.map((r) => r.type)).toEqual(["SYSTEMD_STOP_TIMEOUT"]);
    expect(cutRead.messages).toEqual([`${cutPath}:${first!.split("\n").length + 1}: binary export field BLOB of 10 bytes, cut short: the input ends after 3`]);
    // A bare name in `-o json` output: what follows is no 64-bit length (a JSON line), so it is read as a line.
    const json = readFileSync(`${JOURNAL_DIR}/stop-sigterm-timeout.json`, "utf8").split("\n").filter((l) => l !== "");
    const barePath = write("bare.json", ["STRAY", ...json].join("\n") + "\n");
    const bare = await read(barePath);
    expect(bare.records.map((r) => r.type)).toEqual(["SYSTEMD_STOP_TIMEOUT", "SYSTEMD_KILL", "SYSTEMD_KILL", "SYSTEMD_EXIT"]);
    expect(bare.messages.length).toBe(1);
    expect(bare.messages[0]).toStartWith(`${barePath}:1: `);
    expect(bare.messages[0]).toContain("STRAY");
  });
});
