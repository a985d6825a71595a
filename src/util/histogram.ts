/**
 * Latency histograms the node keeps itself, cheap enough for the hot path: a fixed set of bucket bounds, one
 * Float64Array of counts, no allocation per observation. The metrics module (src/observability/) turns them
 * into Prometheus histograms at scrape time; everything else only calls `observe`.
 */

/** Upper bounds in seconds, 50 µs to 30 s (plus +Inf): a cheap calc and a slow PostgreSQL commit both land. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  30,
];

export class Histogram {
  readonly bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[] = LATENCY_BUCKETS) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** `times` observations of `seconds` (default one). Most are small, so the scan from the bottom ends early. */
  observe(seconds: number, times = 1): void {
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > bounds[i]!) i++;
    this.counts[i]! += times;
    this.sum += seconds * times;
    this.count += times;
  }

  /** `observe` of the time since `startMs` (a `performance.now()` reading). */
  since(startMs: number): void {
    this.observe((performance.now() - startMs) / 1000);
  }
}

/**
 * Histograms by a small set of label values fixed in code (engine and operation, service and method). The
 * number of children is capped: past `max`, observations share one child labelled `other`, so a caller's
 * mistake cannot grow the label set without bound.
 */
export class HistogramSet {
  readonly #children = new Map<string, { labels: readonly string[]; histogram: Histogram }>();

  constructor(
    readonly labelNames: readonly string[],
    readonly max = 64,
  ) {}

  /** The histogram for these label values (one per label name), created on first use. */
  get(...values: string[]): Histogram {
    const key = values.join('\n');
    let child = this.#children.get(key);
    if (child === undefined) {
      if (this.#children.size >= this.max && values.some((v) => v !== 'other')) {
        return this.get(...this.labelNames.map(() => 'other'));
      }
      child = { labels: values, histogram: new Histogram() };
      this.#children.set(key, child);
    }
    return child.histogram;
  }

  *entries(): Iterable<{ labels: readonly string[]; histogram: Histogram }> {
    yield* this.#children.values();
  }
}

/**
 * The node's timings of what it waits for: stores (`sqlite`, `postgres`) and the bus (`local`, `nats`), by
 * operation (names fixed in code: `telemetry.commit`, `query`, `request`, …). One per node, handed to the
 * engines and services.
 */
export class EngineTimings {
  readonly store = new HistogramSet(['engine', 'op']);
  readonly bus = new HistogramSet(['engine', 'op']);
}
