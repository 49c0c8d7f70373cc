/**
 * The HTML report in a real browser: headless Chromium renders it offline,
 * and the screenshot must show the page (not a blank one) with the SVG
 * timeline's bars; the DOM must hold the SVG with one bar per busy bucket.
 * Needs Debian's `chromium` (apt-get install -y chromium); skips otherwise.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderHtml } from "../lib/render/html.ts";
import { analyze } from "../lib/signals/findings.ts";
import type { SignalLine } from "../lib/schema.ts";
import { countColor, pixelAt, readPng } from "./helpers/png.ts";
import { ORIGIN_KERNEL, seedSignals, sig } from "./helpers/report-fixtures.ts";

const chromium = Bun.which("chromium") ?? Bun.which("chromium-browser");
const skipReason = chromium ? null : "chromium not installed (apt-get install -y chromium)";
if (skipReason) console.log(`report-html: skipped: ${skipReason}`);

const dir = mkdtempSync(join(tmpdir(), "wk-report-html-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The seed plus ten minutes of roxen hitting 26880 at varying rates, and one OOM kill. */
function scenario(): SignalLine[] {
  const t0 = Date.parse("2010-09-23T12:30:00Z") / 1000;
  const out = [...seedSignals()];
  for (let minute = 0; minute < 10; minute++) {
    const n = 2 + ((minute * 7) % 11);
    for (let k = 0; k < n; k++) {
      const ok = k % 3 !== 0;
      out.push(
        sig({
          id: `${t0 + minute * 60 + k}.000:${minute * 100 + k}`,
          time: t0 + minute * 60 + k * 2,
          success: ok,
          errno: ok ? null : "ESRCH",
          victims: ok ? [{ comm: k % 2 ? "cron" : "findpid", uid: k % 2 ? 0 : 1010 }] : [],
        }),
      );
    }
  }
  out.push(
    sig({
      id: "tracefs:1",
      time: t0 + 200,
      source: "tracefs",
      success: null,
      killer: { pid: 5000, comm: "mysqld", exe: null, uid: null, user: null },
      target: 5000,
      victims: [{ pid: 5000, comm: "mysqld" }],
      origin: ORIGIN_KERNEL,
    }),
  );
  // A hostile comm must render escaped, not as markup.
  out.push(sig({ id: "evil:1", time: t0 + 300, killer: { pid: 66, comm: "<img src=x onerror=alert(1)>\x1b[2J" }, target: 9 }));
  return out;
}

const TIMEOUT = 120_000;

async function runChromium(extra: string[], html: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const profile = mkdtempSync(join(dir, "profile-"));
  const proc = Bun.spawn(
    [
      chromium!,
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      "--window-size=1200,900",
      ...extra,
      `file://${html}`,
    ],
    { stdout: "pipe", stderr: "pipe", timeout: 90_000 },
  );
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

const report = await analyze(scenario());
const html = renderHtml(report);
const htmlPath = join(dir, "report.html");
writeFileSync(htmlPath, html);
const busyBuckets = report.summary.timeline.buckets.filter((b) => b.count > 0).length;

describe("HTML report", () => {
  test("the page is self-contained", () => {
    expect(html).not.toMatch(/<(script|link|img|iframe|object|embed)\b|@import|url\(/i);
    expect(html).not.toMatch(/<[a-z]+\b[^>]*\s(src|href)=/i);
    expect(html).toContain("Content-Security-Policy");
    // The only URL is the SVG namespace, which is never fetched.
    expect(html.match(/https?:\/\/[^"\s]+/g)).toEqual(["http://www.w3.org/2000/svg"]);
    expect(html).toContain("&lt;img src=x onerror=alert(1)&gt;\\x1b[2J");
  });
});

describe.skipIf(skipReason !== null)("HTML report in headless Chromium", () => {
  test("screenshot: written, not blank, the timeline bars are drawn", async () => {
    const png = join(dir, "report.png");
    const r = await runChromium([`--screenshot=${png}`], htmlPath);
    if (!existsSync(png)) console.log(r.stderr);
    expect(existsSync(png)).toBe(true);
    expect(statSync(png).size).toBeGreaterThan(20_000);
    const image = readPng(new Uint8Array(readFileSync(png)));
    expect(image.width).toBe(1200);
    expect(image.height).toBe(900);
    // Background, text and bars differ: sample a grid and count distinct colours.
    const colours = new Set<string>();
    for (let y = 0; y < image.height; y += 15) for (let x = 0; x < image.width; x += 15) colours.add(pixelAt(image, x, y).join(","));
    expect(colours.size).toBeGreaterThan(5);
    // The bar colours (#4c8bf5 succeeded, #e0524a failed) cover real area above the fold.
    expect(countColor(image, [0x4c, 0x8b, 0xf5])).toBeGreaterThan(2_000);
    expect(countColor(image, [0xe0, 0x52, 0x4a])).toBeGreaterThan(500);
    if (process.env.WK_KEEP_SCREENSHOT) writeFileSync(process.env.WK_KEEP_SCREENSHOT, readFileSync(png));
  }, TIMEOUT);

  test("DOM: the SVG timeline with one bar group per busy bucket, findings and tables", async () => {
    const r = await runChromium(["--dump-dom"], htmlPath);
    expect(r.code).toBe(0);
    const dom = r.stdout;
    expect(dom).toContain("<svg");
    expect(dom).toContain('class="timeline-chart"');
    expect((dom.match(/<g class="bucket">/g) ?? []).length).toBe(busyBuckets);
    expect((dom.match(/class="bar (ok|failed)"/g) ?? []).length).toBeGreaterThanOrEqual(busyBuckets);
    expect(dom).toContain("stale-pid");
    expect(dom).toContain("recycled-pid");
    expect(dom).toContain("blind-spot");
    expect(dom).toContain("roxen");
    // The hostile comm stayed text: no element was created from it.
    expect(dom).not.toMatch(/<img/i);
  }, TIMEOUT);
});
