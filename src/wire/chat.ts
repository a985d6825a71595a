/** The chat service's wire contract (docs/protocol.md §9, chat) and its text-mode rendering; pure. */

/** A message of a room, as kept in history and sent to members (docs/protocol.md §9, chat). */
export interface ChatMessage {
  readonly room: string;
  /** Increases by one per message of the room, across restarts. */
  readonly seq: number;
  /** Milliseconds since the epoch, server clock. */
  readonly at: number;
  readonly nick: string;
  readonly text: string;
}

export type LeaveReason = 'left' | 'disconnected' | 'too-slow';

/** The EVENT payloads of a `chat.join` subscription, in the order the room produced them. */
export type ChatEvent =
  | {
      type: 'joined';
      room: string;
      nick: string;
      members: string[];
      history: number;
      /** Echoes the join's `after` (§14.4.2). */
      after?: number;
      /** Messages after `after` that are no longer kept, so not sent (§14.4.2). */
      missed?: number;
    }
  | ({ type: 'message'; history?: true } & ChatMessage)
  | { type: 'join'; room: string; nick: string; at: number }
  | { type: 'leave'; room: string; nick: string; at: number; reason: LeaveReason }
  | { type: 'dm'; room: string; from: string; to: string; text: string; at: number };

/** One event as a line of text mode and of `nexo chat`. */
export function formatChatEvent(event: ChatEvent): string {
  switch (event.type) {
    case 'joined':
      return `* you joined #${event.room} as ${event.nick}; here: ${event.members.join(', ')}. Type to talk, /help for commands`;
    case 'message':
      return formatMessage(event, event.history === true);
    case 'join':
      return `* ${event.nick} joined #${event.room}`;
    case 'leave':
      return event.reason === 'too-slow'
        ? `* ${event.nick} was removed from #${event.room} (not reading fast enough)`
        : event.reason === 'disconnected'
          ? `* ${event.nick} disconnected from #${event.room}`
          : `* ${event.nick} left #${event.room}`;
    case 'dm':
      return `* private from ${event.from}: ${event.text}`;
    default:
      return JSON.stringify(event);
  }
}

/** `[room] <nick> text`, with the time (HH:MM, UTC) for history. */
export function formatMessage(m: ChatMessage, withTime: boolean): string {
  const time = withTime ? ` ${new Date(m.at).toISOString().slice(11, 16)}` : '';
  return `[${m.room}]${time} <${m.nick}> ${m.text}`;
}
