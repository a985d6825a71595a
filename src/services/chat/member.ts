import type { CallContext } from '../../contract/service.js';
import type { Session } from '../../contract/session.js';
import type { SharedEvent } from '../../contract/shared-event.js';
import type { ChatEvent } from '../../wire/chat.js';
import { TokenBucket } from './rate-limit.js';

/**
 * One person in one room: the `chat.join` call that carries the room's events to them.
 *
 * A slow reader never slows the room. Events go straight to the connection while it keeps up; once it says
 * it is behind (`emit` returns false) they wait in this member's own queue, bounded by `queueLimit`. When the
 * queue is full `deliver` says so and the room drops the member instead of holding memory for it.
 */
export class Member {
  readonly key: string;
  readonly since = Date.now();
  readonly bucket: TokenBucket;
  #backlog: (ChatEvent | SharedEvent)[] = [];
  #blocked = false;
  #gone = false;

  constructor(
    readonly nick: string,
    key: string,
    readonly session: Session,
    private readonly ctx: CallContext,
    private readonly queueLimit: number,
    rate: number,
  ) {
    this.key = key;
    this.bucket = new TokenBucket(rate, Math.max(1, rate * 2));
  }

  get gone(): boolean {
    return this.#gone;
  }

  /** Events waiting in this member's queue. */
  get backlog(): number {
    return this.#backlog.length;
  }

  /** Sends or queues the event; false when the queue is full and the member must be dropped. */
  deliver(event: ChatEvent | SharedEvent): boolean {
    if (this.#gone) return true;
    if (this.#blocked) {
      if (this.#backlog.length >= this.queueLimit) return false;
      this.#backlog.push(event);
      return true;
    }
    if (!this.ctx.emit(event)) this.#waitForReader();
    return true;
  }

  /** Stops delivering; what is queued is dropped. */
  leave(): void {
    this.#gone = true;
    this.#backlog = [];
  }

  #waitForReader(): void {
    if (this.#blocked || this.#gone) return;
    this.#blocked = true;
    void this.ctx.whenWritable().then(() => {
      this.#blocked = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#backlog.length > 0 && !this.#gone) {
      const event = this.#backlog.shift()!;
      if (!this.ctx.emit(event)) {
        // The connection is closing (its call is over) or behind again.
        if (this.ctx.signal.aborted) {
          this.leave();
          return;
        }
        this.#waitForReader();
        return;
      }
    }
  }
}
