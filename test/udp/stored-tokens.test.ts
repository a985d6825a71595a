import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../src/client/client.js';
import { connect } from '../../src/client/index.js';
import type { NexoNode } from '../../src/node/node.js';
import { FileTokenStore } from '../../src/security/token-store.js';
import { runCli, startNode, tempDataDir } from '../helpers/node.js';

// §13.3.3 with §5.1.5: the UDP key table follows the tokens store, so a token created while the node runs
// opens secure sessions at once, and a revoked one no longer does.
const ADMIN = 'admin-token-udp-0123456789';
let dataDir: string;
let node: NexoNode & { port: number };
let c: NexoClient;

beforeAll(async () => {
  dataDir = tempDataDir();
  node = await startNode({ dataDir, auth: { anonymous: false, tokens: { [ADMIN]: 'admin' } } });
  c = await connect({ endpoints: [`127.0.0.1:${node.port}`], token: ADMIN });
});
afterAll(async () => {
  await c?.close();
  await node?.close({ timeoutMs: 2000 });
});

const sensor = (token: string, id: string) =>
  runCli([
    'sensor',
    '--port',
    String(node.port),
    '--udp',
    '--token',
    token,
    '--id',
    id,
    '--every',
    '0',
    '--count',
    '5',
  ]);

/** The node polls the tokens file (§5.1.5); retry until it has seen the change or 3 s pass. */
async function untilAccepted(token: string, id: string) {
  const deadline = Date.now() + 3000;
  for (;;) {
    const run = await sensor(token, id);
    if (run.code === 0 || Date.now() > deadline) return run;
  }
}

describe('UDP keys follow the tokens store', () => {
  it('a token created at run time reports over UDP; once revoked it is refused', async () => {
    const store = new FileTokenStore(dataDir);
    const { secret } = await store.create('udp-lab-1', 'sensor');
    const run = await untilAccepted(secret, 'udp-lab-1');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('udp-lab-1: 5 readings reported, 5 acknowledged');
    const page = await c.telemetry.readings({ sensor: 'udp-lab-1', metric: 'temperature' });
    expect(page.readings).toHaveLength(5);

    await store.revoke('udp-lab-1');
    await new Promise((r) => setTimeout(r, 600)); // one poll of the file, and a margin
    const refused = await sensor(secret, 'udp-lab-1');
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/AUTH_FAILED/);
  });
});
