/** lib/bytes/detach.ts: detach really copies (a slice would keep its whole parent alive). */
import { expect, test } from "bun:test";
import { detach } from "../lib/bytes/detach.ts";

test("detach returns an equal string", () => {
  for (const text of ["", "a", "1740902400.009:1083465", "naïve \u00ff", "naïve ✓ \u0000 😀"]) expect(detach(text)).toBe(text);
  expect(detach(null)).toBeNull();
});

test("a detached slice does not keep its parent alive", () => {
  const kept: string[] = [];
  const before = process.memoryUsage().rss;
  for (let i = 0; i < 40; i++) {
    // 8 MB parents, made unique so nothing is shared between them.
    const parent = `${i}:${Math.random()}:`.padEnd(8 << 20, "x");
    parent.charCodeAt(1);
    kept.push(detach(parent.slice(2, 30)));
  }
  Bun.gc(true);
  const grown = (process.memoryUsage().rss - before) / 2 ** 20;
  expect(kept.length).toBe(40);
  // Pinned parents would be 320 MB.
  expect(grown).toBeLessThan(100);
});
