/**
 * Kernel-sent signals made for real, for the live tests and for
 * docs/KERNEL-SIGNALS.md (test/helpers/measure-kernel-signals.ts): each
 * scenario starts its own processes, ends them the way one kernel path does,
 * and says which PIDs are its own so their tracefs lines can be picked out
 * of a busy machine's.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSignalGenerate, type SignalGenerate } from "../../lib/sources/tracefs-line.ts";
import { tracefsRecords } from "../../lib/sources/tracefs.ts";
import type { RecordLine } from "../../lib/schema.ts";
import { runKey } from "../../lib/rules/run-keys.ts";
import { collectInBackground } from "./live.ts";

const source = join(import.meta.dir, "kernel-signals.c");
const buildDir = join(tmpdir(), `whokilled-ksig-${process.pid}`);
let built: string | null | undefined;
let buildError = "";

/** Build kernel-signals.c once; null (see kernelSignalsSkipReason) when gcc fails. */
export function buildKernelSignals(): string | null {
  if (built !== undefined) return built;
  mkdirSync(buildDir, { recursive: true });
  const path = join(buildDir, "wk-ksig");
  const result = Bun.spawnSync(["gcc", "-O0", "-o", path, source], { stderr: "pipe" });
  buildError = result.stderr.toString().trim();
  built = result.exitCode === 0 ? path : null;
  return built;
}

export const kernelSignalsSkipReason = () => (Bun.which("gcc") ? `gcc kernel-signals.c failed: ${buildError}` : "gcc missing");

/** The reproducer under its own name, so its comm (the name) says which scenario a line belongs to. */
function named(binary: string, comm: string): string {
  const path = join(buildDir, comm);
  if (!existsSync(path)) symlinkSync(binary, path);
  return path;
}

/** Direct children of a process (every thread's), from /proc. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    // Gone already.
  }
  return out;
}

async function waitForChild(pid: number, timeoutMs = 3000): Promise<number | null> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const kids = childrenOf(pid);
    if (kids.length > 0) return kids[0]!;
    await Bun.sleep(10);
  }
  return null;
}

/** script's descendants once one of them runs `comm` (all it has at the deadline otherwise). */
async function waitForDescendant(root: number, comm: string, timeoutMs = 5000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found: number[] = [];
    for (let queue = childrenOf(root); queue.length > 0; ) {
      const pid = queue.shift()!;
      found.push(pid);
      queue.push(...childrenOf(pid));
    }
    const running = found.some((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === comm;
      } catch {
        return false;
      }
    });
    if (running || Date.now() >= deadline) return found;
    await Bun.sleep(10);
  }
}

/**
 * script runs `$SHELL -c CMD`, or /bin/sh without SHELL (as under CI). dash stays as the
 * session leader above sleep where bash execs it: pin the shell so every host sees one shape.
 */
function scriptEnv(): Record<string, string | undefined> {
  return { ...process.env, SHELL: "/bin/sh" };
}

/** What a scenario did: the PIDs it made (lines about them are its own) and the victims' comms. */
export interface ScenarioRun {
  pids: Set<number>;
  /** Victim comms a line may carry for this scenario (for short-lived helpers whose PID was never seen). */
  comms: string[];
  /** What happened, for the measurement notes. */
  outcome: string;
}

export interface Scenario {
  name: string;
  /** The command, as a person would type it. */
  command: string;
  run(binary: string): Promise<ScenarioRun>;
}

function outcomeOf(child: Bun.Subprocess): string {
  return child.signalCode ? `ended by ${child.signalCode}` : `exit ${child.exitCode}`;
}

/** One reproducer mode, run under its own comm, in a shell that turns core dumps off. */
function reproducer(name: string, mode: string[], comm = `wk-${name}`.slice(0, 15)): Scenario {
  return {
    name,
    command: `${comm} ${mode.join(" ")}`,
    async run(binary) {
      const path = named(binary, comm);
      const child = Bun.spawn(["sh", "-c", 'ulimit -c 0; exec "$@"', "sh", path, ...mode], { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
      const [out] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      const pids = new Set([child.pid]);
      // pdeath prints the orphan's PID; it dies of its signal once the parent is gone.
      for (const pid of out.trim().split(/\s+/).filter(Boolean).map(Number)) pids.add(pid);
      return { pids, comms: [comm], outcome: outcomeOf(child) };
    },
  };
}

export const SCENARIOS: Record<string, Scenario> = {
  ttyHangup: {
    name: "tty-hangup",
    command: "script -qc 'sleep 100' /dev/null; then SIGKILL to script",
    async run() {
      // stdin stays open (a pipe), so script waits for its child instead of ending at EOF.
      const script = Bun.spawn(["script", "-qc", "sleep 100", "/dev/null"], { stdin: "pipe", stdout: "ignore", stderr: "ignore", env: scriptEnv() });
      // Under load the session may not have exec'd sleep yet: wait for it, or the hangup hits sh or script's fork.
      const session = await waitForDescendant(script.pid, "sleep");
      const pids = new Set([script.pid, ...session]);
      await Bun.sleep(100);
      script.kill("SIGKILL");
      await script.exited;
      // The session's processes (sleep) die of the hangup; give the kernel a moment.
      await Bun.sleep(300);
      return { pids, comms: [], outcome: `script ${outcomeOf(script)}` };
    },
  },
  ctrlC: {
    name: "ctrl-c",
    command: "script -qc 'sleep 100' /dev/null; then ^C written to script's stdin",
    async run() {
      const script = Bun.spawn(["script", "-qc", "sleep 100", "/dev/null"], { stdin: "pipe", stdout: "ignore", stderr: "ignore", env: scriptEnv() });
      const pids = new Set([script.pid, ...(await waitForDescendant(script.pid, "sleep"))]);
      await Bun.sleep(100);
      script.stdin.write("\x03");
      script.stdin.flush();
      const timer = setTimeout(() => script.kill("SIGKILL"), 3000);
      await script.exited;
      clearTimeout(timer);
      return { pids, comms: ["sleep"], outcome: `script ${outcomeOf(script)}` };
    },
  },
  timeout: {
    name: "timeout",
    command: "timeout 1 sleep 10",
    async run() {
      const child = Bun.spawn(["timeout", "1", "sleep", "10"], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      const pids = new Set([child.pid]);
      const sleeper = await waitForChild(child.pid);
      if (sleeper !== null) pids.add(sleeper);
      await child.exited;
      return { pids, comms: [], outcome: outcomeOf(child) };
    },
  },
  rlimitCpu: {
    name: "rlimit-cpu",
    command: "bash -c 'ulimit -t 1; exec wk-busy spin'",
    async run(binary) {
      const path = named(binary, "wk-busy");
      const child = Bun.spawn(["bash", "-c", 'ulimit -c 0; ulimit -t 1; exec "$0" spin', path], { stdin: "ignore", stdout: "ignore", stderr: "ignore" });
      await child.exited;
      return { pids: new Set([child.pid]), comms: ["wk-busy"], outcome: outcomeOf(child) };
    },
  },
  rlimitCpuSoftHard: reproducer("xcpu-ign", ["cpu-ign", "1", "2"]),
  rlimitCpuSoft: reproducer("xcpu", ["cpu", "1", "3"]),
  sigpipe: {
    name: "sigpipe",
    command: "yes | head -1",
    async run() {
      const child = Bun.spawn(["bash", "-c", "yes | head -1 >/dev/null; echo ${PIPESTATUS[0]}"], { stdin: "ignore", stdout: "pipe", stderr: "ignore" });
      const [out] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      return { pids: new Set([child.pid]), comms: ["yes"], outcome: `yes exit status ${out.trim()} (141 = 128 + SIGPIPE)` };
    },
  },
  segv: reproducer("segv", ["segv"]),
  fpe: reproducer("fpe", ["fpe"]),
  ill: reproducer("ill", ["ill"]),
  trap: reproducer("trap", ["trap"]),
  bus: reproducer("bus", ["bus"]),
  abort: reproducer("abort", ["abort"]),
  raise: reproducer("raise", ["raise"]),
  selfGroup: reproducer("selfgroup", ["selfgroup"]),
  pipe: reproducer("pipe", ["pipe"]),
  xfsz: reproducer("xfsz", ["xfsz"]),
  alarm: reproducer("alarm", ["alarm"]),
  itimer: reproducer("itimer", ["itimer"]),
  vtalrm: reproducer("vtalrm", ["vtalrm"]),
  ptimer: reproducer("ptimer", ["ptimer"]),
  pdeath: reproducer("pdeath", ["pdeath", "15"]),
};

export interface SeenLine {
  record: RecordLine;
  parsed: SignalGenerate;
  /** Date.now() when the line was read. */
  arrived: number;
}

/**
 * A private tracefs instance collecting signal_generate lines in the background. The instance is named as the
 * tool names its own (runKey(): whokilled-PID-START-RAND), so one left by a killed test run is swept like the tool's.
 */
export function startSignalCollector(options: { filter?: string } = {}) {
  const seen: SeenLine[] = [];
  const instanceName = runKey();
  const collector = collectInBackground(
    (signal, onReady) => tracefsRecords({ instanceName, filter: options.filter, signal, onReady }),
    (record) => {
      if (record.kind === "gap") return;
      const parsed = parseSignalGenerate(record.raw);
      if (parsed) seen.push({ record, parsed, arrived: Date.now() });
    },
  );
  return { seen, instanceName, ...collector };
}

/** The lines a scenario run caused: sent to or in the context of its PIDs, or to one of its comms. */
export function linesOf(seen: SeenLine[], run: ScenarioRun, from = 0): SeenLine[] {
  return seen.slice(from).filter(({ parsed }) => run.pids.has(parsed.target.pid) || run.pids.has(parsed.sender.pid) || run.comms.includes(parsed.target.comm));
}
