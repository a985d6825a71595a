import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineMethod, type ServiceDefinition } from '../../src/contract/service.js';
import type { NexoNode } from '../../src/node/node.js';
import { OptionsError, resolveOptions } from '../../src/options/options.js';
import { builtinServices } from '../../src/services/index.js';
import { startNode } from '../helpers/node.js';
import { UdpPeer } from '../helpers/udp.js';

const run = promisify(execFile);
const NC = ['/usr/bin/nc', '/bin/nc'].find((p) => existsSync(p));

let node: NexoNode & { port: number };
let udpPort: number;

/** A text command that takes `ms` to answer: lets the test fill the queue of pending datagrams. */
function napService(): ServiceDefinition {
  return {
    name: 'nap',
    description: 'test-only: answers after a delay',
    methods: {
      nap: defineMethod({
        description: 'sleeps',
        args: Type.Object({ ms: Type.Integer({ minimum: 0, maximum: 5000 }) }),
        access: 'anyone',
        handler: (args) => new Promise((resolve) => setTimeout(() => resolve({ ms: args.ms }), args.ms)),
      }),
    },
    text: [
      {
        name: 'nap',
        usage: 'nap <ms>',
        summary: 'sleep',
        parse: (rest) => ({ method: 'nap', args: { ms: Number(rest) } }),
        format: (r) => `slept ${(r as { ms: number }).ms}`,
      },
    ],
  };
}

beforeAll(async () => {
  node = await startNode(
    { maxLine: 256, udp: { maxPending: 8 } },
    {
      services: [...builtinServices(), napService],
    },
  );
  udpPort = node.udp!.listener.address().port;
});
afterAll(() => node.close({ timeoutMs: 2000 }));

describe('text over UDP (spec §13.2)', () => {
  it('listens on the TCP port number by default', () => {
    expect(udpPort).toBe(node.port);
  });

  it("answers `echo 'greet Ana' | nc -u -w1 127.0.0.1 PORT` with ¡Hola, Ana!", async (ctx) => {
    if (NC === undefined) {
      if (process.env.CI === 'true') throw new Error('nc is missing (Debian netcat-openbsd)');
      console.log('skipped: no nc (install netcat-openbsd)');
      ctx.skip();
    }
    const { stdout } = await run('sh', ['-c', `echo 'greet Ana' | ${NC} -u -w1 127.0.0.1 ${udpPort}`]);
    expect(stdout).toBe('¡Hola, Ana!\n');
  });

  it('answers calc, greet, echo and ping, one reply datagram per command', async () => {
    const peer = await UdpPeer.open();
    try {
      expect(await peer.ask('calc 2*(3+4)\n', udpPort)).toBe('14\n');
      expect(await peer.ask('greet --lang pt João', udpPort)).toBe('Olá, João!\n');
      expect(await peer.ask('echo hola mundo\r\n', udpPort)).toBe('hola mundo\n');
      expect(await peer.ask('PING', udpPort)).toBe('pong\n');
      expect(peer.received).toEqual([]);
    } finally {
      peer.close();
    }
  });

  it('keeps no session: a variable set by one datagram is unknown to the next', async () => {
    const peer = await UdpPeer.open();
    try {
      expect(await peer.ask('calc x = 3', udpPort)).toBe('x = 3\n');
      expect(await peer.ask('calc x + 1', udpPort)).toMatch(/\(CALC_UNKNOWN_VARIABLE\)\n$/);
      expect(await peer.ask('join lab ana', udpPort)).toMatch(
        /needs a connection: use TCP.*\(BAD_REQUEST\)\n$/,
      );
      expect(await peer.ask('auth secret-token', udpPort)).toMatch(/\(BAD_REQUEST\)\n$/);
    } finally {
      peer.close();
    }
  });

  it('survives malformed, oversized and hostile datagrams', async () => {
    const peer = await UdpPeer.open();
    try {
      expect(await peer.ask('', udpPort, 200)).toBe(''); // empty: no reply
      expect(await peer.ask('\n', udpPort, 200)).toBe('');
      expect(await peer.ask('fim', udpPort, 200)).toBe('');
      expect(await peer.ask('calc 1+1\ncalc 2+2\n', udpPort)).toBe(
        'error: one command per datagram (BAD_REQUEST)\n',
      );
      // Over maxLine (256): a short error, never an echo of the input.
      const long = await peer.ask(`echo ${'x'.repeat(1000)}`, udpPort);
      expect(long).toMatch(/^error: datagram of 1005 bytes > 256 \(LINE_TOO_LONG\)\n$/);
      // Invalid UTF-8 becomes U+FFFD; control characters never reach the reader's terminal.
      expect(await peer.ask(Buffer.from([0x65, 0x63, 0x68, 0x6f, 0x20, 0xff, 0xfe]), udpPort)).toBe(
        'echo \uFFFD\uFFFD\n'.slice(5),
      );
      const osc = await peer.ask('echo \x1b]0;pwned\x07hi', udpPort);
      expect(osc).toBe('?]0;pwned?hi\n');
      expect(await peer.ask('frobnicate', udpPort)).toMatch(/\(UNKNOWN_COMMAND\)\n$/);
      // A datagram that starts like a secure one but is not (too short, unknown type): no reply at all.
      for (const junk of [[0x8e], [0x8e, 0xff, 1, 2, 3], [0x8e, 0x01]]) {
        expect(await peer.ask(Buffer.from(junk), udpPort, 150)).toBe('');
      }
      // Random bytes: whatever the reply, the node still answers afterwards.
      for (let i = 0; i < 50; i++) {
        const bytes = Buffer.from(Array.from({ length: 1 + (i % 40) }, (_, j) => (i * 31 + j * 7) & 0xff));
        await peer.send(bytes, udpPort);
      }
      await new Promise((r) => setTimeout(r, 200));
      peer.received.length = 0;
      expect(await peer.ask('calc 6*7', udpPort)).toBe('42\n');
    } finally {
      peer.close();
    }
  });

  it('drops datagrams beyond the pending limit and counts them (§13.1.5)', async () => {
    const peer = await UdpPeer.open();
    try {
      const before = node.udp!.stats();
      const sent = 40;
      for (let i = 0; i < sent; i++) await peer.send('nap 1000', udpPort);
      const deadline = Date.now() + 5000;
      const settled = () =>
        node.udp!.stats().datagramsIn - before.datagramsIn >= sent - 5 && node.udp!.listener.pending === 0;
      while (Date.now() < deadline && !settled()) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 50));
      const after = node.udp!.stats();
      const dropped = after.droppedBusy - before.droppedBusy;
      const answered = peer.received.filter((m) => m.toString() === 'slept 1000\n').length;
      expect(answered).toBe(8); // udp.maxPending
      expect(dropped).toBe(after.datagramsIn - before.datagramsIn - answered);
      expect(dropped).toBeGreaterThanOrEqual(sent - 8 - 5); // the kernel may drop a few itself
    } finally {
      peer.close();
    }
  });
});

describe('anti-amplification (spec §13.1.2, §13.2.3)', () => {
  let small: NexoNode & { port: number };
  let port: number;
  beforeAll(async () => {
    small = await startNode({ udp: { unverifiedBudget: 1200 } });
    port = small.udp!.listener.address().port;
  });
  afterAll(() => small.close({ timeoutMs: 2000 }));

  it('withholds replies larger than the budget allows, offers a cookie, and answers the cookie in full', async () => {
    const peer = await UdpPeer.open();
    try {
      // `help` (5 bytes) asks for ~500 bytes: the budget of 1200 covers two, then it is spent.
      const replies: string[] = [];
      for (let i = 0; i < 4; i++) replies.push(await peer.ask('help', port));
      expect(replies[0]).toMatch(/^nexo text over UDP/);
      const offer = replies.find((r) => r.includes('ADDRESS_UNVERIFIED') || r.startsWith('cookie '));
      expect(offer).toBeDefined();
      const cookie = /cookie ([A-Za-z0-9_-]{27})/.exec(offer!)![1]!;
      const full = await peer.ask(`cookie ${cookie} help`, port);
      expect(full).toMatch(/^nexo text over UDP/);
      // The cookie is bound to the address and port it was sent to: another port gets no favour.
      const other = await UdpPeer.open();
      try {
        for (let i = 0; i < 3; i++) await other.ask('help', port, 300);
        const stolen = await other.ask(`cookie ${cookie} help`, port, 300);
        expect(stolen).not.toMatch(/^nexo text over UDP/);
      } finally {
        other.close();
      }
      const stats = small.udp!.stats();
      expect(stats.unverifiedOut).toBeLessThanOrEqual(stats.unverifiedIn + 1200);
      expect(stats.text.withheld).toBeGreaterThan(0);
    } finally {
      peer.close();
    }
  });

  it('a spoofed-source-style flood from many ports keeps no per-peer state and gets no more bytes than it sent', async () => {
    const flood = await startNode({ udp: { unverifiedBudget: 1200 } });
    const fport = flood.udp!.listener.address().port;
    const peers = await Promise.all(Array.from({ length: 100 }, () => UdpPeer.open()));
    try {
      const heapBefore = process.memoryUsage().heapUsed;
      const datagrams = ['help', 'greet Ana', 'status', 'x', 'calc 1', 'sensors', Buffer.from([0x8e, 0x01])];
      let sent = 0;
      for (let round = 0; round < 20; round++) {
        await Promise.all(
          peers.map((p, i) => p.send(datagrams[(i + round) % datagrams.length]!, fport).then(() => sent++)),
        );
        await new Promise((r) => setTimeout(r, 10)); // the node shares this event loop: let it read
      }
      await new Promise((r) => setTimeout(r, 300));
      const stats = flood.udp!.stats();
      const received = peers.reduce((n, p) => n + p.received.reduce((m, b) => m + b.length, 0), 0);
      expect(sent).toBe(2000);
      expect(stats.datagramsIn).toBeGreaterThan(1500);
      // Bytes out never exceed bytes in by more than the budget (1200), node-wide.
      expect(received).toBeLessThanOrEqual(stats.bytesOut); // the kernel may drop some on the way
      expect(stats.bytesOut).toBeLessThanOrEqual(stats.bytesIn + 1200);
      // Nothing was kept per peer: no connection, no session, and no growth to speak of.
      expect(flood.connectionCount).toBe(0);
      expect(flood.udp!.sessions).toBe(0);
      expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(32 * 1024 * 1024);
    } finally {
      for (const p of peers) p.close();
      await flood.close({ timeoutMs: 2000 });
    }
  });
});

describe('text over UDP on a node that refuses anonymous clients (spec §13.2.2)', () => {
  it('answers commands AUTH_FAILED, and still ping', async () => {
    const closed = await startNode({ auth: { anonymous: false, tokens: { 'admin-token-1': 'admin' } } });
    const peer = await UdpPeer.open();
    try {
      const port = closed.udp!.listener.address().port;
      expect(await peer.ask('greet Ana', port)).toMatch(/\(AUTH_FAILED\)\n$/);
      expect(await peer.ask('ping', port)).toBe('pong\n');
    } finally {
      peer.close();
      await closed.close({ timeoutMs: 1000 });
    }
  });
});

describe('UDP options', () => {
  it('are validated with helpful messages', () => {
    expect(() => resolveOptions({ udp: { unverifiedBudget: 100 } })).toThrow(
      /udp\.unverifiedBudget: must be between 1200 bytes and 64MiB/,
    );
    expect(() => resolveOptions({ udp: { port: 70000 } })).toThrow(OptionsError);
    expect(() => resolveOptions({ udp: { idleTimeout: '10ms' } })).toThrow(/udp\.idleTimeout/);
    expect(() => resolveOptions({ udp: { bogus: 1 } as never })).toThrow(/udp\.bogus: unknown option/);
  });

  it('--no-udp (udp.enabled false) opens no UDP socket; udp.port picks the port', async () => {
    const off = await startNode({ udp: { enabled: false } });
    expect(off.udp).toBeUndefined();
    await off.close({ timeoutMs: 1000 });
    const peer = await UdpPeer.open();
    const free = peer.port;
    peer.close();
    const on = await startNode({ udp: { port: free } });
    try {
      expect(on.udp!.listener.address().port).toBe(free);
      const p = await UdpPeer.open();
      expect(await p.ask('ping', free)).toBe('pong\n');
      p.close();
    } finally {
      await on.close({ timeoutMs: 1000 });
    }
  });
});
