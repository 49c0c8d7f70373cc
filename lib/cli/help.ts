import type { ArgsDef, CommandDef } from "citty";

/** Find the sub-command named in argv so `setup-rule install --help` shows install's usage. */
export async function resolveSubCommandForHelp<T extends ArgsDef>(
  command: CommandDef<T>,
  rawArgs: readonly string[],
): Promise<[CommandDef<any>, CommandDef<any> | undefined]> {
  const subCommands = typeof command.subCommands === "function" ? await command.subCommands() : await command.subCommands;
  const name = rawArgs.find((arg) => !arg.startsWith("-"));
  if (subCommands && name && name in subCommands) {
    const entry = subCommands[name]!;
    const sub = typeof entry === "function" ? await (entry as () => Promise<CommandDef<any>>)() : await entry;
    return [sub, command as CommandDef<any>];
  }
  return [command as CommandDef<any>, undefined];
}

/**
 * The command as its own help shows it: each sub-command in the COMMANDS
 * table by the first line of its description (the rest, its examples, is
 * for `NAME SUB --help`).
 */
export async function withCommandSummaries<T extends ArgsDef>(command: CommandDef<T>): Promise<CommandDef<T>> {
  if (!command.subCommands) return command;
  const subCommands = typeof command.subCommands === "function" ? await command.subCommands() : await command.subCommands;
  const summarized: Record<string, CommandDef<any>> = {};
  for (const [name, entry] of Object.entries(subCommands)) {
    const sub = (typeof entry === "function" ? await (entry as () => Promise<CommandDef<any>>)() : await entry) as CommandDef<any>;
    const meta = typeof sub.meta === "function" ? await sub.meta() : await sub.meta;
    summarized[name] = { ...sub, meta: { ...meta, description: (meta?.description ?? "").split("\n")[0] } };
  }
  return { ...command, subCommands: summarized };
}
