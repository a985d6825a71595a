import { NexoError } from '../errors.js';
import {
  Flags,
  FrameType,
  frameTypeName,
  idZeroMessage,
  MAX_ID,
  mustHaveIdZero,
  PREFACE,
  PROTOCOL_VERSIONS,
} from '../protocol/constants.js';
import { FrameDecoder } from '../protocol/decoder.js';
import { FrameBatch } from '../protocol/encoder.js';
import { type Frame, isOversize } from '../protocol/frame.js';
import {
  type GoAway,
  packValue,
  parseErrorPayload,
  parseGoAway,
  parseWelcome,
  unpackFrame,
  type Welcome,
} from '../protocol/payload.js';
import { writeRequest } from '../protocol/small-values.js';
import type { ClientSocket } from './socket.js';

/** Handlers for the frames of one call besides its final reply. */
export interface CallHandlers {
  onProgress?(value: unknown): void;
  onEvent?(value: unknown): void;
  /** A CHUNK from the server; `end` on the last one. */
  onChunk?(bytes: Uint8Array, end: boolean): void;
}

/** One request sent and not yet answered. */
class Pending {
  constructor(
    public resolve: (value: unknown) => void,
    public reject: (error: NexoError) => void,
    readonly handlers: CallHandlers | undefined,
    /**
     * The request's payload as sent, `bytes[start, end)`, kept so that an unanswered request can move to a
     * new connection after GOAWAY (§7.3). Usually a region of the batch's slab, which is never rewritten.
     */
    readonly bytes: Uint8Array,
    readonly start: number,
    readonly end: number,
    readonly deadline: number,
  ) {}
}

export interface ConnectionEvents {
  /** The server is draining (§7.3); no new requests should use this connection. */
  onGoAway(goAway: GoAway): void;
  /** The connection ended. `unanswered` were sent but never processed, so they may be retried (§7.3). */
  onClosed(error: NexoError | undefined, unanswered: Pending[]): void;
  /** The server put us in its wait queue (§7.1). */
  onQueued(position: number): void;
  /** A request got its final reply: one more may be sent within maxInFlight. */
  onSlotFree(): void;
}

export type { Pending };

const DEFAULT_MAX_FRAME = 64 * 1024 * 1024;

/**
 * §7.4.1 as the node does it: requests made in one burst leave in one write per this many frames (and the
 * rest at the end of the turn), so that with many in flight the node starts on the first ones while the
 * client is still making the others.
 */
export const FRAMES_PER_WRITE = 16;

/**
 * One live client connection: handshake, request ids, matching replies (they may come back in any order),
 * PING/PONG, GOAWAY. Reconnecting and failover are NexoClient's job, one level up.
 */
export class ClientConnection {
  readonly #socket: ClientSocket;
  readonly #decoder = new FrameDecoder({ maxPayload: DEFAULT_MAX_FRAME, preface: true });
  readonly #batch = new FrameBatch();
  readonly #pending = new Map<number, Pending>();
  readonly #pings = new Map<number, { sent: number; resolve(rtt: number): void }>();
  #nextId = 1;
  /** Set once the ids wrapped (after 2^32-1 requests): from then on a new id may still be open. */
  #wrapped = false;
  #lastId = 0;
  /** batch.frames at the last write. */
  #framesWritten = 0;
  /** The promise executor of send(), made once: it leaves the promise's functions here. */
  readonly #capture = (resolve: (value: unknown) => void, reject: (error: NexoError) => void) => {
    this.#resolve = resolve;
    this.#reject = reject;
  };
  #resolve: (value: unknown) => void = noop;
  #reject: (error: NexoError) => void = noop;
  /** The request being written by send(), reused so that no object is made per request. */
  readonly #head: RequestHead = { service: '', method: '', args: undefined, requestId: undefined };
  #nextPing = 1;
  #flushScheduled = false;
  #welcome: Welcome | undefined;
  #handshake: { resolve(w: Welcome): void; reject(e: NexoError): void } | undefined;
  #goAway: GoAway | undefined;
  #closed = false;
  #closeError: NexoError | undefined;
  #drainWaiters: (() => void)[] = [];
  #writable = true;
  #sweeper: ReturnType<typeof setInterval> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #lastReceivedAt = Date.now();
  #heartbeatPingAt = 0;
  events: ConnectionEvents | undefined;

  constructor(socket: ClientSocket) {
    this.#socket = socket;
    socket.onData = (bytes) => this.#onData(bytes);
    socket.onDrain = () => {
      // The server is reading what we send (an upload): it is alive even if it has nothing to say, and our
      // PING may be queued behind megabytes of chunks.
      this.#lastReceivedAt = Date.now();
      this.#heartbeatPingAt = 0;
      this.#writable = true;
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
    };
    socket.onClose = (error) => this.#onClose(error);
  }

  get welcome(): Welcome {
    if (this.#welcome === undefined) throw new Error('handshake not complete');
    return this.#welcome;
  }

  /** The id of the last request sent (see send). */
  get lastId(): number {
    return this.#lastId;
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /** True while new requests may be sent on this connection. */
  get usable(): boolean {
    return !this.#closed && this.#goAway === undefined && this.#welcome !== undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** §5 Sends the preface and HELLO; resolves with WELCOME. */
  handshake(hello: { client: string; token?: string | undefined }, timeoutMs: number): Promise<Welcome> {
    return new Promise<Welcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#handshake = undefined;
        reject(new NexoError('HANDSHAKE_TIMEOUT', `no WELCOME within ${timeoutMs} ms`));
        this.destroy();
      }, timeoutMs);
      this.#handshake = {
        resolve: (w) => {
          clearTimeout(timer);
          resolve(w);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const payload: Record<string, unknown> = { versions: [...PROTOCOL_VERSIONS], client: hello.client };
      if (hello.token !== undefined) payload.token = hello.token;
      this.#batch.addRaw(PREFACE);
      this.#batch.add(FrameType.HELLO, 0, 0, packValue(payload));
      this.#flush();
    });
  }

  /**
   * §6 Sends a REQUEST; resolves with the final RESPONSE, rejects with the ERROR. The id it used is `lastId`
   * until the next request (0 when it was refused before sending). No object per call beyond the promise and
   * its entry: the client's hot path.
   */
  send(
    service: string,
    method: string,
    args: unknown,
    deadline: number,
    handlers?: CallHandlers,
    requestId?: string,
  ): Promise<unknown> {
    const limit = this.#welcome?.limits.maxFrame ?? Number.POSITIVE_INFINITY;
    const id = this.#allocateId();
    const batch = this.#batch;
    let bytes: Uint8Array;
    let start = 0;
    let end: number;
    // §6.1.1 Small requests are written straight into the batch (small-values.ts, msgpackr's own bytes).
    this.#head.service = service;
    this.#head.method = method;
    this.#head.args = args;
    this.#head.requestId = requestId;
    const written = batch.addWritten(FrameType.REQUEST, 0, id, this.#head, writeHead, limit);
    this.#head.args = undefined;
    if (written) {
      bytes = batch.written;
      start = batch.writtenStart;
      end = batch.writtenEnd;
    } else {
      // §6.1.4 The caller's request id travels as a fourth element; without one the array stays as it was.
      bytes =
        requestId === undefined
          ? packValue([service, method, args ?? null])
          : packValue([service, method, args ?? null, { rid: requestId }]);
      end = bytes.length;
      if (end > limit) {
        // §4.4.2 Refused here, before wasting the bandwidth (the server would end the connection).
        this.#lastId = 0;
        this.#nextId = id; // the id was not used
        return Promise.reject(
          new NexoError(
            'FRAME_TOO_LARGE',
            `the request is ${end} bytes; this server accepts at most ${limit}`,
            {
              limit,
              length: end,
            },
          ),
        );
      }
      batch.add(FrameType.REQUEST, 0, id, bytes);
    }
    this.#lastId = id;
    const result = new Promise<unknown>(this.#capture);
    this.#pending.set(id, new Pending(this.#resolve, this.#reject, handlers, bytes, start, end, deadline));
    // §7.4.1 on this side too: a burst of requests leaves in writes of FRAMES_PER_WRITE, so the node works
    // on the first while the rest are made; the remainder leaves at the end of the turn.
    if (batch.frames - this.#framesWritten >= FRAMES_PER_WRITE) this.#flush();
    else this.#scheduleFlush();
    if (deadline > 0 && this.#sweeper === undefined) this.#startSweeper();
    return result;
  }

  /** Re-sends a request that another connection never got answered (after GOAWAY). */
  resend(pending: Pending): void {
    const id = this.#allocateId();
    this.#pending.set(id, pending);
    this.#batch.addCopy(FrameType.REQUEST, 0, id, pending.bytes, pending.start, pending.end);
    this.#scheduleFlush();
  }

  /** §6.4 Sends a CHUNK for an open request; resolves when the socket can take more. */
  sendChunk(id: number, bytes: Uint8Array, end: boolean): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closeError ?? lost());
    const limit = this.#welcome?.limits.maxFrame ?? Number.POSITIVE_INFINITY;
    if (bytes.length > limit) {
      return Promise.reject(
        new NexoError('FRAME_TOO_LARGE', `chunk of ${bytes.length} bytes exceeds maxFrame ${limit}`),
      );
    }
    this.#batch.add(FrameType.CHUNK, end ? Flags.END : 0, id, bytes);
    this.#flush();
    if (this.#writable) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** §6.6 Cancels a request: its promise rejects with CANCELLED now. */
  cancel(id: number, reason?: NexoError): void {
    const pending = this.#pending.get(id);
    if (pending === undefined) return;
    this.#pending.delete(id);
    this.#batch.add(FrameType.CANCEL, 0, id);
    this.#scheduleFlush();
    pending.reject(reason ?? new NexoError('CANCELLED', 'cancelled'));
  }

  /** §7.2 Round trip of a PING, in milliseconds. */
  ping(timeoutMs: number): Promise<number> {
    const n = this.#nextPing++;
    const payload = new Uint8Array(4);
    new DataView(payload.buffer).setUint32(0, n);
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pings.delete(n);
        reject(new NexoError('TIMEOUT', `no PONG within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pings.set(n, {
        sent: performance.now(),
        resolve: (rtt) => {
          clearTimeout(timer);
          resolve(rtt);
        },
      });
      this.#batch.add(FrameType.PING, 0, 0, payload);
      this.#flush();
    });
  }

  /** §7.3 Graceful close: GOAWAY, wait for open requests, then half-close. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#welcome !== undefined) {
      this.#batch.add(
        FrameType.GOAWAY,
        0,
        0,
        packValue({ code: 'SHUTTING_DOWN', message: 'client closing' }),
      );
      this.#flush();
    }
    if (this.#pending.size > 0) {
      await Promise.allSettled([...this.#pending.values()].map((p) => new Promise((r) => wrapSettle(p, r))));
    }
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  // ---- incoming ---------------------------------------------------------------------------------

  #onData(bytes: Uint8Array): void {
    this.#lastReceivedAt = Date.now();
    this.#heartbeatPingAt = 0;
    try {
      this.#decoder.push(bytes);
      for (let frame = this.#decoder.next(); frame !== undefined; frame = this.#decoder.next()) {
        if (isOversize(frame)) {
          throw new NexoError(
            'PROTOCOL_ERROR',
            `server sent a ${frame.length}-byte frame, over the client limit`,
          );
        }
        this.#onFrame(frame);
      }
    } catch (err) {
      this.#fail(err instanceof NexoError ? err : new NexoError('PROTOCOL_ERROR', String(err)));
      return;
    }
    if (!this.#batch.isEmpty) this.#flush();
  }

  #onFrame(frame: Frame): void {
    if (frame.id !== 0 && mustHaveIdZero(frame.type)) {
      throw new NexoError('PROTOCOL_ERROR', idZeroMessage(frame.type, frame.id));
    }
    switch (frame.type) {
      case FrameType.RESPONSE: {
        const pending = this.#pending.get(frame.id);
        if (pending === undefined) return; // cancelled or timed out: late replies are dropped (§6.6)
        const value = unpackFrame(frame, 'PROTOCOL_ERROR', 'replace');
        if ((frame.flags & Flags.MORE) !== 0) {
          pending.handlers?.onProgress?.(value);
          return;
        }
        this.#pending.delete(frame.id);
        pending.resolve(value);
        this.events?.onSlotFree();
        return;
      }
      case FrameType.ERROR: {
        const error = parseErrorPayload(frame);
        if (frame.id === 0) {
          this.#fail(error);
          return;
        }
        const pending = this.#pending.get(frame.id);
        if (pending === undefined) return;
        this.#pending.delete(frame.id);
        pending.reject(error);
        this.events?.onSlotFree();
        return;
      }
      case FrameType.EVENT: {
        if (frame.id === 0) {
          const event = unpackFrame(frame, 'PROTOCOL_ERROR', 'replace') as
            | { type?: string; position?: number }
            | undefined;
          if (event?.type === 'queued') this.events?.onQueued(Number(event.position) || 0);
          return;
        }
        this.#pending.get(frame.id)?.handlers?.onEvent?.(unpackFrame(frame, 'PROTOCOL_ERROR', 'replace'));
        return;
      }
      case FrameType.CHUNK: {
        this.#pending.get(frame.id)?.handlers?.onChunk?.(frame.payload, (frame.flags & Flags.END) !== 0);
        return;
      }
      case FrameType.WELCOME: {
        if (this.#welcome !== undefined) throw new NexoError('PROTOCOL_ERROR', 'second WELCOME');
        this.#welcome = parseWelcome(frame);
        this.#decoder.maxPayload = Math.max(this.#decoder.maxPayload, this.#welcome.limits.maxFrame);
        this.#startHeartbeat(this.#welcome.limits.heartbeatMs);
        this.#handshake?.resolve(this.#welcome);
        this.#handshake = undefined;
        return;
      }
      case FrameType.PING:
        this.#batch.add(FrameType.PONG, 0, 0, frame.payload);
        return;
      case FrameType.PONG: {
        if (frame.payload.length < 4) return;
        const n = new DataView(frame.payload.buffer, frame.payload.byteOffset, 4).getUint32(0);
        const ping = this.#pings.get(n);
        if (ping === undefined) return;
        this.#pings.delete(n);
        ping.resolve(performance.now() - ping.sent);
        return;
      }
      case FrameType.GOAWAY: {
        this.#goAway = parseGoAway(frame);
        this.events?.onGoAway(this.#goAway);
        return;
      }
      default:
        throw new NexoError('PROTOCOL_ERROR', `a server may not send ${frameTypeName(frame.type)}`);
    }
  }

  #onClose(socketError: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    clearInterval(this.#heartbeat);
    const error =
      this.#closeError ??
      (socketError
        ? new NexoError('CONNECTION_LOST', `connection failed: ${socketError.message}`)
        : undefined);
    this.#handshake?.reject(
      error ?? new NexoError('NOT_NEXO', 'the server closed the connection during the handshake'),
    );
    this.#handshake = undefined;
    // After GOAWAY, whatever got no reply was never processed and may go elsewhere (§7.3).
    const unanswered: Pending[] = [];
    const failure = error ?? lost();
    for (const pending of this.#pending.values()) {
      if (this.#goAway !== undefined && pending.handlers === undefined) unanswered.push(pending);
      else pending.reject(failure);
    }
    this.#pending.clear();
    for (const waiter of this.#drainWaiters) waiter();
    this.#drainWaiters = [];
    this.events?.onClosed(error, unanswered);
  }

  #fail(error: NexoError): void {
    this.#closeError ??= error;
    this.#handshake?.reject(error);
    this.#handshake = undefined;
    this.#socket.destroy();
  }

  // ---- outgoing ---------------------------------------------------------------------------------

  #allocateId(): number {
    // Ids wrap after 2^32-1 requests; an id still open is skipped.
    let id = this.#nextId;
    if (this.#wrapped) while (this.#pending.has(id)) id = id === MAX_ID ? 1 : id + 1;
    if (id === MAX_ID) {
      this.#nextId = 1;
      this.#wrapped = true;
    } else this.#nextId = id + 1;
    return id;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    // Requests made in the same turn leave in one write.
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#batch.isEmpty || this.#closed) return;
    this.#framesWritten = this.#batch.frames;
    for (const part of this.#batch.take()) {
      if (!this.#socket.write(part)) this.#writable = false;
    }
  }

  /**
   * §7.2.3 A server we hear nothing from for heartbeatMs gets a PING; if still nothing arrives within another
   * heartbeatMs the connection is dead (a crashed host, a cut cable): fail it so the client reconnects,
   * instead of waiting for TCP to notice, which can take many minutes.
   */
  #startHeartbeat(heartbeatMs: number): void {
    if (heartbeatMs <= 0) return;
    this.#heartbeat = setInterval(
      () => {
        const now = Date.now();
        if (this.#heartbeatPingAt !== 0) {
          if (now - this.#heartbeatPingAt > heartbeatMs) {
            this.#fail(
              new NexoError('HEARTBEAT_TIMEOUT', `the server did not answer a PING within ${heartbeatMs} ms`),
            );
          }
        } else if (now - this.#lastReceivedAt > heartbeatMs) {
          this.#heartbeatPingAt = now;
          this.#batch.add(FrameType.PING, 0, 0);
          this.#flush();
        }
      },
      Math.max(10, Math.floor(heartbeatMs / 4)),
    );
    (this.#heartbeat as { unref?: () => void }).unref?.();
  }

  #startSweeper(): void {
    if (this.#sweeper !== undefined) return;
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      for (const [id, pending] of this.#pending) {
        if (pending.deadline > 0 && now >= pending.deadline) {
          this.cancel(id, new NexoError('TIMEOUT', 'no reply in time'));
        }
      }
    }, 50);
    // Do not keep a process alive just for this.
    (this.#sweeper as { unref?: () => void }).unref?.();
  }
}

interface RequestHead {
  service: string;
  method: string;
  args: unknown;
  requestId: string | undefined;
}

function writeHead(head: RequestHead, target: Uint8Array, at: number, limit: number): number {
  return writeRequest(head.service, head.method, head.args, head.requestId, target, at, limit);
}

function noop(): void {}

function lost(): NexoError {
  return new NexoError('CONNECTION_LOST', 'the connection closed before the reply arrived');
}

function wrapSettle(pending: Pending, done: (v: unknown) => void): void {
  const { resolve, reject } = pending;
  pending.resolve = (v) => {
    resolve(v);
    done(v);
  };
  pending.reject = (e) => {
    reject(e);
    done(e);
  };
}
