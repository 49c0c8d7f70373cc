/**
 * Guard rails for tests on the real kernel: a key unique to this run, rules
 * removed afterwards (also on failure and Ctrl-C), and a clear skip reason
 * where root or audit really is missing.
 */
import { existsSync } from "node:fs";
import { auditctl, deleteRulesWithKey } from "../../lib/rules/auditctl.ts";

/** Why live audit tests cannot run here, or null when they can. */
export function auditSkipReason(): string | null {
  if (process.getuid?.() !== 0) return "needs root";
  if (!Bun.which("auditctl", { PATH: `${process.env.PATH}:/usr/sbin:/sbin` })) return "auditctl missing (apt-get install -y auditd)";
  const status = auditctl(["-s"]);
  if (status.exitCode !== 0) return `audit unavailable: ${status.stderr.trim()}`;
  return null;
}

/** Why a live test that reads auditd's log cannot run here, or null when it can. */
export function auditdSkipReason(): string | null {
  const audit = auditSkipReason();
  if (audit) return audit;
  const status = auditctl(["-s"]);
  const pid = /^pid (\d+)$/m.exec(status.stdout)?.[1];
  if (!pid || pid === "0" || !existsSync("/var/log/audit/audit.log")) return "auditd is not running (start it with `auditd`; .ci/run does)";
  return null;
}

export function tracefsSkipReason(): string | null {
  if (process.getuid?.() !== 0) return "needs root";
  if (!existsSync("/sys/kernel/tracing") && !existsSync("/sys/kernel/debug/tracing")) return "no tracefs mount point";
  return null;
}

/** A rule key no other run uses: `wk-test-NAME-PID-RANDOM`. */
export function uniqueKey(name: string): string {
  return `wk-test-${name}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

const keysToRemove = new Set<string>();
let hooked = false;

/**
 * A second line of defence: remove this key's rules on Ctrl-C/SIGTERM and at
 * process exit. Under `bun test` 1.4 the exit hook does not run, so every
 * test file must also remove its keys in afterAll (removeKeyNow/removeRules).
 */
export function removeOnExit(key: string): void {
  keysToRemove.add(key);
  if (hooked) return;
  hooked = true;
  const cleanup = () => {
    for (const k of keysToRemove) {
      try {
        deleteRulesWithKey(k);
      } catch {
        // Best effort at exit: a failure here must not mask the test's own result.
      }
    }
    keysToRemove.clear();
  };
  process.on("exit", cleanup);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      cleanup();
      process.exit(130);
    });
  }
}

/** Remove a key's rules now (afterEach/afterAll) and forget it. */
export function removeKeyNow(key: string): string[] {
  keysToRemove.delete(key);
  return deleteRulesWithKey(key);
}

/** Wait until `check` returns a value, polling; resolves undefined on timeout. */
export async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000, stepMs = 50): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await Bun.sleep(stepMs);
  }
  return undefined;
}

/** A victim process we own: `sleep` with a distinctive argv, killed in cleanup if still alive. */
export function spawnVictim(seconds = 60): Bun.Subprocess {
  return Bun.spawn(["sleep", String(seconds)], { stdout: "ignore", stderr: "ignore" });
}

/**
 * Pull from an async generator with a deadline, never dropping a value: a
 * next() still unfinished at the deadline is kept for the following pull.
 * `pull` resolves null when the deadline passes first; `drain` waits for a
 * kept next() (after an abort, before the generator's return()).
 */
export function deadlinePuller<T>(stream: AsyncGenerator<T>) {
  let pending: Promise<IteratorResult<T>> | null = null;
  return {
    async pull(ms: number): Promise<IteratorResult<T> | null> {
      pending ??= stream.next();
      const result = await Promise.race([pending, Bun.sleep(ms).then(() => null)]);
      if (result) pending = null;
      return result;
    },
    async drain(): Promise<void> {
      await pending;
    },
  };
}

/** Children a test file started; `afterAll(children.killAll)` ends those still running (ours only). */
export function trackedChildren() {
  const all: Bun.Subprocess[] = [];
  return {
    add<T extends Bun.Subprocess>(child: T): T {
      all.push(child);
      return child;
    },
    async killAll(): Promise<void> {
      for (const child of all) {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        await child.exited;
      }
    },
  };
}
