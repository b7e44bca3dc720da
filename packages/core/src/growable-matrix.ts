/**
 * A row-major matrix of doubles that grows by doubling: collects rows whose number is not known
 * in advance (flows of a training file, windows of a sequence) without an array of objects.
 */
export class GrowableMatrix {
  #data: Float64Array;
  #rows = 0;

  constructor(
    readonly columns: number,
    initialRows = 1024,
  ) {
    this.#data = new Float64Array(Math.max(1, initialRows) * columns);
  }

  /** Rows held. */
  get rows(): number {
    return this.#rows;
  }

  /** The rows held, as a view (valid until the next append). */
  view(): Float64Array {
    return this.#data.subarray(0, this.#rows * this.columns);
  }

  /** Appends `count` rows from `source`, starting at row `fromRow`. */
  appendRows(source: Float64Array, fromRow: number, count: number): void {
    this.#reserve(this.#rows + count);
    const c = this.columns;
    this.#data.set(source.subarray(fromRow * c, (fromRow + count) * c), this.#rows * c);
    this.#rows += count;
  }

  /** Appends one row from `source` at `offset`. */
  appendRow(source: Float64Array, offset: number): void {
    this.#reserve(this.#rows + 1);
    const c = this.columns;
    this.#data.set(source.subarray(offset, offset + c), this.#rows * c);
    this.#rows++;
  }

  #reserve(rows: number): void {
    const needed = rows * this.columns;
    if (needed <= this.#data.length) return;
    let capacity = this.#data.length;
    while (capacity < needed) capacity *= 2;
    const next = new Float64Array(capacity);
    next.set(this.#data.subarray(0, this.#rows * this.columns));
    this.#data = next;
  }
}
