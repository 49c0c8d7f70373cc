/**
 * capture as users run it, on the real kernel: a kill sent while
 * `capture --netlink` or `capture --follow` runs shows up on its stdout
 * within a second; Ctrl-C ends it cleanly with exit 130 (128 + SIGINT).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { InputErrors } from "../lib/audit/input-errors.ts";
import type { InputItem } from "../lib/sources/inputs.ts";
import { installRules, removeRules } from "../lib/rules/install.ts";
import type { SignalLine } from "../lib/schema.ts";
import { SignalStage } from "../lib/signals/signal-stage.ts";
import { AUDITD_LOG, auditSkipReason, auditdSkipReason, removeOnExit, uniqueKey, waitFor } from "./helpers/live.ts";
import { buildSender, send, startVictim, type Victim } from "./helpers/sender.ts";

const root = join(import.meta.dir, "..");
const skip = auditSkipReason();
const auditdSkip = auditdSkipReason();
if (skip) console.error(`skip: live capture tests: ${skip}`);
else if (auditdSkip) console.error(`skip: capture --follow test: ${auditdSkip}`);

const key = uniqueKey("capture");
const victims: Victim[] = [];
afterAll(async () => {
  for (const victim of victims) await victim.stop();
  if (!skip) removeRules(key);
});

/** Start capture with these flags; collect stdout lines as they come, and stderr. */
function startCapture(flags: string[]) {
  const child = Bun.spawn([process.execPath, join(root, "scripts", "capture.ts"), ...flags], { cwd: root, stdout: "pipe", stderr: "pipe" });
  const lines: Array<{ at: number; value: any }> = [];
  let stderr = "";
  const out = (async () => {
    let carry = "";
    for await (const chunk of child.stdout) {
      const text = carry + new TextDecoder().decode(chunk);
      const parts = text.split("\n");
      carry = parts.pop()!;
      for (const part of parts) if (part) lines.push({ at: performance.now(), value: JSON.parse(part) });
    }
  })();
  const err = (async () => {
    for await (const chunk of child.stderr) stderr += new TextDecoder().decode(chunk);
  })();
  return {
    child,
    lines,
    stderr: () => stderr,
    async stop() {
      child.kill("SIGINT");
      const code = await child.exited;
      await Promise.all([out, err]);
      return code;
    },
  };
}

async function killAndTime(capture: ReturnType<typeof startCapture>) {
  const sender = buildSender("b64")!;
  const victim = await startVictim();
  victims.push(victim);
  const sentAt = performance.now();
  expect(await send(sender, "kill", victim.tgid, 15)).toBe(0);
  const hit = await waitFor(
    () => capture.lines.find((l) => l.value.kind === "record" && l.value.type === "OBJ_PID" && l.value.raw.includes(` opid=${victim.tgid} `)),
    10_000,
    5,
  );
  expect(hit, "the kill's OBJ_PID record on capture's stdout").toBeDefined();
  // What capture wrote is enough for attribute to name killer, victim and signal.
  await waitFor(() => capture.lines.find((l) => l.value.kind === "record" && l.value.type === "PROCTITLE" && l.value.id === hit!.value.id), 3000);
  const stage = new SignalStage({ lookup: true, filter: {} }, new InputErrors({ strict: true, print: () => {} }));
  const items: InputItem[] = capture.lines
    .filter((l) => l.value.kind === "record" && l.value.id === hit!.value.id)
    .map((l) => ({ form: "json", value: l.value, source: l.value.source }));
  const signals = [...stage.push(items), ...stage.flush()].filter((l): l is SignalLine => l.kind === "signal");
  expect(signals).toHaveLength(1);
  expect(signals[0]!.killer).toMatchObject({ comm: sender.comm, exe: sender.path, uid: 0 });
  expect(signals[0]!.signal).toEqual({ nr: 15, name: "SIGTERM" });
  expect(signals[0]!.victims).toEqual([{ pid: victim.tgid, comm: "wk-victim", uid: 0, user: "root" }]);
  return hit!.at - sentAt;
}

describe.skipIf(skip !== null)("capture live", () => {
  test("--netlink: a kill appears within 1 second; SIGINT ends it with exit 130", async () => {
    removeOnExit(key);
    installRules({ key, arches: ["b64"], first: true });
    const capture = startCapture(["--netlink"]);
    expect(await waitFor(() => (capture.stderr().includes("netlink: listening") ? true : undefined), 15_000)).toBe(true);
    const latency = await killAndTime(capture);
    console.error(`capture --netlink: kill seen ${latency.toFixed(0)} ms after it was sent`);
    expect(latency).toBeLessThan(1000);
    expect(await capture.stop()).toBe(130);
    expect(capture.stderr()).toMatch(/capture: \d+ records/);
  });

  test.skipIf(auditdSkip !== null)("--follow on auditd's log: a kill appears within 1 second", async () => {
    installRules({ key, arches: ["b64"], first: true });
    const capture = startCapture(["--follow", "--file", AUDITD_LOG]);
    expect(await waitFor(() => (capture.stderr().includes("follow: watching") ? true : undefined), 15_000)).toBe(true);
    await Bun.sleep(300); // the first poll positions the reader at the end of the log
    const latency = await killAndTime(capture);
    console.error(`capture --follow: kill seen ${latency.toFixed(0)} ms after it was sent`);
    expect(latency).toBeLessThan(1000);
    expect(await capture.stop()).toBe(130);
  });
});
