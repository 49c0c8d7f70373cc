/**
 * Small counters for report's per-killer and per-victim state. A report
 * keeps one of each for every distinct killer and victim in the log, and
 * most hold one or two entries: a JS Map or Set allocates a hash table even
 * then, several times what the entries need. These keep a few entries in
 * one array and grow into a Set only when there are many.
 */

/** Names with counts (a Map<string, number>), for a handful of distinct names: signal names, errnos, a victim's killers. */
export class Tally {
  /** name, count, name, count… */
  private readonly pairs: Array<string | number> = [];

  get size(): number {
    return this.pairs.length / 2;
  }

  has(name: string): boolean {
    return this.pairs.indexOf(name) >= 0;
  }

  bump(name: string, by = 1): void {
    const pairs = this.pairs;
    // Names sit at even places and counts (numbers) at odd ones, so a match is always a name.
    const at = pairs.indexOf(name);
    if (at >= 0) pairs[at + 1] = (pairs[at + 1] as number) + by;
    else pairs.push(name, by);
  }

  entries(): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    for (let i = 0; i < this.pairs.length; i += 2) out.push([this.pairs[i] as string, this.pairs[i + 1] as number]);
    return out;
  }

  ranked(): Record<string, number> {
    return rankedRecord(this.entries());
  }
}

/** Names with counts → a plain object, most frequent first, ties by name, so output is stable. */
export function rankedRecord(entries: Iterable<[string, number]>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, count] of [...entries].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) out[name] = count;
  return out;
}

/**
 * Set `key` in a Map that holds at most `max` keys, forgetting the oldest
 * past that. The key is re-inserted, so the Map's order is the order of last
 * set and the least recently set key goes first.
 */
export function setBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  if (map.size >= max) map.delete(map.keys().next().value as K);
  map.set(key, value);
}

/** Past this many, a PidSet moves its pids into a Set (linear search stops paying). */
const FEW = 16;

/** Distinct pids (a Set<number>), most often one or two. */
export class PidSet {
  private few: number[] = [];
  private many: Set<number> | null = null;

  get size(): number {
    return this.many ? this.many.size : this.few.length;
  }

  has(pid: number): boolean {
    return this.many ? this.many.has(pid) : this.few.includes(pid);
  }

  add(pid: number): void {
    if (this.many) {
      this.many.add(pid);
      return;
    }
    if (this.few.includes(pid)) return;
    if (this.few.length < FEW) this.few.push(pid);
    else {
      this.many = new Set(this.few);
      this.many.add(pid);
      this.few = [];
    }
  }

  /** The pids, ascending. */
  sorted(): number[] {
    return [...(this.many ?? this.few)].sort((a, b) => a - b);
  }
}

/**
 * Entries of a bounded table in the order they were made, so that a full
 * table can let its oldest unremarkable entry go (BoundedMap below; report's
 * (killer, PID) pairs: the oldest hit only once). Amortised O(1): each
 * entry is passed over at most once.
 */
export class EvictionOrder<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest entry `canGo` accepts, taken out of the order with those passed over; null when none is left. */
  takeOldest(canGo: (item: T) => boolean): T | null {
    const items = this.items;
    while (this.head < items.length) {
      const item = items[this.head++]!;
      if (!canGo(item)) continue;
      if (this.head > 4096 && this.head * 2 > items.length) {
        this.items = items.slice(this.head);
        this.head = 0;
      }
      return item;
    }
    this.items = [];
    this.head = 0;
    return null;
  }
}

/**
 * A Map by key that holds at most `max` entries (report's killers and
 * victims, the storm check's killers). When it is full, a new entry takes
 * the place of the oldest one `canGo` accepts (one that no finding could
 * come from yet); when none may go, the new one is turned away. Both count
 * in `notKept`.
 */
export class BoundedMap<V> {
  private readonly entries = new Map<string, V>();
  private readonly order = new EvictionOrder<V>();
  /** Entries let go, or turned away, to stay within max. */
  notKept = 0;

  constructor(
    private readonly max: number,
    private readonly keyOf: (value: V) => string,
    private readonly canGo: (value: V) => boolean,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    return this.entries.get(key);
  }

  values(): IterableIterator<V> {
    return this.entries.values();
  }

  /** Whether a new entry fits, the oldest that may go let go if need be. False (counted) when none may: the caller then keeps nothing. */
  makeRoom(): boolean {
    if (this.entries.size < this.max) return true;
    const gone = this.order.takeOldest((value) => this.canGo(value) && this.entries.get(this.keyOf(value)) === value);
    this.notKept++;
    if (gone === null) return false;
    this.entries.delete(this.keyOf(gone));
    return true;
  }

  /** A new entry under its key; makeRoom() said there is room. */
  add(value: V): void {
    this.entries.set(this.keyOf(value), value);
    this.order.push(value);
  }
}
