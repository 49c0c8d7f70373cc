/**
 * The body of one record (`arch=c000003e syscall=62 … comm="bash" …`) →
 * ordered fields.
 *
 * Value forms: bare (`exit=-3`, `tty=(none)`, hex `exe=2F7573…`), double
 * quoted (no escapes inside: the kernel hex-encodes any value that would need
 * one), and single quoted for user-space records' nested `msg='…'`. Anything
 * after a 0x1d byte is auditd's ENRICHED tail. Words without `=` (AVC's
 * `avc:  denied  { read } for`) are kept in order under `_text`.
 */
import type { FieldMap } from "../schema.ts";
import { enrichedTailAt, FieldCursor, UnitScratch, unitsOf } from "./bytes/field-cursor.ts";

export interface ParsedFields {
  fields: FieldMap;
  /** Fields of a nested `msg='…'`, when the record has one. */
  msg?: FieldMap;
  enriched?: FieldMap;
  /**
   * Names of fields whose value was double-quoted (so it is text, never hex),
   * as stored: a repeat quoted only its second time is `name#2` here.
   */
  quoted?: Set<string>;
  /** Problems that did not stop the parse (unterminated quote…). */
  warnings?: string[];
}

const DQ = 0x22;
const SQ = 0x27;

/**
 * A plain object: JSC keeps one shape for records of the same type, which
 * makes both building and JSON.stringify faster than a prototype-less map.
 * build() guards the names a plain object treats specially.
 */
export function newFieldMap(): FieldMap {
  return {};
}

const cursor = new FieldCursor();
const msgCursor = new FieldCursor();
const scratch = new UnitScratch();

/** Parse `text` from `start` to its end. */
export function parseFields(text: string, start = 0): ParsedFields {
  const result: ParsedFields = { fields: newFieldMap() };
  const bytes = unitsOf(text, scratch);
  const gs = enrichedTailAt(bytes, start, text.length);
  const end = gs < 0 ? text.length : gs;
  result.fields = scan(text, cursor.reset(bytes, start, end), result, true);
  if (gs >= 0) result.enriched = scan(text, cursor.reset(bytes, gs + 1, text.length), result, false);
  return result;
}

function has(map: FieldMap, key: string): boolean {
  return map[key] !== undefined && Object.hasOwn(map, key);
}

/**
 * Names and values in order → the map.
 * Repeated names happen (laurel's ptrace sample has uid twice) and keep every
 * value, as `name#2`…; they are rare, so the fast path assigns each name
 * unless something is there already, and only then builds the map again the
 * careful way, on a fresh object (the first one is left half filled).
 */
function build(names: string[], values: string[], quoted: boolean[], result: ParsedFields, trackQuoted: boolean): FieldMap {
  const map = newFieldMap();
  let placed = 0;
  for (; placed < names.length; placed++) {
    const name = names[placed]!;
    // Something already there: a repeat, or a name the prototype has (constructor, toString…).
    if (name === "__proto__" || map[name] !== undefined) break;
    map[name] = values[placed]!;
    if (trackQuoted && quoted[placed]) (result.quoted ??= new Set()).add(name);
  }
  if (placed === names.length) return map;
  // Quoting is told per field as stored, so begin again with the names below.
  if (trackQuoted) result.quoted = undefined;
  const fresh = newFieldMap();
  // The next suffix to try per repeated name: starting at #2 every time would
  // make a record of k repeats cost k² probes.
  // Names are only ever added, so every suffix below it is taken.
  const nextSuffix = new Map<string, number>();
  for (let i = 0; i < names.length; i++) {
    let name = names[i]!;
    if (has(fresh, name)) {
      let n = nextSuffix.get(name) ?? FIRST_REPEAT;
      while (has(fresh, repeatName(name, n))) n++;
      nextSuffix.set(name, n + 1);
      name = repeatName(name, n);
    }
    // A plain object treats __proto__ as its prototype: define it as data. Any other name is an own property once assigned.
    if (name === "__proto__") Object.defineProperty(fresh, name, { value: values[i]!, enumerable: true, writable: true, configurable: true });
    else fresh[name] = values[i]!;
    if (trackQuoted && quoted[i]) (result.quoted ??= new Set()).add(name);
  }
  return fresh;
}

/** Where the words without `=` go, joined with spaces; the field whose single-quoted value holds fields of its own. */
export const WORDS_FIELD = "_text";
export const NESTED_FIELD = "msg";

/** A repeated field's second value is stored as `name#2`, the next as `name#3`… */
export const FIRST_REPEAT = 2;
export function repeatName(name: string, n: number): string {
  return `${name}#${n}`;
}

/** The warnings a parse gives: a quote left open, and any inside a nested msg='…'. */
export const unterminatedQuote = (name: string): string => `unterminated quote in ${name}`;
export const inMsg = (warning: string): string => `msg: ${warning}`;

function warn(result: ParsedFields, message: string): void {
  (result.warnings ??= []).push(message);
}

/** The fields the cursor walks over `text`, as a map. `main`: the record's own fields (not the ENRICHED tail's or a nested msg's), whose quoting is kept and whose msg='…' is read. */
function scan(text: string, c: FieldCursor, result: ParsedFields, main: boolean): FieldMap {
  let freeText: string | null = null;
  const names: string[] = [];
  const values: string[] = [];
  const quoted: boolean[] = [];
  while (c.next()) {
    if (!c.hasValue) {
      const word = text.slice(c.nameStart, c.nameEnd);
      freeText = freeText === null ? word : `${freeText} ${word}`;
      continue;
    }
    const key = text.slice(c.nameStart, c.nameEnd);
    if (!c.closed) warn(result, unterminatedQuote(key));
    names.push(key);
    values.push(text.slice(c.valueStart, c.valueEnd));
    quoted.push(c.quote === DQ);
    if (c.quote === SQ && main && key === NESTED_FIELD && result.msg === undefined) {
      const nested: ParsedFields = { fields: newFieldMap() };
      result.msg = scan(text, msgCursor.reset(scratch.bytes, c.valueStart, c.valueEnd), nested, false);
      if (nested.warnings) for (const w of nested.warnings) warn(result, inMsg(w));
    }
  }
  if (freeText !== null) {
    names.push(WORDS_FIELD);
    values.push(freeText);
    quoted.push(false);
  }
  return build(names, values, quoted, result, main);
}
