/**
 * The main job as the README runs it: the live demo on the real kernel names
 * the rogue and diagnoses the stale/recycled PID, and leaves no rule and no
 * process behind; --seed (and any machine without root/audit) replays 2010.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { auditctl } from "../lib/rules/auditctl.ts";
import { auditSkipReason } from "./helpers/live.ts";

const root = join(import.meta.dir, "..");

async function demo(...flags: string[]) {
  const child = Bun.spawn([process.execPath, join(root, "scripts", "demo.ts"), ...flags], {
    cwd: root,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, NO_COLOR: "1" },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { stdout, stderr, code };
}

function processesNamed(...comms: string[]): string[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .flatMap((pid) => {
      try {
        const comm = readFileSync(`/proc/${pid}/comm`, "utf8").trim();
        return comms.includes(comm) ? [`${pid} ${comm}`] : [];
      } catch {
        return [];
      }
    });
}

describe("demo", () => {
  test("--seed replays the 2010 case: roxen, PID 26880, stale-pid", async () => {
    const { stdout, code } = await demo("--seed");
    expect(code).toBe(0);
    expect(stdout).toContain("roxen (pid 4299, uid 0 root, /usr/local/roxen/server-4.5.241/pike/bin/pike)");
    expect(stdout).toContain("stale-pid");
    expect(stdout).toContain("26880");
  });

  const skip = auditSkipReason();
  if (skip) console.error(`skip: live demo: ${skip}`);
  test.skipIf(skip !== null)(
    "live: the report names the rogue and its exe, diagnoses the pattern, and nothing of ours is left",
    async () => {
      const { stdout, stderr, code } = await demo();
      expect(code).toBe(0);
      expect(stdout).toMatch(/stale-pid: .*\n\s+rogue-httpd \(pid \d+, uid 0 root, \S*bun\S*\)/);
      expect(stdout).toContain("recycled-pid");
      expect(stdout).toMatch(/findpid \(uid 65534 nobody\)/);
      // The demo's own SIGTERM that ends the rogue is not in the report: one killer, the rogue.
      const killers = stdout.slice(stdout.indexOf("\nKillers\n"), stdout.indexOf("\nVictims\n")).split("\n").filter((l) => /^\s+\d+\s/.test(l));
      expect(killers.map((l) => l.trim().split(/\s+/)[1])).toEqual(["rogue-httpd"]);
      // attribute --proc read the rogue's parents while it ran: the demo started it.
      expect(stdout).toMatch(/#1 started by bun(\.exe)?\[\d+\] "[^"]*scripts\/demo\.ts"/);
      expect(stderr).toMatch(/cleanup: rules with key whokilled-demo-\d+-\w+ removed/);
      const rules = auditctl(["-l"]).stdout;
      expect(rules).not.toContain("whokilled-demo-");
      expect(processesNamed("rogue-httpd", "findpid")).toEqual([]);
    },
    90_000,
  );
});
