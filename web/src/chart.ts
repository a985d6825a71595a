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
  /** The first bucket with data when the window starts before it (a new sensor): the chart starts there. */
  #since: number | undefined;
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
   * `since`: nothing is stored before it, so the chart starts there rather than at now - windowMs (a 7-day
   * range of a sensor that began a minute ago shows that minute, not one dot at the right edge).
   */
  setBuckets(
    every: number,
    windowMs: number,
    buckets: readonly Bucket[],
    latest?: { ts: number; value: number },
    since?: number,
  ): void {
    this.#last = latest;
    this.#every = every;
    this.#windowMs = windowMs;
    this.#since = since;
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
    this.#showLatestInLegend(this.#plot);
    const e = this.element.dataset;
    e.points = String(this.#t.length);
    e.every = String(this.#every);
    if (this.#last !== undefined) {
      e.lastTs = String(this.#last.ts);
      e.lastValue = String(this.#last.value);
    }
    e.drawnAt = String(Date.now());
    if (this.#since !== undefined) e.since = String(this.#since);
  }

  /**
   * The legend shows the values under the cursor while it is over the chart; otherwise (a phone has no
   * hover at all) those of the newest bucket, never a row of "--".
   */
  #showLatestInLegend(plot: uPlot): void {
    const last = this.#t.length - 1;
    if (last >= 0 && (plot.cursor.idx === null || plot.cursor.idx === undefined))
      plot.setLegend({ idx: last });
  }

  /** Where the x axis starts: `windowMs` ago, or later when nothing is stored that far back. */
  #rangeStart(now: number): number {
    const start = now - this.#windowMs;
    // At least ten buckets wide, so a sensor a few seconds old still gets an axis a person can read.
    return this.#since === undefined ? start : Math.max(start, Math.min(this.#since, now - 10 * this.#every));
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
    const font = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
    const measure = document.createElement('canvas').getContext('2d')!;
    measure.font = font;
    // The x labels are one line each, in a format chosen by the tick step, and the ticks are at least the
    // widest label of that format apart (plus a gap): uPlot's default two-line labels put the date under
    // the first tick, wide enough to run into the next ("12/3/26 7:57am7:58am").
    const width = (labels: string[]) =>
      Math.ceil(Math.max(...labels.map((l) => measure.measureText(l).width)));
    const months = Array.from({ length: 12 }, (_, m) => day.format(new Date(2026, m, 28)));
    const secondsLabel = width([clockSeconds.format(new Date(2026, 0, 1, 23, 58, 58))]);
    const withSeconds = secondsLabel + 12;
    const withMinutes = width([clock.format(new Date(2026, 0, 1, 23, 58)), ...months]) + 12;
    const xSpace = (_u: uPlot, _axis: number, min: number, max: number, plotDim: number) => {
      const span = Math.max(1, max - min);
      // Steps under a minute print seconds: take them only when even those wider labels fit.
      if ((span * withSeconds) / plotDim <= 30_000) return withSeconds;
      return Math.max(withMinutes, (30_000 * plotDim) / span + 1);
    };
    let ySize: number | undefined;
    return new uPlot(
      {
        width: Math.max(200, this.element.clientWidth),
        height: 220,
        ms: 1,
        // Room on the right for half of the last x label, centred on its tick at the plot's edge.
        padding: [8, Math.ceil(secondsLabel / 2) + 2, 0, 0],
        scales: {
          // The window ends now, whatever the data: the chart moves with time even between readings.
          x: { time: true, range: () => [this.#rangeStart(Date.now()), Date.now()] },
        },
        series: [
          { value: (_u, t) => (t === null || t === undefined ? '–' : moment.format(new Date(t))) },
          { label: 'avg', stroke: accent, width: 2, value: (_u, v) => format(v) },
          { label: 'min', stroke: muted, width: 1, dash: [4, 4], value: (_u, v) => format(v) },
          { label: 'max', stroke: muted, width: 1, dash: [4, 4], value: (_u, v) => format(v) },
        ],
        bands: [{ series: [3, 2], fill: `${accent}22` }],
        axes: [
          {
            ...axis,
            font,
            space: xSpace,
            incrs: TIME_STEPS,
            values: (_u, splits, _axis, _space, step) => splits.map((t) => timeLabel(t, step)),
          },
          {
            ...axis,
            font,
            values: (_u, splits) => splits.map((v) => `${+v.toFixed(2)}`),
            // As wide as the widest label needs: a fixed 60 px cut "1013.25" to ".013.25".
            // uPlot asks again after the layout changed (cycle 2, 3): the first answer stands, so the size
            // settles instead of oscillating between two tick sets.
            size: (u, values, axisIdx, cycle) => {
              if (cycle > 1 && ySize !== undefined) return ySize;
              const a = u.axes[axisIdx]!;
              const widest = Math.max(0, ...(values ?? []).map((v) => measure.measureText(v).width));
              ySize = Math.ceil(widest + (a.ticks?.size ?? 10) + (a.gap ?? 5) + 4);
              return ySize;
            },
          },
        ],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
        hooks: { setCursor: [(u) => this.#showLatestInLegend(u)] },
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

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const clockSeconds = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});
const day = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const moment = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'medium',
  timeStyle: 'medium',
  hourCycle: 'h23',
});

const S = 1000;
const M = 60 * S;
const HOUR = 60 * M;
const D = 24 * HOUR;
/** x tick steps: uPlot's own jump from 1 to 5 minutes left a phone's 5-minute chart with one tick. */
const TIME_STEPS = [
  ...[1, 2, 5, 10, 15, 30].map((n) => n * S),
  ...[1, 2, 5, 10, 15, 30].map((n) => n * M),
  ...[1, 2, 3, 6, 12].map((n) => n * HOUR),
  ...[1, 2, 3, 7, 14, 30, 90, 365].map((n) => n * D),
];

/** One x label: the time to the second, to the minute, or the day, as the tick step needs. */
function timeLabel(t: number, step: number): string {
  const at = new Date(t);
  if (step < 60_000) return clockSeconds.format(at);
  if (step < 86_400_000 && !(at.getHours() === 0 && at.getMinutes() === 0)) return clock.format(at);
  return day.format(at);
}

/** Bucket width for a window: about 300 points, in steps a person reads (1 s, 5 s, 15 s, 1 min, ...). */
export function bucketFor(windowMs: number): number {
  const steps = [1000, 5000, 15_000, 60_000, 300_000, 900_000, 1_800_000, 3_600_000, 21_600_000, 86_400_000];
  return steps.find((s) => windowMs / s <= 360) ?? steps.at(-1)!;
}
