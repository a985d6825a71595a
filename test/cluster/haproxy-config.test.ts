import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HAPROXY_DEFAULTS, haproxyConfig } from '../../src/cluster/haproxy-config.js';
import { parseNodeSpecs } from '../../src/cluster/haproxy-nodes.js';
import { builtinServices } from '../../src/services/index.js';
import { enginesMissing, NATS_URL } from '../helpers/engines.js';
import {
  getVia,
  type Haproxy,
  haproxyAccepts,
  haproxyBinary,
  haproxyPlace,
  startHaproxy,
  until,
} from '../helpers/haproxy.js';
import { ROOT, runCli } from '../helpers/node.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { inProcessCluster } from '../helpers/shared-nodes.js';
import { slowService } from '../helpers/slow-service.js';

const haproxy = haproxyBinary();
const missing = await enginesMissing();

describe('nexo haproxy-config', () => {
  it('writes deploy/haproxy.cfg.example for the three nodes install.sh names, and HAProxy accepts it', async () => {
    const run = await runCli([
      'haproxy-config',
      '--node',
      '10.0.1.11:5000:8080',
      '--node',
      '10.0.1.12:5000:8080',
      '--node',
      '10.0.1.13:5000:8080',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(readFileSync(path.join(ROOT, 'deploy/haproxy.cfg.example'), 'utf8'));
    for (const line of [
      'balance leastconn',
      'timeout tunnel 1h',
      'option httpchk GET /readyz',
      'stats socket /run/haproxy/admin.sock mode 660 level admin',
      'stats enable',
      'server node2 10.0.1.12:5000 check port 8080 inter 1s fall 2 rise 2 weight 100 agent-check agent-port 5555 agent-inter 2s',
    ]) {
      expect(run.stdout).toContain(line);
    }
    if (haproxy === undefined) return;
    const check = haproxyAccepts(haproxy, path.join(ROOT, 'deploy/haproxy.cfg.example'));
    expect(check.ok, check.output).toBe(true);
  });

  it('validates every setting in HAProxy with -c, IPv6 and agent ports included, TLS off', async () => {
    if (haproxy === undefined) return;
    const { dir, socket } = await haproxyPlace();
    const cfg = haproxyConfig(parseNodeSpecs(['[::1]:5000:8080:5600', 'localhost:5001:8081']), {
      ...HAPROXY_DEFAULTS,
      tlsPort: undefined,
      bind: '127.0.0.1',
      socket,
      inter: '500ms',
    });
    expect(cfg).toContain(
      'server node1 [::1]:5000 check port 8080 inter 500ms fall 2 rise 2 weight 100 agent-check agent-port 5600',
    );
    expect(cfg).not.toContain('nexo_tls');
    const file = path.join(dir, 'haproxy.cfg');
    writeFileSync(file, cfg);
    const check = haproxyAccepts(haproxy, file);
    expect(check.ok, check.output).toBe(true);
  });

  it('refuses bad input with a clear message', async () => {
    for (const [args, message] of [
      [['--node', '10.0.1.11:5000'], /--node: expected host:port:httpport\[:agentport\]/],
      [['--node', '10.0.1.11:5000:80800'], /--node: expected/],
      [['--node', 'h:1:2', '--inter', 'soon'], /--inter: expected an HAProxy time/],
      [['--node', 'h:1:2', '--protocol-port', '0'], /--protocol-port: expected a port/],
      [['--node', 'h:1:2', '--stats', 'nowhere'], /--stats: expected host:port/],
    ] as const) {
      const run = await runCli(['haproxy-config', ...args]);
      expect(run.code, run.stdout).toBe(2);
      expect(run.stderr).toMatch(message);
    }
  });
});

/**
 * A real HAProxy on the config written from the live membership, in front of two nodes: both take traffic;
 * one starts draining (a slow request keeps it draining) and its agent-check says `drain`, so HAProxy sends it
 * no new connection well before its (deliberately slow) /readyz health checks would notice, without a reload.
 */
describe.skipIf(missing !== undefined || haproxy === undefined)('HAProxy from nexo haproxy-config', () => {
  const { cluster, nodes, node } = inProcessCluster('nxch');
  let lb: Haproxy | undefined;
  afterAll(() => lb?.stop());

  it('balances over the membership and stops sending new connections to a draining node at once', async () => {
    for (const id of ['h1', 'h2']) await node(id, { services: [...builtinServices(), slowService] });
    const { dir, socket, proto, web, stats } = await haproxyPlace();
    const run = await runCli([
      'haproxy-config',
      '--nats',
      NATS_URL,
      '--cluster',
      cluster,
      '--bind',
      '127.0.0.1',
      '--protocol-port',
      String(proto),
      '--http-port',
      String(web),
      '--tls-port',
      'off',
      '--stats',
      `127.0.0.1:${stats}`,
      '--socket',
      socket,
      '--maxconn',
      '1000',
      // Health checks too slow to matter here (fall 2: 10 s): only the agent can drain the node in time.
      '--inter',
      '5s',
      '--agent-inter',
      '300ms',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`server h1 127.0.0.1:${nodes[0]!.httpAddress()!.port} check inter 5s`);
    expect(run.stdout).toContain(`agent-port ${nodes[1]!.agentAddress()!.port}`);
    lb = startHaproxy(haproxy!, dir, run.stdout);
    const seen = await until('both nodes through HAProxy', 20_000, async () => {
      const names = new Set<string>();
      for (let i = 0; i < 8; i++) names.add((await getVia('127.0.0.1', web, '/readyz')).node);
      return names.size === 2 ? names : undefined;
    });
    expect([...seen].sort()).toEqual(['h1', 'h2']);

    // HAProxy starts each server's first agent-check at a random point of the health-check interval.
    await until('the first agent-checks', 20_000, async () => {
      const s = await lb!.stat('nexo_nodes_http');
      return [...s.values()].every((v) => /L7OK|CHECKED/.test(v.agentStatus)) ? true : undefined;
    });
    expect((await lb.stat('nexo_nodes_http')).get('h2')).toMatchObject({
      status: 'UP',
      weight: expect.any(Number),
    });

    // h2 drains: a slow request holds it in the draining state for 4 s.
    const peer = await RawPeer.open(nodes[1]!.port);
    const slow = peer.request('slow', 'sleep', { ms: 4000 });
    await new Promise((r) => setTimeout(r, 50));
    const drainedAt = Date.now();
    const closing = nodes[1]!.close({ timeoutMs: 8000 });
    await until('HAProxy to drain h2', 3000, async () => {
      const s = await lb!.stat('nexo_nodes_http');
      return s.get('h2')?.status === 'DRAIN (agent)' ? s : undefined;
    });
    const ms = Date.now() - drainedAt;
    console.log(`haproxy: agent-check drained h2 after ${ms} ms (agent-inter 300ms)`);
    // Still up as far as health checks go (a 503 /readyz needs two 5 s checks): the agent took it out.
    expect((await lb.servers('nexo_nodes_http')).get('h2')!.opState).toBe(2);
    for (let i = 0; i < 8; i++) {
      const r = await getVia('127.0.0.1', web, '/readyz');
      expect(r).toEqual({ status: 200, node: 'h1' });
    }
    expect((await peer.reply(slow)).value).toEqual({ slept: 4000 });
    await closing;
  }, 120_000);
});
