import { NexoError } from '../../errors.js';
import type {
  Ack,
  AlertEvent,
  AlertRule,
  Bucket,
  LatestReading,
  LiveReading,
  SensorSummary,
  StoredReading,
} from '../../services/telemetry/model.js';
import type { RequestOptions } from '../client.js';
import type { Caller } from './requester.js';

export type {
  Ack,
  AlertEvent,
  AlertRule,
  Bucket,
  LatestReading,
  LiveReading,
  MetricSummary,
  SensorSummary,
  StoredReading,
} from '../../services/telemetry/model.js';

/** A reading as a sensor sends it (docs/protocol.md §9 telemetry). */
export interface ReadingInput {
  metric: string;
  value: number;
  /** The sensor's sequence number: a reading resent with the same (sensor, seq) is stored once. */
  seq?: number;
  /** Milliseconds since 1970; the node's receive time when absent. */
  ts?: number;
  unit?: string;
  tags?: Record<string, string>;
}

/** Sent with a report: registers the sensor, or updates what is known of it. */
export interface SensorMetaInput {
  kind?: string;
  location?: string;
}

export interface ReadingsQuery {
  sensor: string;
  metric: string;
  /** ms since 1970, inclusive; default: the beginning. */
  from?: number;
  /** ms, exclusive; default: now. */
  to?: number;
  /** Readings per page (1..10000, default 1000). */
  limit?: number;
  order?: 'asc' | 'desc';
  /** Continue after this reading: the `next` of the previous page. */
  after?: { ts: number; seq: number };
}

export interface ReadingsPage {
  sensor: string;
  metric: string;
  unit?: string;
  readings: StoredReading[];
  next?: { ts: number; seq: number };
}

export interface BucketsQuery {
  sensor: string;
  metric: string;
  from: number;
  to?: number;
  /** Bucket width in ms (60000 for one minute). */
  every: number;
}

export interface BucketsResult {
  sensor: string;
  metric: string;
  unit?: string;
  every: number;
  from: number;
  to: number;
  /** `rollup` when whole minutes came from the per-minute rollup. */
  source: 'rollup' | 'raw';
  buckets: Bucket[];
}

export interface WatchFilter {
  sensors?: string[];
  metrics?: string[];
  /** Alert events too (default true). */
  alerts?: boolean;
}

export interface WatchHandlers {
  onReading?(reading: LiveReading): void;
  onAlert?(event: AlertEvent): void;
  /** The node skipped `count` readings because this client read too slowly. */
  onDropped?(count: number): void;
}

export interface Watch {
  /** The latest reading of each matching series when the watch started. */
  latest: LatestReading[];
  stop(): void;
  /** Settles when the watch ends: resolves after stop(), rejects if the connection or node ended it. */
  done: Promise<void>;
}

export type AlertRuleWithState = AlertRule & { firing: { sensor: string; since: number }[] };

/** What the telemetry facade needs from a client: requests, and calls with events for `watch`. */
export type TelemetryRequester = Caller;

/** The object without its undefined fields (they would travel as nil, which optional fields refuse). */
function defined<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v;
  return out as T;
}

/** Typed calls of the telemetry service (docs/protocol.md §9). */
export function telemetryApi(r: TelemetryRequester) {
  return {
    /** Stores one reading; resolves once it is on disk. */
    report: (sensor: string, reading: ReadingInput, meta?: SensorMetaInput, options?: RequestOptions) =>
      r.request<Ack>('telemetry', 'report', defined({ sensor, ...meta, ...reading }), options),

    /** Stores up to 1000 readings of one sensor in one durable commit. */
    reportBatch: (
      sensor: string,
      readings: ReadingInput[],
      meta?: SensorMetaInput,
      options?: RequestOptions,
    ) => r.request<Ack>('telemetry', 'reportBatch', { sensor, ...meta, readings }, options),

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

    /** Live readings and alerts; resolves once the node has started the watch. */
    async watch(
      filter: WatchFilter,
      handlers: WatchHandlers,
      options: { signal?: AbortSignal } = {},
    ): Promise<Watch> {
      let started: (latest: LatestReading[]) => void = () => {};
      const ready = new Promise<LatestReading[]>((resolve) => {
        started = resolve;
      });
      const handle = await r.call('telemetry', 'watch', defined(filter), {
        signal: options.signal,
        onProgress: (value) => started((value as { latest?: LatestReading[] }).latest ?? []),
        onEvent: (value) => {
          const event = value as { type: string; readings?: LiveReading[]; count?: number };
          if (event.type === 'readings')
            for (const reading of event.readings ?? []) handlers.onReading?.(reading);
          else if (event.type === 'reading') handlers.onReading?.(value as LiveReading);
          else if (event.type === 'alert') handlers.onAlert?.(value as AlertEvent);
          else if (event.type === 'dropped') handlers.onDropped?.(event.count ?? 0);
        },
      });
      let stopped = false;
      const done = handle.result.then(
        () => undefined,
        (err: unknown) => {
          if (stopped && err instanceof NexoError && err.code === 'CANCELLED') return;
          throw err;
        },
      );
      const latest = await Promise.race([ready, done.then(() => [])]);
      return {
        latest,
        stop: () => {
          stopped = true;
          handle.cancel();
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
