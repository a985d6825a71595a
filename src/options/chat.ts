import { type Static, Type } from '@sinclair/typebox';

export const ChatSchema = Type.Object(
  {
    history: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
    maxMessage: Type.Optional(Type.Integer({ minimum: 1, maximum: 65_536 })),
    queue: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
    rate: Type.Optional(Type.Number({ minimum: 0.1, maximum: 100_000 })),
    maxRooms: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);

/** Settings of the chat service. */
export interface ChatOptions {
  /** Messages kept per room (sent on join, survive restarts). */
  history: number;
  /** Longest message, in characters. */
  maxMessage: number;
  /** Events a slow member may fall behind before it is dropped from the room. */
  queue: number;
  /** Messages per second one member may send (bursts of twice that). */
  rate: number;
  /** Rooms the node keeps at once. */
  maxRooms: number;
}

export const CHAT_DEFAULTS = {
  history: 100,
  maxMessage: 2000,
  queue: 1000,
  rate: 20,
  maxRooms: 10_000,
} as const;

export function resolveChat(o: Static<typeof ChatSchema> | undefined): ChatOptions {
  const d = CHAT_DEFAULTS;
  return {
    history: o?.history ?? d.history,
    maxMessage: o?.maxMessage ?? d.maxMessage,
    queue: o?.queue ?? d.queue,
    rate: o?.rate ?? d.rate,
    maxRooms: o?.maxRooms ?? d.maxRooms,
  };
}
