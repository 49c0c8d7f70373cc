import type { ArgsDef, CommandDef, Resolvable } from "citty";

/** One of citty's lazy values (the value, a promise, or a function giving either) → the value. */
export async function resolved<T>(value: Resolvable<T>): Promise<T> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

/** Find the sub-command named in argv so `setup-rule install --help` shows install's usage. */
export async function resolveSubCommandForHelp<T extends ArgsDef>(
  command: CommandDef<T>,
  rawArgs: readonly string[],
): Promise<[CommandDef<any>, CommandDef<any> | undefined]> {
  const subCommands = await resolved(command.subCommands);
  const name = rawArgs.find((arg) => !arg.startsWith("-"));
  if (subCommands && name && name in subCommands) return [await resolved(subCommands[name]!), command as CommandDef<any>];
  return [command as CommandDef<any>, undefined];
}

/**
 * The command as its own help shows it: each sub-command in the COMMANDS
 * table by the first line of its description (the rest, its examples, is
 * for `NAME SUB --help`).
 */
export async function withCommandSummaries<T extends ArgsDef>(command: CommandDef<T>): Promise<CommandDef<T>> {
  if (!command.subCommands) return command;
  const summarized: Record<string, CommandDef<any>> = {};
  for (const [name, entry] of Object.entries(await resolved(command.subCommands))) {
    const sub = await resolved(entry);
    const meta = await resolved(sub.meta);
    summarized[name] = { ...sub, meta: { ...meta, description: (meta?.description ?? "").split("\n")[0] } };
  }
  return { ...command, subCommands: summarized };
}
