/**
 * What an engine connection says about itself, for /readyz and `nexo status`. `up` turns false at the first
 * sign of trouble (a dropped connection, a failed probe) and true again when a query or probe succeeds.
 */
export interface EngineHealth {
  /** `postgres`, `nats`. */
  readonly engine: string;
  /** The engine's address, password redacted. */
  readonly url: string;
  readonly up: boolean;
  /** Since when (epoch ms) `up` has had its current value. */
  readonly since: number;
  /** Why it is down (the last error's message), when it is. */
  readonly error?: string;
}

/** The mutable state behind an `EngineHealth`, with a callback when `up` changes. */
export class HealthState {
  #up = true;
  #since = Date.now();
  #error: string | undefined;

  constructor(
    readonly engine: string,
    readonly url: string,
    private readonly onChange: (up: boolean, error: string | undefined) => void = () => {},
  ) {}

  get up(): boolean {
    return this.#up;
  }

  ok(): void {
    if (this.#up) return;
    this.#up = true;
    this.#since = Date.now();
    this.#error = undefined;
    this.onChange(true, undefined);
  }

  down(error: string): void {
    this.#error = error;
    if (!this.#up) return;
    this.#up = false;
    this.#since = Date.now();
    this.onChange(false, error);
  }

  snapshot(): EngineHealth {
    const base = { engine: this.engine, url: this.url, up: this.#up, since: this.#since };
    return this.#error === undefined ? base : { ...base, error: this.#error };
  }
}
