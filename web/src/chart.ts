import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Bucket } from '../../src/client/browser.js';

/**
 * One live time series on a uPlot chart: the average per bucket as a line, min and max as a band around it.
 * It starts from the node's downsampling query (`telemetry.buckets`) and folds each live reading into its
 * bucket as it arrives (a new bucket when time moves on), so the chart moves with the readings and always
 * shows `windowMs` up to now. Redraws at most once per animation frame, however many readings arrive.
 */
export class SeriesChart {
  readonly element: HTMLElement;
  #plot: uPlot | undefined;
  #every = 1000;
  #windowMs = 300_000;
  #t: number[] = [];
  #min: number[] = [];
  #max: number[] = [];
  #sum: number[] = [];
  #count: number[] = [];
  #last: { ts: number; value: number } | undefined;
  #frame = 0;
  readonly #resize: ResizeObserver;

  constructor(
    readonly metric: string,
    readonly unit: string | undefined,
  ) {
    this.element = document.createElement('div');
    this.element.className = 'chart';
    this.element.dataset.metric = metric;
    this.element.dataset.testid = `chart-${metric}`;
    this.#resize = new ResizeObserver(() => this.#fit());
    this.#resize.observe(this.element);
  }

  /**
   * Replaces the data with a query's buckets: `every` ms each, showing the last `windowMs`. `latest` is the
   * newest reading the buckets hold, when known (its value is then what the chart reports as the last).
   */
  setBuckets(
    every: number,
    windowMs: number,
    buckets: readonly Bucket[],
    latest?: { ts: number; value: number },
  ): void {
    this.#last = latest;
    this.#every = every;
    this.#windowMs = windowMs;
    this.#t = buckets.map((b) => b.t);
    this.#min = buckets.map((b) => b.min);
    this.#max = buckets.map((b) => b.max);
    this.#sum = buckets.map((b) => b.avg * b.count);
    this.#count = buckets.map((b) => b.count);
    this.#schedule();
  }

  /** A live reading: into its bucket (readings arrive in time order, or nearly: late ones find theirs). */
  add(ts: number, value: number): void {
    const t = Math.floor(ts / this.#every) * this.#every;
    let i = this.#t.length - 1;
    while (i >= 0 && this.#t[i]! > t) i--;
    if (i >= 0 && this.#t[i] === t) {
      this.#min[i] = Math.min(this.#min[i]!, value);
      this.#max[i] = Math.max(this.#max[i]!, value);
      this.#sum[i]! += value;
      this.#count[i]!++;
    } else {
      this.#t.splice(i + 1, 0, t);
      this.#min.splice(i + 1, 0, value);
      this.#max.splice(i + 1, 0, value);
      this.#sum.splice(i + 1, 0, value);
      this.#count.splice(i + 1, 0, 1);
    }
    if (this.#last === undefined || ts >= this.#last.ts) this.#last = { ts, value };
    this.#schedule();
  }

  destroy(): void {
    cancelAnimationFrame(this.#frame);
    this.#resize.disconnect();
    this.#plot?.destroy();
    this.#plot = undefined;
  }

  #schedule(): void {
    if (this.#frame !== 0) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#draw();
    });
  }

  #draw(): void {
    // Buckets that slid out of the window go.
    const start = Date.now() - this.#windowMs - this.#every;
    let drop = 0;
    while (drop < this.#t.length && this.#t[drop]! < start) drop++;
    if (drop > 0) {
      for (const column of [this.#t, this.#min, this.#max, this.#sum, this.#count]) column.splice(0, drop);
    }
    const avg = this.#sum.map((s, i) => s / this.#count[i]!);
    const data: uPlot.AlignedData = [this.#t, avg, this.#min, this.#max];
    if (this.#plot === undefined) this.#plot = this.#create(data);
    else this.#plot.setData(data);
    const e = this.element.dataset;
    e.points = String(this.#t.length);
    e.every = String(this.#every);
    if (this.#last !== undefined) {
      e.lastTs = String(this.#last.ts);
      e.lastValue = String(this.#last.value);
    }
    e.drawnAt = String(Date.now());
  }

  #create(data: uPlot.AlignedData): uPlot {
    const css = getComputedStyle(document.documentElement);
    const accent = css.getPropertyValue('--accent').trim() || '#2457c5';
    const muted = css.getPropertyValue('--muted').trim() || '#5f6b7a';
    const line = css.getPropertyValue('--line').trim() || '#dde2e8';
    const unit = this.unit === undefined ? '' : ` ${this.unit}`;
    const format = (v: number | null | undefined) =>
      v === null || v === undefined ? '–' : `${+v.toFixed(3)}${unit}`;
    const axis = { stroke: muted, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
    return new uPlot(
      {
        width: Math.max(200, this.element.clientWidth),
        height: 220,
        ms: 1,
        scales: {
          // The window ends now, whatever the data: the chart moves with time even between readings.
          x: { time: true, range: () => [Date.now() - this.#windowMs, Date.now()] },
        },
        series: [
          {},
          { label: 'avg', stroke: accent, width: 2, value: (_u, v) => format(v) },
          { label: 'min', stroke: muted, width: 1, dash: [4, 4], value: (_u, v) => format(v) },
          { label: 'max', stroke: muted, width: 1, dash: [4, 4], value: (_u, v) => format(v) },
        ],
        bands: [{ series: [3, 2], fill: `${accent}22` }],
        axes: [axis, { ...axis, size: 60, values: (_u, splits) => splits.map((v) => `${+v.toFixed(2)}`) }],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      },
      data,
      this.element,
    );
  }

  #fit(): void {
    const width = Math.max(200, this.element.clientWidth);
    if (this.#plot !== undefined && Math.abs(this.#plot.width - width) > 1)
      this.#plot.setSize({ width, height: 220 });
  }
}

/** Bucket width for a window: about 300 points, in steps a person reads (1 s, 5 s, 15 s, 1 min, ...). */
export function bucketFor(windowMs: number): number {
  const steps = [1000, 5000, 15_000, 60_000, 300_000, 900_000, 1_800_000, 3_600_000, 21_600_000, 86_400_000];
  return steps.find((s) => windowMs / s <= 360) ?? steps.at(-1)!;
}
