/**
 * A bounded, de-duplicated history of the newest items, oldest first: the alert log, the scatter
 * and the timeline show at most this many windows, however long the stream runs.
 *
 * A ring buffer, so appending at 2,000 windows a second never copies the whole history.
 */
export class CappedHistory<T> {
  readonly #items: (T | undefined)[];
  readonly #keys = new Set<string>();
  readonly #keyOf: (item: T) => string;
  #start = 0;
  #size = 0;
  #evicted = 0;

  constructor(
    readonly capacity: number,
    keyOf: (item: T) => string,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    }
    this.#items = new Array<T | undefined>(capacity);
    this.#keyOf = keyOf;
  }

  /** Number of items held. */
  get size(): number {
    return this.#size;
  }

  /** How many items have been pushed out at the old end since creation (or the last clear). */
  get evicted(): number {
    return this.#evicted;
  }

  /** The `index`-th item, oldest first. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.#size) return undefined;
    return this.#items[(this.#start + index) % this.capacity];
  }

  /** The newest item. */
  newest(): T | undefined {
    return this.at(this.#size - 1);
  }

  /** Whether an item with this key is held. */
  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /**
   * Appends `item` as the newest, evicting the oldest when full. An item whose key is already
   * held is ignored (a window can arrive both in a live batch and in the history on reconnect).
   * Returns whether it was added.
   */
  push(item: T): boolean {
    const key = this.#keyOf(item);
    if (this.#keys.has(key)) return false;
    if (this.#size === this.capacity) {
      const oldest = this.#items[this.#start] as T;
      this.#keys.delete(this.#keyOf(oldest));
      this.#items[this.#start] = item;
      this.#start = (this.#start + 1) % this.capacity;
      this.#evicted += 1;
    } else {
      this.#items[(this.#start + this.#size) % this.capacity] = item;
      this.#size += 1;
    }
    this.#keys.add(key);
    return true;
  }

  /** Appends `items` in order; returns how many were added. */
  pushAll(items: Iterable<T>): number {
    let added = 0;
    for (const item of items) if (this.push(item)) added += 1;
    return added;
  }

  /**
   * Merges items that may be older than what is held (history fetched after a reconnect): keeps
   * the newest `capacity` of the union, ordered by `compare`, without duplicates.
   */
  merge(items: Iterable<T>, compare: (a: T, b: T) => number): void {
    const union = this.toArray();
    for (const item of items) {
      const key = this.#keyOf(item);
      if (!this.#keys.has(key)) {
        this.#keys.add(key);
        union.push(item);
      }
    }
    union.sort(compare);
    const kept = union.slice(Math.max(0, union.length - this.capacity));
    const dropped = union.length - kept.length;
    this.#reset();
    for (const item of kept) this.push(item);
    // Dropped items left the history at its old end, just as evictions do.
    this.#evicted += dropped;
  }

  /** Items oldest first, as a new array. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.#size; i += 1) out.push(this.at(i) as T);
    return out;
  }

  /** Items oldest first that satisfy `predicate`. */
  filter(predicate: (item: T) => boolean): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.#size; i += 1) {
      const item = this.at(i) as T;
      if (predicate(item)) out.push(item);
    }
    return out;
  }

  /** Empties the history. */
  clear(): void {
    this.#reset();
    this.#evicted = 0;
  }

  #reset(): void {
    this.#items.fill(undefined);
    this.#keys.clear();
    this.#start = 0;
    this.#size = 0;
  }
}
