/**
 * The stores behind ancestry from the stream: ByteArena (a ring of bytes)
 * and ProcessSightings (a ring of sightings with a pid → newest index keyed
 * by node and pid). Small sizes, so wrap-around, forgetting and the index's
 * rebuild all happen here; on real logs they happen only past megabytes.
 */
import { describe, expect, test } from "bun:test";
import { ByteArena } from "../lib/bytes/arena.ts";
import { ProcessSightings, StreamAncestry } from "../lib/signals/ancestry.ts";

describe("ByteArena", () => {
  test("spans come back until overwritten; a span never straddles the ring's end", () => {
    const arena = new ByteArena(160); // spans of up to 10 bytes
    const put = (text: string) => arena.put(Buffer.from(text), 0, text.length);
    const a = put("0123456789"); // 0..10
    const b = put("abcdefghij"); // 10..20
    expect([a, b]).toEqual([0, 10]);
    expect(arena.text(a, 10)).toBe("0123456789");
    expect(arena.text(b, 10)).toBe("abcdefghij");
    for (let i = 0; i < 13; i++) put("xxxxxxxxxx"); // to 150
    expect(put("yyyyyyyy")).toBe(150); // to 158
    const c = put("ABCDEFGHIJ"); // 2 bytes left at the end: skipped, so c starts the ring again
    expect(c).toBe(160);
    expect(arena.text(c, 10)).toBe("ABCDEFGHIJ");
    expect(arena.holds(a, 10)).toBe(false); // its bytes are now c's
    expect(arena.holds(b, 10)).toBe(true);
    expect(arena.holds(c, 10)).toBe(true);
  });

  test("a span over a sixteenth of the arena is refused", () => {
    const arena = new ByteArena(160);
    expect(arena.put(Buffer.alloc(11), 0, 11)).toBe(-1);
    expect(arena.put(Buffer.alloc(10), 0, 10)).toBe(0);
  });
});

describe("ProcessSightings", () => {
  const entry = (pid: number, comm: string, node: string | null = null) => ({ pid, node, ppid: 1, comm, exe: `/bin/${comm}` });

  test("the newest sighting of a pid, or the one of a given moment (audit time)", () => {
    const sightings = new ProcessSightings(new ByteArena(1024), 8);
    sightings.addEntry(entry(300, "first"), 1000);
    sightings.addEntry(entry(300, "second"), 2000);
    expect(sightings.get(300)?.comm).toBe("second");
    expect(sightings.get(300, 2000)?.comm).toBe("second");
    expect(sightings.get(300, 1999)?.comm).toBe("first");
    expect(sightings.get(300, 999)).toBeUndefined();
    expect(sightings.get(301)).toBeUndefined();
    // No time known: taken as before anything.
    sightings.addEntry(entry(302, "untimed"));
    expect(sightings.get(302, 0)?.comm).toBe("untimed");
  });

  test("hosts keep apart: the same pid on two nodes, and no node at all", () => {
    const sightings = new ProcessSightings(new ByteArena(1024), 8);
    sightings.addEntry(entry(300, "sh", "web1"));
    sightings.addEntry(entry(300, "updater", "web2"));
    sightings.addEntry(entry(300, "local"));
    expect(sightings.get(300, Infinity, "web1")?.comm).toBe("sh");
    expect(sightings.get(300, Infinity, "web2")?.comm).toBe("updater");
    expect(sightings.get(300)?.comm).toBe("local");
    expect(sightings.get(300, Infinity, "web3")).toBeUndefined();
    // Large pids and many hosts stay exact (node index × 2^32 + pid in a double).
    for (let n = 0; n < 50; n++) sightings.addEntry(entry(4_194_303, `p${n}`, `host${n}`));
    expect(sightings.get(4_194_303, Infinity, "host49")?.comm).toBe("p49");
  });

  test("a ring: past its capacity the oldest are forgotten, and the index rebuilds without losing the rest", () => {
    const capacity = 8;
    const sightings = new ProcessSightings(new ByteArena(1024), capacity);
    // 200 distinct pids: the index (32 slots for capacity 8) fills past half many times over.
    for (let pid = 1000; pid < 1200; pid++) sightings.addEntry(entry(pid, `c${pid}`));
    for (let pid = 1000; pid < 1192; pid++) expect([pid, sightings.get(pid)]).toEqual([pid, undefined]);
    for (let pid = 1192; pid < 1200; pid++) expect(sightings.get(pid)?.comm).toBe(`c${pid}`);
    // The same pid over and over: only its last `capacity` sightings remain reachable.
    for (let i = 0; i < 20; i++) sightings.addEntry(entry(7, `v${i}`), i * 1000);
    expect(sightings.get(7)?.comm).toBe("v19");
    expect(sightings.get(7, 12_000)?.comm).toBe("v12"); // the oldest still in the ring
    expect(sightings.get(7, 11_999)).toBeUndefined();
  });

  test("a raw sighting whose bytes the arena has overwritten is forgotten, not read as garbage", () => {
    const sightings = new ProcessSightings(new ByteArena(2048), 64); // the arena, not the ring, runs out first
    for (let pid = 1; pid <= 40; pid++) {
      const line = Buffer.from(`type=SYSCALL msg=audit(1.000:${pid}): ppid=1 pid=${pid} comm="c${pid}" exe="/x"`);
      expect(line.length).toBeLessThanOrEqual(2048 / 16);
      sightings.addRaw(line, 0, line.length, pid);
    }
    expect(sightings.get(1)).toBeUndefined();
    expect(sightings.get(40)).toEqual({ pid: 40, ppid: 1, comm: "c40", exe: "/x" });
  });

  test("raw execve lines, decoded only when asked, with argv from EXECVE", () => {
    const sightings = new ProcessSightings(new ByteArena(4096), 8);
    const syscall = Buffer.from('type=SYSCALL msg=audit(1.000:1): arch=c000003e syscall=59 success=yes exit=0 ppid=1 pid=300 comm="sh" exe="/usr/bin/dash"');
    const execve = Buffer.from('type=EXECVE msg=audit(1.000:1): argc=3 a0="sh" a1="-c" a2=636C65616E7570');
    const seq = sightings.addRaw(syscall, 0, syscall.length, 300, false, sightings.nodeIndex("web1"));
    sightings.attach(seq, "execve", execve, 0, execve.length);
    expect(sightings.get(300, Infinity, "web1")).toEqual({ pid: 300, ppid: 1, comm: "sh", exe: "/usr/bin/dash", argv: ["sh", "-c", "cleanup"] });
    expect(sightings.get(300)).toBeUndefined();
    const ancestry = new StreamAncestry(sightings);
    expect(ancestry.ancestry(300, Infinity, "web1")).toEqual([{ pid: 300, comm: "sh", exe: "/usr/bin/dash", from: "stream", argv: ["sh", "-c", "cleanup"] }]);
    expect(ancestry.ancestry(300, Infinity, "web2")).toEqual([]);
  });
});
