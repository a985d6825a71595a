import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { NexoError } from '../../src/errors.js';
import { openNats } from '../../src/storage/nats/connection.js';
import { enginesMissing, NATS_URL, uniqueName } from '../helpers/engines.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const missing = await enginesMissing();

async function until(check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.skipIf(missing)('openNats', () => {
  it('refuses at start-up with one line naming the URL', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const err = await openNats([`nats://u:pw@127.0.0.1:${port}`], {
      cluster: 'x',
      connectTimeoutMs: 1000,
    }).catch((e) => e);
    expect(err).toBeInstanceOf(NexoError);
    expect(err.code).toBe('STORAGE_UNAVAILABLE');
    expect(err.message).toMatch(
      new RegExp(`^cannot connect to NATS at nats://u:\\*\\*\\*@127\\.0\\.0\\.1:${port}: \\S`),
    );
    expect(err.message).not.toContain('\n');
    expect(err.message).not.toContain('pw@');
  });

  it('connects, names things by cluster, reaches JetStream KV', async () => {
    const cluster = uniqueName('nxt');
    const nats = await openNats([NATS_URL], { cluster });
    try {
      expect(nats.subject('chat.lobby')).toBe(`${cluster}.chat.lobby`);
      expect(nats.name('chat')).toBe(`${cluster}_chat`);
      expect(nats.health()).toMatchObject({ engine: 'nats', up: true, url: NATS_URL });
      const kv = await nats.kv.create(nats.name('probe'), { history: 1 });
      await kv.put('k', 'v');
      expect((await kv.get('k'))?.string()).toBe('v');
      await kv.destroy();
    } finally {
      await nats.close();
    }
  });

  it('is down while the server is unreachable and up again when it returns', async () => {
    const proxy = await TcpProxy.start(Number(new URL(NATS_URL).port));
    const nats = await openNats([`nats://127.0.0.1:${proxy.port}`], { cluster: uniqueName('nxt') });
    try {
      const changes: boolean[] = [];
      nats.onHealth((h) => changes.push(h.up));
      proxy.refusing = true;
      proxy.cutAll();
      await until(() => !nats.health().up, 3000);
      proxy.refusing = false;
      await until(() => nats.health().up, 5000);
      expect(changes).toEqual([false, true]);
      await nats.nc.flush();
    } finally {
      await nats.close();
      await proxy.close();
    }
  });
});
