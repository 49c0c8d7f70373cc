/**
 * The event head: what an event line says of its syscall, the syscall's
 * process and each target (OBJ_PID), as member tables read by both writers (interpret.ts
 * builds the objects, bytes/event-writer.ts writes the same members as bytes), so a
 * member is added or changed in one place.
 */
import type { DecodedRecord, FieldMap, ProcessInfo, SyscallInfo, TargetInfo } from "../schema.ts";
import { errnoOfExit, idOrNull, nullish, num, success, userName } from "./spelling.ts";

/** How a head member is read from its record. */
export enum Member {
  /** num(fields[name]) */
  Number,
  /** idOrNull(fields[name]) */
  Id,
  /** nullish(decoded[name] ?? fields[name]) */
  Text,
  /** nullish(fields[name]) */
  RawText,
  /** userName(decoded[name]) */
  User,
  /** decoded[name] ?? null */
  Decoded,
  /** success(fields[name]) */
  Success,
  /** errnoOfExit(num(fields[name])) */
  Errno,
}

/** A head object's members in order: key, the field it reads, how. */
export type HeadMembers = readonly (readonly [key: string, field: string, kind: Member])[];

/** The syscall's members before its args (and a kill-family call's signal and target: interpret.ts buildSyscall). */
export const SYSCALL: HeadMembers = [
  ["arch", "arch", Member.Decoded],
  ["nr", "syscall", Member.Number],
  ["name", "syscall", Member.Decoded],
  ["success", "success", Member.Success],
  ["exit", "exit", Member.Number],
  ["errno", "exit", Member.Errno],
];

export const PROCESS: HeadMembers = [
  ["pid", "pid", Member.Number],
  ["ppid", "ppid", Member.Number],
  ["comm", "comm", Member.Text],
  ["exe", "exe", Member.Text],
  ["uid", "uid", Member.Id],
  ["user", "uid", Member.User],
  ["euid", "euid", Member.Id],
  ["auid", "auid", Member.Id],
  ["ses", "ses", Member.Id],
  ["tty", "tty", Member.RawText],
];

export const TARGET: HeadMembers = [
  ["pid", "opid", Member.Number],
  ["comm", "ocomm", Member.Text],
  ["uid", "ouid", Member.Id],
  ["user", "ouid", Member.User],
  ["auid", "oauid", Member.Id],
  ["ses", "oses", Member.Id],
];

function memberValue(kind: Member, field: string, fields: FieldMap, decoded: FieldMap): string | number | boolean | null {
  switch (kind) {
    case Member.Number:
      return num(fields[field]);
    case Member.Id:
      return idOrNull(fields[field]);
    case Member.Text:
      return nullish(decoded[field] ?? fields[field]);
    case Member.RawText:
      return nullish(fields[field]);
    case Member.User:
      return userName(decoded[field]);
    case Member.Decoded:
      return decoded[field] ?? null;
    case Member.Success:
      return success(fields[field]);
    case Member.Errno:
      return errnoOfExit(num(fields[field]));
  }
}

/** A head object of a decoded record, its members as the table says. */
function headObject(members: HeadMembers, { fields, decoded }: DecodedRecord): Record<string, string | number | boolean | null> {
  const head: Record<string, string | number | boolean | null> = {};
  for (const [key, field, kind] of members) head[key] = memberValue(kind, field, fields, decoded);
  return head;
}

/** The syscall's head without its args: buildSyscall adds them. */
export function buildSyscallHead(record: DecodedRecord): Omit<SyscallInfo, "args"> {
  return headObject(SYSCALL, record) as unknown as Omit<SyscallInfo, "args">;
}

export function buildProcess(record: DecodedRecord): ProcessInfo {
  return headObject(PROCESS, record) as unknown as ProcessInfo;
}

export function buildTarget(record: DecodedRecord): TargetInfo {
  return headObject(TARGET, record) as unknown as TargetInfo;
}
