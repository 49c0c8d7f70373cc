/**
 * Guard rails for tests on the real kernel: a key unique to this run, rules
 * removed afterwards (also on failure and Ctrl-C), and a clear skip reason
 * where root or audit really is missing.
 */
import { existsSync, readFileSync } from "node:fs";
import { parseRuleText } from "../../lib/rules/audit-rule.ts";
import { deleteRulesWithKey, kernelAuditControl } from "../../lib/rules/control.ts";
import type { RecordLine } from "../../lib/schema.ts";
import { netlinkRecords } from "../../lib/sources/netlink.ts";

/** Why live audit tests cannot run here, or null when they can. They need only the kernel (netlink), not auditd. */
export function auditSkipReason(): string | null {
  if (process.getuid?.() !== 0) return "not root";
  try {
    kernelAuditControl.status();
  } catch (error) {
    return `no kernel audit: ${(error as Error).message}`;
  }
  return null;
}

/** auditd's log, which auditdSkipReason checks exists. */
export const AUDITD_LOG = "/var/log/audit/audit.log";

/**
 * Why a live test that reads auditd's log cannot run here, or null when it can: the kernel's audit daemon
 * (AUDIT_GET's pid) is auditd itself, and its log exists.
 */
export function auditdSkipReason(): string | null {
  const audit = auditSkipReason();
  if (audit) return audit;
  const pid = kernelAuditControl.status().pid;
  if (pid === 0) return "auditd is not running (start it with `auditd`; .ci/run does)";
  const comm = safeReadTrim(`/proc/${pid}/comm`);
  if (comm !== "auditd") return `the kernel's audit daemon is PID ${pid} (${comm ?? "gone"}), not auditd`;
  if (!existsSync(AUDITD_LOG)) return `auditd runs but ${AUDITD_LOG} does not exist`;
  return null;
}

function safeReadTrim(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return null;
  }
}

/** auditctl, the oracle for the rule tests (Debian's auditd package). */
export function auditctlPath(): string | null {
  return Bun.which("auditctl", { PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` });
}

/** Why a test that checks against auditctl cannot run here, or null when it can. */
export function auditctlSkipReason(): string | null {
  return auditSkipReason() ?? (auditctlPath() ? null : "auditctl missing (apt-get install -y auditd): no oracle to compare with");
}

/** Run auditctl (the oracle) with an argument array, never a shell. */
export function auditctl(args: readonly string[]): { exitCode: number; stdout: string; stderr: string } {
  const path = auditctlPath();
  if (!path) throw new Error("auditctl missing");
  const result = Bun.spawnSync([path, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  return { exitCode: result.exitCode ?? 1, stdout: result.stdout.toString(), stderr: result.stderr.toString() };
}

/** Add one rule given in auditctl syntax straight to the kernel (throws on any refusal, EEXIST included). */
export function addRuleNow(args: readonly string[]): void {
  if (kernelAuditControl.addRule(parseRuleText(args)) !== "added") throw new Error(`rule already present: ${args.join(" ")}`);
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

/** One test file's rule keys: each removed at exit should all else fail, and all at once by removeAll (call it in afterAll). */
export class TestKeys {
  private readonly keys: string[] = [];

  /** A new key for this file. */
  key(name: string): string {
    const key = uniqueKey(name);
    this.adopt(key);
    return key;
  }

  /** A key made elsewhere, now this file's to remove. */
  adopt(key: string): void {
    removeOnExit(key);
    this.keys.push(key);
  }

  removeAll(): void {
    for (const key of this.keys.splice(0)) removeKeyNow(key);
  }
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

/** Until `pid` has exec'd `comm` (a fresh child is its parent's copy until then; a kill that early names the parent's comm). */
export async function waitForComm(pid: number, comm: string, timeoutMs = 3000): Promise<boolean> {
  const found = await waitFor(() => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === comm ? true : undefined;
    } catch {
      return undefined;
    }
  }, timeoutMs, 2);
  return found === true;
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

/**
 * Audit records as the kernel multicasts them (capture --netlink's source),
 * collected from `ready` until `stop()`: the kernel alone, no auditd needed.
 * `keep` picks the records worth holding (other tests may send bursts of
 * thousands of kills meanwhile).
 */
export function startRecordCollector(keep: (record: RecordLine) => boolean = () => true) {
  const records: RecordLine[] = [];
  const { ready, stop } = collectInBackground(
    (signal, onReady) => netlinkRecords({ signal, onReady }),
    (line) => void (line.kind === "record" && keep(line) && records.push(line)),
  );
  return { records, ready, stop };
}

/**
 * A live source read in the background, each line handed to `each`: `ready`
 * resolves when the source says it is (its onReady), or as it fails, so no
 * caller waits forever; `stop()` aborts it and waits for its end, rethrowing
 * the error that ended it.
 */
export function collectInBackground<L>(open: (signal: AbortSignal, onReady: () => void) => AsyncIterable<L>, each: (line: L) => void) {
  const controller = new AbortController();
  let ready!: () => void;
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  const done = (async () => {
    for await (const line of open(controller.signal, ready)) each(line);
  })();
  done.catch(() => ready());
  return { ready: readyPromise, done, stop: async () => (controller.abort(), await done) };
}
