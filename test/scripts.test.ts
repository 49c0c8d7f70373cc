/**
 * The data scripts as users run them: subprocesses, stdin and files, JSON on
 * stdout only, errors named on stderr, exit codes.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixturesDir } from "./helpers/run.ts";

const root = join(import.meta.dir, "..");
const script = (name: string) => join(root, "scripts", `${name}.ts`);

async function run(args: string[], stdin?: string | Uint8Array) {
  const child = Bun.spawn([process.execPath, ...args], {
    cwd: root,
    stdin: stdin === undefined ? "ignore" : new Blob([stdin]),
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return {
    stdout,
    stderr,
    code,
    get lines() {
      return stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
    },
  };
}

const seed = join(fixturesDir, "seed.log");
const corrupted = join(fixturesDir, "corrupted.log");

describe("capture", () => {
  test("files become record lines, structure is counted, stdout is only JSON", async () => {
    const { lines, stderr, code } = await run([script("capture"), "--file", seed]);
    expect(code).toBe(0);
    expect(lines.map((l) => `${l.kind} ${l.type} ${l.id}`)).toEqual([
      "record OBJ_PID 1285245427.433:22",
      "record SYSCALL 1285245427.433:22",
      "record SYSCALL 1285245427.433:23",
      "record SYSCALL 1285245430.434:34",
    ]);
    expect(lines[0].source).toEqual({ file: seed, line: 5 });
    expect(lines[0].node).toBeNull();
    expect(stderr).toContain("4 records, 4 structural lines");
  });

  test("repeatable --file and - for stdin, in order", async () => {
    const text = await Bun.file(seed).text();
    const { lines } = await run([script("capture"), "--file", "-", "--file", join(fixturesDir, "ausearch-block.log")], text);
    expect(lines.length).toBe(6);
    expect(lines[0].source.file).toBe("-");
    expect(lines[5].source.file).toContain("ausearch-block.log");
  });

  test("a missing file is an error naming it, exit 1", async () => {
    const { stderr, code } = await run([script("capture"), "--file", "/nonexistent/audit.log"]);
    expect(code).toBe(1);
    expect(stderr).toContain("/nonexistent/audit.log");
    expect(stderr).toContain("ENOENT");
  });

  test("bad lines are reported with file and line, the rest goes on; --strict stops with exit 1", async () => {
    const loose = await run([script("capture"), "--file", corrupted]);
    expect(loose.code).toBe(0);
    expect(loose.stderr).toContain(`${corrupted}:8: unterminated audit(…) stamp`);
    expect(loose.stderr).toContain("7 errors");
    expect(loose.lines.length).toBe(4);
    const strict = await run([script("capture"), "--strict", "--file", corrupted]);
    expect(strict.code).toBe(1);
    expect(strict.stderr).toContain(`${corrupted}:7:`);
  });

  test("--rotated reads audit.log.N(.gz) … audit.log oldest first", async () => {
    const dir = (await import("node:fs")).mkdtempSync("/tmp/wk-rotated-");
    const lines = (await Bun.file(seed).text()).split("\n").filter((l) => l.startsWith("type="));
    await Bun.write(join(dir, "audit.log.2.gz"), Bun.gzipSync(Buffer.from(`${lines[0]}\n${lines[1]}\n`)));
    await Bun.write(join(dir, "audit.log.1"), `${lines[2]}\n`);
    await Bun.write(join(dir, "audit.log"), `${lines[3]}\n`);
    const { lines: out } = await run([script("capture"), "--rotated", "--file", join(dir, "audit.log")]);
    expect(out.map((l) => l.id)).toEqual(["1285245427.433:22", "1285245427.433:22", "1285245427.433:23", "1285245430.434:34"]);
    expect(out[0].source.file).toBe(join(dir, "audit.log.2.gz"));
  });
});

describe("decode", () => {
  test("reads raw text on stdin (decode < audit.log)", async () => {
    const { lines, code } = await run([script("decode"), "--no-lookup"], await Bun.file(seed).text());
    expect(code).toBe(0);
    expect(lines.map((l) => l.id)).toEqual(["1285245427.433:22", "1285245427.433:23", "1285245430.434:34"]);
    expect(lines[2].syscall).toMatchObject({ success: false, exit: -3, errno: "ESRCH" });
  });

  test("reads capture's record lines, and gives the same events", async () => {
    const captured = await run([script("capture"), "--file", seed]);
    const fromRecords = await run([script("decode"), "--no-lookup"], captured.stdout);
    const fromRaw = await run([script("decode"), "--no-lookup", seed]);
    const strip = (ls: any[]) => ls.map((e) => ({ ...e, records: e.records.map((r: any) => ({ ...r, source: undefined })) }));
    expect(strip(fromRecords.lines)).toEqual(strip(fromRaw.lines));
  });

  test("--window: how far behind the newest record (audit time) an event without EOE stays open for a late record", async () => {
    const syscall = (stamp: string, pid: number) =>
      `type=SYSCALL msg=audit(${stamp}): arch=c000003e syscall=62 success=yes exit=0 a0=2a a1=9 a2=0 a3=0 items=0 ppid=1 pid=${pid} auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="k" exe="/k" key=(null)`;
    const log = [
      syscall("1700000000.000:1", 100),
      syscall("1700000005.000:2", 101),
      "type=EOE msg=audit(1700000005.000:2): ",
      'type=OBJ_PID msg=audit(1700000000.000:1): opid=42 oauid=-1 ouid=0 oses=-1 ocomm="victim"',
    ].join("\n") + "\n";
    const shape = (lines: any[]) => lines.map((e) => `${e.id} ${e.records.map((r: any) => r.type).join(",")}`);
    // 5 s later than the first event's records, the OBJ_PID is late for a 2 s window: a second event with its id, and a warning.
    const narrow = await run([script("decode"), "--no-lookup", "--window", "2", "-"], log);
    expect(shape(narrow.lines)).toEqual(["1700000005.000:2 SYSCALL,EOE", "1700000000.000:1 SYSCALL", "1700000000.000:1 OBJ_PID"]);
    expect(narrow.lines[2].warnings.join(" ")).toContain("arrived after it was closed");
    const wide = await run([script("decode"), "--no-lookup", "--window", "30", "-"], log);
    expect(shape(wide.lines)).toEqual(["1700000005.000:2 SYSCALL,EOE", "1700000000.000:1 SYSCALL,OBJ_PID"]);
  });

  test("event lines pass through untouched", async () => {
    const once = await run([script("decode"), "--no-lookup", seed]);
    const twice = await run([script("decode"), "--no-lookup"], once.stdout);
    expect(twice.lines).toEqual(once.lines);
  });

  test("an invalid JSON line is an error with its line number", async () => {
    const { stderr, code } = await run([script("decode")], '{"kind":"record",\n');
    expect(code).toBe(0);
    expect(stderr).toContain("-:1: invalid JSON");
  });

  test("a closed pipe ends quietly", async () => {
    const proc = Bun.spawn(["sh", "-c", `"${process.execPath}" "${script("decode")}" --no-lookup "${join(fixturesDir, "live-kill-family.log")}" | head -c 10`], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const stderr = await new Response(proc.stderr).text();
    expect(await proc.exited).toBe(0);
    expect(stderr).not.toMatch(/\[error\]|EPIPE|closed/);
  });
});

describe("attribute", () => {
  test("the original case: roxen (pid 4299) SIGKILLed PID 26880, the bait findpid", async () => {
    const { lines, code } = await run([script("attribute"), "--no-lookup", seed]);
    expect(code).toBe(0);
    expect(lines).toHaveLength(3);
    for (const signal of lines) {
      expect(signal.killer).toMatchObject({ pid: 4299, comm: "roxen", exe: "/usr/local/roxen/server-4.5.241/pike/bin/pike", uid: 0 });
      expect(signal.signal).toEqual({ nr: 9, name: "SIGKILL" });
      expect(signal.target).toEqual({ pid: 26880, scope: "process" });
      expect(signal.arch).toBe("i386");
    }
    expect(lines[0].victims).toEqual([{ pid: 26880, comm: "findpid", uid: 1010, user: null }]);
    expect(lines[2].result).toEqual({ success: false, errno: "ESRCH" });
    expect(lines[2].victims).toEqual([]);
  });

  test("lines of a kind that carries no signal (setup-rule's status) are counted on stderr, not dropped unsaid; report too", async () => {
    const status = '{"kind":"status","topic":"audit","enabled":1,"failure":1,"detail":"audit is on"}\n';
    const stdin = status + readFileSync(seed, "utf8") + status;
    const attribute = await run([script("attribute"), "--no-lookup", "-"], stdin);
    expect(attribute.code).toBe(0);
    expect(attribute.lines).toHaveLength(3);
    expect(attribute.stderr).toContain("2 JSON lines of a kind that carries no signal (status, rule, death, bait…) skipped");
    const report = await run([script("report"), "--no-lookup", "-"], stdin);
    expect(report.stderr).toContain("2 JSON lines of a kind that carries no signal");
  });

  test("journald's copy of the records (journalctl -o json) says the same as audit.log; journalctl's text is refused with a hint", async () => {
    const journal = join(fixturesDir, "journal.log");
    expect((await run([script("attribute"), "--no-lookup", journal])).lines).toEqual((await run([script("attribute"), "--no-lookup", seed])).lines);
    const captured = await run([script("capture"), "--file", journal]);
    const seedRecords = (await run([script("capture"), "--file", seed])).lines;
    expect(captured.lines.map((r) => [r.type, r.id, r.raw])).toEqual(seedRecords.map((r) => [r.type, r.id, r.raw]));
    // 7 comment lines are structure; the kernel-transport entry is a kernel-log line (not audit, skipped); the entry without _AUDIT_ID is an error.
    expect(captured.stderr).toContain("journal.log:13: journal audit entry without a numeric _AUDIT_ID");
    expect(captured.stderr).toContain("4 records, 7 structural lines, 0 gaps, 1 error; 1 line not audit, skipped");
    const text = "Sep 23 12:37:07 web1 audit[4299]: SYSCALL arch=40000003 syscall=37 per=400000 success=yes exit=0 a0=6900 a1=9\n";
    const refused = await run([script("decode")], text);
    expect(refused.stderr).toContain("-:1: journalctl's text output: the audit stamp (time and serial) is not in it; read the journal with `journalctl -o json _TRANSPORT=audit`");
  });

  test("filters: --pid, --failed, --signal, --killer, --since/--until, probes", async () => {
    const live = join(fixturesDir, "live-kill-family.log");
    const ids = async (...flags: string[]) => (await run([script("attribute"), "--no-lookup", live, ...flags])).lines.map((l) => l.id.split(":")[1]);
    expect(await ids()).not.toContain("16307"); // the signal-0 probe is dropped by default
    expect(await ids("--probes")).toContain("16307");
    expect(await ids("--failed")).toEqual(["16267", "16545"]);
    expect(await ids("--pid", "4000000")).toEqual(["16267"]);
    expect(await ids("--pid", "10544")).toEqual(["16541"]); // a victim of the group kill
    expect(await ids("--signal", "SIGRTMAX")).toEqual(["16288"]);
    expect(await ids("--signal", "term")).toEqual(["16263"]);
    expect((await ids("--killer", "wk-sender")).length).toBe(9);
    expect(await ids("--killer", "10484")).toEqual(["16274"]);
    expect(await ids("--since", "2026-11-29T07:03:07.100Z", "--until", "1795935787.200")).toEqual(["16541", "16545"]);
    expect(await ids("--victim-comm", "sh")).toEqual(["16541"]);
    const nodes = async (...flags: string[]) =>
      (await run([script("attribute"), "--no-lookup", join(fixturesDir, "multi-node.log"), ...flags])).lines.map((l) => `${l.node} ${l.id}`);
    expect(await nodes("--node", "web1", "--pid", "500")).toEqual(["web1 1700000000.100:10", "web1 1700000060.100:11", "web1 1700000120.100:12"]);
    expect(await nodes("--node", "web2")).toEqual(["web2 1700000005.100:10"]);
    expect(await nodes("--node", "nowhere")).toEqual([]);
    const table = (await run([script("attribute"), "--no-lookup", "--format", "table", join(fixturesDir, "multi-node.log")])).stdout.split("\n");
    expect(table[0]).toBe("2023-11-14 22:13:20.100Z  web1  agent[700] uid 0 /usr/bin/agent  SIGTERM → 500 nginx[500] uid 33  ok");
  });

  test("--since without a zone is local time (TZ), with Z it is not; a bad time exits 2", async () => {
    const at = async (tz: string, since: string) => {
      const child = Bun.spawn([process.execPath, script("attribute"), "--no-lookup", seed, "--since", since], {
        cwd: root,
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        env: { ...process.env, TZ: tz },
      });
      const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      expect(code).toBe(0);
      return stdout.split("\n").filter(Boolean).length;
    };
    // The seed's calls: 12:37:07.433Z twice, 12:37:10.434Z once.
    expect(await at("UTC", "2010-09-23 12:37:08")).toBe(1);
    expect(await at("Asia/Tokyo", "2010-09-23 21:37:08")).toBe(1); // UTC+9
    expect(await at("America/New_York", "2010-09-23 08:37:08")).toBe(1); // EDT, UTC-4
    expect(await at("Asia/Tokyo", "2010-09-23 12:37:08")).toBe(3);
    expect(await at("Asia/Tokyo", "2010-09-23T12:37:08Z")).toBe(1);
    const bad = await run([script("report"), seed, "--until", "2010-02-30"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--until: expected ISO 8601');
    expect(bad.stderr).toContain('got "2010-02-30"');
  });

  test("--exclude-self drops a process signalling itself (kill -9 $$), --key keeps one rule's signals", async () => {
    const file = join(fixturesDir, "null-and-hexkey.log");
    const all = (await run([script("attribute"), "--no-lookup", file])).lines;
    expect(all.map((l) => [l.id, l.self ?? false])).toEqual([
      ["1588703361.452:26860", false],
      ["1691303777.054:117", true],
    ]);
    const others = (await run([script("attribute"), "--no-lookup", "--exclude-self", file])).lines;
    expect(others.map((l) => l.id)).toEqual(["1588703361.452:26860"]);
    const keyed = (await run([script("attribute"), "--no-lookup", "--key", '"killshot"', file])).lines;
    expect(keyed.map((l) => l.id)).toEqual(["1588703361.452:26860"]);
  });

  test("bad flag values exit 2 with a message", async () => {
    const bad = await run([script("attribute"), seed, "--signal", "SIGNOPE"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown signal");
    const pid = await run([script("attribute"), seed, "--pid", "abc"]);
    expect(pid.code).toBe(2);
    expect(pid.stderr).toContain("--pid must be a whole number");
  });

  test("--format table escapes control characters in comm and exe", async () => {
    const { stdout, code } = await run([script("attribute"), "--no-lookup", "--format", "table", join(fixturesDir, "live-kill-family.log")]);
    expect(code).toBe(0);
    expect(stdout).not.toContain("\u001b");
    expect(stdout).toContain("bad name\\x1b[31m");
    expect(stdout.split("\n").filter(Boolean).length).toBe(10);
  });

  test("ancestry never crosses hosts in a gathered log (node=): raw text, record lines and events agree", async () => {
    const file = join(fixturesDir, "multi-node-ancestry.log");
    const chains = (lines: Array<{ node: string; killer: { ancestry?: Array<{ comm: string }> } }>) =>
      lines.map((l) => [l.node, (l.killer.ancestry ?? []).map((a) => a.comm)]);
    const raw = (await run([script("attribute"), "--no-lookup", file])).lines;
    // web2's pid 300 exec'd updater after web1's pid 300 (sh) started web1's killer; web3 saw no exec of 300.
    expect(chains(raw)).toEqual([["web1", ["sh"]], ["web2", ["updater"]], ["web3", []]]);
    const records = await run([script("capture"), file]);
    expect((await run([script("attribute"), "--no-lookup"], records.stdout)).lines).toEqual(raw);
    const events = await run([script("decode"), "--no-lookup", file]);
    expect((await run([script("attribute")], events.stdout)).lines).toEqual(raw);
  });

  test("ancestry is read as of the kill's audit time, whatever order the lines or the events come in", async () => {
    // web1's pid 400 (sh) starts the killer and execs `later` 0.65 s after the kill; decode emits that
    // execve before the kill (which waits for its window), and web2 kills at the very same stamp.
    const file = join(fixturesDir, "multi-node-same-stamp.log");
    const nightly = (lines: Array<{ killer: { comm: string; ancestry?: Array<{ comm: string }> } }>) =>
      lines.filter((l) => l.killer.comm === "nightly").map((l) => (l.killer.ancestry ?? []).map((a) => a.comm));
    const raw = (await run([script("attribute"), "--no-lookup", file])).lines;
    expect(nightly(raw)).toEqual([["sh"]]);
    const events = await run([script("decode"), "--no-lookup", file]);
    expect(nightly((await run([script("attribute")], events.stdout)).lines)).toEqual([["sh"]]);
  });

  test("ancestry from execve events: the same from raw text (prefilter) as from decoded events, argv from EXECVE", async () => {
    const file = join(fixturesDir, "ancestry.log");
    const raw = (await run([script("attribute"), "--no-lookup", file])).lines;
    const events = await run([script("decode"), "--no-lookup", file]);
    const viaEvents = (await run([script("attribute")], events.stdout)).lines;
    expect(viaEvents).toEqual(raw);
    // PROCTITLE of that execve still shows the old program (bash -c …); EXECVE has the new argv.
    expect(raw[0].killer.ancestry).toEqual([
      { pid: 29965, comm: "sh", exe: "/usr/bin/dash", from: "stream", argv: ["cron-wrapper", "-c", "/tmp/fx/wk-sender kill 29963 15; true"] },
    ]);
    // People see it too: the table names the parent, the report its command line.
    expect((await run([script("attribute"), "--no-lookup", "--format", "table", file])).stdout).toContain('"/tmp/fx/wk-sender kill 29963 15" ← sh[29965]  SIGTERM');
    expect((await run([script("report"), "--no-lookup", file])).stdout).toContain('#1 started by sh[29965] "cron-wrapper -c /tmp/fx/wk-sender kill 29963 15; true"');
  });

  test("reads event lines and signal lines too", async () => {
    const events = await run([script("decode"), "--no-lookup", seed]);
    const fromEvents = await run([script("attribute")], events.stdout);
    const direct = await run([script("attribute"), "--no-lookup", seed]);
    expect(fromEvents.lines).toEqual(direct.lines);
    const again = await run([script("attribute")], direct.stdout);
    expect(again.lines).toEqual(direct.lines);
  });
});

describe("capture --checkpoint (cron runs)", () => {
  test("each record exactly once across appends and a rotation between runs", async () => {
    const { mkdtempSync, appendFileSync, renameSync } = await import("node:fs");
    const dir = mkdtempSync("/tmp/wk-cron-");
    const log = join(dir, "audit.log");
    const cp = join(dir, "cp.json");
    const records = (await Bun.file(join(fixturesDir, "live-kill-family.log")).text()).split("\n").filter((l) => l.startsWith("type="));
    const cron = async () => (await run([script("capture"), "--checkpoint", cp, "--file", log])).lines.map((l) => l.raw);
    appendFileSync(log, records.slice(0, 10).join("\n") + "\n");
    const first = await cron();
    appendFileSync(log, records.slice(10, 15).join("\n") + "\n");
    const second = await cron();
    appendFileSync(log, records.slice(15, 20).join("\n") + "\n");
    renameSync(log, `${log}.1`); // auditd rotates: rename, then a new file
    appendFileSync(log, records.slice(20).join("\n") + "\n");
    const third = await cron();
    const fourth = await cron();
    expect(first).toEqual(records.slice(0, 10));
    expect(second).toEqual(records.slice(10, 15));
    expect(third).toEqual(records.slice(15));
    expect(fourth).toEqual([]);
  });
});

describe("live pipes (`tail -f audit.log | …`): lines pass on at once, Ctrl-C still ends the run", () => {
  const kill = [
    "type=SYSCALL msg=audit(1285245427.433:22): arch=40000003 syscall=37 success=yes exit=0 a0=6900 a1=9 a2=a0a95e0 a3=0 items=0 ppid=4274 pid=4299 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=\"roxen\" exe=\"/usr/local/roxen/server-4.5.241/pike/bin/pike\" key=(null)",
    "type=OBJ_PID msg=audit(1285245427.433:22): opid=26880 oauid=-1 ouid=1010 oses=-1 ocomm=\"findpid\"",
    "type=EOE msg=audit(1285245427.433:22): ",
  ];
  for (const [verb, want] of [
    ["capture", "record"],
    ["attribute", "signal"],
  ] as const) {
    test(`${verb} - on an open, idle pipe`, async () => {
      const child = Bun.spawn([process.execPath, script(verb), "--no-lookup", "-"].filter((a) => verb !== "capture" || a !== "--no-lookup"), {
        cwd: root,
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
      });
      const reader = child.stdout.getReader();
      child.stdin.write(kill.join("\n") + "\n");
      child.stdin.flush();
      // The writer stays open and says nothing more; the lines must come out anyway.
      const first = await Promise.race([reader.read(), Bun.sleep(5000).then(() => null)]);
      expect(first).not.toBeNull();
      const text = new TextDecoder().decode(first!.value);
      expect(JSON.parse(text.split("\n")[0]!).kind).toBe(want);
      const started = performance.now();
      child.kill("SIGINT");
      const code = await Promise.race([child.exited, Bun.sleep(5000).then(() => "still running")]);
      expect(code).toBe(130); // 128 + SIGINT (issue 17)
      expect(performance.now() - started).toBeLessThan(2000);
      reader.releaseLock();
      child.stdin.end();
    });
  }
});

describe("uid names", () => {
  const line = "type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=62 success=yes exit=0 a0=1 a1=9 a2=0 a3=0 items=0 ppid=1 pid=2 auid=1010 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"x\" exe=\"/x\" key=(null)\n";

  test("a log from a pipe is not known to be this host's: uids stay numbers and say so; --local-names, --passwd name them; --no-lookup never", async () => {
    const event = async (...flags: string[]) => (await run([script("decode"), ...flags], line)).lines[0];
    const plain = await event();
    expect(plain.records[0].decoded).toMatchObject({ uid: "unknown(0)", auid: "unknown(1010)" });
    expect(plain.process.user).toBeNull();
    expect(plain.namesUnknown).toBe(true);
    // uid 0 is root on every Linux machine.
    const local = await event("--local-names");
    expect(local.process.user).toBe("root");
    expect(local.namesUnknown).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), "wk-passwd-"));
    try {
      writeFileSync(join(dir, "passwd"), "boss:x:0:0::/:/bin/sh\nsampler:x:1010:1010::/:/bin/sh\n");
      expect((await event("--passwd", join(dir, "passwd"))).records[0].decoded).toMatchObject({ uid: "boss", auid: "sampler" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const off = await event("--no-lookup");
    expect(off.records[0].decoded).toMatchObject({ uid: "unknown(0)", auid: "unknown(1010)" });
    expect(off.namesUnknown).toBeUndefined();

    const signal = async (...flags: string[]) => (await run([script("attribute"), ...flags], line)).lines[0];
    expect(await signal()).toMatchObject({ killer: { uid: 0, user: null }, namesUnknown: true });
    expect((await signal("--local-names")).killer.user).toBe("root");
    expect((await signal("--no-lookup")).namesUnknown).toBeUndefined();

    const report = async (...flags: string[]) => JSON.parse((await run([script("report"), "--format", "json", ...flags], line)).stdout).summary;
    expect(await report()).toMatchObject({ killers: [{ user: null }], totals: { namesUnknown: 1 } });
    expect(await report("--local-names")).toMatchObject({ killers: [{ user: "root" }], totals: { namesUnknown: 0 } });
    const text = async (...flags: string[]) => (await run([script("report"), ...flags], line)).stdout;
    expect(await text()).toContain("1 signal shows users as bare uids");
    expect(await text("--local-names")).not.toContain("bare uids");
  });

  test("the log's own ENRICHED names win, for any log", async () => {
    const enriched = `${line.trimEnd()}\u001dUID="svc-on-its-host" AUID="unset"\n`;
    const signal = (await run([script("attribute")], enriched)).lines[0];
    expect(signal.killer.user).toBe("svc-on-its-host");
    expect(signal.namesUnknown).toBeUndefined();
  });
});

describe("options", () => {
  test("an unknown option is a usage error naming it, exit 2, before anything runs", async () => {
    const cases: Array<[string, string[], string]> = [
      ["capture", ["--folow"], "--folow"],
      ["decode", ["--no-lokup", "-"], "--no-lokup"],
      ["attribute", ["--pidd", "5"], "--pidd"],
      ["report", ["--format", "text", "--quiet"], "--quiet"],
      ["bait", ["--pid", "26880", "--cuont", "1"], "--cuont"],
      ["setup-rule", ["print", "--bogus"], "--bogus"],
      ["demo", ["-x"], "-x"],
    ];
    for (const [name, args, flag] of cases) {
      const { code, stdout, stderr } = await run([script(name), ...args], "");
      expect({ name, code, stdout }).toEqual({ name, code: 2, stdout: "" });
      expect(stderr).toContain(`unknown option ${flag} (see --help)`);
    }
  });

  test("number flags are checked: decode --window, demo --interval", async () => {
    for (const [name, args, message] of [
      ["decode", ["--window", "abc"], '--window must be a number of seconds, got "abc"'],
      ["decode", ["--window", "-3"], '--window must be a number of seconds, got "-3"'],
      ["demo", ["--interval", "0"], "--interval must be more than 0 seconds, got 0"],
      // The replay does not use the interval, but a bad flag is still a usage error, live or not.
      ["demo", ["--seed", "--interval", "0"], "--interval must be more than 0 seconds, got 0"],
      ["demo", ["--interval", "soon"], '--interval must be a number of seconds, got "soon"'],
    ] as const) {
      const { code, stderr } = await run([script(name), ...args], "");
      expect({ name, code }).toEqual({ name, code: 2 });
      expect(stderr).toContain(message);
    }
    expect((await run([script("decode"), "--window", "0.5", seed])).code).toBe(0);
  });

  test("every spelling of a known option still works: --name=value, aliases, --no-x, values that start with -, and --", async () => {
    const seedText = await Bun.file(seed).text();
    const { code, lines } = await run([script("attribute"), "--no-lookup", "--pid=-1", "--signal", "KILL", "-f", "-"], seedText);
    expect(code).toBe(0);
    expect(lines).toEqual([]);
    const all = await run([script("attribute"), "--lookup", "--", seed]);
    expect(all.code).toBe(0);
    expect(all.lines.length).toBe(3);
    const rules = await run([script("setup-rule"), "print", "-k", "wk-spelling", "--format=rules"]);
    expect(rules.code).toBe(0);
    expect(rules.stdout).toContain("-k wk-spelling");
  });
});

describe("--help", () => {
  test("piped help carries no colour codes, even where citty would colour it", async () => {
    const env: Record<string, string | undefined> = { ...process.env };
    for (const name of ["NO_COLOR", "CI", "TEST", "TERM"]) delete env[name];
    for (const name of ["capture", "decode", "attribute", "report", "bait", "setup-rule", "demo"]) {
      const child = Bun.spawn([process.execPath, script(name), "--help"], { cwd: root, stdin: "ignore", stdout: "pipe", stderr: "pipe", env });
      const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      expect({ name, code }).toEqual({ name, code: 0 });
      expect(stdout).toContain("USAGE");
      expect({ name, escapes: stdout.includes("\u001b") }).toEqual({ name, escapes: false });
    }
  });
});

describe("--version", () => {
  test("every script says its name and the package's version", async () => {
    const { version } = JSON.parse(await Bun.file(join(root, "package.json")).text()) as { version: string };
    for (const name of ["capture", "decode", "attribute", "report", "bait", "setup-rule", "demo"]) {
      const { stdout, code } = await run([script(name), "--version"]);
      expect({ name, code, stdout }).toEqual({ name, code: 0, stdout: `whokilled ${name} ${version}\n` });
    }
  });
});

describe("--help examples can be pasted", () => {
  /** A script's --help (or a sub-command's): its examples, and its options with whether each takes a value. */
  async function helpOf(args: string[]) {
    const { stdout, code } = await run(args.concat("--help"));
    expect({ args, code }).toEqual({ args, code: 0 });
    const examples: string[] = [];
    let inExamples = false;
    for (const line of stdout.split("\n")) {
      if (line === "Examples:") inExamples = true;
      else if (line === "") inExamples = false;
      else if (inExamples) examples.push(line.trim());
    }
    const options = new Map<string, boolean>();
    for (const match of stdout.matchAll(/(?:^|[ ,])(--?[a-z][\w-]*)(=<[^>]+>)?/gm)) options.set(match[1]!, match[2] !== undefined);
    return { examples, options, stdout };
  }

  const scripts = ["capture", "decode", "attribute", "report", "bait", "demo", "setup-rule"];
  const subCommands = ["print", "install", "remove", "list", "status"];

  test("examples use only the options their script lists, name files that exist, and end where the command does", async () => {
    let checked = 0;
    for (const name of scripts) {
      const main = await helpOf([script(name)]);
      expect({ name, examples: main.examples.length > 0 }).toEqual({ name, examples: true });
      // citty's " (name)" after the description would land on the last example.
      expect({ name, suffix: main.examples.some((e) => / \([\w -]+\)$/.test(e)) }).toEqual({ name, suffix: false });
      expect({ name, trailing: /[ \t]$/m.test(main.stdout) }).toEqual({ name, trailing: false });
      const helps = new Map([["", main]]);
      if (name === "setup-rule") for (const sub of subCommands) helps.set(sub, await helpOf([script(name), sub]));
      for (const [sub, help] of helps) {
        for (const example of help.examples) {
          const command = example.replace(/\s+#.*$/, "");
          for (const segment of command.split(/\s*(?:\||&&|\|\|)\s*/)) {
            const words = segment.split(/\s+/);
            const at = words.findIndex((w) => w === `scripts/${name}.ts`);
            if (at < 0) continue;
            let i = at + 1;
            let own = help.options;
            if (name === "setup-rule" && subCommands.includes(words[i]!)) {
              expect({ example, sub: words[i] }).toEqual({ example, sub: sub || words[i] });
              own = helps.get(words[i]!)!.options;
              i++;
            }
            for (; i < words.length; i++) {
              const word = words[i]!;
              if (word === "<" || word === ">") {
                const file = words[++i]!;
                if (word === "<" && file.startsWith("test/")) expect({ example, file, exists: existsSync(join(root, file)) }).toEqual({ example, file, exists: true });
                continue;
              }
              if (!word.startsWith("-") || word === "-") {
                if (word.startsWith("test/")) expect({ example, file: word, exists: existsSync(join(root, word)) }).toEqual({ example, file: word, exists: true });
                continue;
              }
              const flag = word.split("=")[0]!;
              expect({ example, flag, listed: own.has(flag) }).toEqual({ example, flag, listed: true });
              if (own.get(flag) && !word.includes("=")) i++;
              checked++;
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(30);
  });
});
