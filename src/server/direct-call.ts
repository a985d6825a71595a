import type { CallContext } from '../contract/service.js';
import { Session } from '../contract/session.js';
import { NexoError, toNexoError, withRequestId } from '../errors.js';
import type { PeerInfo } from '../transport/types.js';
import { Call, type CallSink } from './call-context.js';
import type { ChunkQueue } from './chunk-queue.js';
import type { ResolvedMethod } from './dispatcher.js';
import { type ConnectionHost, countError } from './host.js';

/**
 * One method call that does not arrive on a nexo connection: an HTTP request to the REST API. It runs
 * through the same dispatcher checks (service, method, role, args schema) and the same handler as a REQUEST
 * frame, in a session of its own that ends with the call.
 */
export interface DirectCall {
  readonly service: string;
  readonly method: string;
  readonly args: unknown;
  /** The caller's token (HTTP `Authorization: Bearer`); none means the anonymous role. */
  readonly token?: string | undefined;
  readonly peer: PeerInfo;
  /** Aborts the call (the HTTP client went away). */
  readonly signal?: AbortSignal | undefined;
  /** §6.1.4 The client's own id for the call (HTTP `x-request-id`), put in an error's details. */
  readonly requestId?: string | undefined;
  /**
   * Set by routes that map a stream onto HTTP (an upload body); without it, methods with an input stream are
   * refused with METHOD_NOT_ALLOWED.
   */
  readonly input?: ChunkQueue | undefined;
  /**
   * Set by routes that map the method's output onto HTTP (a download, server-sent events): where progress,
   * events and chunks go. Without `event`, long-lived methods are refused with METHOD_NOT_ALLOWED; without
   * `chunk`, a handler that streams chunks fails with it.
   */
  readonly output?: Partial<CallSink> | undefined;
  /**
   * Runs in place of the method's handler, after the node's checks for `service.method` (draining, token,
   * role), in the call's session. For a front end that feeds a service in-process instead of through the
   * method's args and chunk format (an HTTP multipart upload into the files service). `args` is not checked
   * against the method's schema then: there are none.
   */
  readonly run?: ((ctx: CallContext) => Promise<unknown>) | undefined;
}

export class DirectCaller {
  constructor(
    private readonly host: ConnectionHost,
    private readonly nextSessionId: () => number,
    private readonly draining: () => boolean,
  ) {}

  async invoke(request: DirectCall): Promise<unknown> {
    const stats = this.host.stats;
    stats.requests++;
    const session = new Session(this.nextSessionId(), request.peer, 'http');
    try {
      if (this.draining()) {
        throw new NexoError('SHUTTING_DOWN', 'the node is shutting down; send the request to another node', {
          node: this.host.nodeId(),
        });
      }
      session.identify(this.host.auth.authenticate(request.token, request.peer));
      const dispatcher = this.host.dispatcher;
      const method = dispatcher.resolve(request.service, request.method, session);
      const definition = method.definition;
      if (request.run !== undefined) return await this.#run(request, request.run, method, session);
      if (definition.input === 'chunks' && request.input === undefined) {
        throw new NexoError(
          'METHOD_NOT_ALLOWED',
          `${request.service}.${request.method} takes a stream of chunks; call it over the protocol (WebSocket /ws or TCP)`,
        );
      }
      if (definition.longLived === true && request.output?.event === undefined) {
        throw new NexoError(
          'METHOD_NOT_ALLOWED',
          `${request.service}.${request.method} is a subscription; call it over the protocol (WebSocket /ws or TCP)`,
        );
      }
      dispatcher.validate(method, request.args, session);
      return await this.#run(
        request,
        (call) => Promise.resolve(definition.handler(request.args as never, call)),
        method,
        session,
      );
    } catch (err) {
      const error = toNexoError(err);
      countError(stats, error.code);
      if (error.code === 'INTERNAL_ERROR') {
        this.host.log.error(
          { err, service: request.service, method: request.method, requestId: request.requestId },
          'HTTP call failed',
        );
      }
      throw withRequestId(error, request.requestId);
    } finally {
      session.close();
    }
  }

  async #run(
    request: DirectCall,
    handler: (ctx: CallContext) => Promise<unknown>,
    method: ResolvedMethod,
    session: Session,
  ): Promise<unknown> {
    const call = new Call(0, method, session, sinkFor(request), request.input);
    const onAbort = () => call.abort(new NexoError('CANCELLED', 'the HTTP client went away'));
    if (request.signal?.aborted) onAbort();
    request.signal?.addEventListener('abort', onAbort, { once: true });
    const started = performance.now();
    try {
      return await handler(call);
    } finally {
      method.latency?.since(started);
      request.signal?.removeEventListener('abort', onAbort);
    }
  }
}

/** Where a direct call's progress, events and chunks go: the route's handlers, else nowhere. */
function sinkFor(request: DirectCall): CallSink {
  const out = request.output ?? {};
  return {
    progress: (id, value) => out.progress?.(id, value),
    event: (id, value) => out.event?.(id, value) ?? false,
    chunk: (id, bytes, end) =>
      out.chunk?.(id, bytes, end) ??
      Promise.reject(new NexoError('METHOD_NOT_ALLOWED', 'this route does not stream chunks')),
    whenWritable: () => out.whenWritable?.() ?? Promise.resolve(),
  };
}
