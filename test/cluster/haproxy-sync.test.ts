import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { enginesMissing } from '../helpers/engines.js';
import {
  configFromMembership,
  getVia,
  type Haproxy,
  haproxyBinary,
  startHaproxy,
  until,
} from '../helpers/haproxy.js';
import { CLI } from '../helpers/node.js';
import { inProcessCluster } from '../helpers/shared-nodes.js';

const haproxy = haproxyBinary();
const missing = await enginesMissing();

/**
 * `nexo haproxy-sync` against a real HAProxy started with one node: a second node that joins the membership is
 * added through the runtime API and takes traffic, and when it leaves it is taken out, with no reload.
 */
describe.skipIf(missing !== undefined || haproxy === undefined)('nexo haproxy-sync', () => {
  const { cluster, nodes, node } = inProcessCluster('nxcs');
  let lb: Haproxy | undefined;
  let sync: ChildProcess | undefined;
  afterAll(async () => {
    if (sync !== undefined && sync.exitCode === null) sync.kill('SIGKILL');
    await lb?.stop();
  });

  it('adds a node that joins and removes one that leaves, without a reload', async () => {
    await node('s1');
    const { dir, common, config, web } = await configFromMembership(cluster);
    lb = startHaproxy(haproxy!, dir, config);
    await until('s1 through HAProxy', 20_000, async () =>
      (await getVia('127.0.0.1', web, '/readyz')).node === 's1' ? true : undefined,
    );
    const pid = lb.child.pid;

    sync = spawn(process.execPath, [CLI, 'haproxy-sync', ...common, '--interval', '300ms'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    let out = '';
    sync.stdout!.on('data', (d) => (out += d));
    sync.stderr!.on('data', (d) => (out += d));

    const joined = Date.now();
    await node('s2');
    const seen = await until('s2 to take traffic through HAProxy', 20_000, async () => {
      const names = new Set<string>();
      for (let i = 0; i < 6; i++) names.add((await getVia('127.0.0.1', web, '/readyz')).node);
      return names.has('s2') ? names : undefined;
    });
    console.log(`haproxy-sync: a joining node took traffic ${Date.now() - joined} ms after it started`);
    expect([...seen].sort()).toEqual(['s1', 's2']);
    expect(out).toContain('add nexo_nodes_tcp/s2');
    expect(out).toContain('add nexo_nodes_http/s2');
    expect((await lb.servers('nexo_nodes_tcp')).get('s2')).toMatchObject({
      opState: 2,
      addr: '127.0.0.1',
      port: nodes[1]!.address().port,
    });

    // s2 leaves: it drains and deletes its entry; the sync takes it out of every backend.
    await nodes[1]!.close({ timeoutMs: 1000 });
    await until('s2 to leave HAProxy', 15_000, async () =>
      (await lb!.servers('nexo_nodes_http')).has('s2') || (await lb!.servers('nexo_nodes_tcp')).has('s2')
        ? undefined
        : true,
    );
    for (let i = 0; i < 6; i++)
      expect(await getVia('127.0.0.1', web, '/readyz')).toEqual({ status: 200, node: 's1' });
    expect(lb.child.pid).toBe(pid); // the same HAProxy process throughout: no reload, no restart
    expect(lb.child.exitCode).toBeNull();
    sync.kill('SIGTERM');
    const [code] = await once(sync, 'exit');
    expect(code, out).toBe(0);
  }, 120_000);
});
