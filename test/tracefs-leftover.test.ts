/**
 * A tracefs instance left by a killed `capture --tracefs` (kill -9: no exit
 * handler runs) is found by its owner PID and start time, reported by
 * `setup-rule status`, and removed by `setup-rule remove` or the next
 * `capture --tracefs`. Instances that are not whokilled's, or whose owner
 * lives, are never touched. On the real kernel; the global trace is never used.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findTracefs } from "../lib/sources/tracefs.ts";
import { tracefsSkipReason, trackedChildren, uniqueKey, waitFor } from "./helpers/live.ts";

const root = join(import.meta.dir, "..");
const spawned = trackedChildren();
const skip = tracefsSkipReason();
if (skip) console.log(`skip tracefs-leftover: ${skip}`);
const made: string[] = [];

afterAll(async () => {
  await spawned.killAll();
  for (const dir of made) if (existsSync(dir)) rmdirSync(dir);
});

function script(args: string[]) {
  return spawned.add(Bun.spawn([process.execPath, ...args], { cwd: root, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } }));
}

function instancesOf(mount: string, pid: number): string[] {
  return readdirSync(join(mount, "instances"))
    .filter((name) => name.startsWith(`whokilled-${pid}-`))
    .map((name) => join(mount, "instances", name));
}

/** Whether the instance's signal_generate is on; false while its event files are not there yet. */
function enabledIn(dir: string): boolean {
  try {
    return readFileSync(join(dir, "events", "signal", "signal_generate", "enable"), "utf8").trim() === "1";
  } catch {
    return false;
  }
}

/** Start capture --tracefs, wait for its instance, kill -9 it: the instance stays, signal_generate on. */
async function killedCapture(mount: string): Promise<string> {
  const capture = script(["scripts/capture.ts", "--tracefs", "--no-coverage"]);
  const dir = await waitFor(() => {
    const found = instancesOf(mount, capture.pid)[0];
    // The kernel makes an instance's directory first and its event files a moment later.
    return found && enabledIn(found) ? found : undefined;
  }, 15_000);
  expect(dir).toBeDefined();
  capture.kill("SIGKILL");
  await capture.exited;
  made.push(dir!);
  expect(existsSync(dir!)).toBe(true);
  expect(readFileSync(join(dir!, "events", "signal", "signal_generate", "enable"), "utf8").trim()).toBe("1");
  return dir!;
}

describe.skipIf(skip !== null)("tracefs instance left by kill -9", () => {
  test("status reports it; remove removes it and leaves a live owner's and a foreign instance alone", async () => {
    const mount = findTracefs()!;
    const left = await killedCapture(mount);
    // Bystanders: a whokilled-named instance whose owner (a sleep we started) lives, and one that is not ours.
    const sleeper = spawned.add(Bun.spawn(["sleep", "60"]));
    const start = readFileSync(`/proc/${sleeper.pid}/stat`, "utf8").split(") ")[1]!.split(" ")[19]!;
    const alive = join(mount, "instances", `whokilled-${sleeper.pid}-${start}-alive1`);
    const foreign = join(mount, "instances", `wk-test-foreign-${process.pid}`);
    for (const dir of [alive, foreign]) {
      mkdirSync(dir);
      made.push(dir);
    }
    writeFileSync(join(foreign, "events", "signal", "signal_generate", "enable"), "1");

    const status = script(["scripts/setup-rule.ts", "status"]);
    const statusErr = await new Response(status.stderr).text();
    await status.exited;
    expect(statusErr).toContain(`instance ${left} was left by a killed run`);
    expect(statusErr).not.toContain(alive);
    expect(existsSync(left)).toBe(true);

    const remove = script(["scripts/setup-rule.ts", "remove", "--key", uniqueKey("leftover")]);
    const removeErr = await new Response(remove.stderr).text();
    expect(await remove.exited).toBe(0);
    expect(removeErr).toContain(`removed instance ${left} left by a killed run`);
    expect(existsSync(left)).toBe(false);
    expect(existsSync(alive)).toBe(true);
    expect(existsSync(foreign)).toBe(true);
    expect(readFileSync(join(foreign, "events", "signal", "signal_generate", "enable"), "utf8").trim()).toBe("1");
    writeFileSync(join(foreign, "events", "signal", "signal_generate", "enable"), "0");
    sleeper.kill();
  }, 60_000);

  test("the next capture --tracefs removes it", async () => {
    const mount = findTracefs()!;
    const left = await killedCapture(mount);
    const next = script(["scripts/capture.ts", "--tracefs", "--no-coverage"]);
    expect(await waitFor(() => (instancesOf(mount, next.pid).length > 0 ? true : undefined), 15_000)).toBe(true);
    expect(existsSync(left)).toBe(false);
    next.kill("SIGINT");
    expect(await next.exited).toBe(130);
    expect(await new Response(next.stderr).text()).toContain(`removed instance ${left} left by a killed run`);
    expect(instancesOf(mount, next.pid)).toEqual([]);
  }, 60_000);
});
