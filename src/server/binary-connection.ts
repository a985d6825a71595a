import { SharedEvent } from '../contract/shared-event.js';
import { NexoError, toNexoError, withRequestId } from '../errors.js';
import {
  Flags,
  FrameType,
  frameTypeName,
  HANDSHAKE_MAX_PAYLOAD,
  idZeroMessage,
  MAX_PING_PAYLOAD,
  mustHaveIdZero,
  PROTOCOL_VERSIONS,
} from '../protocol/constants.js';
import { FrameDecoder } from '../protocol/decoder.js';
import { type DecodedFrame, type Frame, isOversize, type OversizeFrame } from '../protocol/frame.js';
import { packValue, parseHello, parseRequest, unpackValue, type Welcome } from '../protocol/payload.js';
import type { Conduit } from '../transport/types.js';
import { clip } from '../util/clip.js';
import type { Histogram } from '../util/histogram.js';
import { formatDuration } from '../util/units.js';
import { Call, type CallSink } from './call-context.js';
import { ChunkQueue } from './chunk-queue.js';
import { type ConnectionHost, countLimit } from './host.js';
import { PeerConnection, Phase, type ReconnectHint } from './peer-connection.js';
import { Replies } from './replies.js';

const SERVER_NAME = 'nexo/0.1.0';

/**
 * §7.4.1 Replies leave in one write per this many frames read, not only at the end of the input at hand. A
 * client that pipelines deeply then gets its first replies while the server works on the rest, so both ends
 * work at once instead of taking turns. Measured at 64 requests in flight (bench/protocol.ts,
 * docs/benchmarks.md): once per read, echo did ~610k round trips/s on an Intel VM and ~700k on an AMD one;
 * every 32 frames ~930k and ~800k; every 16 frames ~1.0-1.4M on the AMD VM, where 32 lost to it in every
 * round (on the Intel one 16 had measured below 32). Every 8 spends more on write syscalls than it gains.
 */

/** A session that has received nothing for this long, with nothing in flight, lets go of its output slab. */
const SLAB_IDLE_MS = 1000;
export const FRAMES_PER_WRITE = 16;

/**
 * The calls map of a connection with no call open past its turn: shared, and never written (#onRequest gives
 * a connection its own map first). An idle session holds no map of its own (~220 bytes, bench/idle.ts).
 */
const NO_CALLS: Map<number, Call> = new Map();

/**
 * One binary-mode client: the connection state machine of spec §7. Frames come from the pure decoder; each
 * REQUEST is resolved by the dispatcher and run; replies leave in batches, one write per read of input or per
 * FRAMES_PER_WRITE frames read (§7.4.1).
 *
 * Reading stops (the socket is paused, nothing more is decoded) while any of these hold (§7.4):
 * - `maxInFlight` handlers are running;
 * - the peer is not reading our replies (write() returned false);
 * - an upload's handler has not consumed its buffered chunks.
 */
export class BinaryConnection extends PeerConnection implements CallSink {
  readonly #decoder: FrameDecoder;
  readonly #batch: Replies;
  /** Calls that outlived the turn they started in (NO_CALLS when there are none). */
  #calls = NO_CALLS;
  #busy = 0;
  #inputsFull = 0;
  #pumping = false;
  #flushScheduled = false;
  #pumpScheduled = false;
  #lastFrameAt = 0;
  #lastRequestAt = 0;
  #pingSentAt = 0;
  #peerEnded = false;
  /** The last pump stopped because no complete frame was left (not because of backpressure). */
  #starved = false;
  /** An oversize payload was refused: the rest of the stream can no longer be parsed (§4.4.3). */
  #readStopped = false;
  /** The batch's frame count already added to the node's framesOut. */
  #framesCounted = 0;
  /** `--trace`: every frame is logged (never its payload). */
  readonly #tracing: boolean;
  /** When the current pump began (`performance.now()`): the start of every request it reads. */
  #pumpStart = 0;
  /**
   * Finished calls whose latency is observed at the next flush, when their replies leave: one clock reading
   * per pump and one per flush, not two per request (the hot path; bench/metrics.ts measures the cost).
   */
  readonly #timed: Histogram[] = [];
  readonly #timedStart: number[] = [];
  /**
   * How many calls each entry stands for: the calls of one method read in one pump share a start and a
   * histogram, so a burst of them is one entry, observed once (the node's CPU per echo request rose from
   * ~0.28 to ~0.34 µs with the per-request pushes of 1b34b43, bench/server-path.ts).
   */
  readonly #timedCount: number[] = [];

  constructor(conduit: Conduit, firstBytes: Uint8Array, host: ConnectionHost, id: number) {
    super(conduit, 'binary', host, id);
    this.#batch = new Replies(host.options.maxFrame, host.stats);
    this.#tracing = host.options.trace;
    if (this.#tracing) {
      this.keepLogger();
      this.#batch.trace = (type, flags, id, bytes) =>
        this.log.info({ dir: 'out', frame: frameTypeName(type), id, flags, bytes }, 'frame');
    }
    this.#decoder = new FrameDecoder({ maxPayload: HANDSHAKE_MAX_PAYLOAD, preface: true });
    this.#decoder.push(firstBytes);
    this.stream.on('data', (chunk: Buffer) => {
      this.host.stats.bytesIn += chunk.length;
      if (this.phase >= Phase.Closing || this.#readStopped) return; // nothing more is read
      this.#lastFrameAt = this.host.now();
      try {
        this.#decoder.push(chunk);
      } catch (err) {
        this.#fatal(toNexoError(err));
        return;
      }
      if (this.beginTurn(() => this.#pump())) this.#pump();
    });
    this.stream.on('end', () => this.#onPeerEnd());
  }

  get idle(): boolean {
    return this.#calls.size === 0;
  }

  // ---- lifecycle (called by the node) -------------------------------------------------------------

  queued(position: number): void {
    this.#batch.preface();
    this.#batch.add(
      FrameType.EVENT,
      0,
      0,
      packValue({
        type: 'queued',
        position,
        message: `all client slots are busy; you are number ${position} in line`,
      }),
    );
    this.#flush();
  }

  admit(): void {
    if (this.phase !== Phase.Queued) return;
    this.phase = Phase.Handshake;
    const now = this.host.now();
    this.deadline = now + this.host.options.handshakeTimeoutMs;
    this.#lastFrameAt = now;
    this.#pump();
  }

  refuse(error: NexoError): void {
    this.#fatal(error);
  }

  goAway(error: NexoError, hint?: ReconnectHint): void {
    if (this.phase === Phase.Handshake || this.phase === Phase.Queued) {
      this.#fatal(error);
      return;
    }
    if (this.phase !== Phase.Open && this.phase !== Phase.Draining) return;
    if (this.phase === Phase.Open) {
      this.phase = Phase.Draining;
      this.#batch.add(FrameType.GOAWAY, 0, 0, packValue({ ...error.toPayload(), ...hint }));
    }
    // Subscriptions never end on their own: end them now so the connection can close (§7.3).
    for (const call of this.#calls.values()) {
      if (call.longLived) this.#finishWithError(call, error);
    }
    this.#closeIfDone();
    this.#flush();
  }

  protected tickMode(now: number): void {
    const o = this.host.options;
    if (this.phase === Phase.Handshake) {
      if (now > this.deadline) {
        countLimit(this.host.stats, 'hello_timeout');
        this.#fatal(new NexoError('HANDSHAKE_TIMEOUT', `no HELLO within ${o.handshakeTimeoutMs} ms`));
      }
      return;
    }
    if (this.phase !== Phase.Open && this.phase !== Phase.Draining) return;
    if (o.heartbeatMs > 0 && now - this.#lastFrameAt > o.heartbeatMs) {
      if (this.#pingSentAt === 0) {
        this.#pingSentAt = now;
        this.#batch.add(FrameType.PING, 0, 0);
        this.#flush();
      } else if (now - this.#pingSentAt > o.heartbeatMs) {
        // §7.2.2 A client that is alive but stalled can still read why: ERROR id 0, then close.
        this.log.info('no PONG: closing');
        this.#fatal(
          new NexoError(
            'HEARTBEAT_TIMEOUT',
            `nothing received for ${formatDuration(2 * o.heartbeatMs)} after a PING`,
          ),
        );
        return;
      }
    }
    // An idle session keeps no output slab, calls map or decoder chunk list (bench/idle.ts): nothing in
    // flight and nothing heard for a while.
    if (this.#calls.size === 0 && now - this.#lastFrameAt > SLAB_IDLE_MS) this.#release();
    if (o.idleTimeoutMs > 0 && this.phase === Phase.Open && this.#calls.size === 0) {
      if (now - Math.max(this.#lastRequestAt, this.session.openedAt) > o.idleTimeoutMs) {
        this.goAway(new NexoError('IDLE_TIMEOUT', `no requests for ${formatDuration(o.idleTimeoutMs)}`));
      }
    }
  }

  #release(): void {
    this.#batch.release();
    this.#decoder.release();
    this.#calls = NO_CALLS;
  }

  protected cleanup(): void {
    const lost = new NexoError('CONNECTION_LOST', 'the connection closed');
    for (const call of this.#calls.values()) call.abort(lost);
    this.#calls.clear();
    this.log.info(
      {
        peer: this.session.peer.address,
        mode: 'binary',
        ms: this.lifetime(),
        client: this.session.clientName,
      },
      'disconnected',
    );
  }

  protected override onWritable(): void {
    // The peer is reading what we send, so it is alive even if it sends nothing (a long download, §7.2):
    // while our writes are blocked we do not read its frames, PONG included, and must not count it dead.
    this.#lastFrameAt = this.host.now();
    this.#pump();
  }

  protected override readsWhileClosing(): boolean {
    return !this.#readStopped;
  }

  // ---- reading ----------------------------------------------------------------------------------

  #canDecode(): boolean {
    return (
      !this.#readStopped &&
      this.phase >= Phase.Handshake &&
      this.phase <= Phase.Draining &&
      this.#busy < this.host.options.maxInFlight &&
      this.#inputsFull === 0 &&
      !this.writeBlocked &&
      !this.yielding
    );
  }

  #pump(): void {
    if (this.#pumping) return;
    const now = performance.now();
    // §7.4.3 Replies finishing one after another (microtasks) continue the turn that read their requests.
    if (this.#canDecode() && this.turnSpent(now)) {
      this.yieldTurn(() => this.#pump());
      this.#flush();
      return;
    }
    this.#pumping = true;
    this.#starved = false;
    this.#pumpStart = now;
    try {
      let frames = 0;
      while (this.#canDecode()) {
        const frame = this.#decoder.next();
        if (frame === undefined) {
          this.#starved = true;
          break;
        }
        this.#onFrame(frame);
        if (++frames === FRAMES_PER_WRITE) {
          frames = 0;
          this.#flush(); // may block writes: then #canDecode() stops the loop (§7.4.2)
          // §7.4.3 Its turn is over: the other connections run before this one reads on.
          if (this.turnSpent()) this.yieldTurn(() => this.#pump());
        }
      }
    } catch (err) {
      this.#fatal(toNexoError(err));
    } finally {
      this.#pumping = false;
    }
    if (this.#peerEnded && this.#starved) this.#failUnfinishedInputs();
    if (this.phase === Phase.Closed) return;
    if (this.#canDecode() && !this.#peerEnded) this.stream.resume();
    else this.stream.pause();
    this.#flush();
    if (this.#peerEnded && (this.#starved || this.#readStopped)) {
      // §7.3.4 Every frame sent before the half-close is read (or none will be): now it drains. The
      // half-close may have come while frames were still unread (the connection waited for its turn,
      // §7.4.3, or for a free in-flight slot): those requests are answered too, not refused.
      if (this.phase === Phase.Open) this.phase = Phase.Draining;
      this.#closeIfDone();
    }
  }

  #onFrame(frame: DecodedFrame): void {
    this.host.stats.framesIn++;
    // A REQUEST is traced once its service and method are read (#onRequest); HELLO's token, a CHUNK's bytes
    // and every other payload are never logged, only their length.
    if (this.#tracing && frame.type !== FrameType.REQUEST) this.#traceIn(frame);
    if (isOversize(frame)) {
      this.#onOversize(frame);
      return;
    }
    if (frame.id !== 0 && mustHaveIdZero(frame.type)) {
      throw new NexoError('PROTOCOL_ERROR', idZeroMessage(frame.type, frame.id));
    }
    if (this.phase === Phase.Handshake) {
      if (frame.type !== FrameType.HELLO) {
        throw new NexoError('PROTOCOL_ERROR', `expected HELLO, got ${frameTypeName(frame.type)}`);
      }
      this.#onHello(frame);
      return;
    }
    switch (frame.type) {
      case FrameType.REQUEST:
        this.#onRequest(frame);
        return;
      case FrameType.CHUNK:
        this.#onChunk(frame);
        return;
      case FrameType.CANCEL:
        this.#onCancel(frame.id);
        return;
      case FrameType.PING:
        if (frame.payload.length > MAX_PING_PAYLOAD) {
          throw new NexoError('PROTOCOL_ERROR', `PING payload longer than ${MAX_PING_PAYLOAD} bytes`);
        }
        this.#batch.add(FrameType.PONG, 0, 0, frame.payload);
        return;
      case FrameType.PONG:
        this.#pingSentAt = 0;
        return;
      case FrameType.GOAWAY:
        this.#onPeerGoAway();
        return;
      case FrameType.ERROR:
        this.#onClientError(frame);
        return;
      default:
        throw new NexoError('PROTOCOL_ERROR', `a client may not send ${frameTypeName(frame.type)}`);
    }
  }

  /**
   * §7.5.2 A client's ERROR id 0 ends the connection: what the node already queued (its preface and WELCOME
   * when the ERROR came with HELLO, finished replies) still leaves, open requests are abandoned, and the node
   * closes without an ERROR of its own. On any other id it is a frame from the wrong side (§4.2.1).
   */
  #onClientError(frame: DecodedFrame): void {
    if (frame.id !== 0) {
      throw new NexoError('PROTOCOL_ERROR', 'a client may send ERROR only with id 0 (§4.2, §7.5.2)');
    }
    let reported: { code?: unknown; message?: unknown } = {};
    try {
      const value = frame.payload === null ? null : unpackValue(frame.payload);
      if (value !== null && typeof value === 'object') reported = value as typeof reported;
    } catch {
      // An undecodable payload still ends the connection; the log says so.
    }
    this.log.info(
      {
        peer: this.session.peer.address,
        code: typeof reported.code === 'string' ? clip(reported.code) : undefined,
        reason: typeof reported.message === 'string' ? clip(reported.message) : 'no readable message',
      },
      'client ended the connection with an error',
    );
    const error = new NexoError('CANCELLED', 'the client ended the connection with an error');
    for (const call of this.#calls.values()) call.abort(error);
    this.#calls.clear();
    this.#flush();
    this.endGracefully();
  }

  #onOversize(frame: OversizeFrame): void {
    const limit = this.#decoder.maxPayload;
    const error = new NexoError(
      'FRAME_TOO_LARGE',
      `${frameTypeName(frame.type)} frame of ${frame.length} bytes exceeds the limit of ${limit} bytes`,
      { limit, length: frame.length },
    );
    // §4.4.3 Outside an open request this ends the connection.
    if (
      this.phase !== Phase.Open ||
      frame.id === 0 ||
      (frame.type !== FrameType.REQUEST && frame.type !== FrameType.CHUNK)
    ) {
      throw error;
    }
    // The payload is never read, so nothing after it can be: fail this request, then GOAWAY. Requests read
    // before it still finish (§7.3); those after it were never processed and may be sent again.
    const call = this.#calls.get(frame.id);
    if (call !== undefined) this.#finishWithError(call, error);
    else if (frame.type === FrameType.REQUEST) this.#batch.error(frame.id, error);
    this.#readStopped = true;
    this.goAway(
      new NexoError('FRAME_TOO_LARGE', `a frame exceeded ${limit} bytes; open a new connection`, { limit }),
    );
  }

  #onHello(frame: Frame): void {
    const hello = parseHello(frame);
    const version = Math.max(...hello.versions.filter((v) => PROTOCOL_VERSIONS.includes(v)));
    if (!Number.isFinite(version)) {
      throw new NexoError(
        'UNSUPPORTED_VERSION',
        `this server speaks protocol versions ${PROTOCOL_VERSIONS.join(', ')}; the client offered ${hello.versions.join(', ')}`,
        { supported: [...PROTOCOL_VERSIONS] },
      );
    }
    this.session.identify(this.host.auth.authenticate(hello.token, this.session.peer));
    this.session.clientName = hello.client;
    const o = this.host.options;
    this.#decoder.maxPayload = o.maxFrame;
    const welcome: Welcome = {
      version,
      node: this.host.nodeId(),
      server: SERVER_NAME,
      role: this.session.role,
      limits: {
        maxFrame: o.maxFrame,
        maxInFlight: o.maxInFlight,
        heartbeatMs: o.heartbeatMs,
        idleTimeoutMs: o.idleTimeoutMs,
      },
      services: this.host.dispatcher.catalog(),
    };
    this.#batch.preface();
    this.#batch.add(FrameType.WELCOME, 0, 0, packValue(welcome));
    this.phase = Phase.Open;
    this.#lastRequestAt = this.host.now();
    this.log.info(
      {
        peer: this.session.peer.address,
        transport: this.session.peer.transport,
        client: hello.client,
        role: this.session.role,
      },
      'connected',
    );
  }

  #onRequest(frame: Frame): void {
    const id = frame.id;
    if (id === 0) throw new NexoError('PROTOCOL_ERROR', 'REQUEST id 0 is reserved for the connection');
    if (this.#calls.has(id)) throw new NexoError('PROTOCOL_ERROR', `request id ${id} is already open`);
    this.host.stats.requests++;
    this.#lastRequestAt = this.#lastFrameAt; // set per received chunk; precise enough for the idle timeout
    if (this.phase !== Phase.Open) {
      this.#batch.error(
        id,
        new NexoError('GOING_AWAY', 'this connection is closing; send the request on a new one'),
      );
      return;
    }
    if (this.#calls.size >= this.host.options.maxInFlight) {
      this.#batch.error(
        id,
        new NexoError(
          'TOO_MANY_IN_FLIGHT',
          `more than ${this.host.options.maxInFlight} requests open on one connection`,
        ),
      );
      return;
    }
    let call: Call;
    let args: unknown;
    let requestId: string | undefined;
    try {
      if (this.#tracing) this.#traceRequest(frame);
      const request = parseRequest(frame);
      requestId = request[3]; // §6.1.4 put in any ERROR for this id
      const method = this.host.dispatcher.resolve(request[0], request[1], this.session);
      args = request[2];
      this.host.dispatcher.validate(method, args, this.session);
      const input =
        method.definition.input === 'chunks'
          ? new ChunkQueue(Math.max(4 * this.host.options.maxFrame, 1 << 20), () => this.#inputDrained())
          : undefined;
      call = new Call(id, method, this.session, this, input);
      call.startedAt = this.#pumpStart;
      call.requestId = requestId;
    } catch (err) {
      this.#batch.error(id, withRequestId(toNexoError(err), requestId));
      return;
    }
    if (call.busy) this.#busy++;
    let result: unknown;
    try {
      result = call.method.definition.handler(args as never, call);
    } catch (err) {
      this.#settle(call, false, err, false);
      return;
    }
    if (result instanceof Promise) {
      // Only calls that outlive this turn are open: CANCEL and CHUNK frames find them here. A synchronous
      // call has already finished before the next frame is read, so it never needs an entry.
      if (this.#calls === NO_CALLS) this.#calls = new Map();
      this.#calls.set(id, call);
      result.then(
        (value) => this.#settle(call, true, value, true),
        (err) => this.#settle(call, false, err, true),
      );
    } else {
      this.#settle(call, true, result, false);
    }
  }

  /** `open`: the call is in #calls (it outlived the turn it started in). */
  #settle(call: Call, ok: boolean, value: unknown, open: boolean): void {
    call.settled = true;
    if (call.busy) this.#busy--;
    const latency = call.method.latency;
    if (latency !== undefined) {
      const last = this.#timed.length - 1;
      if (last >= 0 && this.#timed[last] === latency && this.#timedStart[last] === call.startedAt) {
        this.#timedCount[last]!++;
      } else {
        this.#timed.push(latency);
        this.#timedStart.push(call.startedAt);
        this.#timedCount.push(1);
      }
    }
    if (call.input?.full === true && !call.input.ended) this.#inputDrained(); // handler quit without reading
    if (!call.final) {
      call.final = true;
      if (open) this.#calls.delete(call.id);
      if (ok) this.#batch.response(call.id, value, 0);
      else {
        const error = toNexoError(value);
        if (error.code === 'INTERNAL_ERROR') {
          this.log.error(
            { err: value, service: call.method.service, method: call.method.name, requestId: call.requestId },
            'handler failed',
          );
        }
        this.#batch.error(call.id, withRequestId(error, call.requestId));
      }
    }
    if (this.#pumping) return; // the pump loop flushes and resumes reading itself
    this.#schedulePump();
  }

  /**
   * Async calls often finish together (one group commit acknowledges hundreds of reports): they share one
   * pump, so their replies leave in one write (§7.4.1) instead of one write each.
   */
  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    process.nextTick(() => {
      this.#pumpScheduled = false;
      if (this.phase === Phase.Closed) return;
      this.#pump(); // first: requests held back by backpressure may be waiting
      this.#closeIfDone();
    });
  }

  #onChunk(frame: Frame): void {
    const call = this.#calls.get(frame.id);
    // §6.4: chunks for a request that is over (failed, cancelled) or unknown are dropped: they may have been
    // in flight when the request ended.
    if (call === undefined || call.input === undefined || call.input.ended) return;
    const wasFull = call.input.full;
    if (frame.payload.length > 0) call.input.push(frame.payload);
    if ((frame.flags & Flags.END) !== 0) call.input.end();
    if (!wasFull && call.input.full) this.#inputsFull++;
  }

  /**
   * §6.4 The peer half-closed and every frame it sent has been read: an upload still waiting for its END
   * chunk can never get it. Fail its input so the handler ends (and the connection can close, §7.3) instead
   * of waiting for the heartbeat to notice.
   */
  #failUnfinishedInputs(): void {
    for (const call of this.#calls.values()) {
      if (call.input !== undefined && !call.input.ended && !call.final) {
        call.input.fail(
          new NexoError('CONNECTION_LOST', 'the client closed the connection before ending its upload'),
        );
      }
    }
  }

  #inputDrained(): void {
    this.#inputsFull = 0;
    for (const call of this.#calls.values()) if (call.input?.full === true) this.#inputsFull++;
    if (!this.#pumping) this.#pump();
  }

  #onCancel(id: number): void {
    const call = this.#calls.get(id);
    if (call === undefined) return;
    this.#finishWithError(call, new NexoError('CANCELLED', 'cancelled by the client'));
  }

  #finishWithError(call: Call, error: NexoError): void {
    if (call.final) return;
    const wasFull = call.input?.full === true;
    call.abort(error);
    this.#calls.delete(call.id);
    this.#batch.error(call.id, withRequestId(error, call.requestId));
    if (wasFull) this.#inputDrained();
  }

  #onPeerGoAway(): void {
    if (this.phase === Phase.Open) this.phase = Phase.Draining;
    this.#endSubscriptions('the client is going away');
    this.#closeIfDone();
  }

  /** The peer half-closed: answer what it already sent, then close (§7.3). */
  #onPeerEnd(): void {
    this.#peerEnded = true;
    this.#endSubscriptions('the client closed its side of the connection');
    if (this.phase === Phase.Queued) {
      this.endGracefully();
      return;
    }
    // Reads what is left; the pump that reads the last frame drains the connection (end of #pump).
    this.#pump();
    if (this.phase !== Phase.Open && this.phase !== Phase.Draining) this.endGracefully();
  }

  /**
   * §7.3.4 A leaving client (GOAWAY, half-close) can no longer cancel its subscriptions, and they never end on
   * their own: end them, so its other requests finish and the connection closes.
   */
  #endSubscriptions(reason: string): void {
    for (const call of this.#calls.values()) {
      if (call.longLived) this.#finishWithError(call, new NexoError('CANCELLED', reason));
    }
  }

  /**
   * Draining ends once no request is open. After a half-close we also wait until every complete frame
   * already received was read. Requests never read were never processed, so a client may send them again
   * elsewhere (§7.3).
   */
  #closeIfDone(): void {
    if (this.phase !== Phase.Draining || this.#calls.size > 0) return;
    if (this.#peerEnded && !this.#starved && !this.#readStopped) return;
    this.#flush();
    this.endGracefully();
  }

  // ---- writing ----------------------------------------------------------------------------------

  progress(id: number, value: unknown): void {
    this.#batch.response(id, value, Flags.MORE);
    this.#scheduleFlush();
  }

  event(id: number, value: unknown): boolean {
    if (this.phase >= Phase.Closing) return false;
    this.#batch.add(FrameType.EVENT, 0, id, value instanceof SharedEvent ? value.bytes : packValue(value));
    this.#scheduleFlush();
    return !this.writeBlocked;
  }

  chunk(id: number, bytes: Uint8Array, end: boolean): Promise<void> {
    if (this.phase >= Phase.Closing)
      return Promise.reject(new NexoError('CONNECTION_LOST', 'the connection closed'));
    this.#batch.add(FrameType.CHUNK, end ? Flags.END : 0, id, bytes);
    this.#flush();
    return this.whenWritable();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#pumping) return;
    this.#flushScheduled = true;
    // One write for every reply produced in this turn of the event loop (the batch, §7.4).
    process.nextTick(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#timed.length > 0) this.#observeTimed();
    if (this.#batch.isEmpty) return;
    // Frames counted per write, not per frame: the batch keeps the count, the node's total catches up here.
    const batch = this.#batch;
    this.host.stats.framesOut += batch.frames - this.#framesCounted;
    this.#framesCounted = batch.frames;
    this.writeParts(batch.take());
  }

  #traceIn(frame: DecodedFrame, extra?: Record<string, unknown>): void {
    const bytes = isOversize(frame) ? frame.length : frame.payload.length;
    this.log.info(
      { dir: 'in', frame: frameTypeName(frame.type), id: frame.id, flags: frame.flags, bytes, ...extra },
      'frame',
    );
  }

  /** Service, method and request id of a REQUEST (parsed apart, so a malformed one is traced too). */
  #traceRequest(frame: Frame): void {
    let extra: Record<string, unknown>;
    try {
      const [service, method, , requestId] = parseRequest(frame);
      extra = {
        service: clip(service),
        method: clip(method),
        ...(requestId === undefined ? {} : { requestId }),
      };
    } catch {
      extra = { malformed: true };
    }
    this.#traceIn(frame, extra);
  }

  #observeTimed(): void {
    const now = performance.now();
    const timed = this.#timed;
    const start = this.#timedStart;
    const count = this.#timedCount;
    for (let i = 0; i < timed.length; i++) timed[i]!.observe((now - start[i]!) / 1000, count[i]);
    timed.length = 0;
    start.length = 0;
    count.length = 0;
  }

  /** Sends ERROR(0) and closes (§7.5). */
  #fatal(error: NexoError): void {
    if (this.phase >= Phase.Closing) return;
    this.log.info(
      { peer: this.session.peer.address, code: error.code, reason: error.message },
      'closing connection',
    );
    this.#batch.preface();
    this.#batch.add(FrameType.ERROR, 0, 0, packValue(error.toPayload()));
    for (const call of this.#calls.values()) call.abort(error);
    this.#calls.clear();
    this.#flush();
    this.endGracefully();
  }
}
