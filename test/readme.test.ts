/**
 * The README's console examples, run as written: each `$ npx bun scripts/…`
 * line in a ```console block (none that needs sudo or a live kernel) must
 * print what the README shows under it. A block ending in `…` shows the
 * output's head, so only that much is compared.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const readme = readFileSync(join(root, "README.md"), "utf8");

interface Example {
  line: number;
  command: string;
  expected: string[];
}

function consoleExamples(text: string): Example[] {
  const examples: Example[] = [];
  let inConsole = false;
  let current: Example | null = null;
  text.split("\n").forEach((line, index) => {
    if (line === "```console") inConsole = true;
    else if (inConsole && line === "```") {
      inConsole = false;
      current = null;
    } else if (inConsole && line.startsWith("$ ")) {
      current = { line: index + 1, command: line.slice(2), expected: [] };
      examples.push(current);
    } else if (current) current.expected.push(line);
  });
  for (const example of examples) while (example.expected.at(-1) === "") example.expected.pop();
  return examples;
}

const examples = consoleExamples(readme);
const runnable = examples.filter((e) => e.command.startsWith("npx bun scripts/"));

describe("README console examples", () => {
  test("there are examples to run", () => expect(runnable.length).toBeGreaterThanOrEqual(3));
  for (const example of runnable) {
    // The examples read fixture logs, another host's: this machine's passwd never names their uids, so the output is the same everywhere.
    test(`README.md:${example.line}: ${example.command}`, async () => {
      const argv = example.command.replace(/^npx bun /, "").split(" ");
      const child = Bun.spawn([process.execPath, ...argv], { cwd: root, stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
      const [stdout, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      expect(code).toBe(0);
      const actual = stdout.replace(/\n$/, "").split("\n");
      const head = example.expected.at(-1) === "…";
      const expected = head ? example.expected.slice(0, -1) : example.expected;
      expect(head ? actual.slice(0, expected.length) : actual).toEqual(expected);
    });
  }
});
