import { NexoError } from '../../errors.js';
import type { ChatEvent, ChatMessage } from '../../wire/chat.js';
import type { Caller, RequestOptions } from './requester.js';
import { RESUMABLE, reopen } from './resume.js';

type JoinedEvent = Extract<ChatEvent, { type: 'joined' }>;

/** A rejoin refused for now: the node has not yet removed the membership of the lost connection. */
const REJOIN_LATER: ReadonlySet<string> = new Set(['CHAT_NICK_TAKEN', 'CHAT_ALREADY_JOINED']);
/** A leave whose connection is already gone. */
const GONE: ReadonlySet<string> = new Set(['CONNECTION_LOST', 'OUTCOME_UNKNOWN', 'CHAT_NOT_IN_ROOM']);

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

/** Options of `chat.join`. */
export interface ChatJoinOptions {
  /** History messages to receive first (0..chat.history). */
  history?: number;
  /** Only messages after this seq (§14.4.2): the last one a client saw before it lost its connection. */
  after?: number;
  signal?: AbortSignal;
  /**
   * §14.4 When the connection is lost or the node goes away, join again (through whichever node the client
   * reaches next) with `after` = the last seq seen, so the messages sent meanwhile arrive and none twice.
   * Default: on for a NexoPool, off for a NexoClient.
   */
  resume?: boolean;
}

/** Typed calls of the chat service; `defaults.resume` is the default of ChatJoinOptions.resume. */
export function chatApi(c: Caller, defaults: { resume?: boolean } = {}) {
  return {
    /**
     * Joins `room` as `nick`; `onEvent` gets every event of the room (history first) until the membership
     * ends. Resolves once the room answered (its `joined` event), rejects with CHAT_NICK_TAKEN and the like.
     */
    async join(
      room: string,
      nick: string,
      onEvent: (event: ChatEvent) => void,
      options: ChatJoinOptions = {},
    ): Promise<ChatMembership> {
      const resume = options.resume ?? defaults.resume ?? false;
      /** The last message seq delivered to onEvent (−1: none yet). */
      let lastSeq = options.after ?? -1;
      const open = async (args: Record<string, unknown>) => {
        let joined: (event: JoinedEvent) => void = () => {};
        const first = new Promise<JoinedEvent>((resolve) => {
          joined = resolve;
        });
        const handle = await c.call('chat', 'join', args, {
          signal: options.signal,
          onEvent: (value) => {
            const event = value as ChatEvent;
            if (event.type === 'joined') joined(event);
            else if (event.type === 'message') {
              // §14.4.3 A message seen before (a resumed join racing the room's live traffic) is dropped.
              if (resume && event.seq <= lastSeq) return;
              lastSeq = Math.max(lastSeq, event.seq);
            }
            onEvent(event);
          },
        });
        const welcome = await Promise.race([
          first,
          handle.result.then(() => {
            throw new NexoError('CONNECTION_LOST', 'the room closed before it answered');
          }),
        ]);
        return { handle, welcome };
      };
      const args: Record<string, unknown> = { room, nick };
      if (options.history !== undefined) args.history = options.history;
      if (options.after !== undefined) args.after = options.after;
      let current = await open(args);
      const name = current.welcome.room;
      let left = false;
      /** Settles when no rejoin is under way; requests of the membership wait for it. */
      let settled: Promise<unknown> = Promise.resolve();
      const ended = (async () => {
        for (;;) {
          try {
            return await current.handle.result;
          } catch (err) {
            if (!resume || left || !(err instanceof NexoError) || !RESUMABLE.has(err.code)) throw err;
            // §14.4.1 The same nick, through whichever node the client reaches, from the last seq seen.
            const again = reopen(
              c,
              () =>
                open({
                  room: name,
                  nick: current.welcome.nick,
                  ...(lastSeq >= 0 ? { after: lastSeq } : {}),
                }),
              { signal: options.signal, alsoRetry: REJOIN_LATER },
            );
            settled = again.catch(() => {});
            current = await again;
          }
        }
      })();
      ended.catch(() => {}); // observed through `ended`
      const via = async () => {
        await settled;
        return current.handle.via;
      };
      return {
        room: name,
        nick: current.welcome.nick,
        get members() {
          return current.welcome.members;
        },
        say: async (text, o) => (await via()).request('chat', 'say', { room: name, text }, o),
        dm: async (to, text, o) => (await via()).request('chat', 'dm', { room: name, to, text }, o),
        who: (o) => c.request('chat', 'who', { room: name }, o),
        leave: async () => {
          left = true;
          try {
            await (await via()).request('chat', 'leave', { room: name });
          } catch (err) {
            // Its connection is gone: so is the membership (§9 chat: a closed connection leaves the room).
            if (!(err instanceof NexoError) || !GONE.has(err.code)) throw err;
          }
          await ended.catch(() => {});
        },
        ended,
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
