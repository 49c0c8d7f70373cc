/**
 * --exec: a command run for each death, with the answer as one JSON line on
 * its stdin and as WHOKILLED_* environment variables. No shell, and no data
 * in its argv: comm and exe are the watched processes' to choose, so they
 * must never reach a command line.
 */
import { log } from "../log.ts";
import { escapeControl } from "../render/escape.ts";
import { deathEnvironment, type DeathLine } from "./death.ts";

/** Run `argv` for one death; resolves its exit code (null: it could not start). Never throws. */
export async function runDeathCommand(argv: readonly string[], death: DeathLine): Promise<number | null> {
  try {
    const child = Bun.spawn([...argv], {
      stdin: new Blob([`${JSON.stringify(death)}\n`]),
      // Our stdout carries data: the command's output goes to stderr.
      stdout: 2,
      stderr: "inherit",
      env: { ...process.env, ...deathEnvironment(death) },
    });
    const code = await child.exited;
    if (code !== 0) log.warn(`watch: --exec ${escapeControl(argv[0]!)} exited with status ${code} for pid ${death.pid}`);
    return code;
  } catch (error) {
    log.error(`watch: --exec ${escapeControl(argv[0]!)} could not run: ${escapeControl((error as Error).message)}`);
    return null;
  }
}
