#!/usr/bin/env bun
/**
 * TEST ONLY: print this process's own audit context as the kernel shows it
 * (probeOwnAuditContext), as one JSON line. With `--gid N` it first takes
 * gid N and runs itself again as a child, so the child is forked with that
 * gid (a test's `-a never,task -F gid=N` rule then gives it no context).
 */
import { probeOwnAuditContext } from "../../lib/sources/netlink.ts";

const gidAt = process.argv.indexOf("--gid");
if (gidAt > 0) {
  process.setgid!(Number(process.argv[gidAt + 1]));
  const child = Bun.spawnSync([process.execPath, import.meta.path], { stdout: "pipe", stderr: "inherit" });
  process.stdout.write(child.stdout);
  process.exit(child.exitCode ?? 1);
}
process.stdout.write(`${JSON.stringify(probeOwnAuditContext())}\n`);
