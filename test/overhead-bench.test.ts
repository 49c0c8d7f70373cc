/**
 * bench/overhead.ts, run tiny on the real kernel: it measures every state and
 * prints ratios, and leaves no audit rule and no tracefs instance of its own
 * behind, neither at its end nor when SIGTERM stops it mid-run. Nothing here
 * is timed: the figures themselves are the bench's business.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hasAuditControl, kernelAuditControl } from "../lib/rules/control.ts";
import { findTracefs } from "../lib/sources/tracefs.ts";

const root = join(import.meta.dir, "..");
const bench = join(root, "bench", "overhead.ts");

function skipReason(): string | null {
  if (process.getuid?.() !== 0) return "bench:overhead needs root";
  if (Bun.which("gcc") === null) return "bench:overhead needs gcc";
  if (findTracefs() === null) return "bench:overhead needs tracefs mounted";
  return null;
}

/** What a run with this PID owns: audit rules keyed whokilled-bench-PID-…, instances whokilled-PID-…. */
function leftBy(pid: number): { rules: string[]; instances: string[] } {
  const rules = hasAuditControl()
    ? kernelAuditControl
        .listRules()
        .filter((rule) => rule.keys.some((key) => key.startsWith(`whokilled-bench-${pid}-`)))
        .map((rule) => rule.line)
    : [];
  const tracefs = findTracefs();
  const instances = tracefs ? readdirSync(join(tracefs, "instances")).filter((name) => name.startsWith(`whokilled-${pid}-`)) : [];
  return { rules, instances };
}

describe("bench:overhead", () => {
  test("tiny run: every state measured, ratios printed, --json written, nothing left behind", async () => {
    const why = skipReason();
    if (why) return console.log(`skip: ${why}`);
    const dir = mkdtempSync(join(tmpdir(), "overhead-test-"));
    try {
      const out = join(dir, "overhead.json");
      const child = Bun.spawn([process.execPath, bench, "--calls", "20000", "--kills", "2000", "--rounds", "2", "--json", out], {
        cwd: root,
        stdin: "ignore",
        stdout: "pipe",
        stderr: "pipe",
        env: { ...process.env, NO_COLOR: "1" },
      });
      const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      expect({ code, stderr }).toEqual({ code: 0, stderr: expect.any(String) });
      for (const state of ["nothing", "audit", "tracepoints", "both", "signal_generate", "syscall tracepoints"]) {
        expect(stdout).toMatch(new RegExp(`^\\| ${state} \\|`, "m"));
      }
      expect(stdout).toMatch(/^\| nothing \| [\d.]+ \| 1\.00× \| \d+ \| 1\.00× \|$/m);
      const report = JSON.parse(readFileSync(out, "utf8"));
      expect(report.rows.map((row: { state: string }) => row.state)).toEqual(["nothing", "audit", "tracepoints", "both", "signal_generate", "syscall tracepoints"]);
      for (const row of report.rows) {
        if (row.skipped) continue; // audit locked or absent: said in the row
        expect(row.runs.nsPerCall).toHaveLength(2);
        expect(row.callRatio).toBeGreaterThan(0);
        expect(row.killRatio).toBeGreaterThan(0);
      }
      expect(report.key).toMatch(new RegExp(`^whokilled-bench-${child.pid}-`));
      expect(leftBy(child.pid)).toEqual({ rules: [], instances: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("SIGTERM mid-run: exits 143 and leaves no rule and no instance", async () => {
    const why = skipReason();
    if (why) return console.log(`skip: ${why}`);
    const child = Bun.spawn([process.execPath, bench, "--calls", "2000000", "--kills", "20000", "--rounds", "50"], {
      cwd: root,
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: { ...process.env, NO_COLOR: "1" },
    });
    const stderrText = new Response(child.stderr).text();
    // Wait until the run holds something of its own (a rule or an instance), then stop it there.
    let held = false;
    for (let i = 0; i < 3000 && child.exitCode === null; i++) {
      const now = leftBy(child.pid);
      if (now.rules.length > 0 || now.instances.length > 0) {
        held = true;
        break;
      }
      await Bun.sleep(5);
    }
    expect(held).toBe(true);
    child.kill("SIGTERM");
    const code = await child.exited;
    await stderrText;
    expect(code).toBe(143);
    expect(leftBy(child.pid)).toEqual({ rules: [], instances: [] });
  });

  test("kill -9 mid-run: the next run removes what it left", async () => {
    const why = skipReason();
    if (why) return console.log(`skip: ${why}`);
    const killed = Bun.spawn([process.execPath, bench, "--calls", "2000000", "--kills", "20000", "--rounds", "50"], { cwd: root, stdin: "ignore", stdout: "ignore", stderr: "ignore" });
    for (let i = 0; i < 3000 && killed.exitCode === null; i++) {
      const now = leftBy(killed.pid);
      if (now.rules.length > 0 || now.instances.length > 0) break;
      await Bun.sleep(5);
    }
    killed.kill("SIGKILL");
    await killed.exited;
    const next = Bun.spawn([process.execPath, bench, "--calls", "20000", "--kills", "2000", "--rounds", "1"], { cwd: root, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const [stderr, code] = await Promise.all([new Response(next.stderr).text(), next.exited]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    // Another run (watch, setup-rule remove) may have removed them first: what counts is that none is left.
    expect(leftBy(killed.pid)).toEqual({ rules: [], instances: [] });
    expect(leftBy(next.pid)).toEqual({ rules: [], instances: [] });
  });
});
