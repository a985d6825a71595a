import type { Session } from '../../contract/session.js';
import { SharedEvent } from '../../contract/shared-event.js';
import type { ChatEvent, ChatMessage, LeaveReason } from '../../wire/chat.js';
import type { RoomState } from './history.js';
import type { Member } from './member.js';

/** Messages that arrived ahead of a missing seq, kept per room at most; beyond it the gap is skipped. */
const MAX_WAITING = 1024;
/** How long a gap may stay open before the missing seqs are read from the store. */
const GAP_WAIT_MS = 30;

export interface RoomHooks {
  /** A member fell too far behind and was removed. */
  dropped(member: Member, room: Room): void;
  /** A join or leave happened here (members on other nodes should hear of it). */
  relay(event: ChatEvent & { type: 'join' | 'leave' }): void;
  /** Reads stored messages `after < seq < before` to fill a gap. */
  fill(room: string, after: number, before: number): Promise<ChatMessage[]>;
  /** An event reached `count` members here (the fan-out, for metrics). */
  delivered?(count: number): void;
}

/**
 * A room on this node: its members here (nicknames unique whatever the case), its recent messages, and the
 * one place where its events reach them, so every member sees the same events in the same order.
 *
 * Messages are numbered by the store (history.ts), possibly on other nodes, and arrive here through
 * `accept` from this node's senders and from the bus. The room delivers them in seq order: a repeat is
 * dropped, one that arrives ahead of a missing seq waits; a gap still open after GAP_WAIT_MS is filled from
 * the store (a seq is stored before anyone hears of it) or, if the store no longer has it, skipped.
 */
export class Room {
  readonly members = new Map<string, Member>();
  readonly bySession = new Map<Session, Member>();
  /** Last messages, oldest first, at most `historyLimit`. */
  readonly history: ChatMessage[];
  /** The bus subscription carrying other nodes' traffic for this room (shared mode). */
  subscription: { unsubscribe(): void } | undefined;
  lastUsed = Date.now();
  #next: number;
  readonly #waiting = new Map<number, ChatMessage>();
  #gapTimer: ReturnType<typeof setTimeout> | undefined;
  #filling = false;
  #closed = false;

  constructor(
    readonly name: string,
    state: RoomState,
    private readonly historyLimit: number,
    private readonly hooks: RoomHooks,
  ) {
    this.history = state.messages.slice(-historyLimit);
    this.#next = Math.max(state.lastSeq, state.messages.at(-1)?.seq ?? 0) + 1;
  }

  /** The last seq delivered here. */
  get lastSeq(): number {
    return this.#next - 1;
  }

  add(member: Member): void {
    this.members.set(member.key, member);
    this.bySession.set(member.session, member);
    this.lastUsed = Date.now();
  }

  /** Removes the member; tells the others (here and on other nodes) unless the node is stopping. */
  remove(member: Member, reason: LeaveReason, announce = true): boolean {
    if (this.members.get(member.key) !== member) return false;
    member.leave();
    this.members.delete(member.key);
    this.bySession.delete(member.session);
    this.lastUsed = Date.now();
    if (announce) {
      const event = { type: 'leave' as const, room: this.name, nick: member.nick, at: Date.now(), reason };
      this.broadcast(event);
      this.hooks.relay(event);
    }
    return true;
  }

  /** Announces a member who just joined here. */
  announceJoin(member: Member): void {
    const event = { type: 'join' as const, room: this.name, nick: member.nick, at: Date.now() };
    this.broadcast(event);
    this.hooks.relay(event);
  }

  /** A stored message, from this node or another: delivered in seq order, once. */
  accept(message: ChatMessage): void {
    if (this.#closed || message.seq < this.#next) return;
    if (message.seq === this.#next) {
      this.#deliver(message);
      this.#drain();
      return;
    }
    this.#waiting.set(message.seq, message);
    if (this.#waiting.size > MAX_WAITING) this.#skipGap();
    else this.#gapTimer ??= setTimeout(() => void this.#fillGap(), GAP_WAIT_MS);
  }

  /** Reads from the store whatever this room missed (after the bus was away), then delivers it. */
  async catchUp(read: (after: number) => Promise<ChatMessage[]>): Promise<void> {
    for (const message of await read(this.lastSeq)) this.accept(message);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#gapTimer);
    this.#waiting.clear();
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  #deliver(message: ChatMessage): void {
    this.#next = message.seq + 1;
    if (this.historyLimit > 0) {
      this.history.push(message);
      if (this.history.length > this.historyLimit)
        this.history.splice(0, this.history.length - this.historyLimit);
    }
    this.lastUsed = Date.now();
    this.broadcast({ type: 'message', ...message });
  }

  #drain(): void {
    for (let m = this.#waiting.get(this.#next); m !== undefined; m = this.#waiting.get(this.#next)) {
      this.#waiting.delete(m.seq);
      this.#deliver(m);
    }
    if (this.#waiting.size === 0) {
      clearTimeout(this.#gapTimer);
      this.#gapTimer = undefined;
    }
  }

  async #fillGap(): Promise<void> {
    this.#gapTimer = undefined;
    if (this.#waiting.size === 0 || this.#filling || this.#closed) return;
    this.#filling = true;
    const before = Math.min(...this.#waiting.keys());
    try {
      const found = await this.hooks.fill(this.name, this.#next - 1, before);
      for (const m of found) if (m.seq >= this.#next && m.seq < before) this.#waiting.set(m.seq, m);
    } catch {
      // The store is away: skip the gap rather than hold the room's live traffic back.
    } finally {
      this.#filling = false;
    }
    if (this.#closed) return;
    this.#drain();
    if (this.#waiting.size > 0) this.#skipGap();
  }

  /** Gives up on the missing seqs below the first waiting message. */
  #skipGap(): void {
    if (this.#waiting.size === 0) return;
    this.#next = Math.min(...this.#waiting.keys());
    this.#drain();
    if (this.#waiting.size > 0) this.#gapTimer ??= setTimeout(() => void this.#fillGap(), GAP_WAIT_MS);
  }

  broadcast(event: ChatEvent): void {
    // Encoded for the wire once for the whole room, not once per member.
    const shared = new SharedEvent(event);
    let dropped: Member[] | undefined;
    for (const member of this.members.values()) {
      if (member.deliver(shared)) continue;
      dropped ??= [];
      dropped.push(member);
    }
    this.hooks.delivered?.(this.members.size - (dropped?.length ?? 0));
    // Announced after the event reached everyone, so all members see the same order.
    for (const member of dropped ?? []) {
      if (this.remove(member, 'too-slow')) this.hooks.dropped(member, this);
    }
  }

  nicks(): string[] {
    return [...this.members.values()].map((m) => m.nick);
  }
}
