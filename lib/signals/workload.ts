/**
 * Which systemd unit or container a process belongs to, from its cgroup
 * path (/proc/PID/cgroup, cgroup v1 and v2), and its PID inside its own PID
 * namespace (NSpid in /proc/PID/status). A PID means little to someone who
 * thinks in services and containers; these are the names they use.
 *
 * The path shapes are the ones the runtimes write (KILLER-FACTS.md):
 * `/docker/<64 hex>`, `…/docker-<64 hex>.scope`, `/kubepods/…/pod<uid>/<64 hex>`,
 * `…/cri-containerd-<64 hex>.scope`, `…/crio-<64 hex>.scope`,
 * `…/libpod-<64 hex>.scope`; systemd units end in .service or .scope.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Container, ContainerRuntime, Workload } from "../schema.ts";

const HEX64 = "[0-9a-f]{64}";
/** Each container shape once: the first that matches a path segment names it. */
const CONTAINER_SEGMENTS: ReadonlyArray<{ pattern: RegExp; runtime: ContainerRuntime }> = [
  { pattern: new RegExp(`^docker-(${HEX64})\\.scope$`), runtime: "docker" },
  { pattern: new RegExp(`^cri-containerd-(${HEX64})\\.scope$`), runtime: "containerd" },
  { pattern: new RegExp(`^crio-(${HEX64})\\.scope$`), runtime: "cri-o" },
  { pattern: new RegExp(`^libpod-(${HEX64})(?:\\.scope)?$`), runtime: "podman" },
  { pattern: /^lxc\.payload\.(.+)$/, runtime: "lxc" },
  { pattern: /^systemd-nspawn@(.+)\.service$/, runtime: "nspawn" },
];
const BARE_ID = new RegExp(`^(${HEX64})$`);
const POD = /^(?:kubepods-(?:besteffort-|burstable-|guaranteed-)?)?pod([0-9a-f_-]{36})(?:\.slice)?$/;
const UNIT = /\.(?:service|scope)$/;

/** The workload a cgroup path names, or null when it names none (`/`, a plain slice). */
export function workloadOfPath(path: string): Workload | null {
  const segments = path.split("/").filter((s) => s !== "");
  let unit: string | null = null;
  let userManager: string | null = null;
  let container: Container | null = null;
  let pod: string | null = null;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (UNIT.test(segment)) {
      if (/^user@\d+\.service$/.test(segment)) userManager = segment;
      unit = segment;
    }
    const podMatch = POD.exec(segment);
    if (podMatch) pod = podMatch[1]!.replaceAll("_", "-");
    if (container !== null) continue;
    for (const { pattern, runtime } of CONTAINER_SEGMENTS) {
      const match = pattern.exec(segment);
      if (match) {
        container = { runtime, id: match[1]! };
        break;
      }
    }
    if (container !== null) continue;
    const bare = BARE_ID.exec(segment);
    if (bare) {
      // `/docker/<id>` (cgroupfs driver), `/kubepods/…/pod<uid>/<id>`, `/libpod_parent/…`: the parent names the runtime.
      const parent = segments[i - 1] ?? "";
      const runtime: ContainerRuntime | null =
        parent === "docker" ? "docker" : pod !== null ? "kubernetes" : parent.startsWith("libpod") ? "podman" : null;
      if (runtime !== null) container = { runtime, id: bare[1]! };
    } else if (segments[i - 1] === "lxc") container = { runtime: "lxc", id: segment };
  }
  if (unit === null && container === null && pod === null) return null;
  // A process of the user manager itself has that unit and no manager above it.
  return { cgroup: path, unit, userManager: userManager === unit ? null : userManager, container, pod };
}

/** The lines of a /proc/PID/cgroup text, `ID:CONTROLLERS:PATH`: cgroup v2's one `0::PATH`, v1's one per hierarchy. */
export function cgroupLines(text: string): { controllers: string; path: string }[] {
  const lines: { controllers: string; path: string }[] = [];
  for (const line of text.split("\n")) {
    const first = line.indexOf(":");
    const second = line.indexOf(":", first + 1);
    if (first >= 0 && second >= 0) lines.push({ controllers: line.slice(first + 1, second), path: line.slice(second + 1) });
  }
  return lines;
}

/**
 * The workload of a /proc/PID/cgroup text: on v1 `name=systemd` holds the
 * unit, and any hierarchy may hold a container's path.
 */
export function workloadOfCgroupFile(text: string): Workload | null {
  const paths = cgroupLines(text);
  const order = [
    ...paths.filter((p) => p.controllers === ""),
    ...paths.filter((p) => p.controllers === "name=systemd"),
    ...paths.filter((p) => p.controllers !== "" && p.controllers !== "name=systemd"),
  ];
  // The unit from the first tree that names one (v2's or systemd's), a container and pod from any.
  const found = order.map(({ path }) => workloadOfPath(path)).filter((w): w is Workload => w !== null);
  const first = found[0];
  if (first === undefined) return null;
  return {
    ...first,
    container: found.find((w) => w.container !== null)?.container ?? null,
    pod: found.find((w) => w.pod !== null)?.pod ?? null,
  };
}

/** NSpid from /proc/PID/status: the PID in each namespace, outermost first; null without the line. */
export function nsPidsOfStatus(text: string): number[] | null {
  const match = /^NSpid:\s*(.+)$/m.exec(text);
  if (!match) return null;
  const pids = match[1]!.trim().split(/\s+/).map(Number);
  return pids.every((n) => Number.isInteger(n) && n > 0) ? pids : null;
}

/** What /proc says of a live process's place: its workload and its PID inside its own namespace. */
export interface LivePlacement {
  workload: Workload | null;
  /** The PID inside its innermost PID namespace, when that is not the host's. */
  nsPid: number | null;
}

/** The placement a process's /proc/PID/cgroup and /proc/PID/status texts give. */
export function placementOf(cgroup: string, status: string): LivePlacement {
  const nsPids = nsPidsOfStatus(status);
  return { workload: workloadOfCgroupFile(cgroup), nsPid: nsPids !== null && nsPids.length > 1 ? nsPids.at(-1)! : null };
}

/** Read a live process's placement; null when it is gone or unreadable. */
export function readPlacement(pid: number, root = "/proc"): LivePlacement | null {
  try {
    return placementOf(readFileSync(join(root, String(pid), "cgroup"), "utf8"), readFileSync(join(root, String(pid), "status"), "utf8"));
  } catch {
    return null;
  }
}

/** A short human name: `docker 3f2a…(12)`, `pod 0f1e…`, `nginx.service`. */
export function workloadLabel(workload: Workload): string {
  const parts: string[] = [];
  if (workload.container) {
    const id = BARE_ID.test(workload.container.id) ? workload.container.id.slice(0, 12) : workload.container.id;
    parts.push(`${workload.container.runtime} container ${id}`);
  }
  if (workload.pod) parts.push(`pod ${workload.pod}`);
  if (workload.unit && !(workload.container && workload.unit.includes(workload.container.id))) parts.push(workload.unit);
  return parts.join(", ");
}
