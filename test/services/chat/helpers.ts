import type { ChatMembership } from '../../../src/client/api/chat.js';
import type { NexoClient } from '../../../src/client/client.js';
import type { NexoNode } from '../../../src/node/node.js';
import type { ChatEvent } from '../../../src/wire/chat.js';
import { clientOver, type Transport, tcp } from '../../helpers/transports.js';

type TestNode = NexoNode & { port: number };

/** A chat member through the client library: its client, its membership, every event it received. */
export interface TestMember {
  client: NexoClient;
  membership: ChatMembership;
  events: ChatEvent[];
  /** `nick: text` of the message events received (history included). */
  said(): string[];
  close(): void;
}

export async function member(
  node: TestNode,
  room: string,
  nick: string,
  transport: Transport = tcp,
  options: { history?: number } = {},
): Promise<TestMember> {
  const client = await clientOver(transport, node, nick);
  const events: ChatEvent[] = [];
  const membership = await client.chat.join(room, nick, (e) => events.push(e), options);
  return {
    client,
    membership,
    events,
    said: () => events.filter((e) => e.type === 'message').map((e) => `${e.nick}: ${e.text}`),
    close: () => client.destroy(),
  };
}

export function eventsOf<T extends ChatEvent['type']>(
  events: ChatEvent[],
  type: T,
): Extract<ChatEvent, { type: T }>[] {
  return events.filter((e): e is Extract<ChatEvent, { type: T }> => e.type === type);
}
