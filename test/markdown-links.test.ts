/**
 * Text from the input never becomes a link in the Markdown report (issue 17
 * §9): not a Markdown link or image, not an autolink in angle brackets, and
 * not one of GFM's own autolinks (a bare `http://…`, `www.…`, an e-mail
 * address, `mailto:`/`xmpp:`), whether it comes as a comm, an exe or an argv.
 * Each is kept readable: only its punctuation is backslash-escaped.
 */
import { describe, expect, test } from "bun:test";
import { escapeMarkdown } from "../lib/render/escape.ts";
import { renderReport } from "../lib/render/formats.ts";
import { analyze } from "../lib/signals/findings.ts";
import { sig } from "./helpers/report-fixtures.ts";

const CASES: Array<[string, string]> = [
  ["http://evil.example/x", "http\\://evil.example/x"],
  ["HTTPS://evil.example", "HTTPS\\://evil.example"],
  ["ftp://evil.example", "ftp\\://evil.example"],
  ["[click](http://evil.example)", "\\[click\\](http\\://evil.example)"],
  ["![img](http://evil.example/i.png)", "!\\[img\\](http\\://evil.example/i.png)"],
  ["<http://evil.example>", "\\<http\\://evil.example\\>"],
  ["www.evil.example", "www\\.evil.example"],
  ["(www.evil.example)", "(www\\.evil.example)"],
  ["mailto:someone@evil.example", "mailto\\:someone\\@evil.example"],
  ["xmpp:someone@evil.example", "xmpp\\:someone\\@evil.example"],
  ["someone@evil.example", "someone\\@evil.example"],
  ["[ref]: http://evil.example", "\\[ref\\]: http\\://evil.example"],
];

/**
 * Where GFM would start a link in Markdown source: an unescaped `[`, `<`,
 * scheme `://`, `mailto:`/`xmpp:`, `@`, or `www.` at a word's start.
 */
function linkStarts(markdown: string): string[] {
  const unescaped = String.raw`(?<!\\)`;
  const pattern = new RegExp(`${unescaped}\\[|${unescaped}<|${unescaped}:(?=//)|(?:mailto|xmpp)${unescaped}:|${unescaped}@|(?<![^\\s*_~(])www${unescaped}\\.`, "gi");
  return markdown.match(pattern) ?? [];
}

describe("escapeMarkdown breaks every link form, and keeps the text readable", () => {
  for (const [input, escaped] of CASES) {
    test(JSON.stringify(input), () => {
      expect(escapeMarkdown(input)).toBe(escaped);
      expect(linkStarts(escapeMarkdown(input))).toEqual([]);
      // Unescaped, the source reads as the input again.
      expect(escapeMarkdown(input).replace(/\\(.)/g, "$1")).toBe(input);
    });
  }

  test("paths, times and plain words are left as they are", () => {
    for (const text of ["/usr/local/x-1.2", "sshd: root", "awww.x", "12:30:00", "file.www.txt"]) expect(escapeMarkdown(text)).toBe(text);
  });
});

test("a report whose killer comm, exe and argv and victim comm are links renders none of them as one", async () => {
  const texts = CASES.map(([input]) => input);
  const report = await analyze(
    texts.map((text, i) =>
      sig({
        id: `1700000000.000:${i}`,
        time: 1_700_000_000 + i,
        killer: { pid: 100 + i, comm: text, exe: text, argv: [text, text] },
        victims: [{ pid: 200 + i, comm: text }],
      }),
    ),
  );
  const markdown = renderReport(report, "markdown");
  // Every case reached the report (as a killer, an exe or a victim), escaped.
  for (const [, escaped] of CASES) expect(markdown).toContain(escaped);
  expect(linkStarts(markdown)).toEqual([]);
});
