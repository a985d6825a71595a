import type { Session } from '../../server/session.js';
import { SharedEvent } from '../shared-event.js';
import type { ChatEvent, ChatMessage, LeaveReason } from './events.js';
import type { Member } from './member.js';

/**
 * A room: its members (nicknames unique whatever the case), its recent messages, and the one place where
 * its events are produced, so every member sees the same events in the same order.
 */
export class Room {
  readonly members = new Map<string, Member>();
  readonly bySession = new Map<Session, Member>();
  /** Last messages, oldest first, at most `historyLimit`. */
  readonly history: ChatMessage[];
  #nextSeq: number;
  lastUsed = Date.now();

  constructor(
    readonly name: string,
    history: ChatMessage[],
    lastSeq: number,
    private readonly historyLimit: number,
    /** A member fell too far behind and was removed. */
    private readonly onDropped: (member: Member, room: Room) => void,
  ) {
    this.history = history.slice(-historyLimit);
    this.#nextSeq = Math.max(lastSeq, history.at(-1)?.seq ?? 0) + 1;
  }

  get lastSeq(): number {
    return this.#nextSeq - 1;
  }

  add(member: Member): void {
    this.members.set(member.key, member);
    this.bySession.set(member.session, member);
    this.lastUsed = Date.now();
  }

  /** Removes the member; tells the others unless the node is stopping. */
  remove(member: Member, reason: LeaveReason, announce = true): boolean {
    if (this.members.get(member.key) !== member) return false;
    member.leave();
    this.members.delete(member.key);
    this.bySession.delete(member.session);
    this.lastUsed = Date.now();
    if (announce) {
      this.broadcast({ type: 'leave', room: this.name, nick: member.nick, at: Date.now(), reason });
    }
    return true;
  }

  /** Records a message and sends it to every member, the sender included. */
  say(nick: string, text: string): ChatMessage {
    const message: ChatMessage = { room: this.name, seq: this.#nextSeq++, at: Date.now(), nick, text };
    if (this.historyLimit > 0) {
      this.history.push(message);
      if (this.history.length > this.historyLimit)
        this.history.splice(0, this.history.length - this.historyLimit);
    }
    this.lastUsed = message.at;
    this.broadcast({ type: 'message', ...message });
    return message;
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
    // Announced after the event reached everyone, so all members see the same order.
    for (const member of dropped ?? []) {
      if (this.remove(member, 'too-slow')) this.onDropped(member, this);
    }
  }

  nicks(): string[] {
    return [...this.members.values()].map((m) => m.nick);
  }
}
