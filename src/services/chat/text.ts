import type { LiveLineAction, TextCommand } from '../../contract/service.js';
import { NexoError } from '../../errors.js';
import { type ChatEvent, type ChatMessage, formatChatEvent, formatMessage } from '../../wire/chat.js';

const CHAT_HELP = [
  'in a room, a line is a message to everyone; commands start with /:',
  '  /who                  who is here',
  '  /msg <nick> <text>    a private message',
  '  /leave                leave the room',
  '  /quit                 leave and close the connection',
  '  //text                a message that starts with /',
];

/** Text-mode chat (spec §8.2): `join <room> <nick>`, then every line is said in the room. */
export function chatTextCommands(): TextCommand[] {
  return [
    {
      name: 'join',
      usage: 'join <room> <nick>',
      summary: 'enter a chat room under a nickname; then each line you type is said there (/help inside)',
      parse: (rest) => {
        const [room, nick, ...extra] = rest.split(/\s+/).filter(Boolean);
        if (room === undefined || nick === undefined || extra.length > 0) {
          throw new NexoError('INVALID_ARGS', 'usage: join <room> <nick>, e.g. join lobby ana');
        }
        return { method: 'join', args: { room: room.replace(/^#/, ''), nick } };
      },
      format: (result) => `* you left #${(result as { room: string }).room}`,
      formatEvent: (event) => formatChatEvent(event as ChatEvent),
      onLiveLine: (line, args) => chatLine(line, (args as { room: string }).room),
    },
    {
      name: 'who',
      usage: 'who <room>',
      summary: 'who is in a chat room',
      parse: (rest) => ({ method: 'who', args: { room: oneRoom(rest, 'who <room>') } }),
      format: (result) => formatWho(result as { room: string; members: { nick: string }[] }),
    },
    {
      name: 'rooms',
      usage: 'rooms',
      summary: 'chat rooms with people or messages',
      parse: () => ({ method: 'rooms', args: null }),
      format: (result) => {
        const rooms = (result as { rooms: { room: string; members: number; lastSeq: number }[] }).rooms;
        if (rooms.length === 0) return '(no rooms yet: join <room> <nick> opens one)';
        return rooms.map(
          (r) => `#${r.room}  ${r.members} here, ${r.lastSeq} message${r.lastSeq === 1 ? '' : 's'}`,
        );
      },
    },
    {
      name: 'chatlog',
      usage: 'chatlog <room> [count]',
      summary: 'the last messages of a chat room',
      parse: (rest) => {
        const [room, count, ...extra] = rest.split(/\s+/).filter(Boolean);
        if (room === undefined || extra.length > 0 || (count !== undefined && !/^\d{1,5}$/.test(count))) {
          throw new NexoError('INVALID_ARGS', 'usage: chatlog <room> [count], e.g. chatlog lobby 20');
        }
        const args: Record<string, unknown> = { room: room.replace(/^#/, '') };
        if (count !== undefined) args.limit = Number(count);
        return { method: 'history', args };
      },
      format: (result) => {
        const { room, messages } = result as { room: string; messages: ChatMessage[] };
        if (messages.length === 0) return `(no messages in #${room})`;
        return messages.map((m) => formatMessage(m, true));
      },
    },
  ];
}

/** What a line typed inside a room does. */
function chatLine(line: string, room: string): LiveLineAction {
  if (line === '') return { reply: [] };
  if (!line.startsWith('/') || line.startsWith('//')) {
    const text = line.startsWith('//') ? line.slice(1) : line;
    return { call: { method: 'say', args: { room, text } }, format: () => [] };
  }
  const space = line.search(/\s/);
  const word = (space === -1 ? line : line.slice(0, space)).toLowerCase();
  const rest = space === -1 ? '' : line.slice(space + 1).trim();
  switch (word) {
    case '/who':
    case '/names':
      return { call: { method: 'who', args: { room } }, format: (r) => formatWho(r as WhoResult) };
    case '/msg':
    case '/dm': {
      const at = rest.search(/\s/);
      if (at === -1) throw new NexoError('INVALID_ARGS', 'usage: /msg <nick> <text>');
      const to = rest.slice(0, at);
      const text = rest.slice(at + 1).trim();
      return {
        call: { method: 'dm', args: { room, to, text } },
        format: (r) => `* to ${(r as { to: string }).to}: ${text}`,
      };
    }
    case '/leave':
    case '/part':
      return { end: true, reply: `* you left #${room}` };
    case '/quit':
    case '/exit':
    case '/fim':
    case '/salir':
      return { end: true, next: 'quit' };
    case '/help':
    case '/?':
      return { reply: CHAT_HELP };
    default:
      throw new NexoError('UNKNOWN_COMMAND', `unknown chat command '${word.slice(0, 32)}'; /help lists them`);
  }
}

type WhoResult = { room: string; members: { nick: string }[] };

function formatWho(result: WhoResult): string {
  const nicks = result.members.map((m) => m.nick);
  return nicks.length === 0 ? `* nobody is in #${result.room}` : `* in #${result.room}: ${nicks.join(', ')}`;
}

function oneRoom(rest: string, usage: string): string {
  const words = rest.split(/\s+/).filter(Boolean);
  if (words.length !== 1) throw new NexoError('INVALID_ARGS', `usage: ${usage}`);
  return words[0]!.replace(/^#/, '');
}
