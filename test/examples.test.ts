/**
 * examples/: the cron.d file and the systemd service and timer for scheduled
 * reports. systemd-analyze verifies the units; the command line each file
 * holds is run for real, through the shell the file names and with the
 * environment it sets, on fixture logs: with the binary the files name
 * (built here, at a temp path) and with the scripts of this clone (as the
 * files' comments say to adapt them).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary, repositoryRoot } from "./helpers/binary.ts";

const examples = join(repositoryRoot, "examples");
const fixtures = join(repositoryRoot, "test", "fixtures");
const INSTALLED_BINARY = "/usr/local/bin/whokilled";
const CHECKPOINT = "/var/lib/whokilled/checkpoint.json";
const AUDIT_LOG = "/var/log/audit/audit.log";
/** --fail-on findings: report's exit code when it found something. */
const EXIT_FINDINGS = 3;

interface Job {
  /** argv of the shell, ending with the command line. */
  shell: string[];
  command: string;
  env: Record<string, string>;
}

/** The cron.d file's one job: its command after the five time fields and the user, run by its SHELL with its variables. */
function cronJob(text: string): Job {
  const env: Record<string, string> = {};
  const jobs: string[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const variable = /^([A-Z_]+)=(.*)$/.exec(line);
    if (variable) env[variable[1]!] = variable[2]!;
    else jobs.push(line);
  }
  expect(jobs).toHaveLength(1);
  const job = /^(\S+\s+){5}root\s+(.+)$/.exec(jobs[0]!);
  expect(job, `a cron.d job line run as root: ${jobs[0]}`).not.toBeNull();
  const command = job![2]!;
  // cron reads an unescaped % as the end of the command.
  expect(command).not.toContain("%");
  return { shell: [env.SHELL ?? "/bin/sh", "-c"], command, env };
}

/** The service's ExecStart (`SHELL [OPTIONS] -c '…'`) with its Environment= settings. */
function serviceJob(text: string): Job {
  const env: Record<string, string> = {};
  for (const match of text.matchAll(/^Environment=([A-Za-z_]+)=(.*)$/gm)) env[match[1]!] = match[2]!;
  const exec = [...text.matchAll(/^ExecStart=(.*)$/gm)];
  expect(exec).toHaveLength(1);
  const parsed = /^(\/\S+(?: -\S+)*(?: [a-z]+)*) -c '([^']+)'$/.exec(exec[0]![1]!);
  expect(parsed, `ExecStart is SHELL … -c '…': ${exec[0]![1]}`).not.toBeNull();
  return { shell: [...parsed![1]!.split(" "), "-c"], command: parsed![2]!, env };
}

const sources = [
  { name: "cron.d/whokilled", job: () => cronJob(readFileSync(join(examples, "cron.d", "whokilled"), "utf8")) },
  { name: "systemd/whokilled-report.service", job: () => serviceJob(readFileSync(join(examples, "systemd", "whokilled-report.service"), "utf8")) },
];

let work = "";
let binary = "";

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "wk-examples-"));
  binary = buildBinary(work);
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

type Runner = "binary" | "scripts";

/** The job's command with the installed paths replaced by ours; fails the test if one of them is missing. */
function localCommand(command: string, runner: Runner, checkpoint: string, log: string): string {
  for (const path of [INSTALLED_BINARY, CHECKPOINT, AUDIT_LOG]) expect(command).toContain(path);
  expect(command).toMatch(/capture --checkpoint .*\| .*attribute .*\| .*report --quiet-if-clean --fail-on findings/);
  const stages =
    runner === "binary"
      ? command.replaceAll(INSTALLED_BINARY, binary)
      : command.replace(/\/usr\/local\/bin\/whokilled ([a-z-]+)/g, (_, verb: string) => `${process.execPath} ${join(repositoryRoot, "scripts", `${verb}.ts`)}`);
  return stages.replaceAll(CHECKPOINT, checkpoint).replaceAll(AUDIT_LOG, log);
}

function run(job: Job, command: string) {
  const result = Bun.spawnSync([...job.shell, command], {
    cwd: work,
    // As cron and systemd start a job: only the variables the file sets (and a PATH).
    env: { PATH: "/usr/bin:/bin", ...job.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  return { output: result.stdout.toString() + result.stderr.toString(), stdout: result.stdout.toString(), exitCode: result.exitCode };
}

describe("the scheduled report's command line, run as the example file holds it", () => {
  for (const source of sources) {
    for (const runner of ["binary", "scripts"] as const) {
      test(`${source.name} (${runner}): silent and 0 on a clean log; the report and ${EXIT_FINDINGS} with findings; silent again on the next run`, () => {
        const job = source.job();
        const dir = mkdtempSync(join(work, `${runner}-`));

        // A log with 10 signals and no findings: nothing at all to mail.
        const clean = join(dir, "clean-audit.log");
        copyFileSync(join(fixtures, "live-kill-family.log"), clean);
        const quiet = run(job, localCommand(job.command, runner, join(dir, "clean.checkpoint.json"), clean));
        expect(quiet).toEqual({ output: "", stdout: "", exitCode: 0 });
        expect(existsSync(join(dir, "clean.checkpoint.json"))).toBe(true);

        // The 2010 case: the report, and --fail-on findings' exit code.
        const seed = join(dir, "audit.log");
        copyFileSync(join(fixtures, "seed.log"), seed);
        const checkpoint = join(dir, "checkpoint.json");
        const findings = run(job, localCommand(job.command, runner, checkpoint, seed));
        expect(findings.exitCode).toBe(EXIT_FINDINGS);
        expect(findings.stdout).toContain("roxen");
        expect(findings.stdout).toContain("stale-pid");

        // The next run resumes after the checkpoint: nothing new, nothing printed.
        const again = run(job, localCommand(job.command, runner, checkpoint, seed));
        expect(again).toEqual({ output: "", stdout: "", exitCode: 0 });
      });
    }
  }

  test("a failing capture fails the systemd unit too (pipefail), not only the report", () => {
    const job = serviceJob(readFileSync(join(examples, "systemd", "whokilled-report.service"), "utf8"));
    // A clean log, so report alone would exit 0.
    const result = run(job, localCommand(job.command, "binary", join(work, "no-such-dir", "checkpoint.json"), join(fixtures, "live-kill-family.log")));
    expect(result.exitCode).toBe(1);
    expect(result.output).toContain("cannot write checkpoint");
  });
});

const analyze = Bun.which("systemd-analyze");
if (!analyze) console.error("skip: systemd-analyze verify of examples/systemd: systemd-analyze not installed");

describe.skipIf(!analyze)("systemd-analyze verify", () => {
  test("the service and the timer verify with no warning", () => {
    // Copies under their own names: verify finds the timer's service beside it.
    const dir = mkdtempSync(join(work, "units-"));
    for (const name of ["whokilled-report.service", "whokilled-report.timer"]) {
      writeFileSync(join(dir, name), readFileSync(join(examples, "systemd", name)));
    }
    const result = Bun.spawnSync([analyze!, "verify", join(dir, "whokilled-report.service"), join(dir, "whokilled-report.timer")], {
      cwd: dir,
      stdout: "pipe",
      stderr: "pipe",
    });
    expect({ exitCode: result.exitCode, output: result.stdout.toString() + result.stderr.toString() }).toEqual({ exitCode: 0, output: "" });
  });

  test("verify catches a broken unit (the check is not vacuous)", () => {
    const dir = mkdtempSync(join(work, "broken-"));
    const text = readFileSync(join(examples, "systemd", "whokilled-report.timer"), "utf8").replace("OnCalendar=hourly", "OnCalendar=hourlyy");
    writeFileSync(join(dir, "whokilled-report.timer"), text);
    writeFileSync(join(dir, "whokilled-report.service"), readFileSync(join(examples, "systemd", "whokilled-report.service")));
    const result = Bun.spawnSync([analyze!, "verify", join(dir, "whokilled-report.timer")], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    expect(result.exitCode).not.toBe(0);
  });
});
