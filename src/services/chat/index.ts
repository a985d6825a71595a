import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import type { Bus } from '../../bus/types.js';
import {
  type CallContext,
  defineMethod,
  type ServiceDefinition,
  type ServiceHost,
} from '../../contract/service.js';
import type { Session } from '../../contract/session.js';
import { NexoError } from '../../errors.js';
import type { ChatMessage, LeaveReason } from '../../wire/chat.js';
import { openChatHistory } from './backend.js';
import { decodeTraffic, encodeTraffic, type RoomTraffic, roomSubject } from './fanout.js';
import type { ChatHistory } from './history.js';
import { Member } from './member.js';
import { messageText, Nick, nickKey, RoomName, roomKey } from './names.js';
import { Room, type RoomHooks } from './room.js';
import { chatTextCommands } from './text.js';

/** Rooms one connection may be in at once. */
export const MAX_ROOMS_PER_SESSION = 16;
/** Rooms listed by `chat.rooms` at most. */
const MAX_LISTED_ROOMS = 1000;

/**
 * `chat`: rooms with nicknames unique per room, join/leave notices, messages broadcast in order, the last
 * `chat.history` messages of each room kept in the node's store (SQLite in the data directory) and sent on
 * join, presence, and direct messages. A `join` is a subscription whose events are the room's traffic. Each
 * member has a bounded queue: a member that does not read is dropped from the room (CHAT_TOO_SLOW), the
 * room never waits for it.
 */
export function chatService(host: ServiceHost): ServiceDefinition {
  const o = host.options.chat;
  let history: ChatHistory | undefined;
  let bus: Bus | undefined;
  let offHealth: (() => void) | undefined;
  /** Tells this node's own traffic apart when the bus echoes it back. */
  const origin = randomUUID();
  /** Rooms in memory; rooms without members are evicted (oldest first) beyond maxRooms. */
  const rooms = new Map<string, Room>();
  /** Rooms being read from the store for their first member; a second joiner waits for the same read. */
  const loading = new Map<string, Promise<Room>>();
  const sessionRooms = new WeakMap<Session, number>();
  const counters = {
    messages: 0,
    joins: 0,
    directMessages: 0,
    droppedSlow: 0,
    busDropped: 0,
    /** Events delivered to members here: one per member per event (the fan-out). */
    deliveries: 0,
  };
  const appendTime = host.storage.timings.store.get(
    host.storage.mode === 'embedded' ? 'sqlite' : 'postgres',
    'chat.append',
  );
  /** Settles each member's join call. */
  const endings = new Map<Member, { resolve(v: unknown): void; reject(e: NexoError): void }>();

  const store = (): ChatHistory => {
    if (history === undefined) throw new NexoError('SHUTTING_DOWN', 'the chat service is not running');
    return history;
  };

  /** Publishes this node's traffic for members on other nodes (shared mode only). */
  const relay = (room: string, traffic: RoomTraffic) => {
    if (bus?.spansNodes !== true) return;
    try {
      bus.publish(roomSubject(room), encodeTraffic(traffic));
    } catch (err) {
      // The bus is closing or NATS is away: members on other nodes miss a notice, never a stored message
      // (a node reads what it missed from the store when NATS is back).
      host.log.warn({ err, room }, 'chat traffic not relayed');
    }
  };

  const fromBus = (room: Room, data: Uint8Array) => {
    const traffic = decodeTraffic(data, room.name, o.maxMessage);
    if (traffic === undefined) {
      counters.busDropped++;
      return;
    }
    if (traffic.origin === origin) return; // delivered here already
    if (traffic.kind === 'message') room.accept(traffic.message);
    else if (traffic.kind === 'join')
      room.broadcast({ type: 'join', room: room.name, nick: traffic.nick, at: traffic.at });
    else {
      room.broadcast({
        type: 'leave',
        room: room.name,
        nick: traffic.nick,
        at: traffic.at,
        reason: traffic.reason,
      });
    }
  };

  const hooksFor = (key: string): RoomHooks => ({
    dropped,
    relay: (event) =>
      relay(
        key,
        event.type === 'join'
          ? { kind: 'join', origin, nick: event.nick, at: event.at }
          : { kind: 'leave', origin, nick: event.nick, at: event.at, reason: event.reason },
      ),
    fill: (room, after, before) => store().range(room, { after, before, limit: o.history }),
    delivered: (count) => {
      counters.deliveries += count;
    },
  });

  const loadRoom = (name: string): Promise<Room> => {
    const key = roomKey(name);
    const loaded = rooms.get(key);
    if (loaded !== undefined) return Promise.resolve(loaded);
    const pending = loading.get(key);
    if (pending !== undefined) return pending;
    if (rooms.size + loading.size >= o.maxRooms) evictIdleRoom();
    if (rooms.size + loading.size >= o.maxRooms) {
      throw new NexoError('CHAT_ROOMS_FULL', `this node already holds ${o.maxRooms} active rooms; try later`);
    }
    const load = (async () => {
      // Subscribe before reading the store, so nothing sent in between is missed; repeats are dropped by seq.
      let room: Room | undefined;
      const early: Uint8Array[] = [];
      const subscription =
        bus?.spansNodes === true
          ? bus.subscribe(roomSubject(key), (m) =>
              room === undefined ? early.push(m.data) : fromBus(room, m.data),
            )
          : undefined;
      try {
        const state = await store().load(key, o.history);
        room = new Room(key, state, o.history, hooksFor(key));
      } catch (err) {
        subscription?.unsubscribe();
        throw err;
      }
      room.subscription = subscription;
      rooms.set(key, room);
      for (const data of early) fromBus(room, data);
      return room;
    })().finally(() => loading.delete(key));
    loading.set(key, load);
    return load;
  };

  const evictIdleRoom = () => {
    let oldest: Room | undefined;
    for (const room of rooms.values()) {
      if (room.members.size === 0 && (oldest === undefined || room.lastUsed < oldest.lastUsed)) oldest = room;
    }
    if (oldest === undefined) return;
    rooms.delete(oldest.name);
    oldest.close();
  };

  const memberOf = (session: Session, name: string): { room: Room; member: Member } => {
    const room = rooms.get(roomKey(name));
    const member = room?.bySession.get(session);
    if (room === undefined || member === undefined) {
      throw new NexoError('CHAT_NOT_IN_ROOM', `join #${roomKey(name)} on this connection first (chat.join)`, {
        room: roomKey(name),
      });
    }
    return { room, member };
  };

  function dropped(member: Member, room: Room): void {
    counters.droppedSlow++;
    leftRoom(member);
    endings
      .get(member)
      ?.reject(
        new NexoError(
          'CHAT_TOO_SLOW',
          `you fell more than ${o.queue} events behind in #${room.name} and were removed from it; join again`,
          { room: room.name, queue: o.queue },
        ),
      );
    endings.delete(member);
  }

  const leftRoom = (member: Member) => {
    sessionRooms.set(member.session, Math.max(0, (sessionRooms.get(member.session) ?? 1) - 1));
  };

  const leave = (room: Room, member: Member, reason: LeaveReason, announce: boolean) => {
    if (!room.remove(member, reason, announce)) return false;
    leftRoom(member);
    return true;
  };

  const join = async (
    args: { room: string; nick: string; history?: number; after?: number },
    ctx: CallContext,
  ) => {
    const session = ctx.session;
    const joined = sessionRooms.get(session) ?? 0;
    if (joined >= MAX_ROOMS_PER_SESSION) {
      throw new NexoError('INVALID_ARGS', `one connection may be in at most ${MAX_ROOMS_PER_SESSION} rooms`);
    }
    const room = await loadRoom(args.room);
    // The caller may have gone while the room was read from the store.
    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (room.bySession.has(session)) {
      throw new NexoError('CHAT_ALREADY_JOINED', `this connection is already in #${room.name}`, {
        room: room.name,
      });
    }
    const key = nickKey(args.nick);
    const holder = room.members.get(key);
    if (holder !== undefined) {
      throw new NexoError(
        'CHAT_NICK_TAKEN',
        `the nickname '${holder.nick}' is taken in #${room.name}; choose another`,
        { room: room.name, nick: holder.nick },
      );
    }
    if ((sessionRooms.get(session) ?? 0) >= MAX_ROOMS_PER_SESSION) {
      throw new NexoError('INVALID_ARGS', `one connection may be in at most ${MAX_ROOMS_PER_SESSION} rooms`);
    }
    const member = new Member(args.nick, key, session, ctx, o.queue, o.rate);
    const ended = new Promise((resolve, reject) => endings.set(member, { resolve, reject }));
    room.add(member);
    sessionRooms.set(session, (sessionRooms.get(session) ?? 0) + 1);
    counters.joins++;
    // The joiner's view starts here: who is in, the recent messages, then live traffic (its own join first).
    // §14.4.2 With `after` (a member coming back), the kept messages it has not seen, and how many it missed
    // that are no longer kept.
    const kept = args.after === undefined ? room.history : room.history.filter((m) => m.seq > args.after!);
    const recent = kept.slice(kept.length - Math.min(args.history ?? o.history, kept.length));
    member.deliver({
      type: 'joined',
      room: room.name,
      nick: member.nick,
      members: room.nicks(),
      history: recent.length,
      ...(args.after === undefined
        ? {}
        : { after: args.after, missed: Math.max(0, room.lastSeq - args.after - recent.length) }),
    });
    for (const message of recent) member.deliver({ type: 'message', ...message, history: true });
    room.announceJoin(member);
    ctx.signal.addEventListener(
      'abort',
      () => {
        // Cancelled, disconnected, or the node is draining (then everyone goes: no notices).
        const reason = (ctx.signal.reason as NexoError | undefined)?.code;
        const announce = reason !== 'SHUTTING_DOWN';
        leave(room, member, reason === 'CANCELLED' ? 'left' : 'disconnected', announce);
        endings.delete(member);
      },
      { once: true },
    );
    return ended;
  };

  const Text = messageText(o.maxMessage);
  const RoomArgs = Type.Object({ room: RoomName }, { additionalProperties: false });

  return {
    name: 'chat',
    description:
      'Chat rooms: nicknames, join/leave notices, ordered messages, recent history, direct messages.',
    start: async () => {
      history = await openChatHistory(host);
      bus = host.storage.bus();
      if (host.storage.mode === 'postgres') {
        // Live traffic sent while NATS was away is in the store: read it when NATS is back.
        offHealth = host.storage.nats().onHealth((health) => {
          if (!health.up) return;
          for (const room of rooms.values()) {
            room
              .catchUp((after) => store().range(room.name, { after, limit: o.history }))
              .catch((err: unknown) => host.log.warn({ err, room: room.name }, 'chat catch-up failed'));
          }
        });
      }
    },
    stop: async () => {
      offHealth?.();
      for (const room of rooms.values()) room.close();
      rooms.clear();
      const closing = history;
      history = undefined;
      await closing?.close();
    },
    stats: () => {
      let members = 0;
      let active = 0;
      for (const room of rooms.values()) {
        members += room.members.size;
        if (room.members.size > 0) active++;
      }
      return { counters: { ...counters }, gauges: { rooms: active, members } };
    },
    methods: {
      join: defineMethod({
        description: 'Enters a room under a nickname; events are the room traffic until leave or cancel.',
        args: Type.Object(
          {
            room: RoomName,
            nick: Nick,
            history: Type.Optional(Type.Integer({ minimum: 0, maximum: o.history })),
            after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
          },
          { additionalProperties: false },
        ),
        longLived: true,
        handler: join,
      }),
      say: defineMethod({
        description: 'Sends a message to a room this connection is in; every member gets it, in order.',
        args: Type.Object({ room: RoomName, text: Text }, { additionalProperties: false }),
        handler: async (args, ctx) => {
          const { room, member } = memberOf(ctx.session, args.room);
          const text = args.text.trim();
          if (text === '') throw new NexoError('INVALID_ARGS', 'chat.say: args.text: the message is empty');
          if (!member.bucket.take()) {
            throw new NexoError(
              'RATE_LIMITED',
              `slow down: at most ${o.rate} messages per second (bursts of ${member.bucket.burst})`,
            );
          }
          // The store numbers it (shared mode: across nodes), then members here and elsewhere get it.
          const started = performance.now();
          const message = await store()
            .append(room.name, { at: Date.now(), nick: member.nick, text })
            .finally(() => appendTime.since(started));
          room.accept(message);
          relay(room.name, { kind: 'message', origin, message });
          counters.messages++;
          return { room: room.name, seq: message.seq, at: message.at };
        },
      }),
      dm: defineMethod({
        description: 'Sends a private message to one member of a room this connection is in.',
        args: Type.Object({ room: RoomName, to: Nick, text: Text }, { additionalProperties: false }),
        handler: (args, ctx) => {
          const { room, member } = memberOf(ctx.session, args.room);
          const target = room.members.get(nickKey(args.to));
          if (target === undefined) {
            throw new NexoError('CHAT_NO_SUCH_MEMBER', `nobody called '${args.to}' is in #${room.name}`, {
              room: room.name,
              nick: args.to,
            });
          }
          const text = args.text.trim();
          if (text === '') throw new NexoError('INVALID_ARGS', 'chat.dm: args.text: the message is empty');
          if (!member.bucket.take()) {
            throw new NexoError('RATE_LIMITED', `slow down: at most ${o.rate} messages per second`);
          }
          const at = Date.now();
          const event = {
            type: 'dm' as const,
            room: room.name,
            from: member.nick,
            to: target.nick,
            text,
            at,
          };
          if (!target.deliver(event) && room.remove(target, 'too-slow')) dropped(target, room);
          counters.directMessages++;
          return { room: room.name, to: target.nick, at };
        },
      }),
      leave: defineMethod({
        description: 'Leaves a room; the join call ends with {room, left: true}.',
        args: RoomArgs,
        handler: (args, ctx) => {
          const { room, member } = memberOf(ctx.session, args.room);
          leave(room, member, 'left', true);
          endings.get(member)?.resolve({ room: room.name, left: true });
          endings.delete(member);
          return { room: room.name, left: true };
        },
      }),
      who: defineMethod({
        description: 'Who is in a room now, in order of arrival.',
        args: RoomArgs,
        handler: (args) => {
          const room = rooms.get(roomKey(args.room));
          return {
            room: roomKey(args.room),
            members: [...(room?.members.values() ?? [])].map((m) => ({ nick: m.nick, since: m.since })),
          };
        },
      }),
      history: defineMethod({
        description: 'The recent messages of a room, oldest first; `before` pages back by seq.',
        args: Type.Object(
          {
            room: RoomName,
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: Math.max(1, o.history) })),
            before: Type.Optional(Type.Integer({ minimum: 1 })),
          },
          { additionalProperties: false },
        ),
        handler: async (args) => {
          const key = roomKey(args.room);
          const limit = args.limit ?? o.history;
          const room = rooms.get(key);
          // A room loaded here is current (its traffic arrives live); any other is read from the store.
          if (room !== undefined && bus?.spansNodes !== true) {
            let messages: ChatMessage[] = room.history;
            if (args.before !== undefined) messages = messages.filter((m) => m.seq < args.before!);
            return { room: key, messages: messages.slice(Math.max(0, messages.length - limit)) };
          }
          const messages = await store().range(key, {
            ...(args.before === undefined ? {} : { before: args.before }),
            limit,
          });
          return { room: key, messages };
        },
      }),
      rooms: defineMethod({
        description: 'Rooms with members or stored messages: name, members, last message seq.',
        args: Type.Union([Type.Null(), Type.Object({}, { additionalProperties: false })]),
        handler: async () => {
          const list = new Map<string, { room: string; members: number; lastSeq: number }>();
          for (const { room, lastSeq } of await store().rooms(MAX_LISTED_ROOMS)) {
            list.set(room, { room, members: 0, lastSeq });
          }
          for (const room of rooms.values()) {
            if (room.members.size > 0 || room.lastSeq > 0) {
              list.set(room.name, { room: room.name, members: room.members.size, lastSeq: room.lastSeq });
            }
          }
          const sorted = [...list.values()].sort(
            (a, b) => b.members - a.members || a.room.localeCompare(b.room),
          );
          return { rooms: sorted.slice(0, MAX_LISTED_ROOMS) };
        },
      }),
    },
    text: chatTextCommands(),
  };
}
