/**
 * Token buckets by key: each key (a sensor, a token) may take `rate` a second on average and `burst` at once.
 * Telemetry refuses a flooding sensor with it before its readings cost any disk work, and the dispatcher a
 * token over its request rate (§5.4.4), so the others keep their throughput.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  readonly #rate: number;
  readonly #burst: number;

  /** `rate` readings per second per sensor (0: no limit); `burst` readings at once. */
  constructor(rate: number, burst: number) {
    this.#rate = rate;
    this.#burst = Math.max(burst, 1);
  }

  get rate(): number {
    return this.#rate;
  }

  get burst(): number {
    return this.#burst;
  }

  /**
   * Takes `count` tokens for `sensor`. Returns 0 when allowed, else the milliseconds after which the same
   * request would be allowed (nothing is taken then).
   */
  take(sensor: string, count: number, now: number): number {
    if (this.#rate <= 0) return 0;
    let bucket = this.#buckets.get(sensor);
    if (bucket === undefined) {
      bucket = { tokens: this.#burst, at: now };
      this.#buckets.set(sensor, bucket);
      if (this.#buckets.size > 100_000) this.#sweep(now);
    } else if (now > bucket.at) {
      bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.at) * this.#rate) / 1000);
      bucket.at = now;
    }
    if (bucket.tokens >= count) {
      bucket.tokens -= count;
      return 0;
    }
    // A request larger than the burst can never pass at once: say when a burst-sized one could.
    const needed = Math.min(count, this.#burst) - bucket.tokens;
    return Math.max(1, Math.ceil((needed * 1000) / this.#rate));
  }

  /** Forgets full buckets (sensors idle long enough to have refilled): they behave the same when recreated. */
  #sweep(now: number): void {
    for (const [sensor, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) * this.#rate) / 1000 >= this.#burst)
        this.#buckets.delete(sensor);
    }
  }
}
