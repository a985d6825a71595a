import net from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../../src/node/node.js';
import { FrameType, PREFACE } from '../../../src/protocol/constants.js';
import { encodeFrame } from '../../../src/protocol/encoder.js';
import { packValue } from '../../../src/protocol/payload.js';
import { startNode, tempDataDir, textSession } from '../../helpers/node.js';
import { RawPeer } from '../../helpers/raw-peer.js';
import { clientOver, httpPort, tcp, ws } from '../../helpers/transports.js';
import { eventsOf, member } from './helpers.js';

let node: NexoNode & { port: number };

beforeAll(async () => {
  node = await startNode({ http: { port: 0 }, chat: { rate: 10_000 } });
});
afterAll(() => node.close({ timeoutMs: 2000 }));

/** Lines of a text-mode session as they arrive, with a way to type more. */
function textMember(port: number) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  let out = '';
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    out += d;
  });
  socket.on('error', () => {});
  return {
    type: (line: string) => socket.write(`${line}\n`),
    lines: () => out.split('\n').filter(Boolean),
    close: () => socket.destroy(),
  };
}

describe('chat: rooms, order, presence', () => {
  it('members over TCP, WebSocket and text mode all see every message in one and the same order', async () => {
    const a = await member(node, 'order', 'ana', tcp);
    const b = await member(node, 'order', 'bob', ws);
    const c = textMember(node.port);
    c.type('join order carl');
    await expect.poll(() => eventsOf(a.events, 'join').map((e) => e.nick)).toContain('carl');
    const n = 25;
    await Promise.all([
      (async () => {
        for (let i = 0; i < n; i++) await a.membership.say(`a${i}`);
      })(),
      (async () => {
        for (let i = 0; i < n; i++) await b.membership.say(`b${i}`);
      })(),
      (async () => {
        for (let i = 0; i < n; i++) c.type(`c${i}`);
      })(),
    ]);
    await expect.poll(() => a.said().length).toBe(3 * n);
    await expect.poll(() => b.said().length).toBe(3 * n);
    const textView = () =>
      c
        .lines()
        .map((l) => /^\[order\] <(\w+)> (.*)$/.exec(l))
        .filter((m) => m !== null)
        .map((m) => `${m![1]}: ${m![2]}`);
    await expect.poll(() => textView().length).toBe(3 * n);
    expect(b.said()).toEqual(a.said());
    expect(textView()).toEqual(a.said());
    for (const who of ['a', 'b', 'c']) {
      const mine = a.said().filter((m) => m.split(': ')[1]!.startsWith(who));
      expect(mine.map((m) => m.split(': ')[1])).toEqual(Array.from({ length: n }, (_, i) => `${who}${i}`));
    }
    const seqs = eventsOf(a.events, 'message').map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    a.close();
    b.close();
    c.close();
  });

  it('keeps nicknames unique per room, whatever the letter case or Unicode form', async () => {
    const ana = await member(node, 'nicks', 'Ana');
    const other = await clientOver(tcp, node);
    for (const nick of ['Ana', 'ana', 'ANA', 'Ａｎａ']) {
      await expect(other.chat.join('nicks', nick, () => {})).rejects.toMatchObject({
        code: 'CHAT_NICK_TAKEN',
        details: { room: 'nicks', nick: 'Ana' },
      });
    }
    // Another room is another namespace; the same connection cannot join one room twice.
    const elsewhere = await other.chat.join('other-room', 'ana', () => {});
    await expect(ana.client.chat.join('NICKS', 'Zed', () => {})).rejects.toMatchObject({
      code: 'CHAT_ALREADY_JOINED',
    });
    await ana.membership.leave();
    const again = await other.chat.join('nicks', 'ana', () => {});
    expect(again.nick).toBe('ana');
    await elsewhere.leave();
    await again.leave();
    other.destroy();
    ana.close();
  });

  it('announces joins and leaves (left, cancelled, disconnected) and keeps presence right', async () => {
    const watcher = await member(node, 'presence', 'watcher');
    const leaver = await member(node, 'presence', 'leaver');
    const dropper = await member(node, 'presence', 'dropper');
    const canceller = await clientOver(tcp, node);
    const controller = new AbortController();
    await canceller.chat.join('presence', 'canceller', () => {}, { signal: controller.signal });
    expect(eventsOf(dropper.events, 'joined')[0]!.members).toEqual(['watcher', 'leaver', 'dropper']);
    expect((await watcher.membership.who()).members.map((m) => m.nick)).toEqual([
      'watcher',
      'leaver',
      'dropper',
      'canceller',
    ]);
    await leaver.membership.leave();
    controller.abort();
    dropper.close();
    await expect
      .poll(() => eventsOf(watcher.events, 'leave').map((e) => `${e.nick} ${e.reason}`))
      .toEqual(['leaver left', 'canceller left', 'dropper disconnected']);
    expect(eventsOf(watcher.events, 'join').map((e) => e.nick)).toEqual([
      'watcher',
      'leaver',
      'dropper',
      'canceller',
    ]);
    expect((await watcher.membership.who()).members.map((m) => m.nick)).toEqual(['watcher']);
    await expect(leaver.membership.ended).resolves.toEqual({ room: 'presence', left: true });
    leaver.close();
    canceller.destroy();
    watcher.close();
  });

  it('delivers a direct message to its addressee only', async () => {
    const a = await member(node, 'dm', 'ana');
    const b = await member(node, 'dm', 'bob');
    const c = await member(node, 'dm', 'cy');
    expect(await a.membership.dm('BOB', 'psst')).toMatchObject({ room: 'dm', to: 'bob' });
    await expect
      .poll(() => eventsOf(b.events, 'dm').map((e) => `${e.from}>${e.to}: ${e.text}`))
      .toEqual(['ana>bob: psst']);
    await a.membership.say('public'); // after the DM: when cy sees this, it would have seen the DM too
    await expect.poll(() => c.said()).toContain('ana: public');
    expect(eventsOf(c.events, 'dm')).toEqual([]);
    expect(eventsOf(a.events, 'dm')).toEqual([]);
    await expect(a.membership.dm('nobody', 'hi')).rejects.toMatchObject({ code: 'CHAT_NO_SUCH_MEMBER' });
    const outsider = await clientOver(tcp, node);
    await expect(outsider.request('chat', 'dm', { room: 'dm', to: 'bob', text: 'x' })).rejects.toMatchObject({
      code: 'CHAT_NOT_IN_ROOM',
    });
    await expect(outsider.request('chat', 'say', { room: 'dm', text: 'x' })).rejects.toMatchObject({
      code: 'CHAT_NOT_IN_ROOM',
    });
    outsider.destroy();
    for (const m of [a, b, c]) m.close();
  });
});

describe('chat: history', () => {
  it('sends the last N messages on join, oldest first, and keeps them across a restart', async () => {
    const dataDir = tempDataDir();
    const first = await startNode({ dataDir, chat: { history: 5, rate: 10_000 }, http: { port: 0 } });
    const talker = await member(first, 'hist', 'talker');
    for (let i = 1; i <= 8; i++) await talker.membership.say(`m${i}`);
    const late = await member(first, 'hist', 'late');
    const joined = eventsOf(late.events, 'joined')[0]!;
    expect(joined.history).toBe(5);
    const history = eventsOf(late.events, 'message');
    expect(history.map((m) => m.text)).toEqual(['m4', 'm5', 'm6', 'm7', 'm8']);
    expect(history.every((m) => m.history === true && m.nick === 'talker')).toBe(true);
    expect(history.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
    // The order of a joiner's view: joined, history, then live traffic (its own join notice first).
    expect(late.events.map((e) => e.type)).toEqual([
      'joined',
      'message',
      'message',
      'message',
      'message',
      'message',
      'join',
    ]);
    const few = await late.client.chat.history('hist', { limit: 2 });
    expect(few.messages.map((m) => m.text)).toEqual(['m7', 'm8']);
    const older = await late.client.chat.history('hist', { before: 6 });
    expect(older.messages.map((m) => m.text)).toEqual(['m4', 'm5']);
    const rest = await fetch(`http://127.0.0.1:${httpPort(first)}/api/chat/rooms/hist/messages?limit=3`);
    expect(((await rest.json()) as { messages: { text: string }[] }).messages.map((m) => m.text)).toEqual([
      'm6',
      'm7',
      'm8',
    ]);
    const fewer = await member(first, 'hist', 'fewer', tcp, { history: 1 });
    expect(eventsOf(fewer.events, 'message').map((m) => m.text)).toEqual(['m8']);
    for (const m of [talker, late, fewer]) m.close();
    await first.close({ timeoutMs: 1000 });

    const second = await startNode({ dataDir, chat: { history: 5 } });
    try {
      const back = await member(second, 'hist', 'back');
      expect(eventsOf(back.events, 'message').map((m) => `${m.seq} ${m.text}`)).toEqual([
        '4 m4',
        '5 m5',
        '6 m6',
        '7 m7',
        '8 m8',
      ]);
      expect(await back.membership.say('m9')).toMatchObject({ seq: 9 });
      expect((await back.client.chat.rooms()).rooms).toEqual([{ room: 'hist', members: 1, lastSeq: 9 }]);
      back.close();
    } finally {
      await second.close({ timeoutMs: 1000 });
    }
  });
});

describe('chat: slow readers, floods and hostile input', () => {
  it('drops a member that never reads; the room and its other members never wait for it', async () => {
    const room = await startNode({
      chat: { queue: 200, rate: 100_000 },
      slowPeerTimeout: '60s',
      maxOutbound: '64MiB',
    });
    try {
      const reader = await member(room, 'busy', 'reader');
      const talker = await member(room, 'busy', 'talker');
      // The sleeper joins, then never reads a byte: its socket buffers fill, then its queue in the room.
      const sleeper = net.connect({ port: room.port, host: '127.0.0.1' });
      sleeper.on('error', () => {});
      sleeper.write(
        Buffer.concat([
          PREFACE,
          encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1] })),
          encodeFrame(
            FrameType.REQUEST,
            0,
            1,
            packValue(['chat', 'join', { room: 'busy', nick: 'sleeper' }]),
          ),
        ]),
      );
      sleeper.pause();
      await expect.poll(() => eventsOf(reader.events, 'join').map((e) => e.nick)).toContain('sleeper');
      const text = 'x'.repeat(1900);
      let sent = 0;
      let slowest = 0;
      while (!eventsOf(reader.events, 'leave').some((e) => e.nick === 'sleeper') && sent < 30_000) {
        const started = performance.now();
        await talker.membership.say(`${sent} ${text}`);
        slowest = Math.max(slowest, performance.now() - started);
        sent++;
      }
      const leave = eventsOf(reader.events, 'leave').find((e) => e.nick === 'sleeper');
      expect(leave?.reason).toBe('too-slow');
      // Everyone else got everything, in order, while the sleeper was slept on.
      await expect.poll(() => reader.said().length, { timeout: 10_000 }).toBe(sent);
      expect(reader.said().map((m) => Number(m.slice('talker: '.length).split(' ')[0]))).toEqual(
        Array.from({ length: sent }, (_, i) => i),
      );
      expect(slowest).toBeLessThan(1000);
      const stats = await reader.client.node.stats();
      expect(stats.services.chat!.counters.droppedSlow).toBe(1);
      expect((await reader.membership.who()).members.map((m) => m.nick)).toEqual(['reader', 'talker']);
      sleeper.destroy();
      reader.close();
      talker.close();
    } finally {
      await room.close({ timeoutMs: 1000 });
    }
  });

  it('limits how fast one member may talk (RATE_LIMITED), without slowing the others', async () => {
    const limited = await startNode({ chat: { rate: 5 } });
    try {
      const flooder = await member(limited, 'calm', 'flooder');
      const calm = await member(limited, 'calm', 'calm');
      const results = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) => flooder.membership.say(`spam ${i}`)),
      );
      const refused = results.filter((r) => r.status === 'rejected');
      expect(results.filter((r) => r.status === 'fulfilled').length).toBeLessThanOrEqual(11);
      expect(refused.length).toBeGreaterThanOrEqual(29);
      expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'RATE_LIMITED' });
      expect(await calm.membership.say('still here')).toMatchObject({ room: 'calm' });
      flooder.close();
      calm.close();
    } finally {
      await limited.close({ timeoutMs: 1000 });
    }
  });

  it('refuses oversized messages, control characters and malformed names with a clear error', async () => {
    const m = await member(node, 'hostile', 'guard');
    const invalid = async (text: string) => {
      await expect(m.membership.say(text), JSON.stringify(text.slice(0, 20))).rejects.toMatchObject({
        code: 'INVALID_ARGS',
        message: expect.stringContaining('args.text'),
      });
    };
    await invalid('x'.repeat(2001));
    for (const text of [
      '\x1b[2J\x1b[Hgotcha',
      'two\nlines',
      'carriage\rreturn',
      'nul\u0000',
      'bell\u0007',
      '\u202Eevil',
      'tab\there',
      '',
    ]) {
      await invalid(text);
    }
    await expect(m.membership.say('   ')).rejects.toMatchObject({ code: 'INVALID_ARGS' });
    expect(await m.membership.say('x'.repeat(2000))).toMatchObject({ room: 'hostile' });
    expect(await m.membership.say('family: 👨‍👩‍👧 ok, ¿qué tal? مرحبا')).toMatchObject({ room: 'hostile' });
    // 1 MB: the client library refuses to send a frame over the node's limit; a raw peer is answered by the node.
    await expect(m.membership.say('y'.repeat(1 << 20))).rejects.toMatchObject({ code: 'FRAME_TOO_LARGE' });
    const raw = await RawPeer.open(node.port);
    const id = raw.request('chat', 'say', { room: 'hostile', text: 'z'.repeat(1 << 20) });
    expect((await raw.reply(id)).value).toMatchObject({ code: 'FRAME_TOO_LARGE' });
    raw.close();
    const other = await clientOver(tcp, node);
    for (const [room, nick] of [
      ['a b', 'ok'],
      ['../etc', 'ok'],
      ['', 'ok'],
      ['r'.repeat(33), 'ok'],
      ['#', 'ok'],
      ['ok', 'two words'],
      ['ok', '<script>'],
      ['ok', 'n'.repeat(25)],
      ['ok', ''],
      ['ok', 'tab\tnick'],
    ]) {
      await expect(
        other.chat.join(room!, nick!, () => {}),
        `${room} ${nick}`,
      ).rejects.toMatchObject({
        code: 'INVALID_ARGS',
      });
    }
    other.destroy();
    m.close();
  });

  it('property: any room, nick and text is joined and said exactly, or refused with a chat or args error', async () => {
    const client = await clientOver(tcp, node);
    const allowed = new Set(['INVALID_ARGS', 'CHAT_NICK_TAKEN', 'CHAT_ALREADY_JOINED', 'FRAME_TOO_LARGE']);
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 40 }),
        fc.string({ maxLength: 30 }),
        fc.string({ maxLength: 300 }),
        async (room, nick, text) => {
          const events: { type: string; text?: string; seq?: number }[] = [];
          let membership: Awaited<ReturnType<typeof client.chat.join>>;
          try {
            membership = await client.chat.join(room, nick, (e) => events.push(e));
          } catch (err) {
            expect(allowed, String(err)).toContain((err as { code: string }).code);
            return;
          }
          try {
            const { seq } = await membership.say(text);
            // The room's EVENT leaves before the say's RESPONSE: it is here by now.
            expect(events.find((e) => e.type === 'message' && e.seq === seq)?.text).toBe(text.trim());
          } catch (err) {
            expect(allowed, String(err)).toContain((err as { code: string }).code);
          } finally {
            await membership.leave();
          }
        },
      ),
      { numRuns: 100 },
    );
    client.destroy();
  });

  it('limits rooms per connection and rooms per node', async () => {
    const small = await startNode({ chat: { maxRooms: 3 } });
    try {
      const client = await clientOver(tcp, small);
      const a = await client.chat.join('r1', 'me', () => {});
      await client.chat.join('r2', 'me', () => {});
      await client.chat.join('r3', 'me', () => {});
      await expect(client.chat.join('r4', 'me', () => {})).rejects.toMatchObject({ code: 'CHAT_ROOMS_FULL' });
      // A room nobody is in makes way for a new one.
      await a.leave();
      expect((await client.chat.join('r4', 'me', () => {})).room).toBe('r4');
      client.destroy();
    } finally {
      await small.close({ timeoutMs: 1000 });
    }
    const client = await clientOver(tcp, node);
    for (let i = 0; i < 16; i++) await client.chat.join(`many-${i}`, 'me', () => {});
    await expect(client.chat.join('many-16', 'me', () => {})).rejects.toMatchObject({ code: 'INVALID_ARGS' });
    client.destroy();
  });
});

describe('chat: text mode', () => {
  it('joins, talks, lists, whispers and leaves from nc; lines after /leave are commands again', async () => {
    const friend = await member(node, 'nc-room', 'friend');
    await friend.membership.say('welcome');
    const out = await textSession(
      node.port,
      [
        'join #nc-room ncuser',
        'hello from nc',
        '//slash is a message',
        '/who',
        '/msg friend psst',
        '/frobnicate',
        '/msg',
        '/leave',
        'calc 1+1',
        'who nc-room',
        'chatlog nc-room 2',
        'rooms',
        'quit',
        '',
      ].join('\n'),
      { timeoutMs: 5000 },
    );
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toBe(
      '* you joined #nc-room as ncuser; here: friend, ncuser. Type to talk, /help for commands',
    );
    expect(lines[1]).toMatch(/^\[nc-room\] \d\d:\d\d <friend> welcome$/);
    expect(lines.slice(2, 14)).toEqual([
      '* ncuser joined #nc-room',
      '[nc-room] <ncuser> hello from nc',
      '[nc-room] <ncuser> /slash is a message',
      '* in #nc-room: friend, ncuser',
      '* to friend: psst',
      "error: unknown chat command '/frobnicate'; /help lists them (UNKNOWN_COMMAND)",
      'error: usage: /msg <nick> <text> (INVALID_ARGS)',
      '* you left #nc-room',
      '2',
      '* in #nc-room: friend',
      expect.stringMatching(/^\[nc-room\] \d\d:\d\d <ncuser> hello from nc$/),
      expect.stringMatching(/^\[nc-room\] \d\d:\d\d <ncuser> \/slash is a message$/),
    ]);
    // `rooms` lists every room of this shared node; ours is among them.
    expect(lines.slice(14)).toContain('#nc-room  1 here, 3 messages');
    await expect.poll(() => eventsOf(friend.events, 'dm').map((e) => e.text)).toEqual(['psst']);
    await expect.poll(() => eventsOf(friend.events, 'leave').map((e) => e.reason)).toEqual(['left']);
    friend.close();
  });

  it('drops a text-mode member that stops reading, like any other', async () => {
    const room = await startNode({
      chat: { queue: 100, rate: 100_000 },
      slowPeerTimeout: '60s',
      maxOutbound: '64MiB',
    });
    try {
      const talker = await member(room, 'nc-busy', 'talker');
      const sleeper = net.connect({ port: room.port, host: '127.0.0.1' });
      sleeper.on('error', () => {});
      sleeper.write('join nc-busy sleeper\n');
      sleeper.pause();
      await expect.poll(() => eventsOf(talker.events, 'join').map((e) => e.nick)).toContain('sleeper');
      const text = 'x'.repeat(1900);
      for (let i = 0; i < 30_000 && !eventsOf(talker.events, 'leave').length; i++)
        await talker.membership.say(text);
      expect(eventsOf(talker.events, 'leave')[0]).toMatchObject({ nick: 'sleeper', reason: 'too-slow' });
      sleeper.destroy();
      talker.close();
    } finally {
      await room.close({ timeoutMs: 1000 });
    }
  });
});

describe('chat: node shutdown', () => {
  it('ends every membership with SHUTTING_DOWN and no storm of leave notices', async () => {
    const stopping = await startNode({});
    const members = await Promise.all(Array.from({ length: 5 }, (_, i) => member(stopping, 'bye', `m${i}`)));
    await stopping.close({ timeoutMs: 2000 });
    for (const m of members) {
      await expect(m.membership.ended).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
      expect(eventsOf(m.events, 'leave')).toEqual([]);
      m.close();
    }
  });
});
