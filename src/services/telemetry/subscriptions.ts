import type { CallContext } from '../../contract/service.js';
import type { AlertEvent, LiveReading } from '../../wire/telemetry.js';
import type { Committed } from './ingest.js';

export interface WatchFilter {
  /** Only these sensors (all when empty). */
  sensors: ReadonlySet<string>;
  /** Only these metrics (all when empty). */
  metrics: ReadonlySet<string>;
  /** Push alert events too. */
  alerts: boolean;
}

/** Readings per EVENT frame when events are batched (binary mode). */
export const READINGS_PER_EVENT = 500;

interface Watcher {
  filter: WatchFilter;
  ctx: CallContext;
  /** One EVENT per reading (text mode prints one line per event). */
  single: boolean;
  /** Events not sent because the client was behind, since the last `dropped` event. */
  dropped: number;
  droppedTotal: number;
  behind: boolean;
}

/**
 * Live readings for watchers. Only durable readings are pushed (after their commit), and only fresh ones (a
 * resent duplicate is not news). A watcher that does not read fast enough is not allowed to make the node
 * buffer for it: once `emit` reports it behind, its events are dropped and counted until it catches up, then
 * it is told how many it missed (`{type: "dropped", count}`).
 */
export class Subscriptions {
  readonly #watchers = new Set<Watcher>();
  /** Shared mode: what was pushed lately, so a catch-up from the store (§9.T.7.3) pushes nothing twice. */
  #delivered: Delivered | undefined;

  get size(): number {
    return this.#watchers.size;
  }

  /** §9.T.7.3 Remember pushed readings (shared mode: a catch-up may follow a bus outage). */
  remember(): Delivered {
    this.#delivered ??= new Delivered();
    return this.#delivered;
  }

  /** §9.T.7.3 Tells every watcher that `count` readings could not be caught up. */
  dropped(count: number): void {
    for (const w of this.#watchers) w.ctx.emit({ type: 'dropped', count });
  }

  add(filter: WatchFilter, ctx: CallContext): { remove(): { dropped: number } } {
    const watcher: Watcher = {
      filter,
      ctx,
      single: ctx.session.mode === 'text',
      dropped: 0,
      droppedTotal: 0,
      behind: false,
    };
    this.#watchers.add(watcher);
    return {
      remove: () => {
        this.#watchers.delete(watcher);
        return { dropped: watcher.droppedTotal };
      },
    };
  }

  onCommit(c: Committed): void {
    if (this.#watchers.size === 0) return;
    const fresh = this.#delivered?.admit(c) ?? c.fresh;
    const tags = c.batch.tags.length === 0 ? undefined : new Map(c.batch.tags);
    for (const w of this.#watchers) {
      const readings: LiveReading[] = [];
      for (let i = 0; i < c.batch.count; i++) {
        if (fresh[i] === 0) continue;
        const series = c.series[i]!;
        if (w.filter.sensors.size > 0 && !w.filter.sensors.has(series.sensor.name)) continue;
        if (w.filter.metrics.size > 0 && !w.filter.metrics.has(series.metric)) continue;
        readings.push(liveReading(c, i, tags));
      }
      if (readings.length === 0) continue;
      if (w.single) {
        for (const r of readings) this.#send(w, { type: 'reading', ...r }, 1);
      } else {
        for (let i = 0; i < readings.length; i += READINGS_PER_EVENT) {
          const part = readings.slice(i, i + READINGS_PER_EVENT);
          this.#send(w, { type: 'readings', readings: part }, part.length);
        }
      }
    }
  }

  onAlert(event: AlertEvent): void {
    for (const w of this.#watchers) {
      if (!w.filter.alerts) continue;
      if (w.filter.sensors.size > 0 && !w.filter.sensors.has(event.sensor)) continue;
      if (w.filter.metrics.size > 0 && !w.filter.metrics.has(event.metric)) continue;
      this.#send(w, { type: 'alert', ...event }, 1);
    }
  }

  #send(w: Watcher, event: unknown, readings: number): void {
    if (w.behind) {
      w.dropped += readings;
      w.droppedTotal += readings;
      return;
    }
    if (w.ctx.emit(event)) return;
    // The event was queued, but the client is behind: drop from now on until it has read its backlog.
    w.behind = true;
    w.ctx.whenWritable().then(
      () => {
        w.behind = false;
        if (w.dropped > 0 && this.#watchers.has(w)) {
          const count = w.dropped;
          w.dropped = 0;
          w.ctx.emit({ type: 'dropped', count });
        }
      },
      () => {},
    );
  }
}

function liveReading(c: Committed, i: number, tags: Map<number, string> | undefined): LiveReading {
  const series = c.series[i]!;
  const reading: LiveReading = {
    sensor: series.sensor.name,
    metric: series.metric,
    value: c.batch.value[i]!,
    ts: c.batch.ts[i]!,
    recv: c.batch.recv[i]!,
  };
  if (series.unit !== undefined) reading.unit = series.unit;
  const seq = c.batch.seq[i]!;
  if (!Number.isNaN(seq)) reading.seq = seq;
  const json = tags?.get(i);
  if (json !== undefined) reading.tags = JSON.parse(json) as Record<string, string>;
  return reading;
}

/** How long a pushed reading is remembered while the bus is up: longer than a message takes to arrive. */
const REMEMBER_MS = 15_000;
/** Keys per generation, so memory stays bounded whatever the rate (beyond it a repeat is possible). */
const REMEMBER_MAX = 200_000;

/**
 * §9.T.7.3 Readings pushed to watchers lately, by (series, ts, recv, value), in two generations of
 * REMEMBER_MS each; while a catch-up holds them (`hold`) nothing is forgotten and every commit pushed is
 * checked against them, so a reading that arrives both from the store and live (over the bus, or from this
 * node's own commit finishing late) is pushed once.
 */
export class Delivered {
  #current = new Set<string>();
  #previous = new Set<string>();
  #rotatedAt = Date.now();
  #holds = 0;

  /** Records the commit's fresh rows; while held, returns its fresh mask without the ones pushed already. */
  admit(c: Committed): Uint8Array | undefined {
    const now = Date.now();
    if (this.#holds === 0 && now - this.#rotatedAt > REMEMBER_MS) {
      this.#previous = this.#current;
      this.#current = new Set();
      this.#rotatedAt = now;
    }
    const held = this.#holds > 0;
    let fresh: Uint8Array | undefined;
    const b = c.batch;
    for (let i = 0; i < b.count; i++) {
      if (c.fresh[i] === 0) continue;
      const key = `${c.series[i]!.id}|${b.ts[i]}|${b.recv[i]}|${b.value[i]}`;
      if (held && (this.#current.has(key) || this.#previous.has(key))) {
        fresh ??= c.fresh.slice();
        fresh[i] = 0;
        continue;
      }
      if (this.#current.size < REMEMBER_MAX) this.#current.add(key);
    }
    return fresh;
  }

  /** Keeps everything remembered until `release`. */
  hold(): void {
    this.#holds++;
  }

  release(): void {
    this.#holds = Math.max(0, this.#holds - 1);
  }
}
