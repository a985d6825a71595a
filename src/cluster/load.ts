import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';
import type { Load } from '../wire/cluster.js';

export type { Load } from '../wire/cluster.js';

export interface LoadSource {
  connections(): number;
  /** The node's request counter (only ever grows). */
  requests(): number;
}

/**
 * Samples a node's load every `periodMs`: requests/s from the counter's growth, the event loop's mean delay
 * (libuv timer, 20 ms resolution) since the last sample, connections now.
 */
export class LoadSampler {
  readonly #source: LoadSource;
  readonly #loop: IntervalHistogram;
  readonly #timer: NodeJS.Timeout;
  #lastRequests: number;
  #lastAt = performance.now();
  #current: Load = { connections: 0, requestsPerSec: 0, eventLoopDelayMs: 0 };

  constructor(source: LoadSource, periodMs = 1000) {
    this.#source = source;
    this.#lastRequests = source.requests();
    this.#loop = monitorEventLoopDelay({ resolution: 20 });
    this.#loop.enable();
    this.#timer = setInterval(() => this.#sample(), periodMs);
    this.#timer.unref();
  }

  #sample(): void {
    const now = performance.now();
    const requests = this.#source.requests();
    const seconds = Math.max(0.001, (now - this.#lastAt) / 1000);
    // The histogram's values are nanoseconds and include the 20 ms resolution itself.
    const mean = Number.isFinite(this.#loop.mean) ? this.#loop.mean / 1e6 : 0;
    this.#loop.reset();
    this.#current = {
      connections: this.#source.connections(),
      requestsPerSec: Math.round(((requests - this.#lastRequests) / seconds) * 10) / 10,
      eventLoopDelayMs: Math.max(0, Math.round((mean - 20) * 10) / 10),
    };
    this.#lastRequests = requests;
    this.#lastAt = now;
  }

  /** The last sample, with the connection count of now. */
  get current(): Load {
    return { ...this.#current, connections: this.#source.connections() };
  }

  close(): void {
    clearInterval(this.#timer);
    this.#loop.disable();
  }
}

/**
 * The share of its normal traffic a node should get, 1..100 (percent): full while the event loop keeps up
 * (mean delay up to 10 ms) and it has client slots left, falling linearly to 10% at 200 ms of delay or all
 * slots taken. `maxClients` 0 means no slot limit.
 */
export function weightFor(load: Load, maxClients: number): number {
  const clamp = (x: number) => Math.min(1, Math.max(0.1, x));
  const loop = clamp(1 - (load.eventLoopDelayMs - 10) / 190);
  const slots = maxClients > 0 ? clamp(1 - load.connections / maxClients) : 1;
  return Math.max(1, Math.round(100 * Math.min(loop, slots)));
}
