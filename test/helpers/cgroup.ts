/**
 * A throwaway memory-limited cgroup for OOM tests. Prefers cgroup v2 (where
 * the memory controller is on the v2 hierarchy); on a hybrid host whose memory
 * controller is bound to cgroup v1 it uses the v1 memory hierarchy instead.
 * Always made at the hierarchy's root with a unique name, never inside
 * someone else's cgroup.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface MemoryCgroup {
  version: 1 | 2;
  dir: string;
  /** Write a pid here to move that process in. */
  procs: string;
  /** What was changed outside the new cgroup (e.g. "+memory" written to subtree_control). */
  notes: string[];
  /** rmdir the cgroup (retrying while the kernel finishes with a dead member). */
  remove(): void;
}

interface Mount {
  path: string;
  type: string;
  options: string[];
}

function mounts(): Mount[] {
  return readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" "))
    .filter((f) => f.length >= 4)
    .map((f) => ({ path: f[1]!.replace(/\\040/g, " "), type: f[2]!, options: f[3]!.split(",") }));
}

function read(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return "";
  }
}

/** Why no memory cgroup can be made here, or null. */
export function memoryCgroupSkipReason(): string | null {
  if (process.getuid?.() !== 0) return "needs root";
  const all = mounts();
  const v2 = all.find((m) => m.type === "cgroup2" && read(join(m.path, "cgroup.controllers")).split(" ").includes("memory"));
  if (v2) return null;
  if (all.some((m) => m.type === "cgroup" && m.options.includes("memory"))) return null;
  return "no memory cgroup controller mounted (neither cgroup2 with memory nor a cgroup v1 memory hierarchy)";
}

/** Make `name` with a hard memory limit and no swap. */
export function makeMemoryCgroup(name: string, limitBytes: number): MemoryCgroup {
  const all = mounts();
  const notes: string[] = [];
  const v2 = all.find((m) => m.type === "cgroup2" && read(join(m.path, "cgroup.controllers")).split(" ").includes("memory"));
  let cgroup: MemoryCgroup;
  if (v2) {
    const subtree = join(v2.path, "cgroup.subtree_control");
    if (!read(subtree).split(" ").includes("memory")) {
      writeFileSync(subtree, "+memory");
      notes.push(`enabled the memory controller in ${subtree}`);
    }
    const dir = join(v2.path, name);
    mkdirSync(dir);
    cgroup = { version: 2, dir, procs: join(dir, "cgroup.procs"), notes, remove: () => removeDir(dir) };
    try {
      writeFileSync(join(dir, "memory.max"), String(limitBytes));
      if (existsSync(join(dir, "memory.swap.max"))) writeFileSync(join(dir, "memory.swap.max"), "0");
    } catch (error) {
      cgroup.remove();
      throw error;
    }
    return cgroup;
  }
  const v1 = all.find((m) => m.type === "cgroup" && m.options.includes("memory"));
  if (!v1) throw new Error(memoryCgroupSkipReason() ?? "no memory cgroup");
  const dir = join(v1.path, name);
  mkdirSync(dir);
  notes.push(`cgroup v1 memory hierarchy at ${v1.path} (the memory controller is not on cgroup v2 here)`);
  cgroup = { version: 1, dir, procs: join(dir, "cgroup.procs"), notes, remove: () => removeDir(dir) };
  try {
    writeFileSync(join(dir, "memory.limit_in_bytes"), String(limitBytes));
    // memsw (memory+swap) must be >= the memory limit, so it goes second; absent without swap accounting.
    if (existsSync(join(dir, "memory.memsw.limit_in_bytes"))) writeFileSync(join(dir, "memory.memsw.limit_in_bytes"), String(limitBytes));
  } catch (error) {
    cgroup.remove();
    throw error;
  }
  return cgroup;
}

/** Where the named-cgroup tests make theirs: the pids hierarchy (cgroup v1), else the cgroup v2 root; undefined when neither is mounted. */
export function namedCgroupRoot(): string | undefined {
  return ["/sys/fs/cgroup/pids", "/sys/fs/cgroup"].find((dir) => existsSync(join(dir, "cgroup.procs")));
}

export interface NamedCgroup {
  /** `parentName` under the root: ours alone (it names this run). */
  parent: string;
  /** `leaf` inside it, named as a workload manager names its cgroups (a systemd unit, a docker scope). */
  dir: string;
  /** Write a pid here to move that process in. */
  procs: string;
  /** rmdir the leaf, then the parent (each retried while the kernel finishes with a dead member); gone already is fine. */
  remove(): void;
}

/** Make `root/parentName/leaf` (parentName unique to the run, e.g. `whokilled-test-NAME-PID`). */
export function makeNamedCgroup(root: string, parentName: string, leaf: string): NamedCgroup {
  const parent = join(root, parentName);
  const dir = join(parent, leaf);
  mkdirSync(dir, { recursive: true });
  return {
    parent,
    dir,
    procs: join(dir, "cgroup.procs"),
    remove: () => {
      removeDir(dir);
      removeDir(parent);
    },
  };
}

function removeDir(dir: string): void {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EBUSY") throw error;
      Bun.sleepSync(20);
    }
  }
  throw new Error(`could not remove cgroup ${dir}: still busy`);
}

/**
 * `sleep 30` as PID 1 of a new PID namespace, born in the cgroup whose
 * cgroup.procs is `procs` (the shell joins it before unshare forks). Resolves
 * with unshare's process and the sleeper's host PID (undefined if it never came).
 */
export async function sleeperInNamespace(procs: string): Promise<{ child: Bun.Subprocess; inner: number | undefined }> {
  const child = Bun.spawn(["sh", "-c", 'echo $$ > "$1" && exec unshare --pid --fork --kill-child sleep 30', "sh", procs], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
  let inner: number | undefined;
  for (let i = 0; i < 300 && inner === undefined; i++) {
    await Bun.sleep(10);
    const kids = readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim();
    if (kids !== "") inner = Number(kids.split(/\s+/)[0]);
  }
  return { child, inner };
}
