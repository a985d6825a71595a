import pg from 'pg';
import { NexoError } from '../../errors.js';
import type { Histogram, HistogramSet } from '../../util/histogram.js';
import { redactUrl } from '../../util/redact-url.js';
import { type EngineHealth, HealthState } from '../health.js';
import { classify, reason } from './errors.js';

/**
 * The node's PostgreSQL connection: a pg Pool with health tracking, retry of transient failures, and one
 * error code (`STORAGE_UNAVAILABLE`, retryable) for "the database is away". Services get it from the node
 * (never open their own) and keep their tables in it, each with its own migrations (migrations.ts).
 *
 * Retried: failures that happen while the engine is unreachable (refused or dropped connections, a server
 * shutting down or starting) and transactions that lost a race (serialization failure, deadlock). A
 * retried statement may have run once already when the connection dropped after it committed, so every
 * write a service sends through here must be idempotent (unique keys with ON CONFLICT, or upserts); pass
 * `{ retry: false }` for one that is not.
 */

export type Row = pg.QueryResultRow;

/** Runs SQL: the pool itself, or one transaction's client. */
export interface Queryable {
  query<R extends Row = Row>(text: string, values?: readonly unknown[]): Promise<pg.QueryResult<R>>;
}

export interface CallOptions {
  /** Retry transient failures (default true). */
  readonly retry?: boolean;
}

export interface Postgres extends Queryable {
  /** The URL with its password redacted. */
  readonly url: string;
  /** The schema every connection uses (search_path), when one was given. */
  readonly schema: string | undefined;
  query<R extends Row = Row>(
    text: string,
    values?: readonly unknown[],
    options?: CallOptions,
  ): Promise<pg.QueryResult<R>>;
  /** BEGIN, `fn`, COMMIT (ROLLBACK when it throws). Retried as a whole, so `fn` must be safe to run again. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>, options?: CallOptions): Promise<T>;
  health(): EngineHealth;
  /** Called with every change of `health().up`; returns the unsubscribe function. */
  onHealth(listener: (health: EngineHealth) => void): () => void;
  /** The pool's numbers for metrics. */
  poolStats(): { total: number; idle: number; waiting: number };
  close(): Promise<void>;
}

export interface PostgresOptions {
  /** Use this schema (search_path) on every connection; created when `createSchema` is set. For tests. */
  readonly schema?: string;
  readonly createSchema?: boolean;
  /** Pool size (default 10). */
  readonly max?: number;
  /** `application_name`, seen in pg_stat_activity (default "nexo"). */
  readonly applicationName?: string;
  /** Time to get a connection before the call fails (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** How often the engine is probed (SELECT 1) so health changes are seen without traffic (default 1 s). */
  readonly probeMs?: number;
  /** Attempts of a transient failure before STORAGE_UNAVAILABLE (default 4: waits of 50, 200, 800 ms). */
  readonly attempts?: number;
  /** Where query and transaction times go (nexo_store_duration_seconds{engine="postgres"}). */
  readonly timings?: HistogramSet;
  /**
   * The server ends a session of ours left idle inside a transaction this long (default 10 s), and probes
   * the TCP connection of an idle one every few seconds: a node cut off by a partition mid-transaction would
   * otherwise hold its row locks, which every other node then waits on, until the server's TCP keepalive
   * (2 h by default) noticed it was gone.
   */
  readonly idleInTransactionMs?: number;
  /** Told about health changes and pool errors; default silent. */
  readonly log?: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

/**
 * The URL without its `options` parameter, and that parameter: pg lets a URL's `options` replace the pool's,
 * so they are joined into the pool's instead.
 */
function splitOptions(url: string): { url: string; options: string | undefined } {
  try {
    const parsed = new URL(url);
    const options = parsed.searchParams.get('options') ?? undefined;
    if (options === undefined) return { url, options };
    parsed.searchParams.delete('options');
    return { url: parsed.toString(), options };
  } catch {
    return { url, options: undefined };
  }
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Connects to `url` and checks it answers. A database that refuses connections at start-up fails with one
 * line naming the URL: `cannot connect to PostgreSQL at postgres://u:***@host:5432/db: connect ECONNREFUSED`.
 */
export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<Postgres> {
  if (options.schema !== undefined && !SCHEMA_NAME.test(options.schema)) {
    throw new Error(`postgres schema must match ${SCHEMA_NAME} (got ${JSON.stringify(options.schema)})`);
  }
  const db = new PostgresConnection(url, options);
  try {
    if (options.schema !== undefined && options.createSchema === true) {
      // Connections name the schema in search_path; it must exist before the first query that uses it.
      const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: db.connectTimeoutMs });
      try {
        await admin.connect();
        await admin.query(`CREATE SCHEMA IF NOT EXISTS ${options.schema}`);
      } finally {
        await admin.end().catch(() => {});
      }
    }
    await db.pool.query('SELECT 1');
  } catch (err) {
    await db.close();
    throw new NexoError(
      'STORAGE_UNAVAILABLE',
      `cannot connect to PostgreSQL at ${db.url}: ${reason(err)}`,
      { engine: 'postgres', url: db.url },
      { cause: err },
    );
  }
  db.startProbe();
  return db;
}

class PostgresConnection implements Postgres {
  readonly url: string;
  readonly schema: string | undefined;
  readonly pool: pg.Pool;
  readonly connectTimeoutMs: number;
  readonly #state: HealthState;
  readonly #listeners = new Set<(health: EngineHealth) => void>();
  readonly #attempts: number;
  readonly #probeMs: number;
  readonly #log: PostgresOptions['log'];
  readonly #queryTime: Histogram | undefined;
  readonly #transactionTime: Histogram | undefined;
  #probe: NodeJS.Timeout | undefined;
  #probing = false;
  #closed = false;

  constructor(url: string, options: PostgresOptions) {
    this.url = redactUrl(url);
    this.schema = options.schema;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.#attempts = Math.max(1, options.attempts ?? 4);
    this.#probeMs = options.probeMs ?? 1000;
    this.#log = options.log;
    this.#queryTime = options.timings?.get('postgres', 'query');
    this.#transactionTime = options.timings?.get('postgres', 'transaction');
    this.#state = new HealthState('postgres', this.url, (up, error) => {
      if (up) this.#log?.info({ engine: 'postgres', url: this.url }, 'PostgreSQL is reachable again');
      else this.#log?.warn({ engine: 'postgres', url: this.url, error }, 'PostgreSQL is unreachable');
      const health = this.#state.snapshot();
      for (const listener of this.#listeners) listener(health);
    });
    const idleMs = Math.max(1, Math.round(options.idleInTransactionMs ?? 10_000));
    const { url: bare, options: urlOptions } = splitOptions(url);
    this.pool = new pg.Pool({
      connectionString: bare,
      max: options.max ?? 10,
      connectionTimeoutMillis: this.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      // Our side of the same: a server host that vanished is noticed by TCP keepalive, not after hours.
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
      application_name: options.applicationName ?? 'nexo',
      // Startup options of every session (see idleInTransactionMs); the URL's own `options` come first.
      options: [
        urlOptions,
        options.schema === undefined ? undefined : `-c search_path=${options.schema}`,
        `-c idle_in_transaction_session_timeout=${idleMs}`,
        '-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3',
      ]
        .filter((o) => o !== undefined && o !== '')
        .join(' '),
    });
    // An idle client whose server went away emits here; without a listener the process would crash.
    this.pool.on('error', (err) => this.#failed(err));
  }

  startProbe(): void {
    if (this.#probeMs <= 0) return;
    this.#probe = setInterval(() => void this.#runProbe(), this.#probeMs);
    this.#probe.unref();
  }

  async #runProbe(): Promise<void> {
    if (this.#probing || this.#closed) return;
    this.#probing = true;
    try {
      await this.pool.query('SELECT 1');
      this.#state.ok();
    } catch (err) {
      this.#failed(err);
    } finally {
      this.#probing = false;
    }
  }

  #failed(err: unknown): void {
    if (classify(err) === 'unavailable') this.#state.down(reason(err));
  }

  health(): EngineHealth {
    return this.#state.snapshot();
  }

  onHealth(listener: (health: EngineHealth) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  poolStats(): { total: number; idle: number; waiting: number } {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  query<R extends Row = Row>(
    text: string,
    values?: readonly unknown[],
    options: CallOptions = {},
  ): Promise<pg.QueryResult<R>> {
    const started = performance.now();
    return this.#withRetry(options, () => this.pool.query<R>(text, values as unknown[] | undefined)).finally(
      () => this.#queryTime?.since(started),
    );
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>, options: CallOptions = {}): Promise<T> {
    const started = performance.now();
    return this.#withRetry(options, async () => {
      const client = await this.pool.connect();
      let broken: Error | undefined;
      // A checked-out client has no pool listener: a server that goes away between two statements of `fn`
      // (a fast shutdown, a crash: FATAL 57P01) emits 'error' on it, which unheard would end the process.
      // The statement in progress, or the next one, fails with the connection and the retry handles it.
      const onError = (err: Error) => {
        broken = err;
        this.#failed(err);
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          query: <R extends Row>(text: string, values?: readonly unknown[]) =>
            client.query<R>(text, values as unknown[] | undefined),
        };
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        if (classify(err) === 'unavailable') broken = err as Error;
        else await client.query('ROLLBACK').catch((e: Error) => (broken = e));
        throw err;
      } finally {
        // A client whose connection failed is destroyed, not returned to the pool; it keeps a listener, as
        // its socket may still report errors while it closes. A healthy one goes back to the pool's own.
        if (broken === undefined) client.removeListener('error', onError);
        client.release(broken ?? false);
      }
    }).finally(() => this.#transactionTime?.since(started));
  }

  async #withRetry<T>(options: CallOptions, run: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      throw new NexoError('STORAGE_UNAVAILABLE', `the PostgreSQL connection to ${this.url} is closed`, {
        engine: 'postgres',
      });
    }
    const attempts = options.retry === false ? 1 : this.#attempts;
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await run();
        this.#state.ok();
        return result;
      } catch (err) {
        const kind = classify(err);
        if (kind === 'other') throw err;
        if (kind === 'unavailable') this.#state.down(reason(err));
        if (attempt >= attempts || this.#closed) {
          throw new NexoError(
            'STORAGE_UNAVAILABLE',
            kind === 'unavailable'
              ? `PostgreSQL at ${this.url} is unavailable: ${reason(err)}`
              : `PostgreSQL transaction kept conflicting with others (${reason(err)}); try again`,
            { engine: 'postgres' },
            { cause: err },
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50 * 4 ** (attempt - 1)));
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#probe);
    this.#listeners.clear();
    await this.pool.end().catch(() => {});
  }
}
