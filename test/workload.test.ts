import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { makeNamedCgroup, namedCgroupRoot, sleeperInNamespace, type NamedCgroup } from "./helpers/cgroup.ts";
import { nsPidsOfStatus, readPlacement, workloadLabel, workloadOfCgroupFile, workloadOfPath } from "../lib/signals/workload.ts";

const ID = "3f2a9c0d1e4b5a69788796a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5";
const POD_UID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

describe("workloadOfPath: the shapes runtimes and systemd write", () => {
  const cases: [string, string, Partial<ReturnType<typeof workloadOfPath> & object> | null][] = [
    ["a system service", "/system.slice/nginx.service", { unit: "nginx.service", container: null, pod: null }],
    ["a login session", "/user.slice/user-1000.slice/session-3.scope", { unit: "session-3.scope", userManager: null }],
    ["a user's app unit", "/user.slice/user-1000.slice/user@1000.service/app.slice/app-foo.scope", { unit: "app-foo.scope", userManager: "user@1000.service" }],
    ["the user manager itself", "/user.slice/user-1000.slice/user@1000.service/init.scope", { unit: "init.scope", userManager: "user@1000.service" }],
    ["docker, systemd driver", `/system.slice/docker-${ID}.scope`, { unit: `docker-${ID}.scope`, container: { runtime: "docker", id: ID } }],
    ["docker, cgroupfs driver", `/docker/${ID}`, { unit: null, container: { runtime: "docker", id: ID } }],
    [
      "Kubernetes on containerd, systemd driver",
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_UID.replaceAll("-", "_")}.slice/cri-containerd-${ID}.scope`,
      { container: { runtime: "containerd", id: ID }, pod: POD_UID },
    ],
    ["Kubernetes, cgroupfs driver", `/kubepods/burstable/pod${POD_UID}/${ID}`, { container: { runtime: "kubernetes", id: ID }, pod: POD_UID }],
    ["CRI-O", `/kubepods.slice/kubepods-pod${POD_UID.replaceAll("-", "_")}.slice/crio-${ID}.scope`, { container: { runtime: "cri-o", id: ID }, pod: POD_UID }],
    ["podman", `/machine.slice/libpod-${ID}.scope`, { container: { runtime: "podman", id: ID } }],
    ["podman, cgroupfs", `/libpod_parent/libpod-${ID}`, { container: { runtime: "podman", id: ID } }],
    ["lxc", "/lxc.payload.web1", { container: { runtime: "lxc", id: "web1" } }],
    ["lxc, v1", "/lxc/web1", { container: { runtime: "lxc", id: "web1" } }],
    ["nspawn", "/machine.slice/systemd-nspawn@box.service", { container: { runtime: "nspawn", id: "box" } }],
    ["the root", "/", null],
    ["a plain slice", "/user.slice", null],
    ["a bare id with no runtime above it", `/foo/${ID}`, null],
  ];
  for (const [what, path, expected] of cases) {
    test(what, () => {
      const workload = workloadOfPath(path);
      if (expected === null) expect(workload).toBeNull();
      else expect(workload).toMatchObject({ cgroup: path, ...expected });
    });
  }

  test("labels: a short container id, the pod, a unit only when it adds something", () => {
    expect(workloadLabel(workloadOfPath(`/system.slice/docker-${ID}.scope`)!)).toBe(`docker container ${ID.slice(0, 12)}`);
    expect(workloadLabel(workloadOfPath(`/kubepods/burstable/pod${POD_UID}/${ID}`)!)).toBe(`kubernetes container ${ID.slice(0, 12)}, pod ${POD_UID}`);
    expect(workloadLabel(workloadOfPath("/system.slice/nginx.service")!)).toBe("nginx.service");
  });
});

describe("/proc/PID/cgroup and status", () => {
  test("cgroup v2: one line", () => {
    expect(workloadOfCgroupFile("0::/system.slice/cron.service\n")?.unit).toBe("cron.service");
  });

  test("cgroup v1: the unit from name=systemd, the container from any hierarchy", () => {
    const text = [
      "12:pids:/docker/" + ID,
      "4:memory:/docker/" + ID,
      "1:name=systemd:/system.slice/containerd.service",
      "0::/",
    ].join("\n");
    expect(workloadOfCgroupFile(text)).toMatchObject({ unit: "containerd.service", container: { runtime: "docker", id: ID } });
  });

  test("nothing named: null", () => {
    expect(workloadOfCgroupFile("9:name=systemd:/\n4:memory:/\n0::/\n")).toBeNull();
    expect(workloadOfCgroupFile("")).toBeNull();
  });

  test("NSpid: outermost first", () => {
    expect(nsPidsOfStatus("Name:\tsleep\nNSpid:\t4242\t1\nNStgid:\t4242\t1\n")).toEqual([4242, 1]);
    expect(nsPidsOfStatus("Name:\tsleep\nNSpid:\t4242\n")).toEqual([4242]);
    expect(nsPidsOfStatus("Name:\tsleep\n")).toBeNull();
  });
});

// Live: a process in a PID namespace the test makes, in a cgroup named as docker names it.
const unshare = Bun.which("unshare");
const isRoot = process.getuid?.() === 0;
const pidsRoot = namedCgroupRoot();
const liveSkip = !isRoot ? "not root" : unshare === null ? "unshare missing" : pidsRoot === undefined ? "no writable cgroup hierarchy" : null;
if (liveSkip) console.error(`live workload test skipped: ${liveSkip}`);

describe.skipIf(liveSkip !== null)("live", () => {
  let cgroup: NamedCgroup | null = null;
  afterAll(() => cgroup?.remove());

  test("unshare -p in a docker-named cgroup: the namespace PID and the container id", async () => {
    cgroup = makeNamedCgroup(pidsRoot!, `whokilled-test-workload-${process.pid}`, `docker-${ID}.scope`);
    // unshare forks the namespace's first process (PID 1 inside); it sleeps while we look.
    const { child, inner } = await sleeperInNamespace(cgroup.procs);
    try {
      expect(inner).toBeDefined();
      const placement = readPlacement(inner!);
      expect(placement?.nsPid).toBe(1);
      expect(placement?.workload?.container).toEqual({ runtime: "docker", id: ID });
      expect(placement?.workload?.cgroup).toEndWith(`/whokilled-test-workload-${process.pid}/docker-${ID}.scope`);
      // Our own process: the host's namespace, no container.
      expect(readPlacement(process.pid)?.nsPid).toBeNull();

      // attribute --proc places a live killer and victim: a kill by that process, at a process in the host's namespace (ours).
      const seconds = (Date.now() / 1000).toFixed(3);
      const log =
        `type=SYSCALL msg=audit(${seconds}:91): arch=c000003e syscall=62 success=yes exit=0 a0=${process.pid.toString(16)} a1=0 a2=0 a3=0 items=0 ppid=${child.pid} pid=${inner} auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="sleep" exe="/usr/bin/sleep" key=(null)\n` +
        `type=OBJ_PID msg=audit(${seconds}:91): opid=${process.pid} oauid=-1 ouid=0 oses=-1 obj=(none) ocomm="bun"\n`;
      const script = join(import.meta.dir, "..", "scripts", "attribute.ts");
      const run = Bun.spawnSync([process.execPath, script, "--no-lookup", "--proc", "--probes"], { stdin: new Blob([log]), stdout: "pipe", stderr: "pipe" });
      const signal = JSON.parse(run.stdout.toString().trim());
      expect(signal.killer).toMatchObject({ pid: inner, nsPid: 1, workload: { container: { runtime: "docker", id: ID } } });
      expect(signal.victims[0].pid).toBe(process.pid);
      expect(signal.victims[0].nsPid).toBeUndefined();
      const table = Bun.spawnSync([process.execPath, script, "--no-lookup", "--proc", "--probes", "--format", "table"], { stdin: new Blob([log]), stdout: "pipe" });
      expect(table.stdout.toString()).toContain(`sleep[${inner}] (ns pid 1, docker container ${ID.slice(0, 12)})`);
      // report groups by unit or container: the docker container sent the signal.
      const report = join(import.meta.dir, "..", "scripts", "report.ts");
      const text = Bun.spawnSync([process.execPath, report, "--no-lookup", "--proc", "--probes"], { stdin: new Blob([log]), stdout: "pipe" }).stdout.toString();
      expect(text).toContain(`Units and containers\n  docker container ${ID.slice(0, 12)}: 1 sent, 0 received`);
    } finally {
      child.kill("SIGKILL");
      await child.exited;
      await Bun.sleep(50);
    }
  });
});
