/**
 * The single binary for tests: built once per test file by package.json's own
 * "build" command, into a temporary dir of the test's (not dist/, which a
 * developer or another test run may be using), and a PATH with no Node or Bun.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const repositoryRoot = join(import.meta.dir, "..", "..");

const BUILT_BY = /^bun (build --compile .*)--outfile dist\/whokilled$/;

/** Build `npm run build`'s binary at DIR/whokilled; throws with bun's output when the build fails. */
export function buildBinary(dir: string): string {
  const pkg = JSON.parse(readFileSync(join(repositoryRoot, "package.json"), "utf8")) as { scripts?: Record<string, string> };
  const build = pkg.scripts?.build ?? "";
  const match = BUILT_BY.exec(build);
  if (!match) throw new Error(`package.json's build script is not "bun build --compile … --outfile dist/whokilled": ${build}`);
  const outfile = join(dir, "whokilled");
  const argv = [process.execPath, ...match[1]!.trim().split(/\s+/), "--outfile", outfile];
  const result = Bun.spawnSync(argv, { cwd: repositoryRoot, stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")} failed:\n${result.stdout}${result.stderr}`);
  return outfile;
}

/** An empty directory to use as PATH: neither node nor bun can be found through it, as on a server without them. */
export function pathWithoutRuntimes(dir: string): string {
  const bin = join(dir, "empty-bin");
  mkdirSync(bin, { recursive: true });
  for (const runtime of ["node", "bun"]) {
    if (Bun.which(runtime, { PATH: bin })) throw new Error(`${runtime} is reachable through ${bin}`);
  }
  return bin;
}
