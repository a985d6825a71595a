import { type Msg, RequestError, TimeoutError } from '@nats-io/transport-node';
import { NexoError } from '../errors.js';
import type { EngineHealth } from '../storage/health.js';
import type { Nats } from '../storage/nats/connection.js';
import { checkPayload, checkSubject, decodeReply, encodeReply, errorReply } from './subjects.js';
import type {
  Bus,
  BusSubscription,
  MessageHandler,
  RequestOptions,
  Responder,
  SubscribeOptions,
} from './types.js';

/**
 * The bus over NATS core (not JetStream: fan-out is live traffic, history lives in the stores). Every subject
 * is prefixed with the cluster name, so `chat.room.x` travels as `<cluster>.chat.room.x` and clusters
 * sharing one NATS server never hear each other. The connection belongs to the node (engines.ts); closing
 * the bus ends its subscriptions only.
 */
export class NatsBus implements Bus {
  readonly spansNodes = true;
  readonly #prefix: string;
  readonly #subs = new Set<{ unsubscribe(): void }>();
  #closed = false;

  constructor(
    private readonly nats: Nats,
    private readonly onError: (err: unknown, subject: string) => void = () => {},
  ) {
    this.#prefix = `${nats.cluster}.`;
  }

  health(): EngineHealth {
    return this.nats.health();
  }

  onHealth(listener: (health: EngineHealth) => void): () => void {
    return this.nats.onHealth(listener);
  }

  publish(subject: string, data: Uint8Array): void {
    this.#open();
    checkSubject(subject, false);
    checkPayload(data);
    this.nats.nc.publish(this.#prefix + subject, data);
  }

  subscribe(subject: string, handler: MessageHandler, options: SubscribeOptions = {}): BusSubscription {
    return this.#add(subject, options, (msg) => {
      try {
        handler({ subject: msg.subject.slice(this.#prefix.length), data: msg.data });
      } catch (err) {
        this.onError(err, subject);
      }
    });
  }

  respond(subject: string, respond: Responder, options: SubscribeOptions = {}): BusSubscription {
    return this.#add(subject, options, (msg) => {
      const local = msg.subject.slice(this.#prefix.length);
      Promise.resolve()
        .then(() => respond(msg.data, local))
        .then(
          (reply) => encodeReply(true, reply),
          (err) => errorReply(err),
        )
        .then((reply) => {
          if (msg.reply !== undefined && msg.reply !== '') msg.respond(reply);
        })
        .catch((err) => this.onError(err, subject));
    });
  }

  async request(subject: string, data: Uint8Array, options: RequestOptions = {}): Promise<Uint8Array> {
    this.#open();
    checkSubject(subject, false);
    checkPayload(data);
    const timeoutMs = options.timeoutMs ?? 5000;
    let reply: Msg;
    try {
      reply = await this.nats.nc.request(this.#prefix + subject, data, { timeout: timeoutMs });
    } catch (err) {
      if (err instanceof RequestError && err.isNoResponders()) {
        throw new NexoError('NO_RESPONDERS', `nobody serves ${subject} in cluster ${this.nats.cluster}`);
      }
      if (err instanceof TimeoutError || (err as Error).cause instanceof TimeoutError) {
        throw new NexoError('TIMEOUT', `no reply on ${subject} within ${timeoutMs} ms`);
      }
      throw new NexoError(
        'STORAGE_UNAVAILABLE',
        `NATS request on ${subject} failed: ${(err as Error).message}`,
        {
          engine: 'nats',
        },
      );
    }
    return decodeReply(reply.data);
  }

  async flush(): Promise<void> {
    this.#open();
    await this.nats.nc.flush();
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const sub of this.#subs) sub.unsubscribe();
    this.#subs.clear();
  }

  #open(): void {
    if (this.#closed || this.nats.nc.isClosed()) {
      throw new NexoError('STORAGE_UNAVAILABLE', 'the bus is closed');
    }
  }

  #add(subject: string, options: SubscribeOptions, callback: (msg: Msg) => void): BusSubscription {
    this.#open();
    checkSubject(subject, true);
    const sub = this.nats.nc.subscribe(this.#prefix + subject, {
      ...(options.queue === undefined ? {} : { queue: options.queue }),
      callback: (err, msg) => {
        if (err === null) callback(msg);
        else this.onError(err, subject);
      },
    });
    const handle = {
      unsubscribe: () => {
        if (!this.#subs.delete(handle)) return;
        sub.unsubscribe();
      },
    };
    this.#subs.add(handle);
    return handle;
  }
}
