/**
 * What one group commit carries from the event loop to the store: readings from any number of requests,
 * sensors and connections, as columns of typed arrays. Columns cross to the writer thread as a few memory
 * copies, without the per-object cost of structured clone.
 */

/**
 * Sensors and series whose metadata changed (kind, location, a unit learned late), updated before the
 * readings that use them. Their ids come from the store (`TelemetryStore.define`); a backend may also create
 * a row it does not have, but the service always defines first.
 */
export interface Definitions {
  sensors: { id: number; name: string; kind: string | null; location: string | null; firstSeen: number }[];
  series: { id: number; sensor: number; metric: string; unit: string | null }[];
}

export interface CommitBatch {
  count: number;
  sensor: Int32Array;
  series: Int32Array;
  /** The sensor's sequence number; NaN when it sent none (the store numbers those, below zero). */
  seq: Float64Array;
  ts: Float64Array;
  recv: Float64Array;
  value: Float64Array;
  /** Row index and JSON of the rows that have tags (few do). */
  tags: [number, string][];
  defs: Definitions;
}

export interface CommitResult {
  /** Per row: 1 if stored now, 0 if that (sensor, seq) was stored before. */
  fresh: Uint8Array;
  /** Sequence numbers the store gave to rows sent without one (NaN for the others). */
  assigned: Float64Array | undefined;
}

/** Accumulates rows for the next commit; `take()` hands them over and starts an empty batch. */
export class BatchBuilder {
  count = 0;
  #capacity: number;
  #sensor: Int32Array;
  #series: Int32Array;
  #seq: Float64Array;
  #ts: Float64Array;
  #recv: Float64Array;
  #value: Float64Array;
  #tags: [number, string][] = [];

  constructor(capacity = 1024) {
    this.#capacity = capacity;
    this.#sensor = new Int32Array(capacity);
    this.#series = new Int32Array(capacity);
    this.#seq = new Float64Array(capacity);
    this.#ts = new Float64Array(capacity);
    this.#recv = new Float64Array(capacity);
    this.#value = new Float64Array(capacity);
  }

  add(
    sensor: number,
    series: number,
    seq: number,
    ts: number,
    recv: number,
    value: number,
    tags: string | undefined,
  ): number {
    if (this.count === this.#capacity) this.#grow();
    const i = this.count++;
    this.#sensor[i] = sensor;
    this.#series[i] = series;
    this.#seq[i] = seq;
    this.#ts[i] = ts;
    this.#recv[i] = recv;
    this.#value[i] = value;
    if (tags !== undefined) this.#tags.push([i, tags]);
    return i;
  }

  take(defs: Definitions): CommitBatch {
    const n = this.count;
    const batch: CommitBatch = {
      count: n,
      sensor: this.#sensor.slice(0, n),
      series: this.#series.slice(0, n),
      seq: this.#seq.slice(0, n),
      ts: this.#ts.slice(0, n),
      recv: this.#recv.slice(0, n),
      value: this.#value.slice(0, n),
      tags: this.#tags,
      defs,
    };
    this.count = 0;
    this.#tags = [];
    return batch;
  }

  #grow(): void {
    const capacity = this.#capacity * 2;
    const grow = <T extends Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(capacity);
      next.set(old);
      return next;
    };
    this.#sensor = grow(this.#sensor, (n) => new Int32Array(n));
    this.#series = grow(this.#series, (n) => new Int32Array(n));
    this.#seq = grow(this.#seq, (n) => new Float64Array(n));
    this.#ts = grow(this.#ts, (n) => new Float64Array(n));
    this.#recv = grow(this.#recv, (n) => new Float64Array(n));
    this.#value = grow(this.#value, (n) => new Float64Array(n));
    this.#capacity = capacity;
  }
}
