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
  msgQuoted?: Set<string>;
  /** Problems that did not stop the parse (unterminated quote…). */
  warnings?: string[];
}

const SPACE = 0x20;
const GS = 0x1d;
const EQ = 0x3d;
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

/** Parse `text` from `start` to its end. */
export function parseFields(text: string, start = 0): ParsedFields {
  const result: ParsedFields = { fields: newFieldMap() };
  const gs = text.indexOf("\u001d", start);
  const end = gs < 0 ? text.length : gs;
  result.fields = scan(text, start, end, result, result.fields, true);
  if (gs >= 0) {
    result.enriched = newFieldMap();
    result.enriched = scan(text, gs + 1, text.length, result, result.enriched, false);
  }
  return result;
}

function has(map: FieldMap, key: string): boolean {
  return map[key] !== undefined && Object.hasOwn(map, key);
}

/**
 * Names and values in order → the map (the one given, or a fresh one).
 * Repeated names happen (laurel's ptrace sample has uid twice) and keep every
 * value, as `name#2`…; they are rare, so the fast path assigns each name
 * unless something is there already, and only then builds the map again the
 * careful way, on a fresh object (the given one is left half filled).
 */
function build(map: FieldMap, names: string[], values: string[], quoted: boolean[], result: ParsedFields, trackQuoted: boolean): FieldMap {
  // Something already there: a repeat, or a name the prototype has (constructor, toString…).
  let special = false;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (name === "__proto__" || map[name] !== undefined) {
      special = true;
      break;
    }
    map[name] = values[i]!;
    if (trackQuoted && quoted[i]) (result.quoted ??= new Set()).add(name);
  }
  if (!special) return map;
  // Quoting is told per field as stored, so begin again with the names below.
  if (trackQuoted) result.quoted = undefined;
  const fresh = newFieldMap();
  // The next suffix to try per repeated name: starting at #2 every time made
  // a record of k repeats cost k² probes (4,000 repeats of one name: 1.6 s).
  // Names are only ever added, so every suffix below it is taken.
  const nextSuffix = new Map<string, number>();
  for (let i = 0; i < names.length; i++) {
    let name = names[i]!;
    if (has(fresh, name)) {
      let n = nextSuffix.get(name) ?? 2;
      while (has(fresh, `${name}#${n}`)) n++;
      nextSuffix.set(name, n + 1);
      name = `${name}#${n}`;
    }
    // A plain object treats __proto__ as its prototype: define it as data. Any other name is an own property once assigned.
    if (name === "__proto__") Object.defineProperty(fresh, name, { value: values[i]!, enumerable: true, writable: true, configurable: true });
    else fresh[name] = values[i]!;
    if (trackQuoted && quoted[i]) (result.quoted ??= new Set()).add(name);
  }
  return fresh;
}

function warn(result: ParsedFields, message: string): void {
  (result.warnings ??= []).push(message);
}

/** The fields of text[start, end) into `map`, or into a fresh map it returns instead (see build). */
function scan(text: string, start: number, end: number, result: ParsedFields, map: FieldMap, allowMsg: boolean): FieldMap {
  let i = start;
  let freeText: string | null = null;
  const names: string[] = [];
  const values: string[] = [];
  const quoted: boolean[] = [];
  while (i < end) {
    while (i < end && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === GS)) i++;
    if (i >= end) break;
    // Find the end of the key: "=" or a space (a word without a value).
    let j = i;
    let c = 0;
    while (j < end) {
      c = text.charCodeAt(j);
      if (c === EQ || c === SPACE) break;
      j++;
    }
    if (j >= end || c === SPACE) {
      const word = text.slice(i, j);
      freeText = freeText === null ? word : `${freeText} ${word}`;
      i = j;
      continue;
    }
    const key = text.slice(i, j);
    let v = j + 1;
    const q = v < end ? text.charCodeAt(v) : 0;
    if (q === DQ) {
      const close = text.indexOf('"', v + 1);
      if (close < 0 || close >= end) {
        warn(result, `unterminated quote in ${key}`);
        names.push(key);
        values.push(text.slice(v + 1, end));
        i = end;
      } else {
        names.push(key);
        values.push(text.slice(v + 1, close));
        i = close + 1;
      }
      quoted.push(true);
      continue;
    }
    if (q === SQ) {
      const close = findSingleQuoteEnd(text, v + 1, end);
      const inner = text.slice(v + 1, close < 0 ? end : close);
      if (close < 0) warn(result, `unterminated quote in ${key}`);
      names.push(key);
      values.push(inner);
      quoted.push(false);
      if (allowMsg && key === "msg" && result.msg === undefined) {
        const nested: ParsedFields = { fields: newFieldMap() };
        result.msg = scan(inner, 0, inner.length, nested, nested.fields, false);
        if (nested.quoted) result.msgQuoted = nested.quoted;
        if (nested.warnings) for (const w of nested.warnings) warn(result, `msg: ${w}`);
      }
      i = close < 0 ? end : close + 1;
      continue;
    }
    while (v < end && text.charCodeAt(v) !== SPACE) v++;
    names.push(key);
    values.push(text.slice(j + 1, v));
    quoted.push(false);
    i = v;
  }
  if (freeText !== null) {
    names.push("_text");
    values.push(freeText);
    quoted.push(false);
  }
  return build(map, names, values, quoted, result, map !== result.enriched);
}

/** The `'` that ends a msg='…': one followed by a space, 0x1d or the end. */
function findSingleQuoteEnd(text: string, from: number, end: number): number {
  let at = from;
  for (;;) {
    const close = text.indexOf("'", at);
    if (close < 0 || close >= end) return -1;
    const next = close + 1 < end ? text.charCodeAt(close + 1) : SPACE;
    if (next === SPACE || next === GS || close + 1 >= end) return close;
    at = close + 1;
  }
}
