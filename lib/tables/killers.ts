/**
 * The killer catalogue's table: which programs are which kind of killer,
 * told by the sender's comm (what audit's SYSCALL record has) or, where a
 * script sets comm to an interpreter's name, its exe or argv[0]. One row per
 * program; the finding modules in lib/signals/findings/ read only this.
 * Sources: /work/shared/KILLER-FACTS.md (documented defaults, log shapes).
 *
 * comm is at most 15 bytes (TASK_COMM_LEN 16): containerd-shim-runc-v2 shows
 * as `containerd-shim`. comm is the sender's to choose, so a kind here names
 * what a program says it is: the findings say "a program named …".
 */

export type KillerKind = "timeout" | "pkill" | "systemd" | "container" | "supervisor" | "memory-pressure";

export interface KillerProgram {
  kind: KillerKind;
  /** comm as audit logs it (also matched against exe's and argv[0]'s base name). */
  names: readonly string[];
  /** What the program is, in plain words. */
  what: string;
  /** Its documented delay between the stop signal and SIGKILL, ms (null: it sends no SIGKILL by itself). */
  graceMs: number | null;
  /** Where that delay is set. */
  graceSetting: string | null;
}

export const KILLER_PROGRAMS: readonly KillerProgram[] = [
  { kind: "timeout", names: ["timeout"], what: "timeout(1), which runs a command with a time limit", graceMs: null, graceSetting: "timeout's -k DURATION" },
  { kind: "pkill", names: ["pkill"], what: "pkill, which signals every process whose name (or, with -f, whole command line) matches a pattern", graceMs: null, graceSetting: null },
  { kind: "pkill", names: ["killall"], what: "killall, which signals every process with a given name", graceMs: null, graceSetting: null },
  { kind: "pkill", names: ["kill"], what: "kill(1)", graceMs: null, graceSetting: null },
  { kind: "pkill", names: ["skill", "killall5"], what: "a kill-by-name tool", graceMs: null, graceSetting: null },
  { kind: "systemd", names: ["systemd"], what: "systemd, the service manager", graceMs: 90_000, graceSetting: "the unit's TimeoutStopSec= (default DefaultTimeoutStopSec=90s)" },
  { kind: "container", names: ["dockerd"], what: "the Docker daemon", graceMs: 10_000, graceSetting: "docker stop -t / the container's StopTimeout (default 10 s)" },
  { kind: "container", names: ["containerd-shim", "containerd-shim-runc-v2", "containerd-shim-runc-v1", "containerd"], what: "containerd's runtime shim, for Docker and Kubernetes", graceMs: 10_000, graceSetting: "docker stop -t (default 10 s), or the pod's terminationGracePeriodSeconds (default 30 s)" },
  { kind: "container", names: ["runc", "crun"], what: "the OCI container runtime", graceMs: 10_000, graceSetting: "docker stop -t (default 10 s), or the pod's terminationGracePeriodSeconds (default 30 s)" },
  { kind: "container", names: ["conmon", "podman"], what: "Podman's container monitor", graceMs: 10_000, graceSetting: "podman stop -t / the container's StopTimeout (default 10 s)" },
  { kind: "container", names: ["kubelet"], what: "kubelet, the Kubernetes node agent", graceMs: 30_000, graceSetting: "the pod's terminationGracePeriodSeconds (default 30 s)" },
  { kind: "supervisor", names: ["supervisord"], what: "supervisord", graceMs: 10_000, graceSetting: "the program's stopwaitsecs (default 10)" },
  { kind: "supervisor", names: ["runsv"], what: "runit's runsv", graceMs: null, graceSetting: null },
  { kind: "supervisor", names: ["s6-supervise"], what: "s6-supervise", graceMs: null, graceSetting: null },
  { kind: "supervisor", names: ["supervise"], what: "daemontools' supervise", graceMs: null, graceSetting: null },
  { kind: "memory-pressure", names: ["systemd-oomd"], what: "systemd-oomd, which kills a whole cgroup under memory pressure (PSI)", graceMs: null, graceSetting: null },
  { kind: "memory-pressure", names: ["earlyoom"], what: "earlyoom, which kills the biggest process when free memory runs low", graceMs: null, graceSetting: null },
  { kind: "memory-pressure", names: ["oomd"], what: "oomd, which kills cgroups under memory pressure", graceMs: null, graceSetting: null },
  { kind: "memory-pressure", names: ["nohang"], what: "nohang, a low-memory killer", graceMs: null, graceSetting: null },
];

const BY_NAME: ReadonlyMap<string, KillerProgram> = new Map(KILLER_PROGRAMS.flatMap((program) => program.names.map((name) => [name, program] as const)));

/** A path's last component; null for none or an empty path. */
export function baseName(path: string | null | undefined): string | null {
  if (!path) return null;
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Interpreters whose comm hides the script's name: then argv[1] says which program it is. */
const INTERPRETERS = /^(python[\d.]*|perl|ruby|node|bun)$/;

/**
 * The catalogue's row for a sender: by comm, then exe's base name, then
 * argv[0]'s (or argv[1]'s behind an interpreter). systemd counts only as
 * PID 1 or a user manager running the systemd binary, not any process that
 * calls itself `systemd`.
 */
export function killerProgram(killer: { pid: number | null; comm: string | null; exe: string | null; argv?: readonly string[] }): KillerProgram | null {
  const argv = killer.argv ?? [];
  const argv0 = baseName(argv[0]);
  const candidates = [killer.comm, baseName(killer.exe), argv0, argv0 !== null && INTERPRETERS.test(argv0) ? baseName(argv[1]) : null];
  for (const name of candidates) {
    if (name === null) continue;
    const program = BY_NAME.get(name);
    if (!program) continue;
    if (program.kind === "systemd" && killer.pid !== 1 && !/\/systemd$/.test(killer.exe ?? "")) continue;
    return program;
  }
  return null;
}
