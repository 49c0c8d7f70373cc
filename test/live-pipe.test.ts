/**
 * The line scripts on a live pipe (`tail -f audit.log | capture - |
 * attribute`): what a chunk of input makes must reach stdout while the
 * input stays open. A burst of lines arrives as one chunk; its lines used to
 * be flushed only when the chunk was short (under 64 lines), so a kill in a
 * burst of unrelated records waited in the buffer until more input came,
 * which on a quiet host can be hours.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { FileSink } from "bun";

const root = join(import.meta.dir, "..");

/** 300 unrelated records, then a kill event (SYSCALL, OBJ_PID, PROCTITLE), written at once. */
function burst(): string {
  const lines: string[] = [];
  for (let serial = 1; serial <= 300; serial++) {
    lines.push(`type=USER_ACCT msg=audit(1700000000.${String(serial % 1000).padStart(3, "0")}:${serial}): pid=1 uid=0 auid=0 ses=1 msg='op=PAM:accounting acct="root" exe="/usr/sbin/cron" hostname=? addr=? terminal=cron res=success'`);
  }
  const stamp = "msg=audit(1700000001.000:301)";
  lines.push(
    `type=SYSCALL ${stamp}: arch=c000003e syscall=62 success=yes exit=0 a0=6900 a1=9 a2=0 a3=0 items=0 ppid=1 pid=4299 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="roxen" exe="/usr/bin/pike" key=(null)`,
    `type=OBJ_PID ${stamp}: opid=26880 oauid=-1 ouid=1010 oses=-1 ocomm="findpid"`,
    `type=PROCTITLE ${stamp}: proctitle="roxen"`,
  );
  return `${lines.join("\n")}\n`;
}

/** Run `args` with stdin open, write the burst, and wait (up to 5 s) for a stdout line that `wanted` accepts. */
async function seenWhileOpen(args: string[], wanted: (line: string) => boolean): Promise<string | null> {
  const child = Bun.spawn([process.execPath, ...args], { cwd: root, stdin: "pipe", stdout: "pipe", stderr: "ignore", env: { ...process.env, NO_COLOR: "1" } });
  const stdin = child.stdin as FileSink;
  stdin.write(burst());
  stdin.flush();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let found: string | null = null;
  const deadline = setTimeout(() => reader.cancel(), 5000);
  try {
    while (found === null) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      found = text.split("\n").find((line) => line !== "" && wanted(line)) ?? null;
    }
  } catch {
    // cancelled at the deadline
  } finally {
    clearTimeout(deadline);
    stdin.end();
    child.kill();
    await child.exited;
  }
  return found;
}

describe("a burst on a pipe that stays open reaches stdout", () => {
  const script = (name: string) => join(root, "scripts", `${name}.ts`);

  test("capture -", async () => {
    const line = await seenWhileOpen([script("capture"), "--file", "-"], (l) => l.includes('"type":"PROCTITLE"'));
    expect(line).not.toBeNull();
  });

  test("decode", async () => {
    const line = await seenWhileOpen([script("decode"), "--no-lookup"], (l) => l.includes('"name":"kill"'));
    expect(line).not.toBeNull();
  });

  test("attribute", async () => {
    const line = await seenWhileOpen([script("attribute"), "--no-lookup"], (l) => l.includes('"kind":"signal"'));
    expect(JSON.parse(line!)).toMatchObject({ killer: { pid: 4299, comm: "roxen" }, target: { pid: 26880 }, victims: [{ comm: "findpid" }] });
  });
});
