import { NexoError } from '../errors.js';
import {
  checkPayload,
  checkSubject,
  decodeReply,
  encodeReply,
  errorReply,
  subjectMatches,
} from './subjects.js';
import type {
  Bus,
  BusSubscription,
  MessageHandler,
  RequestOptions,
  Responder,
  SubscribeOptions,
} from './types.js';

interface Sub {
  readonly pattern: string;
  readonly tokens: string[];
  readonly queue: string | undefined;
  readonly handler: MessageHandler;
  readonly respond: Responder | undefined;
  active: boolean;
}

/** Subscriptions one LocalBus holds at most: a leak shows up as an error, not as memory growth. */
const MAX_SUBSCRIPTIONS = 1_000_000;

/**
 * The bus of a node that is alone (embedded mode): subscriptions in a map, delivery on the microtask queue
 * so a handler never runs inside `publish`. Same subjects, wildcards, queue groups and request/reply
 * semantics as NatsBus.
 */
export class LocalBus implements Bus {
  readonly spansNodes = false;
  /** Subscriptions without wildcards, by subject: the common case, found without scanning. */
  readonly #exact = new Map<string, Sub[]>();
  readonly #wild: Sub[] = [];
  readonly #turns = new Map<string, number>();
  #count = 0;
  #closed = false;

  constructor(private readonly onError: (err: unknown, subject: string) => void = () => {}) {}

  publish(subject: string, data: Uint8Array): void {
    this.#open();
    checkSubject(subject, false);
    checkPayload(data);
    const targets = this.#targets(subject, false);
    if (targets.length === 0) return;
    const message = { subject, data };
    queueMicrotask(() => {
      for (const sub of targets) {
        if (!sub.active) continue;
        try {
          sub.handler(message);
        } catch (err) {
          this.onError(err, subject);
        }
      }
    });
  }

  subscribe(subject: string, handler: MessageHandler, options: SubscribeOptions = {}): BusSubscription {
    return this.#add(subject, handler, undefined, options);
  }

  respond(subject: string, respond: Responder, options: SubscribeOptions = {}): BusSubscription {
    return this.#add(subject, () => {}, respond, options);
  }

  request(subject: string, data: Uint8Array, options: RequestOptions = {}): Promise<Uint8Array> {
    this.#open();
    checkSubject(subject, false);
    checkPayload(data);
    const responder = this.#targets(subject, true)[0];
    if (responder?.respond === undefined) {
      return Promise.reject(new NexoError('NO_RESPONDERS', `nobody serves ${subject} on this node`));
    }
    const timeoutMs = options.timeoutMs ?? 5000;
    const run = responder.respond;
    return new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new NexoError('TIMEOUT', `no reply on ${subject} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      queueMicrotask(() => {
        // The responder's answer takes the same shape as over NATS, so errors decode identically.
        Promise.resolve()
          .then(() => run(data, subject))
          .then(
            (reply) => encodeReply(true, reply),
            (err) => errorReply(err),
          )
          .then((reply) => {
            clearTimeout(timer);
            try {
              resolve(decodeReply(reply));
            } catch (err) {
              reject(err);
            }
          });
      });
    });
  }

  async flush(): Promise<void> {
    this.#open();
    // Everything published so far was queued as microtasks before this one.
    await new Promise<void>((resolve) => queueMicrotask(resolve));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const subs of this.#exact.values()) for (const s of subs) s.active = false;
    for (const s of this.#wild) s.active = false;
    this.#exact.clear();
    this.#wild.length = 0;
    this.#count = 0;
  }

  #open(): void {
    if (this.#closed) throw new NexoError('STORAGE_UNAVAILABLE', 'the bus is closed');
  }

  #add(
    subject: string,
    handler: MessageHandler,
    respond: Responder | undefined,
    options: SubscribeOptions,
  ): BusSubscription {
    this.#open();
    checkSubject(subject, true);
    if (this.#count >= MAX_SUBSCRIPTIONS) {
      throw new NexoError('INTERNAL_ERROR', `the local bus already holds ${MAX_SUBSCRIPTIONS} subscriptions`);
    }
    const tokens = subject.split('.');
    const sub: Sub = { pattern: subject, tokens, queue: options.queue, handler, respond, active: true };
    const wild = tokens.some((t) => t === '*' || t === '>');
    if (wild) this.#wild.push(sub);
    else {
      const list = this.#exact.get(subject);
      if (list === undefined) this.#exact.set(subject, [sub]);
      else list.push(sub);
    }
    this.#count++;
    return {
      unsubscribe: () => {
        if (!sub.active) return;
        sub.active = false;
        this.#count--;
        if (wild) this.#wild.splice(this.#wild.indexOf(sub), 1);
        else {
          const list = this.#exact.get(subject)!;
          list.splice(list.indexOf(sub), 1);
          if (list.length === 0) this.#exact.delete(subject);
        }
      },
    };
  }

  /** Who gets a message on `subject`: every plain subscriber, one member per queue group. */
  #targets(subject: string, responders: boolean): Sub[] {
    const tokens = subject.split('.');
    const matching: Sub[] = [];
    for (const s of this.#exact.get(subject) ?? []) {
      if ((s.respond !== undefined) === responders) matching.push(s);
    }
    for (const s of this.#wild) {
      if ((s.respond !== undefined) === responders && subjectMatches(s.tokens, tokens)) matching.push(s);
    }
    if (matching.length <= 1) return matching;
    const out: Sub[] = [];
    const groups = new Map<string, Sub[]>();
    for (const s of matching) {
      if (s.queue === undefined) out.push(s);
      else {
        const group = groups.get(s.queue);
        if (group === undefined) groups.set(s.queue, [s]);
        else group.push(s);
      }
    }
    for (const [queue, members] of groups) {
      // Round robin per group and subject, so work spreads evenly.
      const key = `${queue} ${subject}`;
      const turn = this.#turns.get(key) ?? 0;
      out.push(members[turn % members.length]!);
      if (this.#turns.size > 10_000) this.#turns.clear();
      this.#turns.set(key, turn + 1);
    }
    return out;
  }
}
