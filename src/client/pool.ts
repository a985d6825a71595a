import { NexoError } from '../errors.js';
import type { ClusterMembers } from '../wire/cluster.js';
import { calcApi } from './api/calc.js';
import { chatApi } from './api/chat.js';
import { echoApi } from './api/echo.js';
import { filesApi } from './api/files.js';
import { greetApi } from './api/greet.js';
import { nodeApi } from './api/node.js';
import type { CallHandle, CallOptions, RequestOptions } from './api/requester.js';
import { telemetryApi } from './api/telemetry.js';
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff.js';
import type { ClientOptions } from './client.js';
import { Emitter } from './emitter.js';
import { mayRepeat } from './idempotency.js';
import { type DiscoverOptions, type Discovery, discoveryOf, learnMembership } from './pool-discovery.js';
import { leastPending, Member } from './pool-member.js';
import { afterFailure, type Job } from './pool-retry.js';
import { type Endpoint, formatEndpoint, parseEndpoint } from './socket.js';

export interface PoolOptions extends Omit<ClientOptions, 'endpoints' | 'reconnect'> {
  /** Every node the pool may use: `host:port` strings or endpoints. One connection to each. */
  endpoints: readonly (string | Endpoint)[];
  /** Delays between attempts to reach a node that is down (§14.1.2). */
  backoff?: Partial<BackoffOptions>;
  /** Sends of a request that may be repeated, the first one included (§14.2.2). Default 3. */
  attempts?: number;
  /**
   * §14.1.4 Learn the cluster's other nodes from the membership of the nodes given (`node.members`): at
   * the start, every `intervalMs` and whenever a node goes down. Off by default.
   */
  discover?: boolean | DiscoverOptions;
}

export type { DiscoverOptions };

export interface PoolRequestOptions extends RequestOptions {
  /** Overrides the pool's `attempts` for this request. */
  attempts?: number;
}

export type PoolEvents = {
  /** A node's connection completed its handshake: it takes requests again. */
  up: [info: { endpoint: string }];
  /** A node's connection was lost or it is draining: no new requests go to it. */
  down: [info: { endpoint: string; error: NexoError | undefined }];
  /** A request is sent again after a lost connection (§14.2.2). */
  retry: [info: { service: string; method: string; attempt: number; error: NexoError }];
  /** §14.1.4 The membership added nodes to the pool, or removed discovered ones that left it. */
  discover: [info: { added: string[]; removed: string[] }];
};

/**
 * A client of several nodes at once, for setups without a load balancer (docs/protocol.md §14): one
 * connection per endpoint, each request sent on the healthy connection with the fewest open requests of
 * this pool (least pending), nodes that are down retried with backoff, and a request lost with its
 * connection sent again elsewhere only when repeating it is safe (idempotency.ts, §14.2); other requests
 * fail with OUTCOME_UNKNOWN. Chat memberships and telemetry watches opened through the pool move to another
 * node by themselves when theirs dies (§14.4, §14.5).
 *
 * Calc variables belong to one connection (§9 calc): with a pool, evaluations may land on different
 * connections, so use a NexoClient for a calculation that assigns variables.
 */
export class NexoPool extends Emitter<PoolEvents> {
  readonly endpoints: readonly Endpoint[];
  readonly calc = calcApi(this);
  readonly greet = greetApi(this);
  readonly echo = echoApi(this);
  readonly chat = chatApi(this, { resume: true });
  readonly node = nodeApi(this);
  readonly telemetry = telemetryApi(this, { resume: true });
  readonly files = filesApi(this);
  readonly #members: Member[] = [];
  readonly #clientOptions: Omit<PoolOptions, 'backoff' | 'attempts' | 'discover' | 'endpoints'>;
  readonly #discovery: Discovery | undefined;
  #discovering: Promise<void> | undefined;
  #discoverTimer: ReturnType<typeof setInterval> | undefined;
  readonly #backoff: BackoffOptions;
  readonly #attempts: number;
  readonly #requestTimeoutMs: number;
  readonly #maxQueued: number;
  readonly #queue: Job[] = [];
  readonly #healthyWaiters: (() => void)[] = [];
  #rotate = 0;
  #closed = false;
  #sweeper: ReturnType<typeof setInterval> | undefined;

  constructor(options: PoolOptions) {
    super();
    if (options.endpoints.length === 0) throw new TypeError('connectPool: at least one endpoint is needed');
    const attempts = options.attempts ?? 3;
    if (!Number.isInteger(attempts) || attempts < 1) {
      throw new TypeError(`connectPool: attempts must be a whole number ≥ 1, got ${attempts}`);
    }
    this.#attempts = attempts;
    this.#backoff = { ...DEFAULT_BACKOFF, ...options.backoff, maxAttempts: Infinity };
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.#maxQueued = options.maxQueued ?? 100_000;
    this.endpoints = options.endpoints.map((e) => (typeof e === 'string' ? parseEndpoint(e) : e));
    const { backoff: _b, attempts: _a, discover, endpoints: _e, ...client } = options;
    this.#clientOptions = client;
    for (const endpoint of this.endpoints) this.#add(endpoint, false);
    this.#discovery = discoveryOf(discover, this.endpoints);
  }

  /** Adds a connection to one node (none when the pool has one to that address already). */
  #add(endpoint: Endpoint, discovered: boolean): Member | undefined {
    const where = formatEndpoint(endpoint);
    if (this.#members.some((m) => m.endpoint === where)) return undefined; // one connection per node
    const options = { ...this.#clientOptions, endpoints: [endpoint], reconnect: this.#backoff };
    const member = new Member(where, options, discovered);
    member.client.on('connect', () => this.#onUp(member));
    member.client.on('disconnect', (error) => this.#onDown(member, error));
    member.client.on('goaway', () => this.#onDown(member, undefined));
    this.#members.push(member);
    return member;
  }

  /** `open` until closed (resumed subscriptions stop trying then, §14.3). */
  get state(): 'open' | 'closed' {
    return this.#closed ? 'closed' : 'open';
  }

  /** The endpoints whose connection is usable now. */
  get healthy(): string[] {
    return this.#members.filter((m) => m.healthy).map((m) => m.endpoint);
  }

  /** Open requests of this pool per endpoint. */
  get pending(): Record<string, number> {
    return Object.fromEntries(this.#members.map((m) => [m.endpoint, m.pending]));
  }

  /**
   * Connects to every endpoint at once; resolves as soon as one completed its handshake (the others keep
   * trying with backoff), rejects with the last error when none can be reached on this first pass.
   */
  async connect(): Promise<this> {
    const attempts = this.#members.map((m) => this.#reach(m));
    try {
      await Promise.any(attempts);
    } catch (err) {
      const errors = (err as AggregateError).errors as NexoError[];
      // Auth and version errors are the same everywhere: stop trying.
      if (errors.some((e) => e.code === 'AUTH_FAILED' || e.code === 'UNSUPPORTED_VERSION')) this.destroy();
      throw errors.at(-1) ?? new NexoError('CONNECTION_REFUSED', 'no endpoint');
    }
    if (this.#discovery !== undefined && !this.#closed && this.#discoverTimer === undefined) {
      await this.discover();
      this.#discoverTimer = setInterval(() => void this.discover(), this.#discovery.intervalMs);
      (this.#discoverTimer as { unref?: () => void }).unref?.();
    }
    return this;
  }

  /**
   * §14.1.4 Reads the membership from a healthy node (the next one when it fails) and adds a connection to
   * every member the pool does not know; a discovered node that left the membership and is not connected
   * is dropped. Runs by itself with `discover`; one run at a time.
   */
  discover(): Promise<void> {
    if (this.#discovery === undefined || this.#closed) return Promise.resolve();
    this.#discovering ??= this.#readMembership().finally(() => {
      this.#discovering = undefined;
    });
    return this.#discovering;
  }

  async #readMembership(): Promise<void> {
    for (const member of this.#members.filter((m) => m.healthy)) {
      let answer: ClusterMembers;
      try {
        answer = await member.client.request<ClusterMembers>('node', 'members', null, { timeout: 2000 });
      } catch {
        continue; // that node cannot read it now (§9.N.4): ask the next
      }
      if (!this.#closed) this.#learn(answer);
      return;
    }
  }

  #learn(answer: ClusterMembers): void {
    const { added, removed } = learnMembership(
      answer,
      this.#discovery!.port,
      this.#members,
      (endpoint) => this.#add(endpoint, true),
      (member) => this.#reach(member).catch(() => {}),
    );
    if (added.length > 0 || removed.length > 0) this.emit('discover', { added, removed });
  }

  /** §14.2 Sends a request on the least busy healthy node; repeats it elsewhere only when that is safe. */
  request<R = unknown>(
    service: string,
    method: string,
    args?: unknown,
    options?: PoolRequestOptions,
  ): Promise<R> {
    if (this.#closed) return Promise.reject(new NexoError('CONNECTION_LOST', 'the pool is closed'));
    const timeout = options?.timeout ?? this.#requestTimeoutMs;
    return new Promise<R>((resolve, reject) => {
      const job: Job = {
        service,
        method,
        args,
        deadline: timeout > 0 ? Date.now() + timeout : 0,
        repeat: mayRepeat(service, method, args),
        attemptsLeft: options?.attempts ?? this.#attempts,
        attempt: 0,
        signal: options?.signal,
        requestId: options?.requestId,
        resolve: resolve as (value: unknown) => void,
        reject,
      };
      if (job.signal?.aborted) {
        reject(new NexoError('CANCELLED', 'cancelled'));
        return;
      }
      if (this.#queue.length === 0) {
        const member = this.#choose();
        if (member !== undefined) {
          this.#send(job, member);
          return;
        }
      }
      this.#enqueue(job);
    });
  }

  /** Opens a call with streams on the least busy healthy node (never repeated: §14.2.4). */
  async call<R = unknown>(
    service: string,
    method: string,
    args: unknown,
    options: CallOptions = {},
  ): Promise<CallHandle<R>> {
    const member = await this.#healthyMember(options.signal);
    member.pending++;
    let handle: CallHandle<R>;
    try {
      handle = await member.client.call<R>(service, method, args, options);
    } catch (err) {
      member.pending--;
      throw err;
    }
    const done = () => {
      member.pending--;
      this.#dispatch();
    };
    handle.result.then(done, done);
    return handle;
  }

  /** Waits until some node is usable. */
  async ready(): Promise<void> {
    await this.#healthyMember(undefined);
  }

  /** Graceful close of every connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#stop(new NexoError('CONNECTION_LOST', 'the pool was closed'));
    await Promise.all(this.#members.map((m) => m.client.close()));
  }

  /** Closes every connection now, failing open requests. */
  destroy(): void {
    if (this.#closed) return;
    this.#stop(new NexoError('CONNECTION_LOST', 'the pool was destroyed'));
    for (const m of this.#members) m.client.destroy();
  }

  #stop(error: NexoError): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    clearInterval(this.#discoverTimer);
    for (const m of this.#members) clearTimeout(m.retryTimer);
    for (const job of this.#queue.splice(0)) job.reject(error);
    for (const wake of this.#healthyWaiters.splice(0)) wake();
  }

  // ---- health -------------------------------------------------------------------------------------

  /** §14.1.2 First contact with a node; a failure is retried with backoff until it answers once. */
  #reach(member: Member): Promise<void> {
    return member.client.connect().then(
      () => {
        member.reached = true;
        member.failures = 0;
      },
      (err: NexoError) => {
        const kept = this.#members.includes(member); // a discovered node may have been dropped meanwhile
        if (!this.#closed && kept && err.code !== 'AUTH_FAILED' && err.code !== 'UNSUPPORTED_VERSION') {
          const delay = backoffDelay(member.failures++, this.#backoff);
          member.retryTimer = setTimeout(() => {
            member.retryTimer = undefined;
            this.#reach(member).catch(() => {});
          }, delay);
          (member.retryTimer as { unref?: () => void }).unref?.();
        }
        throw err;
      },
    );
  }

  /** A node went down (lost, or draining): its requests move; the membership is read again (§14.1.4). */
  #onDown(member: Member, error: NexoError | undefined): void {
    this.emit('down', { endpoint: member.endpoint, error });
    if (this.#discoverTimer !== undefined) void this.discover();
  }

  #onUp(member: Member): void {
    this.emit('up', { endpoint: member.endpoint });
    for (const wake of this.#healthyWaiters.splice(0)) wake();
    this.#dispatch();
  }

  async #healthyMember(signal: AbortSignal | undefined): Promise<Member> {
    for (;;) {
      if (this.#closed) throw new NexoError('CONNECTION_LOST', 'the pool is closed');
      if (signal?.aborted) throw new NexoError('CANCELLED', 'cancelled');
      const member = this.#choose(true);
      if (member !== undefined) return member;
      await new Promise<void>((resolve) => {
        this.#healthyWaiters.push(resolve);
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
    }
  }

  /** §14.1.1 The least busy healthy member with a free slot (`ignoreSlots`: any healthy one). */
  #choose(ignoreSlots = false): Member | undefined {
    return leastPending(this.#members, this.#rotate++, ignoreSlots);
  }

  // ---- requests -----------------------------------------------------------------------------------

  #send(job: Job, member: Member): void {
    job.attempt++;
    job.attemptsLeft--;
    member.pending++;
    const timeout = job.deadline === 0 ? 0 : Math.max(1, job.deadline - Date.now());
    const options: RequestOptions = { timeout };
    if (job.signal !== undefined) options.signal = job.signal;
    if (job.requestId !== undefined) options.requestId = job.requestId;
    member.client.request(job.service, job.method, job.args, options).then(
      (value) => {
        member.pending--;
        job.resolve(value);
        if (this.#queue.length > 0) this.#dispatch();
      },
      (err: NexoError) => {
        member.pending--;
        this.#failed(job, member, err);
        if (this.#queue.length > 0) this.#dispatch();
      },
    );
  }

  /** §14.2.2–3 After a failed attempt: send again, or fail it with the right error. */
  #failed(job: Job, member: Member, error: NexoError): void {
    const verdict = afterFailure(job, member.endpoint, error, this.#closed);
    if (verdict === 'again') {
      this.emit('retry', { service: job.service, method: job.method, attempt: job.attempt + 1, error });
      this.#enqueue(job);
      return;
    }
    job.reject(verdict);
  }

  #enqueue(job: Job): void {
    if (this.#queue.length >= this.#maxQueued) {
      job.reject(new NexoError('RATE_LIMITED', 'too many requests are waiting for a node'));
      return;
    }
    this.#queue.push(job);
    if (this.#sweeper === undefined) {
      this.#sweeper = setInterval(() => this.#expire(), 50);
      (this.#sweeper as { unref?: () => void }).unref?.();
    }
    this.#dispatch();
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      const member = this.#choose();
      if (member === undefined) return;
      this.#send(this.#queue.shift()!, member);
    }
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
  }

  #expire(): void {
    const now = Date.now();
    for (let i = this.#queue.length - 1; i >= 0; i--) {
      const job = this.#queue[i]!;
      if (job.signal?.aborted) {
        this.#queue.splice(i, 1);
        job.reject(new NexoError('CANCELLED', 'cancelled'));
      } else if (job.deadline !== 0 && now >= job.deadline) {
        this.#queue.splice(i, 1);
        job.reject(
          new NexoError(
            'TIMEOUT',
            `${job.service}.${job.method}: no node of ${this.#members.map((m) => m.endpoint).join(', ')} could answer in time (healthy now: ${this.healthy.join(', ') || 'none'})`,
          ),
        );
      }
    }
  }
}
