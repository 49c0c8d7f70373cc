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
