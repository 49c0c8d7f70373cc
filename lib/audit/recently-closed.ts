/**
 * The keys (node and id) of the last events the assembler closed, so that a
 * record arriving after its event was closed is told apart from a new event.
 *
 * Records mostly come in stamp order, and then the assembler never asks
 * (a serial above every one seen cannot be here): remembering is a slot
 * written in a ring, not a set entry per event, paid for at every event.
 * The first question the newest few entries
 * cannot answer builds an index by serial (serial-index.ts), which is kept
 * up from then on.
 */
import { KeyedSerialIndex } from "./serial-index.ts";

/** Closed events remembered. */
export const RECENTLY_CLOSED = 16_384;
/** Newest entries looked at before the index is built. */
const SCAN_BEFORE_INDEX = 32;

export class RecentlyClosed {
  private readonly serials: Float64Array;
  private readonly keys: (string | null)[];
  private next = 0;
  private count = 0;
  /** (serial, key) → its ring slot. */
  private index: KeyedSerialIndex<number> | null = null;

  constructor(private readonly capacity = RECENTLY_CLOSED) {
    this.serials = new Float64Array(capacity);
    this.keys = new Array<string | null>(capacity).fill(null);
  }

  /** Remember an event's key; the oldest one is forgotten. `key` must not share memory with an input chunk. */
  add(serial: number, key: string): void {
    const slot = this.next;
    this.next = (slot + 1) % this.capacity;
    // A full ring overwrites its oldest slot: that entry leaves the index, unless a newer slot holds the same key.
    if (this.count < this.capacity) this.count++;
    else this.index?.delete(this.serials[slot]!, slot);
    this.serials[slot] = serial;
    this.keys[slot] = key;
    this.index?.set(serial, slot);
  }

  has(serial: number, key: string): boolean {
    if (this.index === null) {
      const scan = Math.min(this.count, SCAN_BEFORE_INDEX);
      for (let age = 1; age <= scan; age++) {
        const slot = (this.next - age + this.capacity) % this.capacity;
        if (this.serials[slot] === serial && this.keys[slot] === key) return true;
      }
      if (scan === this.count) return false;
      this.buildIndex();
    }
    return this.index!.get(serial, key) !== undefined;
  }

  private buildIndex(): void {
    this.index = new KeyedSerialIndex(this.capacity, (slot) => this.keys[slot]!);
    // Oldest first, so a key closed twice maps to its newest slot.
    for (let age = this.count; age >= 1; age--) {
      const slot = (this.next - age + this.capacity) % this.capacity;
      this.index.set(this.serials[slot]!, slot);
    }
  }
}
