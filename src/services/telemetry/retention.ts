import type { Logger } from 'pino';
import type { Registry } from './registry.js';
import type { TelemetryStore } from './store.js';

/**
 * Deletes readings older than the retention period (`--retention 30d`): once when the store opens, then
 * periodically. The store deletes a few thousand rows per transaction and lets pending commits go between
 * them, so ingest keeps its pace while old data goes.
 */
export class Retention {
  readonly #store: TelemetryStore;
  readonly #registry: Registry;
  readonly #retentionMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  /** Passes completed, for tests and stats. */
  passes = 0;

  constructor(store: TelemetryStore, registry: Registry, retentionMs: number, log: Logger) {
    this.#store = store;
    this.#registry = registry;
    this.#retentionMs = retentionMs;
    this.#log = log;
  }

  /** How often a pass runs: a 24th of the retention period, between a minute and an hour. */
  get intervalMs(): number {
    return Math.min(3_600_000, Math.max(60_000, Math.floor(this.#retentionMs / 24)));
  }

  start(): void {
    this.#run();
    this.#timer = setInterval(() => this.#run(), this.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Resolves when no pass is running. */
  async idle(): Promise<void> {
    await this.#running;
  }

  #run(): void {
    if (this.#running !== undefined) return;
    const cutoff = Date.now() - this.#retentionMs;
    const started = Date.now();
    this.#running = this.#store
      .prune(cutoff)
      .then(
        (result) => {
          this.passes++;
          this.#registry.applyPrune(result.deleted);
          if (result.total > 0) {
            this.#log.info(
              { deleted: result.total, before: new Date(cutoff).toISOString(), ms: Date.now() - started },
              'retention: old readings deleted',
            );
          }
        },
        (err: unknown) => this.#log.error({ err }, 'retention pass failed'),
      )
      .finally(() => {
        this.#running = undefined;
      });
  }
}
