/**
 * Every JSON line checked against its kind's type in lib/schema.ts before any
 * stage uses it. One description per kind, built from a few shapes (string,
 * integer, time, nullable, array, object…), which one checker walks; the
 * descriptions are typed by the schema's own interfaces, so tsc fails when a
 * field is added there and not here, or described as another type.
 *
 * Fields a description does not name are allowed (SCHEMA.md: a consumer
 * ignores fields it does not know) and passed on, but only nested up to
 * MAX_JSON_DEPTH: JSON.parse reads any depth, JSON.stringify and other
 * recursive code overflow the stack far below what it reads.
 */
import type {
  Container,
  ProcessIdentity,
  ContainerRuntime,
  Workload,
  AncestorInfo,
  AnyLine,
  BaitLine,
  BlindSpotLine,
  CoverageLine,
  CoverageState,
  DecodedRecord,
  EnableTimeBasis,
  EventLine,
  FieldMap,
  GapLine,
  Killer,
  OomFacts,
  PidFrom,
  ProcessInfo,
  RecordLine,
  RuleLine,
  SignalCause,
  SignalInfo,
  SignalLine,
  SignalOrigin,
  SourceRef,
  StatusLine,
  StatusWay,
  SyscallInfo,
  TargetInfo,
  TargetScope,
  Victim,
} from "./schema.ts";
import type { SourceName } from "./sources/registry.ts";

/** Objects and arrays nested deeper than this are refused (a line itself is depth 1; ours reach 5). */
export const MAX_JSON_DEPTH = 64;

/**
 * The most values (counted as `{`, `[` and `,`) a JSON line may hold, so
 * that parsing one costs bounded memory whatever its bytes are (the figures
 * are in docs/PERFORMANCE.md): decode's event line of 10,000 OBJ_PID records
 * (the most an event holds) has 250,000.
 */
export const MAX_JSON_VALUES = 750_000;

/**
 * A JSON line's problem found before it is parsed: more than MAX_JSON_VALUES
 * values (lines under 1 MiB cannot hold that many, and are not counted).
 */
export function unparsedProblem(text: string): string | null {
  if (text.length <= 1 << 20) return null;
  let values = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2c /* , */ || c === 0x7b /* { */ || c === 0x5b /* [ */) values++;
  }
  return values > MAX_JSON_VALUES ? `a JSON line of ${text.length} characters with more than ${MAX_JSON_VALUES} values (counting every {, [ and ,), more than any whokilled line holds: skipped` : null;
}

const enum Is {
  String,
  Integer,
  Number,
  Boolean,
  Time,
  Literal,
  Array,
  Map,
  Object,
  Union,
}

/**
 * What a value must be. One class for every kind of shape, so the checker
 * reads the same fields of the same layout at every step (it runs over
 * every field of every JSON line a stage reads).
 */
export class Shape {
  constructor(
    readonly is: Is,
    /** null is allowed too. */
    readonly nullable = false,
    /** Literal: the values allowed. */
    readonly values: readonly (string | boolean)[] = [],
    /** Array and Map: the shape of each item. */
    readonly of: Shape | null = null,
    /** Object: its fields, their shapes, and which may be absent. */
    readonly names: readonly string[] = [],
    readonly fields: readonly Shape[] = [],
    readonly optional: readonly boolean[] = [],
    readonly known: ReadonlySet<string> = new Set(),
    /** Union: the field that tells the cases apart, and each case's shape. */
    readonly key = "",
    readonly cases: ReadonlyMap<string, Shape> = new Map(),
  ) {}

  orNull(): Shape {
    return new Shape(this.is, true, this.values, this.of, this.names, this.fields, this.optional, this.known, this.key, this.cases);
  }
}

/**
 * A shape that describes values of type T: the type parameter is a phantom,
 * invariant, so a description must match its interface exactly (a missing
 * enum value or a `number` where the type says `number | null` fails tsc).
 */
export interface Described<T> {
  readonly shape: Shape;
  readonly optional?: false;
  readonly type?: (value: T) => T;
}
interface Optional<T> {
  readonly shape: Shape;
  readonly optional: true;
  readonly type?: (value: T) => T;
}

type OptionalKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? K : never }[keyof T];
/** One description per field of T: optional fields (`name?:`) as opt(…), the rest as they are. */
type FieldsOf<T> = { readonly [K in keyof T]-?: K extends OptionalKeys<T> ? Optional<Exclude<T[K], undefined>> : Described<T[K]> };

const str: Described<string> = { shape: new Shape(Is.String) };
/** A whole number (JSON has no other kind of integer; decode writes what the log said, so no range). */
const int: Described<number> = { shape: new Shape(Is.Integer) };
const num: Described<number> = { shape: new Shape(Is.Number) };
const bool: Described<boolean> = { shape: new Shape(Is.Boolean) };
/** ISO 8601 in UTC, as toISOString writes it (SCHEMA.md's times), and a real date. */
const time: Described<string> = { shape: new Shape(Is.Time) };
const TRUE: Described<true> = { shape: new Shape(Is.Literal, false, [true]) };

/** One of the string values of T, every one of them listed (a Record, so tsc names a missing one). */
function oneOf<T extends string>(values: Record<T, true>): Described<T> {
  return { shape: new Shape(Is.Literal, false, Object.keys(values)) };
}
function nullable<T>(of: Described<T>): Described<T | null> {
  return { shape: of.shape.orNull() };
}
function arrayOf<T>(of: Described<T>): Described<T[]> {
  return { shape: new Shape(Is.Array, false, [], of.shape) };
}
function mapOf<T>(of: Described<T>): Described<Record<string, T>> {
  return { shape: new Shape(Is.Map, false, [], of.shape) };
}
function opt<T>(of: Described<T>): Optional<T> {
  return { shape: of.shape, optional: true };
}
function obj<T>(fields: FieldsOf<T>): Described<T> {
  const entries = Object.entries(fields) as Array<[string, Described<unknown> | Optional<unknown>]>;
  const names = entries.map(([name]) => name);
  const shapes = entries.map(([, field]) => field.shape);
  const optional = entries.map(([, field]) => field.optional === true);
  return { shape: new Shape(Is.Object, false, [], null, names, shapes, optional, new Set(names)) };
}
/** A union of object types told apart by the string field `key`. */
function union<T extends Record<K, string>, K extends string>(key: K, cases: { readonly [V in T[K]]: Described<Extract<T, Record<K, V>>> }): Described<T> {
  const map = new Map((Object.entries(cases) as Array<[string, Described<unknown>]>).map(([value, described]) => [value, described.shape]));
  return { shape: new Shape(Is.Union, false, [], null, [], [], [], new Set(), key, map) };
}

// ------------------------------------------------------------ the schema's types

const SOURCE_REF = obj<SourceRef>({ file: str, line: int });
const SIGNAL_INFO = obj<SignalInfo>({ nr: nullable(int), name: nullable(str) });
const TARGET_SCOPE = oneOf<TargetScope>({ process: true, group: true, all: true, thread: true, pidfd: true });
const SOURCE_NAME = oneOf<SourceName>({ audit: true, tracefs: true, "kernel-log": true, journal: true, tracepoints: true });
const SIGNAL_ORIGIN = obj<SignalOrigin>({ code: int, kind: str, label: str });
const FIELD_MAP: Described<FieldMap> = mapOf(str);
const STRINGS = arrayOf(str);
const ENABLE_BASIS = oneOf<EnableTimeBasis>({ boot: true, install: true, recorded: true, seen: true, "auditd-start": true, unknown: true });

const RECORD = obj<RecordLine>({
  kind: oneOf({ record: true }),
  type: str,
  id: str,
  node: nullable(str),
  raw: str,
  source: SOURCE_REF,
  time: opt(time),
});

const GAP = obj<GapLine>({ kind: oneOf({ gap: true }), source: str, time, reason: str, lost: nullable(int) });

const COVERAGE = obj<CoverageLine>({
  kind: oneOf({ coverage: true }),
  source: oneOf({ audit: true }),
  time,
  state: oneOf<CoverageState>({ full: true, partial: true, none: true, unknown: true }),
  enabled: nullable(int),
  reason: str,
  missing: STRINGS,
  fix: nullable(str),
});

const SYSCALL_INFO = obj<SyscallInfo>({
  arch: nullable(str),
  nr: nullable(int),
  name: nullable(str),
  success: nullable(bool),
  exit: nullable(int),
  errno: nullable(str),
  args: STRINGS,
  signal: opt(SIGNAL_INFO),
  target: opt(obj<NonNullable<SyscallInfo["target"]>>({ pid: nullable(int), scope: TARGET_SCOPE, tid: opt(nullable(int)) })),
});

const PROCESS_IDENTITY: FieldsOf<ProcessIdentity> = {
  pid: nullable(int),
  ppid: nullable(int),
  comm: nullable(str),
  exe: nullable(str),
  uid: nullable(int),
  user: nullable(str),
  auid: nullable(int),
};

const PROCESS_INFO = obj<ProcessInfo>({
  ...PROCESS_IDENTITY,
  euid: nullable(int),
  ses: nullable(int),
  tty: nullable(str),
});

const TARGET_INFO = obj<TargetInfo>({ pid: nullable(int), comm: nullable(str), uid: nullable(int), user: nullable(str), auid: nullable(int), ses: nullable(int) });

const DECODED_RECORD = obj<DecodedRecord>({
  type: str,
  fields: FIELD_MAP,
  decoded: FIELD_MAP,
  enriched: opt(FIELD_MAP),
  msg: opt(FIELD_MAP),
  raw: str,
  source: opt(SOURCE_REF),
  warnings: opt(STRINGS),
});

const EVENT = obj<EventLine>({
  kind: oneOf({ event: true }),
  id: str,
  node: nullable(str),
  time: nullable(time),
  type: str,
  syscall: nullable(SYSCALL_INFO),
  process: nullable(PROCESS_INFO),
  proctitle: nullable(STRINGS),
  targets: arrayOf(TARGET_INFO),
  key: nullable(str),
  namesUnknown: opt(TRUE),
  origin: opt(SIGNAL_ORIGIN),
  records: arrayOf(DECODED_RECORD),
  warnings: opt(STRINGS),
});

const ANCESTOR = obj<AncestorInfo>({ pid: int, comm: nullable(str), exe: nullable(str), argv: opt(STRINGS), from: oneOf({ proc: true, stream: true }) });

const WORKLOAD = obj<Workload>({
  cgroup: str,
  unit: nullable(str),
  userManager: nullable(str),
  container: nullable(obj<Container>({ runtime: oneOf<ContainerRuntime>({ docker: true, containerd: true, "cri-o": true, podman: true, kubernetes: true, lxc: true, nspawn: true }), id: str })),
  pod: nullable(str),
});

const KILLER = obj<Killer>({
  ...PROCESS_IDENTITY,
  argv: STRINGS,
  ancestry: opt(arrayOf(ANCESTOR)),
  workload: opt(WORKLOAD),
  nsPid: opt(int),
});

const VICTIM = obj<Victim>({ pid: nullable(int), comm: nullable(str), uid: nullable(int), user: nullable(str), ppid: opt(int), workload: opt(WORKLOAD), nsPid: opt(int) });

const OOM_FACTS = obj<OomFacts>({
  constraint: nullable(str),
  memcg: nullable(str),
  taskMemcg: nullable(str),
  totalVmKb: nullable(num),
  anonRssKb: nullable(num),
  fileRssKb: nullable(num),
  shmemRssKb: nullable(num),
  oomScoreAdj: nullable(num),
  limitKb: nullable(num),
  usageKb: nullable(num),
  invokedBy: nullable(str),
  lines: STRINGS,
});

const SIGNAL_CAUSE = obj<SignalCause>({ kind: str, rule: str, label: str, evidence: STRINGS, settle: opt(str), oom: opt(OOM_FACTS) });

const SIGNAL = obj<SignalLine>({
  kind: oneOf({ signal: true }),
  id: str,
  node: nullable(str),
  time: nullable(time),
  syscall: nullable(str),
  arch: nullable(str),
  signal: SIGNAL_INFO,
  result: obj<SignalLine["result"]>({ success: nullable(bool), errno: nullable(str) }),
  killer: KILLER,
  target: obj<SignalLine["target"]>({
    pid: nullable(int),
    scope: TARGET_SCOPE,
    tid: opt(nullable(int)),
    fd: opt(int),
    pidFrom: opt(oneOf<PidFrom>({ obj_pid: true, pidfd_open: true, "earlier-call": true })),
  }),
  victims: arrayOf(VICTIM),
  key: nullable(str),
  source: SOURCE_NAME,
  probe: opt(bool),
  self: opt(bool),
  namesUnknown: opt(TRUE),
  origin: opt(SIGNAL_ORIGIN),
  cause: opt(SIGNAL_CAUSE),
  context: opt(obj<NonNullable<SignalLine["context"]>>({ pid: int, comm: nullable(str) })),
  bootSeconds: opt(num),
  unit: opt(str),
  warnings: opt(STRINGS),
});

const BAIT = obj<BaitLine>({
  kind: oneOf({ bait: true }),
  pid: int,
  wanted: int,
  start: time,
  end: nullable(time),
  outcome: oneOf({ signal: true, exit: true, stopped: true }),
  signal: nullable(SIGNAL_INFO),
  exitCode: nullable(int),
  method: oneOf({ ns_last_pid: true, "fork-loop": true }),
  attempts: int,
  comm: opt(str),
  uid: opt(nullable(int)),
  identity: opt(oneOf({ taken: true })),
  takeMs: opt(num),
});

const RULE = obj<RuleLine>({
  kind: oneOf({ rule: true }),
  action: oneOf({ print: true, install: true, remove: true, list: true, status: true, persist: true }),
  rule: str,
  key: str,
  result: oneOf({ ok: true, present: true, absent: true, removed: true, error: true }),
  detail: opt(str),
  file: opt(str),
});

const BLINDSPOT = obj<BlindSpotLine>({ kind: oneOf({ blindspot: true }), pid: int, ppid: int, comm: str, start: time, enabledAt: time, basis: ENABLE_BASIS });

type StatusOf<K extends StatusLine["topic"]> = Extract<StatusLine, { topic: K }>;
/** The `status` line of one topic: its kind and topic (by construction), then the fields of its own. */
function status<K extends StatusLine["topic"]>(topic: K, fields: Omit<FieldsOf<StatusOf<K>>, "kind" | "topic">): Described<StatusOf<K>> {
  return obj({ kind: oneOf({ status: true }), topic: oneOf({ [topic]: true }), ...fields } as unknown as FieldsOf<StatusOf<K>>);
}

const STATUS = union<StatusLine, "topic">("topic", {
  audit: status("audit", { enabled: int, failure: int, detail: str }),
  auditd: status("auditd", { running: bool, pid: nullable(int), comm: nullable(str), started: nullable(time), detail: str }),
  rules: status("rules", { key: str, expected: STRINGS, present: STRINGS, missing: STRINGS, other: STRINGS, detail: str }),
  backlog: status("backlog", {
    backlog: nullable(int),
    backlogLimit: nullable(int),
    lost: nullable(int),
    backlogWaitTime: nullable(num),
    rateLimit: nullable(int),
    detail: str,
  }),
  "blind-spots": status("blind-spots", {
    enabledAt: nullable(time),
    basis: ENABLE_BASIS,
    exact: bool,
    count: nullable(int),
    possible: nullable(int),
    detail: str,
  }),
  way: status("way", {
    way: oneOf({ audit: true, tracepoints: true, both: true }),
    possible: bool,
    ready: bool,
    checks: arrayOf(obj<StatusWay["checks"][number]>({ need: str, ok: bool, detail: str })),
    gives: str,
    detail: str,
  }),
  cost: status("cost", {
    state: oneOf({ nothing: true, audit: true, tracepoints: true }),
    nsPerCall: nullable(num),
    ratio: nullable(num),
    calls: int,
    skipped: nullable(str),
    detail: str,
  }),
});

/** The description of every line kind, by `kind`. */
export const LINE_SHAPES: { readonly [K in AnyLine["kind"]]: Described<Extract<AnyLine, { kind: K }>> } = {
  record: RECORD,
  gap: GAP,
  coverage: COVERAGE,
  event: EVENT,
  signal: SIGNAL,
  bait: BAIT,
  rule: RULE,
  status: STATUS,
  blindspot: BLINDSPOT,
};

const SHAPE_OF_KIND = new Map<string, Shape>(Object.entries(LINE_SHAPES).map(([kind, described]) => [kind, described.shape]));

/** Is `kind` a line kind whokilled reads? */
export function isLineKind(kind: unknown): kind is AnyLine["kind"] {
  return typeof kind === "string" && SHAPE_OF_KIND.has(kind);
}

// ------------------------------------------------------------ the checker

/** What is wrong, found deepest first: the path is built on the way back out, so a line that fits costs no strings. */
class Misfit {
  readonly path: string[] = [];
  constructor(
    /** What was expected (TOO_DEEP: a value nested too deep). */
    readonly expected: string,
    readonly value: unknown,
  ) {}
}

const TOO_DEEP = "(too deep)";

/**
 * The problem with `line`, a parsed JSON object of a known kind, as
 * `field X: expected …, got …`; null when it fits its kind's description.
 */
export function lineProblem(line: { kind: AnyLine["kind"] }): string | null {
  const misfit = check(SHAPE_OF_KIND.get(line.kind)!, line, 1);
  if (misfit === null) return null;
  const path = misfit.path.reverse().join("").replace(/^\./, "");
  if (misfit.expected === TOO_DEEP) return `field ${path}: nested deeper than ${MAX_JSON_DEPTH} levels`;
  return `field ${path}: expected ${misfit.expected}, got ${said(misfit.value)}`;
}

function check(shape: Shape, value: unknown, depth: number): Misfit | null {
  if (value === null) return shape.nullable ? null : new Misfit(expectedOf(shape), value);
  switch (shape.is) {
    case Is.String:
      return typeof value === "string" ? null : new Misfit(expectedOf(shape), value);
    case Is.Integer:
      return typeof value === "number" && Number.isInteger(value) ? null : new Misfit(expectedOf(shape), value);
    case Is.Number:
      return typeof value === "number" && Number.isFinite(value) ? null : new Misfit(expectedOf(shape), value);
    case Is.Boolean:
      return typeof value === "boolean" ? null : new Misfit(expectedOf(shape), value);
    case Is.Time:
      return typeof value === "string" && isIsoTime(value) ? null : new Misfit(expectedOf(shape), value);
    case Is.Literal:
      return shape.values.includes(value as string) ? null : new Misfit(expectedOf(shape), value);
    case Is.Array: {
      if (!Array.isArray(value)) return new Misfit(expectedOf(shape), value);
      if (value.length > 0 && depth >= MAX_JSON_DEPTH) return new Misfit(TOO_DEEP, value);
      const of = shape.of!;
      for (let i = 0; i < value.length; i++) {
        const misfit = check(of, value[i], depth + 1);
        if (misfit !== null) return at(misfit, `[${i}]`);
      }
      return null;
    }
    case Is.Map: {
      if (!isObject(value)) return new Misfit(expectedOf(shape), value);
      const of = shape.of!;
      const strings = of.is === Is.String && !of.nullable;
      for (const name in value) {
        const item = value[name];
        // A record's fields: strings, checked here without a call each.
        if (strings && typeof item === "string") continue;
        const misfit = check(of, item, depth + 1);
        if (misfit !== null) return at(misfit, keyStep(name));
      }
      return null;
    }
    case Is.Object: {
      if (!isObject(value)) return new Misfit(expectedOf(shape), value);
      const { names, fields, optional } = shape;
      let present = 0;
      for (let i = 0; i < names.length; i++) {
        const item = value[names[i]!];
        if (item === undefined) {
          if (optional[i]) continue;
          return at(new Misfit(expectedOf(fields[i]!), undefined), keyStep(names[i]!));
        }
        present++;
        const misfit = check(fields[i]!, item, depth + 1);
        if (misfit !== null) return at(misfit, keyStep(names[i]!));
      }
      // Fields it does not describe: allowed, within the depth limit.
      if (!hasMoreKeys(value, present)) return null;
      for (const name in value) {
        if (!shape.known.has(name) && tooDeep(value[name], depth + 1)) return at(new Misfit(TOO_DEEP, undefined), keyStep(name));
      }
      return null;
    }
    case Is.Union: {
      if (!isObject(value)) return new Misfit(expectedOf(shape), value);
      const tag = value[shape.key];
      const chosen = typeof tag === "string" ? shape.cases.get(tag) : undefined;
      if (chosen === undefined) return at(new Misfit(quoted([...shape.cases.keys()]), tag), keyStep(shape.key));
      return check(chosen, value, depth);
    }
  }
}

/** Does the object have more than `count` keys? Stops at the first past it. */
function hasMoreKeys(value: Record<string, unknown>, count: number): boolean {
  let seen = 0;
  for (const _ in value) if (++seen > count) return true;
  return false;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Is a value at `depth` nested past MAX_JSON_DEPTH? Recursion bounded by the limit itself. */
function tooDeep(value: unknown, depth: number): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (depth > MAX_JSON_DEPTH) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (tooDeep(item, depth + 1)) return true;
  } else {
    for (const name in value) if (tooDeep((value as Record<string, unknown>)[name], depth + 1)) return true;
  }
  return false;
}

function at(misfit: Misfit, step: string): Misfit {
  misfit.path.push(step);
  return misfit;
}

/** `.name`, or `["odd name"]` (cut: keys come from the input). */
function keyStep(name: string): string {
  return /^[A-Za-z_$#][\w$#]*$/.test(name) && name.length <= 40 ? `.${name}` : `[${JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name)}]`;
}

const quoted = (values: readonly unknown[]) => values.map((v) => JSON.stringify(v)).join(" or ");

/** What each shape expects, in a message; Literal lists its values. */
const EXPECTED: Readonly<Record<Is, string>> = {
  [Is.String]: "a string",
  [Is.Integer]: "an integer",
  [Is.Number]: "a number",
  [Is.Boolean]: "true or false",
  [Is.Time]: "an ISO 8601 UTC time (2010-09-23T12:37:07.433Z)",
  [Is.Literal]: "",
  [Is.Array]: "an array",
  [Is.Map]: "an object",
  [Is.Object]: "an object",
  [Is.Union]: "an object",
};

function expectedOf(shape: Shape): string {
  const said = shape.is === Is.Literal ? quoted(shape.values) : EXPECTED[shape.is];
  return shape.nullable ? `${said} or null` : said;
}

/** A value as the message says it: its type, and a short quote of a string or number. */
function said(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  if (value === null) return "null";
  if (typeof value === "string") return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${String(value)}`;
  return Array.isArray(value) ? "an array" : "an object";
}

const ISO_TIME = /^(?:\d{4}|[+-]\d{6})-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z$/;
/** The last time's second that proved a real date: a stream's times share their second. */
let lastSecond = "";

function isIsoTime(text: string): boolean {
  if (!ISO_TIME.test(text)) return false;
  const second = text.slice(0, text.indexOf("T") + 9);
  if (second === lastSecond) return true;
  // The form fits; Date says whether the date is real (no month 13, no 31 November): it writes such a second back as it was.
  const ms = Date.parse(`${second}Z`);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, second.length) !== second) return false;
  lastSecond = second;
  return true;
}
