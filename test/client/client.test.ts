import { afterEach, describe, expect, it } from 'vitest';
import { NexoClient } from '../../src/client/client.js';
import { connect } from '../../src/client/index.js';
import { tcpSocketFactory } from '../../src/client/tcp.js';
import { NexoError } from '../../src/errors.js';
import type { NexoNode } from '../../src/node/node.js';
import { builtinServices } from '../../src/services/index.js';
import { freePort, startNode } from '../helpers/node.js';
import { slowService } from '../helpers/slow-service.js';

const nodes: NexoNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.close({ timeoutMs: 500 })));
});

async function node(options: Parameters<typeof startNode>[0] = {}) {
  const n = await startNode(options, { services: [...builtinServices(), slowService] });
  nodes.push(n);
  return n;
}

describe('client library', () => {
  it('says plainly that nothing listens, and how to start a server', async () => {
    const port = await freePort();
    const err = await connect({ endpoints: [`127.0.0.1:${port}`] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NexoError);
    expect(err).toMatchObject({ code: 'CONNECTION_REFUSED' });
    expect((err as Error).message).toBe(
      `no nexo server is listening at 127.0.0.1:${port} (start one with: nexo server --port ${port})`,
    );
  });

  it('fails over to the next endpoint when the first is down', async () => {
    const dead = await freePort();
    const live = await node({ nodeId: 'live' });
    const client = await connect({ endpoints: [`127.0.0.1:${dead}`, `127.0.0.1:${live.port}`] });
    expect(client.welcome?.node).toBe('live');
    expect(await client.calc.eval('1+1')).toEqual({ value: '2' });
    await client.close();
  });

  it('moves to another node on GOAWAY without losing requests', async () => {
    const a = await node({ nodeId: 'a' });
    const b = await node({ nodeId: 'b' });
    const client = await connect({ endpoints: [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`] });
    const goaways: string[] = [];
    client.on('goaway', (g) => goaways.push(g.code));
    const before = client.greet.hello(['x']);
    const closing = a.close({ timeoutMs: 2000 });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.calc.eval(`${i}+1`)));
    expect(results.map((r) => r.value)).toEqual(Array.from({ length: 50 }, (_, i) => String(i + 1)));
    expect((await before).greetings).toEqual(['¡Hola, x!']);
    await closing;
    expect(goaways).toEqual(['SHUTTING_DOWN']);
    expect((await client.greet.hello(['y'])).node).toBe('b');
    await client.close();
  });

  it('reconnects with backoff after the server restarts on the same port', async () => {
    const first = await node();
    const port = first.port;
    const client = await connect({
      endpoints: [`127.0.0.1:${port}`],
      reconnect: { initialDelayMs: 20, maxDelayMs: 100 },
    });
    const states: string[] = [];
    client.on('reconnecting', () => states.push('reconnecting'));
    client.on('connect', () => states.push('connect'));
    await first.close({ timeoutMs: 500 });
    const pending = client.echo.echo('after restart', { timeout: 5000 });
    await new Promise((r) => setTimeout(r, 150));
    await node({ port });
    expect(await pending).toBe('after restart');
    expect(states).toContain('reconnecting');
    expect(states.at(-1)).toBe('connect');
    await client.close();
  });

  it('times out a request with TIMEOUT and cancels one with an AbortSignal', async () => {
    const n = await node();
    const client = await connect({ endpoints: [`127.0.0.1:${n.port}`] });
    const slow = client
      .request('slow', 'sleep', { ms: 2000 }, { timeout: 100 })
      .catch((e: NexoError) => e.code);
    expect(await slow).toBe('TIMEOUT');
    const controller = new AbortController();
    const cancelled = client
      .request('slow', 'sleep', { ms: 2000 }, { signal: controller.signal })
      .catch((e: NexoError) => e.code);
    setTimeout(() => controller.abort(), 20);
    expect(await cancelled).toBe('CANCELLED');
    expect(await client.echo.echo(1)).toBe(1);
    await client.close();
  });

  it('queues beyond maxInFlight locally instead of overrunning the server', async () => {
    const n = await node({ maxInFlight: 4 });
    const client = await connect({ endpoints: [`127.0.0.1:${n.port}`] });
    const values = await Promise.all(Array.from({ length: 500 }, (_, i) => client.echo.echo(i)));
    expect(values).toEqual(Array.from({ length: 500 }, (_, i) => i));
    await client.close();
  });

  it('refuses a bad token once, without a reconnect loop', async () => {
    const n = await node({ auth: { anonymous: false, tokens: { 'good-token-123': 'user' } } });
    const err = await connect({ endpoints: [`127.0.0.1:${n.port}`], token: 'bad-token-000' }).catch((e) => e);
    expect(err).toMatchObject({ code: 'AUTH_FAILED' });
    const none = await connect({ endpoints: [`127.0.0.1:${n.port}`] }).catch((e) => e);
    expect(none).toMatchObject({ code: 'AUTH_FAILED' });
    const ok = await connect({ endpoints: [`127.0.0.1:${n.port}`], token: 'good-token-123' });
    expect(ok.welcome?.role).toBe('user');
    await ok.close();
  });

  it('tells a server that is not nexo from one that is', async () => {
    const { createServer } = await import('node:net');
    const http = createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
    const port = (http.address() as { port: number }).port;
    const client = new NexoClient({
      endpoints: [`127.0.0.1:${port}`],
      socketFactory: tcpSocketFactory,
      reconnect: false,
    });
    const err = await client.connect().catch((e) => e);
    expect(err).toMatchObject({ code: 'NOT_NEXO' });
    http.close();
  });
});

describe('client heartbeat (§7.2.3)', () => {
  it('fails a connection to a server that stopped answering, and says why', async () => {
    const { createServer } = await import('node:net');
    const { encodeFrame } = await import('../../src/protocol/encoder.js');
    const { packValue } = await import('../../src/protocol/payload.js');
    const { FrameType, PREFACE } = await import('../../src/protocol/constants.js');
    // A server that completes the handshake and then goes silent (a hung host).
    const mute = createServer((s) => {
      s.once('data', () =>
        s.write(
          Buffer.concat([
            PREFACE,
            encodeFrame(
              FrameType.WELCOME,
              0,
              0,
              packValue({
                version: 1,
                node: 'mute',
                server: 'test',
                role: 'anonymous',
                limits: { maxFrame: 65536, maxInFlight: 8, heartbeatMs: 100, idleTimeoutMs: 0 },
                services: {},
              }),
            ),
          ]),
        ),
      );
      s.on('error', () => {});
    });
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', () => r()));
    const port = (mute.address() as { port: number }).port;
    const client = new NexoClient({
      endpoints: [`127.0.0.1:${port}`],
      socketFactory: tcpSocketFactory,
      reconnect: false,
    });
    await client.connect();
    const started = Date.now();
    const pending = client.echo.echo('anyone?').catch((e: NexoError) => e.code);
    expect(await pending).toBe('HEARTBEAT_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(1000);
    mute.close();
  });
});

describe('closing with a subscription open (§7.3.4)', () => {
  it('close() finishes: the server ends the subscription when the client says GOAWAY', async () => {
    const n = await node();
    const client = await connect({ endpoints: [`127.0.0.1:${n.port}`] });
    const events: unknown[] = [];
    const call = await client.call('slow', 'watch', { every: 10 }, { onEvent: (e) => events.push(e) });
    await new Promise((r) => setTimeout(r, 60));
    const started = Date.now();
    await client.close();
    expect(Date.now() - started).toBeLessThan(1000);
    await expect(call.result).rejects.toMatchObject({
      code: 'CANCELLED',
      message: 'the client is going away',
    });
    expect(events.length).toBeGreaterThan(1);
  });
});
