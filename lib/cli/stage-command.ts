/**
 * How to start one of whokilled's stages as a process of its own. From a
 * clone that is Bun running the stage's script; inside the single executable
 * that `npm run build` makes (dist/whokilled) there is no scripts/ dir and
 * process.execPath is that executable, whose first argument names the stage.
 */
import { join } from "node:path";

/** Each stage the code spawns, and its entry point relative to the repository root. */
const STAGE_ENTRY_POINTS = {
  capture: "scripts/capture.ts",
  decode: "scripts/decode.ts",
  attribute: "scripts/attribute.ts",
  report: "scripts/report.ts",
  "setup-rule": "scripts/setup-rule.ts",
  bait: "scripts/bait.ts",
  demo: "scripts/demo.ts",
  why: "scripts/why.ts",
  // The demo's killer: a process of its own so audit shows its own pid and comm.
  rogue: "lib/demo/rogue-main.ts",
} as const;

export type StageName = keyof typeof STAGE_ENTRY_POINTS;

export const STAGE_NAMES = Object.keys(STAGE_ENTRY_POINTS) as StageName[];

const repositoryRoot = join(import.meta.dir, "..", "..");

/** True inside a `bun build --compile` executable, whose modules live in Bun's embedded /$bunfs/ filesystem. */
export function isCompiledBinary(): boolean {
  return Bun.main.startsWith("/$bunfs/");
}

/**
 * How people start this stage, as they started whokilled: `whokilled NAME` from
 * the binary, `npx bun scripts/NAME.ts` from a clone (`runner` says otherwise).
 */
export function userCommand(name: StageName, runner = "npx bun"): string {
  return isCompiledBinary() ? `whokilled ${name}` : `${runner} ${STAGE_ENTRY_POINTS[name]}`;
}

/** The argv that starts this stage: `[bun, scripts/NAME.ts]`, or `[whokilled, NAME]` in the compiled binary. */
export function stageCommand(name: StageName): string[] {
  return isCompiledBinary() ? [process.execPath, name] : [process.execPath, join(repositoryRoot, STAGE_ENTRY_POINTS[name])];
}
