/**
 * The agent-check's `ready` word, against a real HAProxy: after the agent said `drain` (a node that drains
 * on SIGTERM), its next `up ... N%` must bring the server back from DRAIN. Without `ready` HAProxy kept the
 * restarted node in "DRAIN (agent)" for good (found by rolling-restart.test.ts on a loaded machine).
 */
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { type AgentReply, startAgentCheck } from '../../src/cluster/agent-check.js';
import { HAPROXY_DEFAULTS, haproxyConfig } from '../../src/cluster/haproxy-config.js';
import { type Haproxy, haproxyBinary, haproxyPlace, startHaproxy, until } from '../helpers/haproxy.js';

const haproxy = haproxyBinary();

describe.skipIf(haproxy === undefined)('agent-check drain, then up again', () => {
  const closers: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  });

  it('HAProxy shows DRAIN (agent) while the agent says drain, and UP again once it says up', async () => {
    let reply: AgentReply = { state: 'up', weight: 80 };
    const agent = await startAgentCheck('127.0.0.1', 0, () => reply);
    closers.push(() => agent.close());
    const web = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => web.close(r)));
    const webPort = (web.address() as { port: number }).port;
    const { dir, socket, proto, web: front, stats } = await haproxyPlace();
    const cfg = haproxyConfig(
      [{ name: 'n1', host: '127.0.0.1', tcp: webPort, http: webPort, agent: agent.address().port }],
      {
        ...HAPROXY_DEFAULTS,
        bind: '127.0.0.1',
        protocolPort: proto,
        httpPort: front,
        tlsPort: undefined,
        stats: `127.0.0.1:${stats}`,
        socket,
        maxconn: 100,
        inter: '200ms',
        agentInter: '200ms',
      },
    );
    const lb: Haproxy = startHaproxy(haproxy!, dir, cfg);
    closers.push(() => lb.stop());
    const status = async () => (await lb.stat('nexo_nodes_http')).get('n1')?.status;
    await until('n1 up', 10_000, async () => ((await status()) === 'UP' ? true : undefined));
    reply = { state: 'drain' };
    await until('n1 drained', 10_000, async () => ((await status()) === 'DRAIN (agent)' ? true : undefined));
    reply = { state: 'up', weight: 60 };
    await until('n1 up again', 10_000, async () => ((await status()) === 'UP' ? true : undefined));
    expect((await lb.stat('nexo_nodes_http')).get('n1')!.weight).toBe(60);
  }, 40_000);
});
