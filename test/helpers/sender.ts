/**
 * Builds test/helpers/sender.c once per run, for each ABI the toolchain
 * supports. A 32-bit build needs Debian's gcc-multilib; without it the b32
 * variant is null and tests that need it say why they skip.
 */
import { mkdirSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

const source = join(import.meta.dir, "sender.c");
const outDir = join(tmpdir(), `whokilled-sender-${process.pid}`);

export interface SenderBuild {
  /** Path of the binary; its comm is its file name. */
  path: string;
  comm: string;
  abi: "b64" | "b32";
}

const cache = new Map<string, SenderBuild | null>();

/** Compile the sender for one ABI. `name` becomes its comm (max 15 chars). */
export function buildSender(abi: "b64" | "b32", name = abi === "b64" ? "wk-sender64" : "wk-sender32"): SenderBuild | null {
  const cacheKey = `${abi}:${name}`;
  if (cache.has(cacheKey)) return cache.get(cacheKey)!;
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, name);
  const result = existsSync(path)
    ? { exitCode: 0 }
    : Bun.spawnSync(["gcc", abi === "b64" ? "-m64" : "-m32", "-O1", "-o", path, source], { stderr: "pipe" });
  let build: SenderBuild | null = result.exitCode === 0 ? { path, comm: name.slice(0, 15), abi } : null;
  if (!build) skipReasons.set(abi, `gcc ${abi === "b32" ? "-m32 (needs gcc-multilib)" : "-m64"} failed`);
  // A kernel may build ia32 support yet disable it at boot ("32-bit emulation
  // disabled" in dmesg); then a 32-bit binary fails with ENOEXEC.
  if (build) {
    try {
      const probe = Bun.spawnSync([path], { stderr: "pipe" });
      if (probe.exitCode !== 100) throw new Error(`exit ${probe.exitCode}`);
    } catch (error) {
      skipReasons.set(abi, `the kernel will not run ${abi} binaries (${(error as Error).message}); 32-bit emulation is off`);
      build = null;
    }
  }
  cache.set(cacheKey, build);
  return build;
}

const skipReasons = new Map<string, string>();
/** Why buildSender(abi) returned null, for the skip message. */
export const senderSkipReason = (abi: "b64" | "b32") => skipReasons.get(abi) ?? "not built";

/** Run the sender once; resolves to its exit status (0 = success, else the errno). */
export async function send(build: SenderBuild, op: string, ...args: number[]): Promise<number> {
  const child = Bun.spawn([build.path, op, ...args.map(String)], { stdout: "ignore", stderr: "pipe" });
  return await child.exited;
}

let victimPath: string | null | undefined;

/** Build test/helpers/victim.c (64-bit); null if gcc fails. */
export function buildVictim(): string | null {
  if (victimPath !== undefined) return victimPath;
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, "wk-victim");
  const result = Bun.spawnSync(["gcc", "-O1", "-pthread", "-o", path, join(import.meta.dir, "victim.c")], { stderr: "pipe" });
  victimPath = result.exitCode === 0 ? path : null;
  return victimPath;
}

export interface Victim {
  process: Bun.Subprocess<"pipe", "pipe", "ignore">;
  tgid: number;
  /** The extra thread, named wk-thread. */
  tid: number;
  /** End it (SIGKILL to our own child) if still alive. */
  stop(): Promise<void>;
}

/** Start a fresh victim and wait for it to report its ids. */
export async function startVictim(options: { uid?: number } = {}): Promise<Victim> {
  const path = buildVictim();
  if (!path) throw new Error("cannot build test/helpers/victim.c");
  const argv = options.uid === undefined ? [path] : ["setpriv", `--reuid=${options.uid}`, `--regid=${options.uid}`, "--clear-groups", path];
  const child = Bun.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "ignore" });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("victim ended before reporting its ids");
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const [tgid, tid] = text.trim().split(" ").map(Number) as [number, number];
  return {
    process: child,
    tgid,
    tid,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await child.exited;
    },
  };
}
