/**
 * dist/whokilled, the single binary (`npm run build`), on a PATH with no Node
 * or Bun and away from the repository: each sub-command behaves exactly as
 * its script (output, messages, exit codes) on the 2010 records, and the
 * pipeline names the sender of a live kill read from the kernel over netlink
 * (bun:ffi inside the binary), with rules installed by the binary itself.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeRules } from "../lib/rules/install.ts";
import type { SignalLine } from "../lib/schema.ts";
import { STAGE_NAMES, stageCommand } from "../lib/cli/stage-command.ts";
import { buildBinary, pathWithoutRuntimes, repositoryRoot } from "./helpers/binary.ts";
import { auditSkipReason, removeOnExit, uniqueKey } from "./helpers/live.ts";

const fixtures = join(repositoryRoot, "test", "fixtures");
const version = (JSON.parse(readFileSync(join(repositoryRoot, "package.json"), "utf8")) as { version: string }).version;

let work = "";
let binary = "";
let noRuntimePath = "";

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "wk-binary-"));
  binary = buildBinary(work);
  noRuntimePath = pathWithoutRuntimes(work);
  // The seed where a server would keep a log: nothing of the repository beside the binary.
  copyFileSync(join(fixtures, "seed.log"), join(work, "seed.log"));
  for (const name of ["passwd.minimal", "group.minimal"]) copyFileSync(join(fixtures, name), join(work, name));
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

interface Run {
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

/** The binary, run from the temp dir with only an empty dir on PATH. */
function runBinary(args: string[], stdin?: Uint8Array): Run {
  const result = Bun.spawnSync([binary, ...args], { cwd: work, env: { PATH: noRuntimePath }, stdin: stdin ?? "ignore", stdout: "pipe", stderr: "pipe" });
  return { stdout: result.stdout.toString(), stderr: result.stderr.toString(), exitCode: result.exitCode };
}

/** The same verb as a script under Bun, from the same dir, on the same files. */
function runScript(verb: string, args: string[]): Run {
  const result = Bun.spawnSync([process.execPath, join(repositoryRoot, "scripts", `${verb}.ts`), ...args], {
    cwd: work,
    env: { PATH: noRuntimePath },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  return { stdout: result.stdout.toString(), stderr: result.stderr.toString(), exitCode: result.exitCode };
}

const ids = ["--passwd", "passwd.minimal", "--group", "group.minimal"];

describe("the binary behaves as the scripts on the 2010 records", () => {
  const cases: Array<[string, string[]]> = [
    ["capture", ["seed.log"]],
    ["decode", [...ids, "seed.log"]],
    ["attribute", [...ids, "seed.log"]],
    ["attribute", [...ids, "--format", "table", "seed.log"]],
    ["report", [...ids, "seed.log"]],
    ["report", [...ids, "--format", "json", "--fail-on", "findings", "seed.log"]],
    ["report", [...ids, "--quiet-if-clean", "--pid", "1", "seed.log"]],
    // Errors: the same one-line message and exit code.
    ["attribute", ["--pidd", "5", "seed.log"]],
    ["attribute", ["--pid", "x", "seed.log"]],
    ["report", ["no-such.log"]],
    ["setup-rule", ["print", "--pid", "26880", "--key", "wk-print"]],
    ["capture", ["--help"]],
    ["setup-rule", ["install", "--help"]],
    ["report", ["--version"]],
  ];
  for (const [verb, args] of cases) {
    test(`${verb} ${args.join(" ")}`, () => {
      const script = runScript(verb, args);
      const built = runBinary([verb, ...args]);
      expect(built).toEqual(script);
    });
  }

  test("the attribute run names roxen and exits as the scripts do (report --fail-on findings: 3)", () => {
    expect(runBinary(["attribute", ...ids, "--format", "table", "seed.log"]).stdout).toContain("roxen[4299]");
    expect(runBinary(["report", ...ids, "--fail-on", "findings", "seed.log"]).exitCode).toBe(3);
  });

  test("demo --seed replays the embedded records: the same report as the script's", () => {
    const built = runBinary(["demo", "--seed"]);
    expect(built.exitCode).toBe(0);
    expect(built.stdout).toContain("stale-pid");
    expect(built.stdout).toBe(runScript("demo", ["--seed"]).stdout);
  });

  test("capture | attribute over a pipe equals attribute on the file", () => {
    const captured = runBinary(["capture", "seed.log"]);
    expect(captured.exitCode).toBe(0);
    const piped = runBinary(["attribute", ...ids], new TextEncoder().encode(captured.stdout));
    expect(piped.exitCode).toBe(0);
    expect(piped.stdout).toBe(runScript("attribute", [...ids, "seed.log"]).stdout);
    expect(piped.stdout).toContain('"kind":"signal"');
  });
});

describe("the binary as one program", () => {
  test("--help lists each verb, --version says the package version", () => {
    const help = runBinary(["--help"]);
    expect(help.exitCode).toBe(0);
    for (const verb of ["capture", "decode", "attribute", "report", "setup-rule", "bait", "demo"]) expect(help.stdout).toMatch(new RegExp(`^ +${verb} `, "m"));
    expect(help.stdout).not.toMatch(/^ +rogue /m);
    expect(runBinary(["--version"])).toEqual({ stdout: `whokilled ${version}\n`, stderr: "", exitCode: 0 });
  });

  test("an unknown or missing command is a usage error (exit 2)", () => {
    const unknown = runBinary(["frobnicate"]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain("Unknown command frobnicate");
    const none = runBinary([]);
    expect(none.exitCode).toBe(2);
    expect(none.stderr).toContain("name a command: capture, decode, attribute");
  });

  test("every stage the code spawns is a sub-command of the binary, and a script of the clone", () => {
    for (const name of STAGE_NAMES) {
      expect(runBinary([name, "--version"]).stdout).toBe(`whokilled ${name} ${version}\n`);
      const [runtime, entry] = stageCommand(name);
      expect(runtime).toBe(process.execPath);
      expect(existsSync(entry!)).toBe(true);
    }
  });
});

const skip = auditSkipReason();
if (skip) console.error(`skip: the binary on a live kill: ${skip}`);

const key = uniqueKey("binary");
const started: Bun.Subprocess[] = [];

afterAll(async () => {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await child.exited;
  }
  // The binary removes its rules in the test; this is the safety net when the test failed before that.
  if (skip === null) removeRules(key);
});

describe.skipIf(skip !== null)("the binary on a live kill", () => {
  test("setup-rule install | capture --netlink | attribute names the sender; setup-rule remove leaves none", async () => {
    removeOnExit(key);
    const install = runBinary(["setup-rule", "install", "--key", key]);
    expect(install.exitCode, install.stderr).toBe(0);
    expect(install.stdout).toContain(`"key":"${key}"`);

    const env = { PATH: noRuntimePath };
    const capture = Bun.spawn([binary, "capture", "--netlink"], { cwd: work, env, stdout: "pipe", stderr: "pipe" });
    started.push(capture);
    const attribute = Bun.spawn([binary, "attribute", "--key", key, "--exclude-self"], { cwd: work, env, stdin: capture.stdout, stdout: "pipe", stderr: "pipe" });
    started.push(attribute);

    let captureLog = "";
    const listening = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of capture.stderr) {
        captureLog += decoder.decode(chunk, { stream: true });
        if (captureLog.includes("listening")) return true;
      }
      return false;
    })();
    expect(await Promise.race([listening, Bun.sleep(15_000).then(() => false)]), `capture --netlink: ${captureLog}`).toBe(true);

    // A fresh victim and a fresh sender, both ours: audit gives each its own context.
    const victim = Bun.spawn(["/bin/sleep", "60"], { stdout: "ignore", stderr: "ignore" });
    started.push(victim);
    const sender = Bun.spawn([process.execPath, "-e", `process.kill(${victim.pid}, "SIGTERM")`], { stdout: "ignore", stderr: "inherit" });
    expect(await sender.exited).toBe(0);
    await victim.exited;
    expect(victim.signalCode).toBe("SIGTERM");

    const reader = attribute.stdout.getReader();
    const decoder = new TextDecoder();
    let text = "";
    let found: SignalLine | undefined;
    const deadline = setTimeout(() => capture.kill("SIGINT"), 15_000);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      found ??= text
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map((line) => JSON.parse(line) as SignalLine)
        .find((line) => line.kind === "signal" && line.target?.pid === victim.pid);
      // Seen: end capture; attribute ends on its EOF.
      if (found && capture.exitCode === null) capture.kill("SIGINT");
    }
    clearTimeout(deadline);
    // capture was stopped by Ctrl-C (128 + SIGINT); attribute ended on its EOF.
    expect(await capture.exited).toBe(130);
    expect(await attribute.exited).toBe(0);
    expect(found, `no signal line for victim ${victim.pid} in:\n${text}`).toBeDefined();
    expect(found).toMatchObject({ killer: { pid: sender.pid }, signal: { name: "SIGTERM" }, target: { pid: victim.pid }, key });

    const remove = runBinary(["setup-rule", "remove", "--key", key]);
    expect(remove.exitCode, remove.stderr).toBe(0);
    const left = runBinary(["setup-rule", "list", "--key", key]);
    expect(left.exitCode, left.stderr).toBe(0);
    expect(left.stdout).toBe("");
  });
});
