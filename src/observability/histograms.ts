import type { Registry } from 'prom-client';
import type { Histogram } from '../util/histogram.js';

interface Value {
  metricName: string;
  labels: Record<string, string | number>;
  value: number;
}

/** One child of a family: its label values (by name) and the histogram the node keeps. */
export interface HistogramChild {
  labels: Record<string, string>;
  histogram: Histogram;
}

/**
 * A Prometheus histogram family read at scrape time from histograms the node keeps itself (src/util/
 * histogram.ts), the way the counters are: prom-client's own Histogram would need a label lookup per
 * observation on the hot path. Registered as a custom metric (prom-client calls `get()` on every scrape).
 * Children without observations are left out, so an unused method adds no series.
 */
export function registerHistogramFamily(
  registry: Registry,
  name: string,
  help: string,
  read: () => Iterable<HistogramChild>,
): void {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    get() {
      const values: Value[] = [];
      for (const { labels, histogram } of read()) {
        if (histogram.count === 0) continue;
        let cumulative = 0;
        const { bounds, counts } = histogram;
        for (let i = 0; i < bounds.length; i++) {
          cumulative += counts[i]!;
          values.push({
            metricName: `${name}_bucket`,
            labels: { ...labels, le: bounds[i]! },
            value: cumulative,
          });
        }
        cumulative += counts[bounds.length]!;
        values.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cumulative });
        values.push({ metricName: `${name}_sum`, labels, value: histogram.sum });
        values.push({ metricName: `${name}_count`, labels, value: histogram.count });
      }
      return { name, help, type: 'histogram', aggregator: 'sum', values };
    },
  };
  // prom-client's Registry takes any object with name, help, type and get() (registry.js); its typings
  // name only its own classes.
  registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
}
