import type {
  AlertEvent,
  AlertRuleWithState,
  LiveReading,
  SensorSummary,
} from '../../../src/client/browser.js';
import { bucketFor, SeriesChart } from '../chart.js';
import { formatAgo, h, replace } from '../dom.js';
import { keepSubscribed } from '../live.js';
import type { Page } from './page.js';

const STORE_KEY = 'nexo.sensors';
const RANGES: readonly { id: string; label: string; ms: number }[] = [
  { id: '5m', label: '5 min', ms: 300_000 },
  { id: '15m', label: '15 min', ms: 900_000 },
  { id: '1h', label: '1 h', ms: 3_600_000 },
  { id: '6h', label: '6 h', ms: 21_600_000 },
  { id: '24h', label: '24 h', ms: 86_400_000 },
  { id: '7d', label: '7 d', ms: 604_800_000 },
];
/** Sensors listed at once (the rest are found with the filter). */
const MAX_LISTED = 200;
const MAX_EVENTS = 30;

interface MetricState {
  value: number;
  unit: string | undefined;
  ts: number;
  /** Timestamp of the series' first reading, when known (the summary says; a watch's first reading). */
  first?: number | undefined;
}

interface SensorState {
  sensor: string;
  kind?: string | undefined;
  location?: string | undefined;
  /** When the node last heard from it (its receive time). */
  lastSeen: number;
  metrics: Map<string, MetricState>;
}

/**
 * Sensors: every sensor with its latest values and how long ago it reported (live, from one telemetry.watch
 * over /ws), charts of the selected sensor's metrics (uPlot; the range picker loads min/avg/max per bucket
 * with telemetry.buckets, then live readings extend them), and alerts: what is firing and recent events.
 */
export const sensorsPage: Page = {
  id: 'sensors',
  title: 'Sensors',
  service: 'telemetry',
  mount(root, connection) {
    const client = connection.client;
    const saved = loadSaved();
    const sensors = new Map<string, SensorState>();
    const rows = new Map<string, HTMLElement>();
    const charts = new Map<string, SeriesChart>();
    let selected: string | undefined = saved.sensor;
    let range = RANGES.find((r) => r.id === saved.range) ?? RANGES[0]!;
    /** Generation of the chart data: a reply for an older selection or range is dropped. */
    let loadGeneration = 0;
    /** Live readings of the selected sensor that arrive while its buckets load (replayed after). */
    let arriving: LiveReading[] | undefined;

    const filter = h('input', {
      type: 'search',
      placeholder: 'filter sensors',
      'aria-label': 'filter sensors',
      'data-testid': 'sensor-filter',
    });
    const list = h('div', { class: 'sensor-list', 'data-testid': 'sensor-list', role: 'list' });
    const empty = h(
      'p',
      { class: 'muted', 'data-testid': 'sensors-empty' },
      'No sensor has reported to this node yet. Start one: ',
      h('code', {}, 'nexo sensor --id s1 --metric temperature'),
    );
    const chartTitle = h('h3', { 'data-testid': 'chart-title' }, 'Charts');
    const rangePicker = h(
      'div',
      { class: 'segmented', role: 'group', 'aria-label': 'time range' },
      ...RANGES.map((r) =>
        h(
          'button',
          {
            type: 'button',
            'data-range': r.id,
            'aria-pressed': String(r === range),
            onclick: () => {
              range = r;
              save();
              for (const b of Array.from(rangePicker.querySelectorAll('button'))) {
                b.setAttribute('aria-pressed', String(b.dataset.range === r.id));
              }
              void loadCharts();
            },
          },
          r.label,
        ),
      ),
    );
    const chartArea = h('div', { class: 'charts', 'data-testid': 'charts' });
    const chartNote = h('p', { class: 'muted small', 'data-testid': 'chart-note' });
    const firing = h('ul', { class: 'alert-list', 'data-testid': 'alerts-firing' });
    const events = h('ol', { class: 'alert-list events', 'data-testid': 'alert-events' });
    const problem = h('p', { class: 'error', role: 'alert', 'data-testid': 'sensors-error' });

    replace(
      root,
      h(
        'div',
        { class: 'sensors-page' },
        h('h2', {}, 'Sensors'),
        problem,
        h(
          'div',
          { class: 'sensors-layout' },
          h('section', { class: 'card' }, h('h3', {}, 'Sensors'), filter, empty, list),
          h(
            'section',
            { class: 'card chart-card' },
            h('div', { class: 'chart-head' }, chartTitle, rangePicker),
            chartArea,
            chartNote,
          ),
          h(
            'section',
            { class: 'card' },
            h('h3', {}, 'Alerts firing'),
            firing,
            h('h3', { class: 'spaced' }, 'Recent alert events'),
            events,
          ),
        ),
      ),
    );

    const save = () => {
      try {
        localStorage.setItem(STORE_KEY, JSON.stringify({ sensor: selected, range: range.id }));
      } catch {
        // storage may be off (private mode): the page still works
      }
    };

    // ---- the sensor list ----

    const renderRow = (s: SensorState) => {
      let row = rows.get(s.sensor);
      if (row === undefined) {
        row = h('button', {
          type: 'button',
          class: 'sensor-row',
          role: 'listitem',
          'data-sensor': s.sensor,
          onclick: () => select(s.sensor),
        });
        rows.set(s.sensor, row);
      }
      row.setAttribute('aria-current', String(s.sensor === selected));
      const meta = [s.kind, s.location].filter((v) => v !== undefined && v !== '').join(' · ');
      replace(
        row,
        h(
          'span',
          { class: 'sensor-name' },
          h('b', {}, s.sensor),
          meta === '' ? null : h('span', { class: 'muted small' }, meta),
        ),
        h(
          'span',
          { class: 'sensor-values' },
          ...[...s.metrics.entries()]
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([metric, m]) =>
              h(
                'span',
                { class: 'value', 'data-metric': metric },
                h('span', { class: 'muted small' }, metric, ' '),
                `${formatValue(m.value)}${m.unit === undefined ? '' : ` ${m.unit}`}`,
              ),
            ),
        ),
        h('time', { class: 'ago muted small', 'data-at': s.lastSeen }, formatAgo(Date.now() - s.lastSeen)),
      );
    };

    let listDirty = false;
    const dirtyRows = new Set<string>();
    let frame = 0;
    const scheduleList = (sensor?: string) => {
      if (sensor === undefined) listDirty = true;
      else dirtyRows.add(sensor);
      if (frame === 0) frame = requestAnimationFrame(flushList);
    };
    const flushList = () => {
      frame = 0;
      if (listDirty) {
        listDirty = false;
        dirtyRows.clear();
        const needle = filter.value.trim().toLowerCase();
        const shown = [...sensors.values()]
          .filter((s) => needle === '' || s.sensor.toLowerCase().includes(needle))
          .sort((a, b) => a.sensor.localeCompare(b.sensor))
          .slice(0, MAX_LISTED);
        for (const s of shown) renderRow(s);
        replace(list, ...shown.map((s) => rows.get(s.sensor)!));
        empty.hidden = sensors.size > 0;
        return;
      }
      for (const name of dirtyRows) {
        const s = sensors.get(name);
        if (s !== undefined && rows.has(name)) renderRow(s);
      }
      dirtyRows.clear();
    };
    filter.addEventListener('input', () => scheduleList());

    const fromSummary = (summary: SensorSummary): SensorState => {
      const metrics = new Map<string, MetricState>();
      for (const m of summary.metrics) {
        metrics.set(m.metric, { value: m.last.value, unit: m.unit, ts: m.last.ts, first: m.first });
      }
      return {
        sensor: summary.sensor,
        kind: summary.kind,
        location: summary.location,
        lastSeen: summary.lastSeen,
        metrics,
      };
    };

    // ---- charts ----

    const select = (sensor: string) => {
      if (selected === sensor) return;
      const before = selected;
      selected = sensor;
      save();
      if (before !== undefined) scheduleList(before);
      scheduleList(sensor);
      void loadCharts();
    };

    const chartFor = (metric: string, unit: string | undefined): SeriesChart => {
      let chart = charts.get(metric);
      if (chart === undefined) {
        chart = new SeriesChart(metric, unit);
        charts.set(metric, chart);
        const figure = h(
          'figure',
          { class: 'chart-figure', 'data-metric': metric },
          h('figcaption', {}, metric, unit === undefined ? '' : ` (${unit})`),
          chart.element,
        );
        const figures = Array.from(chartArea.children) as HTMLElement[];
        const after = figures.find((f) => (f.dataset.metric ?? '') > metric);
        chartArea.insertBefore(figure, after ?? null);
      }
      return chart;
    };

    const clearCharts = () => {
      for (const chart of charts.values()) chart.destroy();
      charts.clear();
      replace(chartArea);
    };

    const loadCharts = async () => {
      const generation = ++loadGeneration;
      clearCharts();
      if (selected === undefined || !sensors.has(selected)) {
        chartTitle.textContent = 'Charts';
        chartNote.textContent = sensors.size === 0 ? '' : 'Choose a sensor to see its readings.';
        return;
      }
      const sensor = selected;
      const state = sensors.get(sensor)!;
      chartTitle.textContent = sensor;
      const coarse = bucketFor(range.ms);
      const now = Date.now();
      chartNote.textContent = `min, average and max per ${formatEvery(coarse)}, live`;
      arriving = [];
      // The newest reading of each metric known now: the buckets will hold it.
      const known = new Map([...state.metrics].map(([metric, m]) => [metric, { ts: m.ts, value: m.value }]));
      try {
        const results = await Promise.all(
          [...state.metrics.keys()].map(async (metric) => {
            const first = await client.telemetry.buckets({
              sensor,
              metric,
              from: now - range.ms,
              every: coarse,
            });
            // A sensor younger than the range fills a few buckets at its end (one dot, for a new sensor and
            // 7 days): ask again for the part that has data, in buckets that fit it, and start the chart there.
            // The data starts at the first reading, which may be late in its coarse bucket (two minutes of
            // readings across a half-hour boundary must not be drawn as if they spanned 32 minutes).
            const bucketStart = first.buckets[0]?.t;
            const firstReading = state.metrics.get(metric)?.first;
            const start =
              bucketStart === undefined || firstReading === undefined
                ? bucketStart
                : Math.max(bucketStart, firstReading);
            const fine = start === undefined ? coarse : bucketFor(Math.max(60_000, now - start));
            const few = first.buckets.length < 10 && start !== undefined && start > now - range.ms / 4;
            if (!few || fine >= coarse) {
              return { result: first, every: coarse, since: undefined };
            }
            const result = await client.telemetry.buckets({ sensor, metric, from: start, every: fine });
            return { result, every: fine, since: result.buckets[0]?.t ?? start };
          }),
        );
        if (generation !== loadGeneration) return;
        const zoomed = results.filter((r) => r.since !== undefined);
        if (zoomed.length > 0) {
          const since = Math.min(...zoomed.map((r) => r.since!));
          const every = Math.min(...results.map((r) => r.every));
          chartNote.textContent = `min, average and max per ${formatEvery(every)}, live; nothing stored before ${new Date(since).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium', hourCycle: 'h23' })}, so the chart starts there`;
        }
        for (const { result, every, since } of results) {
          const chart = chartFor(result.metric, result.unit);
          const latest = known.get(result.metric);
          const inside = latest !== undefined && latest.ts < result.to && latest.ts >= result.from;
          chart.setBuckets(every, range.ms, result.buckets, inside ? latest : undefined, since);
          // What the node received after it answered is not in the buckets: add it now.
          for (const r of arriving)
            if (r.metric === result.metric && r.recv >= result.to - 1) chart.add(r.ts, r.value);
        }
        for (const r of arriving) if (!charts.has(r.metric)) chartFor(r.metric, r.unit).add(r.ts, r.value);
        chartArea.dataset.loadedAt = String(Date.now());
      } catch (error) {
        if (generation === loadGeneration) showProblem(error);
      } finally {
        if (generation === loadGeneration) arriving = undefined;
      }
    };

    // ---- alerts ----

    let rules: AlertRuleWithState[] = [];
    const renderFiring = () => {
      const items = rules.flatMap((rule) =>
        rule.firing.map((f) =>
          h(
            'li',
            { class: 'firing' },
            h('b', {}, f.sensor),
            ` ${rule.text}`,
            h('span', { class: 'muted small' }, ` since ${new Date(f.since).toLocaleTimeString()}`),
          ),
        ),
      );
      if (items.length === 0) {
        replace(
          firing,
          h(
            'li',
            { class: 'muted' },
            rules.length === 0
              ? 'No alert rules (nexo alerts add "temperature > 30 for 1m").'
              : 'Nothing is firing.',
          ),
        );
      } else replace(firing, ...items);
    };
    const eventItem = (e: AlertEvent) =>
      h(
        'li',
        { class: e.state },
        h('time', {}, new Date(e.at).toLocaleTimeString()),
        ' ',
        h('b', {}, e.state),
        ` ${e.sensor}: ${e.rule} (${formatValue(e.value)})`,
      );
    const refreshAlerts = async () => {
      const [r, past] = await Promise.all([
        client.telemetry.alerts(),
        client.telemetry.alertEvents({ limit: MAX_EVENTS }),
      ]);
      rules = r.rules;
      renderFiring();
      replace(events, ...past.events.map(eventItem));
      if (past.events.length === 0) replace(events, h('li', { class: 'muted' }, 'No alert events yet.'));
    };

    // ---- live ----

    const onReading = (r: LiveReading) => {
      let s = sensors.get(r.sensor);
      const isNew = s === undefined;
      if (s === undefined) {
        s = { sensor: r.sensor, lastSeen: r.recv, metrics: new Map() };
        sensors.set(r.sensor, s);
      }
      s.lastSeen = Math.max(s.lastSeen, r.recv);
      const known = s.metrics.get(r.metric);
      if (known === undefined || r.ts >= known.ts)
        s.metrics.set(r.metric, { value: r.value, unit: r.unit, ts: r.ts, first: known?.first ?? r.ts });
      scheduleList(isNew ? undefined : r.sensor);
      if (r.sensor === selected) {
        if (arriving !== undefined) arriving.push(r);
        else chartFor(r.metric, r.unit).add(r.ts, r.value);
      }
      if (isNew && selected === undefined) {
        selected = r.sensor;
        void loadCharts();
      }
    };
    const onAlert = (e: AlertEvent) => {
      events.querySelector('li.muted')?.remove();
      events.prepend(eventItem(e));
      while (events.childElementCount > MAX_EVENTS) events.lastElementChild?.remove();
      // What is firing changed: ask the node (it knows every rule's state).
      client.telemetry.alerts().then((r) => {
        rules = r.rules;
        renderFiring();
      }, showProblem);
    };

    const showProblem = (error: unknown) => {
      const e = error as { message?: string; code?: string };
      problem.textContent = `${e.message ?? String(error)}${e.code === undefined ? '' : ` (${e.code})`}`;
    };

    /** Every sensor's summary, then the charts and the alerts (after each (re)connection). */
    const loadState = async () => {
      const all = await client.telemetry.sensors({ limit: 10_000 });
      for (const summary of all.sensors) {
        const state = fromSummary(summary);
        const had = sensors.get(summary.sensor);
        // Keep what the watch already delivered if it is newer than the summary.
        if (had !== undefined) {
          for (const [metric, m] of had.metrics) {
            const s = state.metrics.get(metric);
            if (s === undefined || m.ts > s.ts)
              state.metrics.set(metric, { ...m, first: s?.first ?? m.first });
          }
          state.lastSeen = Math.max(state.lastSeen, had.lastSeen);
        }
        sensors.set(summary.sensor, state);
      }
      if (selected === undefined || !sensors.has(selected)) selected = all.sensors[0]?.sensor;
      scheduleList();
      await Promise.all([loadCharts(), refreshAlerts()]);
    };

    const stop = keepSubscribed(
      connection,
      async () => {
        problem.textContent = '';
        // The watch first, so no reading falls between the list below and the live stream.
        const watch = await client.telemetry.watch({ alerts: true }, { onReading, onAlert });
        try {
          await loadState();
        } catch (error) {
          watch.stop();
          throw error;
        }
        root.dataset.ready = 'true';
        return { cancel: () => watch.stop(), result: watch.done };
      },
      showProblem,
    );

    // "3 s ago" keeps counting between readings.
    const ticker = setInterval(() => {
      const now = Date.now();
      for (const el of Array.from(list.querySelectorAll<HTMLElement>('time.ago'))) {
        el.textContent = formatAgo(now - Number(el.dataset.at));
      }
    }, 1000);

    scheduleList();
    return () => {
      stop();
      clearInterval(ticker);
      cancelAnimationFrame(frame);
      clearCharts();
    };
  },
};

function loadSaved(): { sensor?: string; range?: string } {
  try {
    return JSON.parse(localStorage.getItem(STORE_KEY) ?? '{}') as { sensor?: string; range?: string };
  } catch {
    return {};
  }
}

function formatValue(v: number): string {
  return Number.isInteger(v) ? String(v) : String(+v.toFixed(3));
}

function formatEvery(ms: number): string {
  if (ms < 60_000) return `${ms / 1000} s`;
  if (ms < 3_600_000) return `${ms / 60_000} min`;
  if (ms < 86_400_000) return `${ms / 3_600_000} h`;
  return `${ms / 86_400_000} d`;
}
