/**
 * Field names interned by their bytes, for decode's byte writer
 * (event-writer.ts): the hot path never slices a name out of its line, and
 * finds with the id what it needs to know about the name, worked out once.
 */
import { ascii, bytesAre, concatBytes, jsonBytes } from "../../bytes/json.ts";
import { enrichedNameOf, FieldKind, kindOf } from "../field-types.ts";

/** Distinct names interned at most (input decides how many there are); past it, find() says -1. */
export const MAX_NAMES = 1 << 15;

export function hashOf(bytes: Uint8Array, start: number, end: number): number {
  let hash = 0;
  for (let i = start; i < end; i++) hash = (Math.imul(hash, 31) + bytes[i]!) | 0;
  return hash;
}

export class FieldNames {
  private slots = new Int32Array(1024);
  readonly names: string[] = [];
  /** Each name's bytes. */
  readonly bytes: Uint8Array[] = [];
  private readonly hashes: number[] = [];
  /** `"name":"` as bytes. */
  readonly json: Uint8Array[] = [];
  readonly kind: number[] = [];
  /** Names an object or JSON.stringify orders or treats specially: array indexes, __proto__. */
  readonly special: boolean[] = [];
  /** uid/gid fields: the id of their name in the ENRICHED tail (`uid` → `UID`), else -1. */
  readonly enriched: number[] = [];

  /** The id of line[start, end) (an ASCII name; its hash given), -1 when the table is full. */
  find(line: Uint8Array, start: number, end: number, hash: number): number {
    const mask = this.slots.length - 1;
    for (let slot = (hash ^ (hash >>> 15)) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot]!;
      if (entry === 0) return this.add(Uint8Array.from(line.subarray(start, end)), hash, slot);
      const id = entry - 1;
      if (this.hashes[id] === hash && bytesAre(line, start, end, this.bytes[id]!)) return id;
    }
  }

  /** An ASCII name's id. */
  intern(name: string): number {
    const bytes = ascii(name);
    return this.find(bytes, 0, bytes.length, hashOf(bytes, 0, bytes.length));
  }

  private add(bytes: Uint8Array, hash: number, slot: number): number {
    if (this.names.length >= MAX_NAMES) return -1;
    const name = Buffer.from(bytes).toString("latin1");
    const id = this.names.length;
    this.names.push(name);
    this.bytes.push(bytes);
    this.hashes.push(hash);
    this.slots[slot] = id + 1;
    const kind = kindOf(name) ?? 0;
    this.kind.push(kind);
    this.special.push(name === "__proto__" || /^\d+$/.test(name));
    this.json.push(concatBytes(jsonBytes(name), ascii(':"')));
    this.enriched.push(-1);
    if (this.names.length * 2 > this.slots.length) this.rehash();
    if (kind === FieldKind.Uid || kind === FieldKind.Gid) this.enriched[id] = this.intern(enrichedNameOf(name));
    return id;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let id = 0; id < this.names.length; id++) {
      const hash = this.hashes[id]!;
      let slot = (hash ^ (hash >>> 15)) & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = id + 1;
    }
    this.slots = slots;
  }
}

