/**
 * attribute --proc (lib/signals/proc.ts): a killer is enriched from /proc
 * only when the process holding its PID now started before the signal, and
 * only for signals from this host. A fake /proc pins the parsing; the live
 * tests use a process this test starts.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { Killer } from "../lib/schema.ts";
import { IdNames, isHostNode } from "../lib/audit/ids.ts";
import type { Victim } from "../lib/schema.ts";
import { enrichFromProc, placeVictimFromProc, ProcReader } from "../lib/signals/proc.ts";

const root = mkdtempSync(join(tmpdir(), "whokilled-proc-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const BOOT_S = 1_700_000_000;
/** A /proc/PID as the kernel writes it: stat field 22 is the start time in ticks since boot. */
function fakeProcess(pid: number, ppid: number, comm: string, argv: string[], startSecondsAfterBoot: number, exe: string | null) {
  const dir = join(root, String(pid));
  mkdirSync(dir, { recursive: true });
  const fields = ["S", String(ppid), ...Array.from({ length: 17 }, () => "0"), String(startSecondsAfterBoot * 100), "0", "0"];
  writeFileSync(join(dir, "stat"), `${pid} (${comm}) ${fields.join(" ")}\n`);
  writeFileSync(join(dir, "cmdline"), argv.length ? `${argv.join("\0")}\0` : "");
  if (exe) symlinkSync(exe, join(dir, "exe"));
}
writeFileSync(join(root, "stat"), `cpu  1 2 3\nbtime ${BOOT_S}\nprocesses 9\n`);
fakeProcess(1, 0, "systemd", ["/sbin/init"], 1, "/usr/lib/systemd/systemd");
fakeProcess(400, 1, "cron", ["/usr/sbin/cron", "-f"], 5, "/usr/sbin/cron");
fakeProcess(500, 400, "a) (b", ["/opt/odd", "--x"], 100, null);

const killer = (over: Partial<Killer> = {}): Killer => ({ pid: 500, ppid: 400, comm: "a) (b", exe: null, uid: 0, user: "root", auid: null, argv: [], ...over });
const at = (secondsAfterBoot: number) => new Date((BOOT_S + secondsAfterBoot) * 1000).toISOString();

describe("ProcReader and enrichFromProc on a fake /proc", () => {
  const proc = new ProcReader(root, 100, "vm.example.org");

  test("reads stat (comm with spaces and parentheses), cmdline, exe and the start time", () => {
    expect(proc.read(500)).toEqual({ pid: 500, ppid: 400, comm: "a) (b", exe: null, argv: ["/opt/odd", "--x"], startMs: (BOOT_S + 100) * 1000 });
    expect(proc.read(400)?.exe).toBe("/usr/sbin/cron");
    expect(proc.read(999)).toBeNull();
  });

  test("a process that started before the signal gives argv and its parent chain up to PID 1", () => {
    const k = killer();
    expect(enrichFromProc(k, at(200), proc)).toBe(true);
    expect(k.argv).toEqual(["/opt/odd", "--x"]);
    expect(k.ancestry).toEqual([
      { pid: 400, comm: "cron", exe: "/usr/sbin/cron", argv: ["/usr/sbin/cron", "-f"], from: "proc" },
      { pid: 1, comm: "systemd", exe: "/usr/lib/systemd/systemd", argv: ["/sbin/init"], from: "proc" },
    ]);
  });

  test("a process that started after the signal holds a recycled PID: the killer is left alone", () => {
    const k = killer({ argv: ["from", "the", "log"] });
    expect(enrichFromProc(k, at(50), proc)).toBe(false);
    expect(k).toEqual(killer({ argv: ["from", "the", "log"] }));
    expect(enrichFromProc(killer(), null, proc)).toBe(false);
  });

  test("this host is no node, its name, or its short name; another name, domain or an address is not", () => {
    for (const node of [null, "vm", "VM", "vm.example.org", "VM.Example.ORG"]) expect([node, proc.isThisHost(node)]).toEqual([node, true]);
    for (const node of ["web1", "vm2", "vm.other.net", "10.0.0.7", ""]) expect([node, proc.isThisHost(node)]).toEqual([node, false]);
    const short = new ProcReader(root, 100, "vm");
    for (const node of ["vm", "vm.example.org"]) expect([node, short.isThisHost(node)]).toEqual([node, true]);
    for (const node of ["vm2.example.org", "web1"]) expect([node, short.isThisHost(node)]).toEqual([node, false]);
  });

  test("the same process as the event's is told from its stat alone; enrichFromProc and placeVictimFromProc ask the same", () => {
    // A process whose cmdline cannot be read (gone since, or not ours): its stat still says when it started.
    const dir = join(root, "600");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "stat"), `600 (statonly) S 1 ${Array.from({ length: 17 }, () => "0").join(" ")} ${300 * 100} 0 0\n`);
    expect(proc.read(600)).toBeNull();
    expect(proc.sameAsAt(600, at(400))).toEqual({ pid: 600, ppid: 1, comm: "statonly", startMs: (BOOT_S + 300) * 1000 });
    expect(proc.sameAsAt(600, at(200))).toBeNull();
    expect(proc.sameAsAt(600, null)).toBeNull();
    expect(proc.sameAsAt(999, at(400))).toBeNull();
    expect(proc.sameAsAt(500, at(100))).not.toBeNull();
    // Within the slack (20 ms) of the start, still the same process.
    expect(proc.sameAsAt(500, new Date((BOOT_S + 100) * 1000 - 20).toISOString())).not.toBeNull();
    expect(proc.sameAsAt(500, new Date((BOOT_S + 100) * 1000 - 21).toISOString())).toBeNull();
    const victim = (pid: number): Victim => ({ pid, comm: null, uid: null, user: null });
    expect(placeVictimFromProc(victim(600), at(400), proc)).toBe(true);
    expect(placeVictimFromProc(victim(600), at(200), proc)).toBe(false);
    expect(placeVictimFromProc(victim(999), at(400), proc)).toBe(false);
    // The killer needs its cmdline too: without it, it is left alone.
    expect(enrichFromProc(killer({ pid: 600 }), at(400), proc)).toBe(false);
  });
});

describe("is node= this host: one rule for ids' passwd choice and --proc", () => {
  test("isHostNode: case aside, a short name matches a first label, two FQDNs only whole", () => {
    expect(isHostNode("VM.a.org", "vm.a.org")).toBe(true);
    expect(isHostNode("vm", "VM.a.org")).toBe(true);
    expect(isHostNode("vm.a.org", "vm")).toBe(true);
    expect(isHostNode("vm.a.org.b", "vm.a.org")).toBe(false);
    expect(isHostNode("vm.a", "vm.a.org")).toBe(false);
    expect(isHostNode("vm10", "vm")).toBe(false);
  });

  test("IdNames and ProcReader agree, on `VM.a.org` and `vm.a.org.b` too", () => {
    const hostName = "vm.a.org";
    const ids = new IdNames({ lookup: true, thisHost: { name: hostName, logDirs: [root] } });
    const proc = new ProcReader(root, 100, hostName);
    const nodes = ["vm.a.org", "VM.a.org", "vm", "VM", "vm.a.org.b", "vm.a", "vm.b.org", "web1", "10.0.0.7"];
    const answers = nodes.map((node) => [node, ids.isThisHosts("netlink", node), proc.isThisHost(node)]);
    expect(answers).toEqual(nodes.map((node) => [node, isHostNode(node, hostName), isHostNode(node, hostName)]));
    expect(answers.filter(([, local]) => local).map(([node]) => node)).toEqual(["vm.a.org", "VM.a.org", "vm", "VM"]);
  });
});

describe("attribute --proc on this machine's /proc", () => {
  const script = join(import.meta.dir, "..", "scripts", "attribute.ts");
  /** A kill-family SYSCALL by `pid` at `seconds`, as audit would log it (no audit needed). */
  const killLine = (pid: number, ppid: number, seconds: number, node?: string) =>
    `${node ? `node=${node} ` : ""}type=SYSCALL msg=audit(${seconds.toFixed(3)}:77): arch=c000003e syscall=62 success=yes exit=0 a0=1 a1=f a2=0 a3=0 items=0 ` +
    `ppid=${ppid} pid=${pid} auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="sleep" exe="/usr/bin/sleep" key=(null)\n`;

  async function attribute(input: string) {
    const child = Bun.spawn([process.execPath, script, "--no-lookup", "--proc"], { stdin: new Blob([input]), stdout: "pipe", stderr: "pipe" });
    const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    return { lines: stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)), stderr };
  }

  test("a live process that predates the signal is enriched; one that came after, or on another host, is not", async () => {
    const sleeper = Bun.spawn(["sleep", "30"], { stdout: "ignore", stderr: "ignore" });
    try {
      await Bun.sleep(100);
      const now = Date.now() / 1000;
      const { lines, stderr } = await attribute(
        killLine(sleeper.pid, process.pid, now) + killLine(sleeper.pid, process.pid, now - 3600) + killLine(sleeper.pid, process.pid, now, "another-host") + killLine(sleeper.pid, process.pid, now, hostname()),
      );
      expect(lines).toHaveLength(4);
      // Found by stamp and node: the hour-old event may close (and come out) first.
      const at = (seconds: number, node: string | null) => lines.find((l) => l.time === new Date(Math.round(seconds * 1000)).toISOString() && l.node === node);
      const [live, before, remote, local] = [at(now, null), at(now - 3600, null), at(now, "another-host"), at(now, hostname())];
      expect(live.killer.argv).toEqual(["sleep", "30"]);
      expect(live.killer.ancestry[0]).toMatchObject({ pid: process.pid, from: "proc" });
      expect(live.killer.ancestry.at(-1).pid).toBe(1);
      // An hour before the sleeper started, whoever had its PID was another process.
      expect(before.killer.argv).toEqual([]);
      expect(before.killer.ancestry).toBeUndefined();
      expect(remote.killer.argv).toEqual([]);
      expect(stderr).toContain("--proc: signals from node another-host are left as the log has them");
      expect(local.killer.argv).toEqual(["sleep", "30"]);
    } finally {
      sleeper.kill();
    }
  });
});
