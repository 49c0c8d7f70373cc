/**
 * A map from audit serial to a value: the assembler's index of open events
 * and of recently closed ones, set and deleted at every event once records
 * come out of stamp order. (Where hosts share a serial, KeyedSerialIndex
 * below keeps a map by key.)
 *
 * Open addressing on typed arrays, linear probing, deletion by shifting the
 * cluster back (no tombstones): a JS Map is too costly for a set and a
 * delete at every event.
 */
export class SerialIndex<V> {
  private serials: Float64Array;
  private values: Array<V | undefined>;
  private used: Uint8Array;
  private mask: number;
  private count = 0;

  constructor(capacity = 64) {
    const size = 2 ** Math.max(4, Math.ceil(Math.log2(2 * capacity)));
    this.serials = new Float64Array(size);
    this.values = new Array<V | undefined>(size).fill(undefined);
    this.used = new Uint8Array(size);
    this.mask = size - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Where a serial's probe starts: its low and high 32 bits mixed (serials run up to 2^53). */
  private home(serial: number): number {
    const high = Math.floor(serial / 4294967296);
    return (Math.imul((serial >>> 0) ^ Math.imul(high, 0x85ebca6b), 0x9e3779b1) >>> 0) & this.mask;
  }

  /** The slot holding `serial`, or the empty slot where it would go. */
  private slotOf(serial: number): number {
    let i = this.home(serial);
    while (this.used[i] === 1 && this.serials[i] !== serial) i = (i + 1) & this.mask;
    return i;
  }

  get(serial: number): V | undefined {
    const i = this.slotOf(serial);
    return this.used[i] === 1 ? this.values[i] : undefined;
  }

  set(serial: number, value: V): void {
    let i = this.slotOf(serial);
    if (this.used[i] === 1) {
      this.values[i] = value;
      return;
    }
    if (2 * (this.count + 1) > this.used.length) {
      this.grow();
      i = this.slotOf(serial);
    }
    this.used[i] = 1;
    this.serials[i] = serial;
    this.values[i] = value;
    this.count++;
  }

  delete(serial: number): boolean {
    const mask = this.mask;
    const i = this.slotOf(serial);
    if (this.used[i] !== 1) return false;
    // Shift later entries of the cluster back into the hole unless their probe starts after it.
    let hole = i;
    for (let j = (i + 1) & mask; this.used[j] === 1; j = (j + 1) & mask) {
      const home = this.home(this.serials[j]!);
      const stays = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (stays) continue;
      this.serials[hole] = this.serials[j]!;
      this.values[hole] = this.values[j];
      hole = j;
    }
    this.used[hole] = 0;
    this.values[hole] = undefined;
    this.count--;
    return true;
  }

  private grow(): void {
    const serials = this.serials;
    const values = this.values;
    const used = this.used;
    const size = 2 * used.length;
    this.serials = new Float64Array(size);
    this.values = new Array<V | undefined>(size).fill(undefined);
    this.used = new Uint8Array(size);
    this.mask = size - 1;
    this.count = 0;
    for (let i = 0; i < used.length; i++) if (used[i] === 1) this.set(serials[i]!, values[i]!);
  }
}

/**
 * Values by serial and key (the event's node and id), for the assembler's
 * open and recently closed events. A serial mostly has one event, stored as
 * it is; one that several share (multi-host logs, pasted logs: 20,000 hosts
 * may all be at :5) holds a map by key.
 */
export class KeyedSerialIndex<T> {
  private readonly index: SerialIndex<T | Map<string, T>>;

  constructor(
    capacity: number,
    private readonly keyOf: (value: T) => string,
  ) {
    this.index = new SerialIndex(capacity);
  }

  get(serial: number, key: string): T | undefined {
    const found = this.index.get(serial);
    if (found === undefined) return undefined;
    if (found instanceof Map) return found.get(key);
    return this.keyOf(found) === key ? found : undefined;
  }

  /** `value` under its serial and key, in place of what that key held. */
  set(serial: number, value: T): void {
    const found = this.index.get(serial);
    if (found === undefined) return this.index.set(serial, value);
    const key = this.keyOf(value);
    if (found instanceof Map) found.set(key, value);
    else if (this.keyOf(found) === key) this.index.set(serial, value);
    else {
      this.index.set(
        serial,
        new Map([
          [this.keyOf(found), found],
          [key, value],
        ]),
      );
    }
  }

  /** Take `value` out, if its key still holds it. */
  delete(serial: number, value: T): void {
    const found = this.index.get(serial);
    if (found === undefined) return;
    if (!(found instanceof Map)) {
      if (found === value) this.index.delete(serial);
      return;
    }
    const key = this.keyOf(value);
    if (found.get(key) === value) found.delete(key);
    if (found.size === 0) this.index.delete(serial);
  }
}
