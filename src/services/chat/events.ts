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
