import { NexoError } from '../../errors.js';
import type {
  Ack,
  AlertEvent,
  AlertRule,
  AlertRuleWithState,
  BucketsQuery,
  BucketsResult,
  LatestReading,
  LiveReading,
  ReadingInput,
  ReadingsPage,
  ReadingsQuery,
  SensorMeta,
  SensorSummary,
  StoredReading,
  WatchFilter,
} from '../../wire/telemetry.js';
import type { Caller, RequestOptions } from './requester.js';
import { RESUMABLE, reopen } from './resume.js';
import { readGap, WatchMarks } from './watch-gap.js';

export interface WatchHandlers {
  onReading?(reading: LiveReading): void;
  onAlert?(event: AlertEvent): void;
  /** The node skipped `count` readings because this client read too slowly. */
  onDropped?(count: number): void;
  /**
   * A resumed watch (§14.5) is live again: `replayed` stored readings it had missed were delivered first;
   * `truncated` when a series had more than the client reads back (watch-gap.ts GAP_MAX_PER_SERIES).
   */
  onResume?(info: { replayed: number; truncated: boolean }): void;
}

export interface Watch {
  /** The latest reading of each matching series when the watch started. */
  latest: LatestReading[];
  stop(): void;
  /** Settles when the watch ends: resolves after stop(), rejects if the connection or node ended it. */
  done: Promise<void>;
}

/** What the telemetry facade needs from a client: requests, and calls with events for `watch`. */
export type TelemetryRequester = Caller;

/** The object without its undefined fields (they would travel as nil, which optional fields refuse). */
function defined<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** Typed calls of the telemetry service (docs/protocol.md §9). */
export function telemetryApi(r: TelemetryRequester, defaults: { resume?: boolean } = {}) {
  return {
    /** Stores one reading; resolves once it is on disk. */
    report: (sensor: string, reading: ReadingInput, meta?: SensorMeta, options?: RequestOptions) =>
      r.request<Ack>('telemetry', 'report', defined({ sensor, ...meta, ...reading }), options),

    /** Stores up to 1000 readings of one sensor in one durable commit. */
    reportBatch: (sensor: string, readings: ReadingInput[], meta?: SensorMeta, options?: RequestOptions) =>
      r.request<Ack>('telemetry', 'reportBatch', { sensor, ...meta, readings }, options),

    sensors: (query: { after?: string; limit?: number } = {}, options?: RequestOptions) =>
      r.request<{ sensors: SensorSummary[]; next?: string }>('telemetry', 'sensors', defined(query), options),

    sensor: async (sensor: string, options?: RequestOptions) =>
      (await r.request<{ sensors: SensorSummary[] }>('telemetry', 'sensors', { sensor }, options))
        .sensors[0]!,

    latest: (filter: { sensor?: string; metric?: string } = {}, options?: RequestOptions) =>
      r.request<{ readings: LatestReading[] }>('telemetry', 'latest', defined(filter), options),

    readings: (query: ReadingsQuery, options?: RequestOptions) =>
      r.request<ReadingsPage>('telemetry', 'readings', defined(query), options),

    /** Every reading of a range, page after page. */
    async *allReadings(query: ReadingsQuery, options?: RequestOptions): AsyncGenerator<StoredReading> {
      let after = query.after;
      for (;;) {
        const page = await r.request<ReadingsPage>(
          'telemetry',
          'readings',
          defined({ ...query, after }),
          options,
        );
        yield* page.readings;
        if (page.next === undefined) return;
        after = page.next;
      }
    },

    buckets: (query: BucketsQuery, options?: RequestOptions) =>
      r.request<BucketsResult>('telemetry', 'buckets', defined(query), options),

    /**
     * Live readings and alerts; resolves once the node has started the watch. With `resume` (default on for
     * a NexoPool) a watch whose connection or node is lost starts again through whichever node the client
     * reaches and first delivers the stored readings it missed (§14.5).
     */
    async watch(
      filter: WatchFilter,
      handlers: WatchHandlers,
      options: { signal?: AbortSignal; resume?: boolean } = {},
    ): Promise<Watch> {
      const resume = options.resume ?? defaults.resume ?? false;
      const marks = new WatchMarks();
      /** Live readings held back while a gap is read (§14.5.4); undefined when delivering directly. */
      let held: LiveReading[] | undefined;
      const give = (reading: LiveReading) => {
        if (resume) marks.note(reading);
        handlers.onReading?.(reading);
      };
      const open = async () => {
        let started: (latest: LatestReading[]) => void = () => {};
        const ready = new Promise<LatestReading[]>((resolve) => {
          started = resolve;
        });
        const handle = await r.call('telemetry', 'watch', defined(filter), {
          signal: options.signal,
          onProgress: (value) => started((value as { latest?: LatestReading[] }).latest ?? []),
          onEvent: (value) => {
            const event = value as { type: string; readings?: LiveReading[]; count?: number };
            if (event.type === 'readings' || event.type === 'reading') {
              const readings = event.type === 'readings' ? (event.readings ?? []) : [value as LiveReading];
              for (const reading of readings) {
                if (held !== undefined) held.push(reading);
                else give(reading);
              }
            } else if (event.type === 'alert') handlers.onAlert?.(value as AlertEvent);
            else if (event.type === 'dropped') handlers.onDropped?.(event.count ?? 0);
          },
        });
        const latest = await Promise.race([
          ready,
          handle.result.then(
            () => [],
            (err: unknown) => {
              throw err;
            },
          ),
        ]);
        return { handle, latest };
      };
      let current = await open();
      marks.started(current.latest, Date.now());
      let stopped = false;
      const done = (async () => {
        for (;;) {
          try {
            await current.handle.result;
            return;
          } catch (err) {
            if (stopped && err instanceof NexoError && err.code === 'CANCELLED') return;
            if (!resume || stopped || !(err instanceof NexoError) || !RESUMABLE.has(err.code)) throw err;
            // §14.5.2 Watch again, holding live readings back while the gap is read from the store.
            held = [];
            current = await reopen(r, open, { signal: options.signal });
            const gap = await reopen(r, () => readGap(r, current.latest, marks), { signal: options.signal });
            for (const reading of gap.readings) give(reading);
            const live = held;
            held = undefined;
            for (const reading of live) if (marks.isNew(reading)) give(reading);
            handlers.onResume?.({ replayed: gap.readings.length, truncated: gap.truncated });
            if (stopped) current.handle.cancel();
          }
        }
      })();
      done.catch(() => {}); // observed through `done`
      return {
        latest: current.latest,
        stop: () => {
          stopped = true;
          current.handle.cancel();
        },
        done,
      };
    },

    alerts: (options?: RequestOptions) =>
      r.request<{ rules: AlertRuleWithState[] }>('telemetry', 'alerts', null, options),

    addAlert: (rule: string, opts: { sensors?: string[]; name?: string } = {}, options?: RequestOptions) =>
      r.request<{ rule: AlertRule }>('telemetry', 'addAlert', defined({ rule, ...opts }), options),

    removeAlert: (id: number, options?: RequestOptions) =>
      r.request<{ removed: AlertRule }>('telemetry', 'removeAlert', { id }, options),

    alertEvents: (
      query: { from?: number; to?: number; sensor?: string; ruleId?: number; limit?: number } = {},
      options?: RequestOptions,
    ) => r.request<{ events: AlertEvent[] }>('telemetry', 'alertEvents', defined(query), options),

    stats: (options?: RequestOptions) =>
      r.request<Record<string, unknown>>('telemetry', 'stats', null, options),
  };
}

export type TelemetryApi = ReturnType<typeof telemetryApi>;
