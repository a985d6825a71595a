/**
 * Turns growing counters into per-second rates: samples them on a timer and compares the current value with
 * the sample taken about `windowMs` ago. Cheap to read (no work per request), smooth enough for a dashboard.
 */
export class RateSampler {
  readonly #samples: { at: number; values: Map<string, number> }[] = [];
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly read: () => Map<string, number>,
    private readonly windowMs = 2000,
    private readonly everyMs = 250,
  ) {}

  start(): void {
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), this.everyMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Per-second rate of each counter in `current`, over the window (0 before the first sample). */
  rates(current: Map<string, number>, now = Date.now()): Map<string, number> {
    const base = this.#baseline(now);
    const out = new Map<string, number>();
    for (const [name, value] of current) {
      const before = base?.values.get(name);
      const seconds = base === undefined ? 0 : (now - base.at) / 1000;
      out.set(name, before === undefined || seconds <= 0 ? 0 : Math.max(0, (value - before) / seconds));
    }
    return out;
  }

  #baseline(now: number): { at: number; values: Map<string, number> } | undefined {
    // The newest sample at least `windowMs` old, else the oldest there is.
    for (let i = this.#samples.length - 1; i >= 0; i--) {
      if (now - this.#samples[i]!.at >= this.windowMs) return this.#samples[i];
    }
    return this.#samples[0];
  }

  #sample(): void {
    this.#samples.push({ at: Date.now(), values: this.read() });
    const keep = Math.ceil(this.windowMs / this.everyMs) + 2;
    if (this.#samples.length > keep) this.#samples.splice(0, this.#samples.length - keep);
  }
}
