/**
 * Input reaches stderr only escaped: a malformed stamp quoted in an error
 * message must not clear the screen or write the clipboard (OSC 52), and
 * invisible characters must not make `ss\u200bhd` read as `sshd`.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { escapeControl, escapeJsonText } from "../lib/render/escape.ts";

const root = join(import.meta.dir, "..");
/** Control bytes other than newline, and C1 as UTF-8 (C2 80–9F). */
const UNSAFE_BYTES = /[\x00-\x09\x0b-\x1f\x7f\u0080-\u009f]/;

describe("stderr carries no terminal control from the input", () => {
  test("a stamp holding ESC [2J and an OSC 52 clipboard write is quoted escaped, in every script that reads raw text", () => {
    const evil = "type=SYSCALL msg=audit(1\x1b[2J\x1b]52;c;SGVsbG8=\x07X:22): x \u202e\u200b\n";
    for (const script of ["capture", "decode", "attribute", "report"]) {
      const args = script === "capture" ? ["-f", "-"] : ["--no-lookup", "-"];
      const run = Bun.spawnSync([process.execPath, join(root, "scripts", `${script}.ts`), ...args], {
        stdin: Buffer.from(evil),
        stdout: "pipe",
        stderr: "pipe",
        env: { ...process.env, NO_COLOR: "1" },
      });
      const stderr = run.stderr.toString();
      expect(stderr, script).toContain("malformed audit stamp (1\\x1b[2J\\x1b]52;c;SGVsbG8=\\x07X:22)");
      expect(UNSAFE_BYTES.test(stderr), `${script}: ${JSON.stringify(stderr)}`).toBe(false);
      expect(stderr).not.toMatch(/[\u202e\u200b]/);
    }
  });

  test("zero-width and bidi characters are shown, not hidden", () => {
    expect(escapeControl("ss\u200bhd")).toBe("ss\\u{200b}hd");
    expect(escapeControl("a\u200db\ufeffc\u2060d")).toBe("a\\u{200d}b\\u{feff}c\\u{2060}d");
    // JSON text keeps its own escapes; what JSON.stringify leaves raw is escaped on top.
    expect(escapeJsonText(JSON.stringify("x\u001b\u0085\u202ey"))).toBe('"x\\u001b\\x85\\u{202e}y"');
  });

  test("every character drawn as nothing is shown: soft hyphen, fillers, variation selectors, tags, annotation marks", () => {
    expect(escapeControl("ss\u00adhd")).toBe("ss\\xadhd");
    expect(escapeControl("ss\u{e0041}hd")).toBe("ss\\u{e0041}hd");
    expect(escapeControl("a\u3164b\u115fc\ufe0fd\ufff9e\u180ef\u206ag")).toBe("a\\u{3164}b\\u{115f}c\\u{fe0f}d\\u{fff9}e\\u{180e}f\\u{206a}g");
    // What is drawn stays as it is.
    expect(escapeControl("crème 中文 ß ☃")).toBe("crème 中文 ß ☃");
  });

  test("a script's closing error quotes paths and arguments escaped, on one line", () => {
    const run = (...args: string[]) =>
      Bun.spawnSync([process.execPath, join(root, "scripts", args[0]!), ...args.slice(1)], { stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    const cases: Array<[string[], string]> = [
      [["why.ts", "1", "--audit-log", "/nonexistent/x\x1b[2J\nFAKE LINE.log", "--no-proc"], "cannot read /nonexistent/x\\x1b[2J\\x0aFAKE LINE.log"],
      [["attribute.ts", "--no-lookup", "/nonexistent/a\u202eb.log"], "cannot read /nonexistent/a\\u{202e}b.log"],
      [["why.ts", "1", "--x\x1b[2J\u202e"], "unknown option --x\\x1b[2J\\u{202e}"],
      [["why.ts", "1", "--since", "x\u202e"], "\\u{202e}"],
      [["why.ts", "1", "--format", "x\x1b[2J"], "x\\x1b[2J"],
    ];
    for (const [args, shown] of cases) {
      const out = run(...args);
      const stderr = out.stderr.toString();
      expect(out.exitCode, stderr).not.toBe(0);
      expect(stderr, args.join(" ")).toContain(shown);
      expect(UNSAFE_BYTES.test(stderr), JSON.stringify(stderr)).toBe(false);
      expect(stderr).not.toMatch(/[\u202e\u200b]/);
      expect(stderr.trimEnd().split("\n"), JSON.stringify(stderr)).toHaveLength(1);
    }
  });
});
