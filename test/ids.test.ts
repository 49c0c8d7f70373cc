/**
 * Which passwd names a log's uids (lib/audit/ids.ts): the log's own ENRICHED
 * names, a file the user gave, or this machine's, but this machine's only
 * for its own log. "This machine" is a test double: the minimal passwd, a
 * log directory of the test's own, a host name no log uses.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IdNames } from "../lib/audit/ids.ts";
import { InputErrors } from "../lib/audit/input-errors.ts";
import { readInputs } from "../lib/sources/inputs.ts";
import type { EventLine, SignalLine } from "../lib/schema.ts";
import { SignalStage } from "../lib/signals/signal-stage.ts";
import { EventStage } from "../lib/audit/event-stage.ts";
import { fixturesDir, testHost } from "./helpers/run.ts";

const dir = mkdtempSync(join(tmpdir(), "wk-ids-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logDir = join(dir, "var-log-audit");
mkdirSync(logDir);
const host = { ...testHost(false), logDirs: [logDir], name: "web1" };

const SYSCALL = (stamp: string, extra = "") =>
  `${extra}type=SYSCALL msg=audit(${stamp}): arch=c000003e syscall=62 success=yes exit=0 a0=500 a1=9 a2=0 a3=0 items=0 ppid=1 pid=2 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="x" exe="/x" key=(null)`;
const OBJ_PID = (stamp: string, extra = "", tail = "") => `${extra}type=OBJ_PID msg=audit(${stamp}): opid=500 oauid=-1 ouid=65534 oses=-1 obj=(none) ocomm="y"${tail}`;

describe("this host's log or another's", () => {
  test("live sources and files under this host's audit log directory are this host's; other files are not", () => {
    const ids = new IdNames({ lookup: true, thisHost: host });
    writeFileSync(join(logDir, "audit.log"), "");
    expect(ids.isThisHosts("netlink", null)).toBe(true);
    expect(ids.isThisHosts("tracefs", null)).toBe(true);
    expect(ids.isThisHosts(join(logDir, "audit.log"), null)).toBe(true);
    expect(ids.isThisHosts(join(logDir, "..", "var-log-audit", "audit.log.1"), null)).toBe(true);
    expect(ids.isThisHosts(join(fixturesDir, "seed.log"), null)).toBe(false);
    expect(ids.isThisHosts(`${logDir}-copy/audit.log`, null)).toBe(false);
    expect(ids.isThisHosts(undefined, null)).toBe(false);
  });

  test("an event whose node= names another host is never this host's; this host's name (or with its domain) is", () => {
    const ids = new IdNames({ lookup: true, thisHost: host });
    expect(ids.isThisHosts("netlink", "db2")).toBe(false);
    expect(ids.isThisHosts("netlink", "web1")).toBe(true);
    expect(ids.isThisHosts("netlink", "web1.example.com")).toBe(true);
    expect(ids.isThisHosts("netlink", "web10")).toBe(false);
  });

  test("--local-names: every input is this host's", () => {
    const ids = new IdNames({ lookup: true, localNames: true, thisHost: host });
    expect(ids.isThisHosts(join(fixturesDir, "seed.log"), "db2")).toBe(true);
    expect(ids.scope("-", null).user(0)).toBe("root");
  });

  test("scopes: this machine's passwd only for its own log; a --passwd file for any; none without lookups", () => {
    const ids = new IdNames({ lookup: true, thisHost: host });
    expect(ids.scope("netlink", null).user(65534)).toBe("nobody");
    expect(ids.scope("elsewhere.log", null).user(65534)).toBeNull();
    expect(ids.scope("elsewhere.log", null).unnamed).toBe(true);
    expect(ids.scope("netlink", null).unnamed).toBe(false);
    const given = new IdNames({ lookup: true, passwdFile: join(fixturesDir, "passwd.minimal"), thisHost: { ...host, passwdFile: "/nonexistent" } });
    expect(given.scope("elsewhere.log", "db2").user(0)).toBe("root");
    expect(given.scope("elsewhere.log", "db2").unnamed).toBe(false);
    // Groups: this machine's group file only for this host's log, as users.
    expect(given.scope("elsewhere.log", null).group(0)).toBeNull();
    const off = new IdNames({ lookup: false, thisHost: host });
    expect(off.scope("netlink", null).user(0)).toBeNull();
    expect(off.scope("elsewhere.log", null).unnamed).toBe(false);
  });

  test("stdin redirected from a file is that file (`attribute < /var/log/audit/audit.log`); a pipe is not known", async () => {
    const local = join(logDir, "audit.log");
    const probe = join(dir, "probe.ts");
    writeFileSync(
      probe,
      `import { IdNames } from ${JSON.stringify(join(import.meta.dir, "..", "lib", "audit", "ids.ts"))};\n` +
        `console.log(new IdNames({ lookup: true, thisHost: ${JSON.stringify(host)} }).isThisHosts("-", null));\n`,
    );
    const answer = async (stdin: Blob | "pipe") => {
      const child = Bun.spawn([process.execPath, probe], { stdin, stdout: "pipe", stderr: "inherit" });
      if (child.stdin && typeof child.stdin !== "number") child.stdin.end();
      return (await new Response(child.stdout).text()).trim();
    };
    expect(await answer(Bun.file(local))).toBe("true");
    expect(await answer(Bun.file(join(fixturesDir, "seed.log")))).toBe("false");
    expect(await answer("pipe")).toBe("false");
  });
});

describe("events and signals", () => {
  const stamp = "1700000000.000:1";
  const log = [SYSCALL(stamp), OBJ_PID(stamp)].join("\n") + "\n";

  async function decodeAt(path: string, settings = { lookup: true, thisHost: host }) {
    writeFileSync(path, log);
    const stage = new EventStage(settings, new InputErrors({ strict: true, print: () => {} }));
    const lines = [];
    for await (const batch of readInputs([path], stage.errors)) lines.push(...stage.push(batch));
    lines.push(...stage.flush());
    return lines[0] as EventLine;
  }

  test("the same log named from this machine's passwd in its own log directory, and left as numbers (namesUnknown) elsewhere", async () => {
    const here = await decodeAt(join(logDir, "audit.log"));
    expect(here.process!.user).toBe("root");
    expect(here.targets[0]!.user).toBe("nobody");
    expect(here.namesUnknown).toBeUndefined();
    const copy = await decodeAt(join(dir, "copied-from-elsewhere.log"));
    expect(copy.process).toMatchObject({ uid: 0, user: null });
    expect(copy.targets[0]).toMatchObject({ uid: 65534, user: null });
    expect(copy.namesUnknown).toBe(true);
    expect(copy.records.find((r) => r.type === "OBJ_PID")!.decoded.ouid).toBe("unknown(65534)");
  });

  test("one name per uid in a log: the ENRICHED name where a record has one, never this machine's on the next line", async () => {
    // Another host's log: uid 65534 is "prometheus" there.
    const second = "1700000001.000:2";
    const text = [SYSCALL(stamp), OBJ_PID(stamp, "", '\u001dOUID="prometheus" OAUID="unset"'), SYSCALL(second), OBJ_PID(second)].join("\n") + "\n";
    const path = join(dir, "enriched-mixed.log");
    writeFileSync(path, text);
    const errors = new InputErrors({ strict: true, print: () => {} });
    const stage = new SignalStage({ lookup: true, thisHost: host, filter: {} }, errors);
    const signals: SignalLine[] = [];
    for await (const batch of readInputs([path], errors, { prefilter: stage.prefilter })) signals.push(...(stage.push(batch) as SignalLine[]));
    signals.push(...(stage.flush() as SignalLine[]));
    expect(signals.map((s) => s.victims[0]!.user)).toEqual(["prometheus", null]);
    // The killer's uid 0 has no name in this log: both lines say so.
    expect(signals.map((s) => s.namesUnknown)).toEqual([true, true]);
  });

  test("capture's record lines keep their source: netlink records are this host's, a copied file's are not", async () => {
    const record = (raw: string, file: string, line: number) => JSON.stringify({ kind: "record", type: raw.slice(5, raw.indexOf(" ")), id: stamp, node: null, raw, source: { file, line } });
    for (const [file, user] of [["netlink", "root"], ["/srv/copies/audit.log", null]] as const) {
      const path = join(dir, `records-${user ?? "none"}.jsonl`);
      writeFileSync(path, [record(SYSCALL(stamp), file, 1), record(OBJ_PID(stamp), file, 2)].join("\n") + "\n");
      const stage = new EventStage({ lookup: true, thisHost: host }, new InputErrors({ strict: true, print: () => {} }));
      const lines = [];
      for await (const batch of readInputs([path], stage.errors)) lines.push(...stage.push(batch));
      lines.push(...stage.flush());
      expect((lines[0] as EventLine).process!.user).toBe(user);
    }
  });
});
