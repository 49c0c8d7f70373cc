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
