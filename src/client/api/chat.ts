import { NexoError } from '../../errors.js';
import type { RequestOptions } from '../client.js';
import type { Caller } from './requester.js';

/** A message of a room (history and live). */
export interface ChatMessage {
  room: string;
  seq: number;
  at: number;
  nick: string;
  text: string;
}

/** The events of a joined room, in the order the room produced them (docs/protocol.md §9, chat). */
export type ChatEvent =
  | { type: 'joined'; room: string; nick: string; members: string[]; history: number }
  | ({ type: 'message'; history?: true } & ChatMessage)
  | { type: 'join'; room: string; nick: string; at: number }
  | { type: 'leave'; room: string; nick: string; at: number; reason: 'left' | 'disconnected' | 'too-slow' }
  | { type: 'dm'; room: string; from: string; to: string; text: string; at: number };

/** Being in a room: talk in it, see who is there, leave. */
export interface ChatMembership {
  readonly room: string;
  readonly nick: string;
  /** Who was in the room when we joined (us included); follow join/leave events for changes. */
  readonly members: string[];
  say(text: string, options?: RequestOptions): Promise<{ room: string; seq: number; at: number }>;
  dm(to: string, text: string, options?: RequestOptions): Promise<{ room: string; to: string; at: number }>;
  who(options?: RequestOptions): Promise<{ room: string; members: { nick: string; since: number }[] }>;
  leave(): Promise<void>;
  /** Settles when the membership ends: resolves on leave, rejects on CHAT_TOO_SLOW, cancel or disconnect. */
  readonly ended: Promise<unknown>;
}

/** Typed calls of the chat service. */
export function chatApi(c: Caller) {
  return {
    /**
     * Joins `room` as `nick`; `onEvent` gets every event of the room (history first) until the membership
     * ends. Resolves once the room answered (its `joined` event), rejects with CHAT_NICK_TAKEN and the like.
     */
    async join(
      room: string,
      nick: string,
      onEvent: (event: ChatEvent) => void,
      options: { history?: number; signal?: AbortSignal } = {},
    ): Promise<ChatMembership> {
      let joined: (event: Extract<ChatEvent, { type: 'joined' }>) => void = () => {};
      const first = new Promise<Extract<ChatEvent, { type: 'joined' }>>((resolve) => {
        joined = resolve;
      });
      const args: Record<string, unknown> = { room, nick };
      if (options.history !== undefined) args.history = options.history;
      const handle = await c.call('chat', 'join', args, {
        signal: options.signal,
        onEvent: (value) => {
          const event = value as ChatEvent;
          if (event.type === 'joined') joined(event);
          onEvent(event);
        },
      });
      const welcome = await Promise.race([
        first,
        handle.result.then(() => {
          throw new NexoError('CONNECTION_LOST', 'the room closed before it answered');
        }),
      ]);
      const name = welcome.room;
      return {
        room: name,
        nick: welcome.nick,
        members: welcome.members,
        say: (text, o) => c.request('chat', 'say', { room: name, text }, o),
        dm: (to, text, o) => c.request('chat', 'dm', { room: name, to, text }, o),
        who: (o) => c.request('chat', 'who', { room: name }, o),
        leave: async () => {
          await c.request('chat', 'leave', { room: name });
          await handle.result.catch(() => {});
        },
        ended: handle.result,
      };
    },
    history: (room: string, options: { limit?: number; before?: number } & RequestOptions = {}) => {
      const { limit, before, ...request } = options;
      const args: Record<string, unknown> = { room };
      if (limit !== undefined) args.limit = limit;
      if (before !== undefined) args.before = before;
      return c.request<{ room: string; messages: ChatMessage[] }>('chat', 'history', args, request);
    },
    who: (room: string, options?: RequestOptions) =>
      c.request<{ room: string; members: { nick: string; since: number }[] }>(
        'chat',
        'who',
        { room },
        options,
      ),
    rooms: (options?: RequestOptions) =>
      c.request<{ rooms: { room: string; members: number; lastSeq: number }[] }>(
        'chat',
        'rooms',
        null,
        options,
      ),
  };
}
