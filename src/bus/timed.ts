import type { HistogramSet } from '../util/histogram.js';
import type { Bus } from './types.js';

/**
 * The bus, with the time it takes to answer a request and to flush measured by engine
 * (nexo_bus_duration_seconds{engine, op}). Publishing is fire-and-forget: it has no latency to measure here.
 */
export function timedBus(bus: Bus, timings: HistogramSet, engine: 'local' | 'nats'): Bus {
  const request = timings.get(engine, 'request');
  const flush = timings.get(engine, 'flush');
  const timed: Bus = {
    spansNodes: bus.spansNodes,
    publish: (subject, data) => bus.publish(subject, data),
    subscribe: (subject, handler, options) => bus.subscribe(subject, handler, options),
    respond: (subject, handler, options) => bus.respond(subject, handler, options),
    async request(subject, data, options) {
      const started = performance.now();
      try {
        return await bus.request(subject, data, options);
      } finally {
        request.since(started);
      }
    },
    async flush() {
      const started = performance.now();
      try {
        await bus.flush();
      } finally {
        flush.since(started);
      }
    },
    close: () => bus.close(),
  };
  if (bus.health !== undefined) timed.health = () => bus.health!();
  if (bus.onHealth !== undefined) timed.onHealth = (listener) => bus.onHealth!(listener);
  return timed;
}
