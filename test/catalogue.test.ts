/**
 * The killer catalogue from hand-written fixture logs (what this machine
 * cannot make: systemd as PID 1, docker, Kubernetes, systemd-oomd; each
 * fixture says so in its `#` header and names its documentation), plus the
 * argv parsers, the killer table and the bounds.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { InputErrors } from "../lib/audit/input-errors.ts";
import { analyze, type Finding } from "../lib/signals/findings.ts";
import { parseKillToolArgv } from "../lib/signals/findings/pkill.ts";
import { SequenceTable } from "../lib/signals/findings/sequences.ts";
import { parseTimeoutArgv, timeoutDurationMs } from "../lib/signals/findings/timeout.ts";
import { signalsFrom } from "../lib/signals/signal-stage.ts";
import { killerProgram } from "../lib/tables/killers.ts";
import { sig } from "./helpers/report-fixtures.ts";
import { decodeFiles, fixturesDir } from "./helpers/run.ts";

async function findingsOf(name: string): Promise<Finding[]> {
  const errors = new InputErrors({ strict: true, print: () => {} });
  const report = await analyze(signalsFrom([join(fixturesDir, name)], { errors, lookup: false, filter: {} }));
  expect(errors.count).toBe(0);
  return report.findings;
}

describe("hand-written fixtures", () => {
  const fixtures = ["catalogue-systemd-stop.log", "catalogue-docker-stop.log", "catalogue-kubernetes-stop.log", "catalogue-systemd-oomd.log"];

  test("each says in its # header that it was written by hand, and from which documentation; the parser takes # lines as structural", async () => {
    for (const name of fixtures) {
      const text = readFileSync(join(fixturesDir, name), "utf8");
      expect(text.split("\n")[0]).toStartWith("# Written by hand (not captured)");
      expect(text).toMatch(/^# From .*documented behaviour \(/m);
      const comments = text.split("\n").filter((line) => line.startsWith("#")).length;
      const { messages } = await decodeFiles([join(fixturesDir, name)]);
      expect(messages).toEqual([]);
      const { lines } = await decodeFiles([join(fixturesDir, name)]);
      expect(lines.length).toBe(text.split("\n").filter((l) => l.startsWith("type=SYSCALL")).length);
      expect(comments).toBeGreaterThanOrEqual(3);
    }
  });

  test("systemd (PID 1) stopping a unit: SIGTERM, then SIGKILL 90 s later, the default TimeoutStopSec", async () => {
    const [f, ...rest] = await findingsOf("catalogue-systemd-stop.log");
    expect(rest).toEqual([]);
    expect(f!.id).toBe("systemd-stop");
    expect(f!.severity).toBe("warning");
    expect(f!.headline).toBe(
      "systemd (pid 1) stopped 2 processes of a unit: nginx (pid 2301), nginx (pid 2302): SIGTERM, then SIGKILL 90 s later: the grace period ran out (TimeoutStopSec=, default 90 s)",
    );
    expect(f!.evidence.counts).toMatchObject({ victims: 2, graceMs: 90_002, forced: 2, SIGTERM: 2, SIGCONT: 2, SIGKILL: 2 });
    expect(f!.evidence.notes).toContain("nginx (pid 2301): SIGTERM, then SIGCONT, then SIGKILL 90 s later, first in 1774000000.100:1001");
    expect(f!.evidence.notes.some((n) => n.startsWith("Which unit: audit does not say. journalctl around 2026-03-20T09:46:40.100Z"))).toBe(true);
    expect(f!.evidence.examples).toEqual(["1774000000.100:1001", "1774000000.100:1002", "1774000090.102:1005", "1774000090.102:1006"]);
    expect(f!.explanation).toContain("TimeoutStopSec runs out (90 s");
    expect(f!.advice).toContain("TimeoutStopSec=");
  });

  test("docker stop: runc sends SIGTERM, then SIGKILL after docker's 10 s", async () => {
    const [f, ...rest] = await findingsOf("catalogue-docker-stop.log");
    expect(rest).toEqual([]);
    expect(f!.id).toBe("container-stop");
    expect(f!.headline).toBe(
      "runc (the OCI container runtime) stopped 1 process of a container: node (pid 4100): SIGTERM, then SIGKILL 10 s later: the grace period ran out (docker stop's default, 10 s)",
    );
    expect(f!.killer).toMatchObject({ comm: "runc", pids: [5101, 5140] });
    expect(f!.evidence.counts).toMatchObject({ graceMs: 10_004, forced: 1 });
    expect(f!.evidence.notes).toContain("Grace period 10 s: docker stop's default, 10 s");
  });

  test("Kubernetes: the shim's SIGKILL after the pod's 30 s grace period", async () => {
    const [f, ...rest] = await findingsOf("catalogue-kubernetes-stop.log");
    expect(rest).toEqual([]);
    expect(f!.id).toBe("container-stop");
    expect(f!.headline).toContain("containerd-shim (containerd's runtime shim, for Docker and Kubernetes) stopped 1 process of a container: java (pid 6200)");
    expect(f!.headline).toEndWith("SIGTERM, then SIGKILL 30 s later: the grace period ran out (Kubernetes' default terminationGracePeriodSeconds, 30 s)");
    expect(f!.evidence.counts).toMatchObject({ graceMs: 30_003 });
  });

  test("systemd-oomd killing a cgroup under memory pressure", async () => {
    const [f, ...rest] = await findingsOf("catalogue-systemd-oomd.log");
    expect(rest).toEqual([]);
    expect(f!.id).toBe("memory-pressure");
    expect(f!.severity).toBe("warning");
    expect(f!.headline).toBe(
      "systemd-oomd (systemd-oomd, which kills a whole cgroup under memory pressure (PSI)) killed 3 processes to free memory: firefox (pid 7001), Isolated Web Co (pid 7010), Web Content (pid 7022) (SIGKILL)",
    );
    expect(f!.advice).toContain("ManagedOOMMemoryPressureLimit=");
    expect(f!.evidence.examples).toEqual(["1774003000.700:4001", "1774003000.701:4002", "1774003000.702:4003"]);
  });
});

describe("argv parsers", () => {
  test("timeout: duration, -k, -s, long options, the command", () => {
    expect(parseTimeoutArgv(["timeout", "1", "sleep", "10"])).toEqual({ duration: "1", durationMs: 1000, killAfter: null, killAfterMs: null, signal: null, command: ["sleep", "10"] });
    expect(parseTimeoutArgv(["timeout", "-k", "5", "30s", "cmd"])).toMatchObject({ durationMs: 30_000, killAfter: "5", killAfterMs: 5000, command: ["cmd"] });
    expect(parseTimeoutArgv(["timeout", "-s", "INT", "--kill-after=1m", "2.5m", "x", "-k"])).toMatchObject({ signal: "INT", killAfterMs: 60_000, durationMs: 150_000, command: ["x", "-k"] });
    expect(parseTimeoutArgv(["timeout", "--preserve-status", "-sKILL", "1h", "y"])).toMatchObject({ signal: "KILL", durationMs: 3_600_000, command: ["y"] });
    expect(parseTimeoutArgv(["timeout", "--signal", "HUP", "--", "1d", "z"])).toMatchObject({ signal: "HUP", durationMs: 86_400_000, command: ["z"] });
    expect(parseTimeoutArgv(["timeout"])).toMatchObject({ duration: null, command: [] });
    expect(timeoutDurationMs(".5")).toBe(500);
    expect(timeoutDurationMs("1x")).toBeNull();
  });

  test("pkill, killall, kill: pattern, -f, exact, the signal", () => {
    expect(parseKillToolArgv("pkill", ["pkill", "-f", "worker --queue"])).toMatchObject({ patterns: ["worker --queue"], fullCommandLine: true, signal: null });
    expect(parseKillToolArgv("pkill", ["pkill", "-9", "-u", "www", "-x", "php"])).toMatchObject({ patterns: ["php"], exact: true, signal: "9" });
    expect(parseKillToolArgv("pkill", ["pkill", "--signal", "HUP", "-fn", "nginx"])).toMatchObject({ patterns: ["nginx"], fullCommandLine: true, signal: "HUP" });
    expect(parseKillToolArgv("killall", ["killall", "-s", "KILL", "-e", "a", "b"])).toMatchObject({ patterns: ["a", "b"], exact: true, signal: "KILL" });
    expect(parseKillToolArgv("kill", ["kill", "-TERM", "123", "-456"])).toMatchObject({ patterns: ["123", "-456"], signal: "TERM" });
    expect(parseKillToolArgv("kill", ["kill", "--", "-789"])).toMatchObject({ patterns: ["-789"], signal: null });
  });
});

describe("killer table", () => {
  test("by comm, exe or argv; systemd only as PID 1 or the systemd binary", () => {
    expect(killerProgram({ pid: 1, comm: "systemd", exe: "/usr/lib/systemd/systemd" })?.kind).toBe("systemd");
    expect(killerProgram({ pid: 4000, comm: "systemd", exe: "/tmp/fake" })).toBeNull();
    expect(killerProgram({ pid: 900, comm: "systemd", exe: "/lib/systemd/systemd", argv: ["/lib/systemd/systemd", "--user"] })?.kind).toBe("systemd");
    expect(killerProgram({ pid: 5, comm: "containerd-shim", exe: "/usr/bin/containerd-shim-runc-v2" })).toMatchObject({ kind: "container", graceMs: 10_000 });
    expect(killerProgram({ pid: 5, comm: "kubelet", exe: null })).toMatchObject({ kind: "container", graceMs: 30_000 });
    expect(killerProgram({ pid: 5, comm: "python3", exe: "/usr/bin/python3.11", argv: ["/usr/bin/python3", "/usr/bin/supervisord"] })?.kind).toBe("supervisor");
    for (const comm of ["systemd-oomd", "earlyoom", "oomd"]) expect(killerProgram({ pid: 5, comm, exe: null })?.kind).toBe("memory-pressure");
    for (const comm of ["pkill", "killall", "kill"]) expect(killerProgram({ pid: 5, comm, exe: null })?.kind).toBe("pkill");
    expect(killerProgram({ pid: 5, comm: "timeout", exe: "/usr/bin/timeout" })?.kind).toBe("timeout");
    expect(killerProgram({ pid: 5, comm: "bash", exe: "/usr/bin/bash" })).toBeNull();
  });
});

describe("bounded state", () => {
  test("the sequence table keeps at most maxSequences sequences and counts the rest", () => {
    const table = new SequenceTable(10, 5);
    for (let i = 0; i < 100; i++) {
      const signal = sig({ id: `s${i}`, time: 1_700_000_000 + i, nr: 15, target: 1000 + i, killer: { pid: 1, comm: "systemd", exe: "/usr/lib/systemd/systemd" }, victims: [{ comm: "v", uid: 0 }] });
      table.add({ signal, ms: (1_700_000_000 + i) * 1000, crossCheck: null, killerKey: "k" });
    }
    expect(table.sequences.size).toBe(10);
    expect(table.sequences.notKept + table.timers.notKept).toBe(90);
  });

  test("a killer the table does not know, not the victim's parent, is no catalogue finding", async () => {
    const report = await analyze([sig({ id: "a", time: 1_700_000_000, nr: 15, target: 50, killer: { pid: 9, comm: "myapp", exe: "/opt/myapp" }, victims: [{ pid: 50, comm: "x", uid: 0 }] })]);
    expect(report.findings).toEqual([]);
  });

  test("a sender that is the victim's parent is a supervisor; restarts are new PIDs of the same program", async () => {
    const loop = { pid: 300, ppid: 200, comm: "bash", exe: "/usr/bin/bash" };
    const signals = [0, 1, 2].map((i) => {
      const s = sig({ id: `k${i}`, time: 1_700_000_000 + i, nr: 15, target: 301 + i, killer: loop, victims: [{ pid: 301 + i, comm: "worker", uid: 0 }] });
      s.victims[0]!.ppid = 300;
      return s;
    });
    const [f, ...rest] = (await analyze(signals)).findings;
    expect(rest).toEqual([]);
    expect(f!.id).toBe("supervisor");
    expect(f!.headline).toBe("bash (pid 300, a shell loop) stopped its own child worker 3 times and started it again 2 times in between: SIGTERM, and no SIGKILL followed (it stopped within the grace period, or was left running)");
    expect(f!.severity).toBe("info");
  });
});
