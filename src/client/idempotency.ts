/**
 * Which requests a client may send again on its own after a lost connection (docs/protocol.md §14.2). The
 * one table: the pool (pool.ts) reads it, docs/protocol.md §14.2 prints it, and
 * test/client/idempotency.test.ts checks it against the methods the node registers.
 *
 * - `safe`: repeating it has the effect of sending it once (pure, a query, or it sets a value to the same
 *   value), so after a lost connection it is sent again, on another node when there is one.
 * - `with-seq`: safe only when every reading carries a `seq` (§9.T.2): the store keeps one (sensor, seq).
 *   Without one it is `unsafe`.
 * - `unsafe`: a repeat could act twice (a chat message said twice, a second alert rule, a delete of the
 *   entry that now has the name). Never repeated: once sent, a lost connection fails it with
 *   OUTCOME_UNKNOWN (it may or may not have been processed).
 * - `subscription`: long-lived; not repeated as a request, resumed by its own rules instead (§14.4, §14.5).
 * - `stream`: carries CHUNK frames; not repeated by the pool; files transfers resume from an offset (§9.F.10).
 */
export type Idempotency = 'safe' | 'with-seq' | 'unsafe' | 'subscription' | 'stream';

export const IDEMPOTENCY = {
  calc: { eval: 'safe', batch: 'safe', vars: 'safe', clear: 'safe' },
  greet: { hello: 'safe', languages: 'safe' },
  echo: { echo: 'safe', stream: 'stream' },
  telemetry: {
    report: 'with-seq',
    reportBatch: 'with-seq',
    sensors: 'safe',
    latest: 'safe',
    readings: 'safe',
    buckets: 'safe',
    watch: 'subscription',
    alerts: 'safe',
    addAlert: 'unsafe',
    removeAlert: 'unsafe',
    alertEvents: 'safe',
    stats: 'safe',
  },
  files: {
    upload: 'stream',
    download: 'stream',
    info: 'safe',
    list: 'safe',
    status: 'safe',
    usage: 'safe',
    delete: 'unsafe',
  },
  chat: {
    join: 'subscription',
    say: 'unsafe',
    dm: 'unsafe',
    leave: 'unsafe',
    who: 'safe',
    history: 'safe',
    rooms: 'safe',
  },
  node: { info: 'safe', stats: 'safe', watch: 'subscription', members: 'safe' },
} as const satisfies Record<string, Record<string, Idempotency>>;

const TABLE: Record<string, Record<string, Idempotency> | undefined> = IDEMPOTENCY;

/** How a method of the table behaves; a method it does not list (another service) is `unsafe`. */
export function idempotencyOf(service: string, method: string): Idempotency {
  const row = TABLE[service];
  return (row !== undefined && Object.hasOwn(row, method) ? row[method] : undefined) ?? 'unsafe';
}

/** §14.2 Whether this request, with these args, may be sent again after a lost connection. */
export function mayRepeat(service: string, method: string, args: unknown): boolean {
  const kind = idempotencyOf(service, method);
  if (kind === 'safe') return true;
  if (kind !== 'with-seq' || args === null || typeof args !== 'object') return false;
  const a = args as { seq?: unknown; readings?: unknown };
  if (method === 'reportBatch') {
    return Array.isArray(a.readings) && a.readings.length > 0 && a.readings.every(hasSeq);
  }
  return hasSeq(a);
}

function hasSeq(reading: unknown): boolean {
  return (
    reading !== null && typeof reading === 'object' && Number.isInteger((reading as { seq?: unknown }).seq)
  );
}
