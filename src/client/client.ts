import { NexoError } from '../errors.js';
import type { GoAway, Welcome } from '../protocol/payload.js';
import { calcApi } from './api/calc.js';
import { chatApi } from './api/chat.js';
import { echoApi } from './api/echo.js';
import { filesApi } from './api/files.js';
import { greetApi } from './api/greet.js';
import { nodeApi } from './api/node.js';
import type { CallHandle, CallOptions, RequestOptions } from './api/requester.js';
import { telemetryApi } from './api/telemetry.js';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
import { ClientConnection, type Pending } from './connection.js';
import { Emitter } from './emitter.js';
import {
  type ClientSocket,
  type Endpoint,
  formatEndpoint,
  parseEndpoint,
  type SocketFactory,
} from './socket.js';
import { describeSocketError } from './socket-errors.js';
import { WaitingLine } from './waiting-line.js';

export interface ClientOptions {
  /** Servers to use, in order of preference: `host:port` strings or endpoints. */
  endpoints: readonly (string | Endpoint)[];
  /** Opens sockets; `connect()` from the package entry uses TCP. */
  socketFactory: SocketFactory;
  /** Sent in HELLO; mapped to a role by the server. */
  token?: string | undefined;
  /** Client name sent in HELLO (shows in server logs). */
  name?: string;
  /** Per connection attempt (socket + handshake), ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Default request timeout, ms; 0 = none. Default 30000. */
  requestTimeoutMs?: number;
  /** Reconnect after a lost connection (default true), with these delays. */
  reconnect?: boolean | Partial<BackoffOptions>;
  /** Requests that may wait for a connection or a free slot. Default 100000. */
  maxQueued?: number;
}

export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export type ClientEvents = {
  connect: [info: { endpoint: string; welcome: Welcome }];
  disconnect: [error: NexoError | undefined];
  reconnecting: [info: { attempt: number; delayMs: number; endpoint: string }];
  goaway: [goAway: GoAway];
  queued: [position: number];
  /** A request could not be sent: the client gave up reconnecting. */
  error: [error: NexoError];
};

const CLIENT_NAME = 'nexo-client/0.1.0';

/**
 * A nexo client: one connection at a time to the first endpoint that answers, requests pipelined on it,
 * replies matched by id. When the connection is lost it reconnects with backoff, moving along the endpoint
 * list; on GOAWAY it opens a new connection at once and re-sends whatever the old one left unprocessed.
 */
export class NexoClient extends Emitter<ClientEvents> {
  readonly endpoints: readonly Endpoint[];
  /** Typed calls per service. */
  readonly calc = calcApi(this);
  readonly greet = greetApi(this);
  readonly echo = echoApi(this);
  readonly chat = chatApi(this);
  readonly node = nodeApi(this);
  readonly telemetry = telemetryApi(this);
  readonly files = filesApi(this);
  readonly #options: ClientOptions;
  readonly #backoff: BackoffOptions | undefined;
  readonly #waiting = new WaitingLine();
  /** Each connection's socket, for pause/resume of reading (CallHandle). */
  readonly #sockets = new WeakMap<ClientConnection, { socket: ClientSocket; pauses: number }>();
  #conn: ClientConnection | undefined;
  #index = 0;
  #state: ClientState = 'connecting';
  #connecting: Promise<void> | undefined;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: ClientOptions) {
    super();
    if (options.endpoints.length === 0) throw new TypeError('connect: at least one endpoint is needed');
    this.#options = options;
    this.endpoints = options.endpoints.map((e) => (typeof e === 'string' ? parseEndpoint(e) : e));
    const reconnect = options.reconnect ?? true;
    this.#backoff =
      reconnect === false ? undefined : { ...DEFAULT_BACKOFF, ...(reconnect === true ? {} : reconnect) };
  }

  get state(): ClientState {
    return this.#state;
  }

  /** WELCOME of the current connection. */
  get welcome(): Welcome | undefined {
    return this.#conn?.usable ? this.#conn.welcome : undefined;
  }

  /** The endpoint of the current connection. */
  get endpoint(): string {
    return formatEndpoint(this.endpoints[this.#index]!);
  }

  /**
   * Connects to the first endpoint that completes the handshake, trying each once. Rejects with the error
   * of the last endpoint (CONNECTION_REFUSED when nothing listens).
   */
  async connect(): Promise<this> {
    await this.#connectOnce();
    return this;
  }

  /** Sends one request and resolves with its result (§6.1). */
  request<R = unknown>(
    service: string,
    method: string,
    args?: unknown,
    options?: RequestOptions,
  ): Promise<R> {
    const timeout = options?.timeout ?? this.#options.requestTimeoutMs ?? 30_000;
    const deadline = timeout > 0 ? Date.now() + timeout : 0;
    const conn = this.#conn;
    if (
      options?.signal === undefined &&
      conn !== undefined &&
      conn.usable &&
      this.#waiting.length === 0 &&
      conn.inFlight < conn.welcome.limits.maxInFlight
    ) {
      return conn.send(service, method, args, deadline, undefined, options?.requestId) as Promise<R>;
    }
    return this.#queueRequest(
      service,
      method,
      args,
      deadline,
      options?.signal,
      options?.requestId,
    ) as Promise<R>;
  }

  /** Opens a call with streams (uploads, downloads, subscriptions). Waits for a connection first. */
  async call<R = unknown>(
    service: string,
    method: string,
    args: unknown,
    options: CallOptions = {},
  ): Promise<CallHandle<R>> {
    const conn = await this.#usableConnection();
    const timeout = options.timeout ?? 0;
    const result = conn.send(
      service,
      method,
      args,
      timeout > 0 ? Date.now() + timeout : 0,
      options,
      options.requestId,
    );
    const id = conn.lastId;
    const onAbort = () => conn.cancel(id, new NexoError('CANCELLED', 'cancelled'));
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const reading = this.#sockets.get(conn);
    let paused = false;
    const resume = () => {
      if (!paused || reading === undefined) return;
      paused = false;
      if (--reading.pauses === 0) reading.socket.resume?.();
    };
    const done = () => {
      options.signal?.removeEventListener('abort', onAbort);
      resume(); // a finished call never leaves the connection paused
    };
    result.then(done, done);
    return {
      id,
      result: result as Promise<R>,
      via: this,
      write: (bytes) => conn.sendChunk(id, bytes, false),
      end: (bytes) => conn.sendChunk(id, bytes ?? new Uint8Array(0), true),
      cancel: onAbort,
      pause: () => {
        if (paused || reading === undefined || conn.closed) return;
        paused = true;
        if (reading.pauses++ === 0) reading.socket.pause?.();
      },
      resume,
    };
  }

  /** Round trip of a PING on the current connection, in ms (§7.2). */
  async ping(timeoutMs = 5000): Promise<number> {
    const conn = await this.#usableConnection();
    return conn.ping(timeoutMs);
  }

  /** Waits until a connection is usable. */
  async ready(): Promise<void> {
    await this.#usableConnection();
  }

  /** Graceful close: open requests finish, then the connection ends. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#timer);
    this.#waiting.rejectAll(new NexoError('CONNECTION_LOST', 'the client was closed'));
    await this.#conn?.close();
  }

  /** Close now, failing open requests. */
  destroy(): void {
    this.#state = 'closed';
    clearTimeout(this.#reconnectTimer);
    clearInterval(this.#timer);
    this.#waiting.rejectAll(new NexoError('CONNECTION_LOST', 'the client was destroyed'));
    this.#conn?.destroy();
  }

  // ---- connecting ---------------------------------------------------------------------------------

  #connectOnce(): Promise<void> {
    this.#connecting ??= this.#tryEndpoints().finally(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /** One pass over the endpoints, starting at the current one. */
  async #tryEndpoints(): Promise<void> {
    let lastError: NexoError | undefined;
    for (let i = 0; i < this.endpoints.length; i++) {
      if (this.#state === 'closed') throw new NexoError('CONNECTION_LOST', 'the client was closed');
      const index = (this.#index + i) % this.endpoints.length;
      try {
        await this.#open(index);
        return;
      } catch (err) {
        lastError = err as NexoError;
        if (lastError.code === 'AUTH_FAILED' || lastError.code === 'UNSUPPORTED_VERSION') throw lastError;
      }
    }
    throw lastError ?? new NexoError('CONNECTION_REFUSED', 'no endpoint');
  }

  async #open(index: number): Promise<void> {
    const endpoint = this.endpoints[index]!;
    const where = formatEndpoint(endpoint);
    const timeoutMs = this.#options.connectTimeoutMs ?? 5000;
    const signal = AbortSignal.timeout(timeoutMs);
    let conn: ClientConnection;
    try {
      const socket = await this.#options.socketFactory(endpoint, signal);
      conn = new ClientConnection(socket);
      this.#sockets.set(conn, { socket, pauses: 0 });
    } catch (err) {
      // A socket factory that hears a refusal from the node itself (UDP's REFUSED) says so with its code.
      if (err instanceof NexoError) throw err;
      throw describeSocketError(err as Error & { code?: string }, where, timeoutMs);
    }
    conn.events = {
      onQueued: (position) => this.emit('queued', position),
      onGoAway: (goAway) => this.#onGoAway(conn, goAway),
      onClosed: (error, unanswered) => this.#onClosed(conn, error, unanswered),
      onSlotFree: () => {
        if (this.#waiting.length > 0 && this.#conn === conn) this.#dispatchWaiting();
      },
    };
    const welcome = await conn.handshake(
      { client: this.#options.name ?? CLIENT_NAME, token: this.#options.token },
      // While queued (§7.1) the wait is the server's to decide; only the socket attempt is bounded.
      24 * 3600 * 1000,
    );
    this.#index = index;
    this.#conn = conn;
    this.#attempt = 0;
    if (this.#state !== 'closed') this.#state = 'open';
    this.#timer ??= setInterval(() => this.#expireWaiting(), 100);
    (this.#timer as { unref?: () => void }).unref?.();
    this.emit('connect', { endpoint: where, welcome });
    this.#dispatchWaiting();
  }

  #onGoAway(conn: ClientConnection, goAway: GoAway): void {
    this.emit('goaway', goAway);
    if (this.#conn !== conn || this.#state === 'closed') return;
    // Move on now, preferring another node; the old connection finishes its requests meanwhile.
    this.#index = (this.#index + 1) % this.endpoints.length;
    this.#state = 'reconnecting';
    this.#connectOnce().catch(() => this.#scheduleReconnect());
  }

  #onClosed(conn: ClientConnection, error: NexoError | undefined, unanswered: Pending[]): void {
    if (this.#conn === conn) this.#conn = undefined;
    if (this.#state === 'closed') {
      for (const p of unanswered) p.reject(new NexoError('CONNECTION_LOST', 'the client was closed'));
      return;
    }
    this.emit('disconnect', error);
    // Unprocessed requests ride on the next connection (§7.3).
    for (const p of unanswered) this.#waiting.resendLater(p);
    if (this.#conn?.usable) {
      this.#dispatchWaiting();
      return;
    }
    if (this.#connecting !== undefined) return;
    if (
      error?.code === 'AUTH_FAILED' ||
      error?.code === 'UNSUPPORTED_VERSION' ||
      this.#backoff === undefined
    ) {
      this.#giveUp(error ?? new NexoError('CONNECTION_LOST', 'the connection closed'));
      return;
    }
    this.#state = 'reconnecting';
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#state === 'closed' || this.#reconnectTimer !== undefined || this.#backoff === undefined) return;
    if (this.#attempt >= this.#backoff.maxAttempts) {
      this.#giveUp(new NexoError('CONNECTION_LOST', `gave up after ${this.#attempt} reconnection attempts`));
      return;
    }
    const delayMs = backoffDelay(this.#attempt++, this.#backoff);
    this.emit('reconnecting', { attempt: this.#attempt, delayMs, endpoint: this.endpoint });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.#connectOnce().catch((err: NexoError) => {
        if (err.code === 'AUTH_FAILED' || err.code === 'UNSUPPORTED_VERSION') this.#giveUp(err);
        else {
          this.#index = (this.#index + 1) % this.endpoints.length;
          this.#scheduleReconnect();
        }
      });
    }, delayMs);
  }

  #giveUp(error: NexoError): void {
    this.#state = 'closed';
    this.#waiting.rejectAll(error);
    this.emit('error', error);
  }

  async #usableConnection(): Promise<ClientConnection> {
    for (;;) {
      if (this.#state === 'closed') throw new NexoError('CONNECTION_LOST', 'the client is closed');
      const conn = this.#conn;
      if (conn?.usable) return conn;
      if (this.#state === 'connecting' && this.#connecting === undefined) await this.#connectOnce();
      else await this.#waiting.ready();
    }
  }

  // ---- requests waiting for a connection or a slot ------------------------------------------------

  #queueRequest(
    service: string,
    method: string,
    args: unknown,
    deadline: number,
    signal?: AbortSignal,
    requestId?: string,
  ): Promise<unknown> {
    if (this.#state === 'closed')
      return Promise.reject(new NexoError('CONNECTION_LOST', 'the client is closed'));
    if (this.#waiting.length >= (this.#options.maxQueued ?? 100_000)) {
      return Promise.reject(
        new NexoError('RATE_LIMITED', 'too many requests are waiting for the connection'),
      );
    }
    if (signal?.aborted) return Promise.reject(new NexoError('CANCELLED', 'cancelled'));
    return new Promise((resolve, reject) => {
      this.#waiting.addRequest({ service, method, args, deadline, requestId, resolve, reject }, signal);
      if (this.#state === 'connecting' && this.#conn === undefined) {
        this.#connectOnce().catch((err: NexoError) => {
          if (this.#backoff === undefined) this.#giveUp(err);
          else {
            this.#state = 'reconnecting';
            this.#scheduleReconnect();
          }
        });
      }
      this.#dispatchWaiting();
    });
  }

  #dispatchWaiting(): void {
    const conn = this.#conn;
    if (conn === undefined || !conn.usable) return;
    this.#waiting.dispatch(conn);
  }

  #expireWaiting(): void {
    this.#waiting.expire(
      Date.now(),
      () =>
        new NexoError(
          'TIMEOUT',
          this.#state === 'open'
            ? 'no reply in time'
            : `no connection to ${this.endpoint} in time (${this.#state})`,
        ),
    );
  }
}
