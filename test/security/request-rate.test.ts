import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../src/client/client.js';
import { connect } from '../../src/client/index.js';
import type { NexoNode } from '../../src/node/node.js';
import { FileTokenStore } from '../../src/security/token-store.js';
import { startNode, tempDataDir, textSession } from '../helpers/node.js';

// §5.4.4 A token's request rate, over all its sessions: RATE_LIMITED beyond the burst, counted; others unaffected.
let node: NexoNode & { port: number };
let secret: string;
let other: string;
const clients: NexoClient[] = [];

beforeAll(async () => {
  const dataDir = tempDataDir();
  const store = new FileTokenStore(dataDir);
  secret = (await store.create('busy', 'user')).secret;
  other = (await store.create('calm', 'user')).secret;
  node = await startNode({ dataDir, requestRate: 5, requestBurst: 10 });
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await node?.close({ timeoutMs: 2000 });
});

const open = async (token: string) => {
  const c = await connect({ endpoints: [`127.0.0.1:${node.port}`], token });
  clients.push(c);
  return c;
};

describe('per-token request rate (§5.4.4)', () => {
  it('refuses requests beyond the burst with RATE_LIMITED, across sessions, and counts them', async () => {
    const [a, b, calm] = [await open(secret), await open(secret), await open(other)];
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).request('echo', 'echo', i)),
    );
    const refused = results.filter((r) => r.status === 'rejected');
    // 10 at once (the burst), give or take the tokens refilled meanwhile (5 a second).
    expect(refused.length).toBeGreaterThanOrEqual(8);
    expect(refused.length).toBeLessThanOrEqual(10);
    expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({
      code: 'RATE_LIMITED',
      details: { limit: 5, burst: 10 },
    });
    // Another token is not slowed by it.
    expect(await calm.request('echo', 'echo', 'hi')).toBe('hi');
    expect(node.stats.limits.request_rate).toBe(refused.length);
    // Text mode shares the bucket once a session took the token.
    const out = await textSession(node.port, `auth ${secret}\necho 1\nfim\n`);
    expect(out).toMatch(/RATE_LIMITED/);
  });

  it('lets the token go on once its bucket refilled', async () => {
    await new Promise((r) => setTimeout(r, 600));
    const c = await open(secret);
    expect(await c.request('echo', 'echo', 'again')).toBe('again');
  });
});
