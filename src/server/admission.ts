/**
 * §7.1 Client slots (--max-clients) and the line of connections waiting for one. With one slot this is the
 * seeds' sequential server: the next client is served when the current one leaves.
 */
export class Admission<T> {
  #active = 0;
  readonly #queue: { item: T; since: number }[] = [];

  constructor(
    /** 0 = no limit. */
    readonly maxActive: number,
    readonly maxQueue: number,
  ) {}

  get active(): number {
    return this.#active;
  }

  get waiting(): number {
    return this.#queue.length;
  }

  /** Takes a slot if one is free. */
  tryEnter(): boolean {
    if (this.maxActive > 0 && this.#active >= this.maxActive) return false;
    this.#active++;
    return true;
  }

  /** Puts `item` in line; returns its 1-based position, or 0 when the line is full. */
  enqueue(item: T, now: number): number {
    if (this.#queue.length >= this.maxQueue) return 0;
    this.#queue.push({ item, since: now });
    return this.#queue.length;
  }

  /** Removes a waiting item (it disconnected). Returns whether it was waiting. */
  remove(item: T): boolean {
    const index = this.#queue.findIndex((w) => w.item === item);
    if (index === -1) return false;
    this.#queue.splice(index, 1);
    return true;
  }

  /** Frees a slot; returns the item that takes it, if one was waiting. */
  leave(): T | undefined {
    const next = this.#queue.shift();
    if (next !== undefined) return next.item; // the slot passes straight to it
    this.#active = Math.max(0, this.#active - 1);
    return undefined;
  }

  /** Waiting items older than `maxWaitMs`, removed from the line. */
  expired(now: number, maxWaitMs: number): T[] {
    if (maxWaitMs <= 0) return [];
    const out: T[] = [];
    while (this.#queue.length > 0 && now - this.#queue[0]!.since > maxWaitMs)
      out.push(this.#queue.shift()!.item);
    return out;
  }

  /** Empties the line (the node is stopping). */
  drain(): T[] {
    return this.#queue.splice(0).map((w) => w.item);
  }
}
