/**
 * --metrics-port: /metrics on a listener of its own (the HTTP gateway then has none), with the token when one
 * is set, with the gateway off too; and the option's checks.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { resolveOptions } from '../../src/options/options.js';
import { startNode } from '../helpers/node.js';
import { httpPort } from '../helpers/transports.js';

const TOKEN = 'metrics-port-token-0123456789';
const nodes: NexoNode[] = [];
afterAll(() => Promise.all(nodes.map((n) => n.close({ timeoutMs: 1000 }))));

describe('--metrics-port', () => {
  it('serves /metrics there and not on the HTTP port', async () => {
    const node = await startNode({ http: { port: 0, metricsPort: 0 } });
    nodes.push(node);
    const metrics = node.metricsAddress();
    expect(metrics).toBeDefined();
    expect(metrics!.port).not.toBe(httpPort(node));
    const there = await fetch(`http://127.0.0.1:${metrics!.port}/metrics`);
    expect(there.status).toBe(200);
    expect(there.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await there.text()).toMatch(/^nexo_requests_total /m);
    expect((await fetch(`http://127.0.0.1:${httpPort(node)}/metrics`)).status).toBe(404);
    const other = await fetch(`http://127.0.0.1:${metrics!.port}/api/calc/eval`);
    expect(other.status).toBe(404);
    expect(((await other.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });

  it('asks for the token there, and works with the HTTP gateway off', async () => {
    const node = await startNode({ http: { enabled: false, metricsPort: 0, metricsToken: TOKEN } });
    nodes.push(node);
    expect(node.httpAddress()).toBeUndefined();
    const url = `http://127.0.0.1:${node.metricsAddress()!.port}/metrics`;
    expect((await fetch(url)).status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
  });

  it('refuses a port taken by the node itself, and out of range, with a clear message', () => {
    expect(() => resolveOptions({ port: 5000, http: { port: 8080, metricsPort: 8080 } })).toThrow(
      /http\.metricsPort: 8080 is also the HTTP port/,
    );
    expect(() => resolveOptions({ port: 5000, http: { metricsPort: 5000 } })).toThrow(
      /http\.metricsPort: 5000 is also the nexo TCP port/,
    );
    expect(() => resolveOptions({ http: { metricsPort: 70000 } })).toThrow(/metricsPort/);
    expect(resolveOptions({ http: { metricsPort: 9464 } }).http.metricsPort).toBe(9464);
  });

  it('fails to start, naming the port, when the port is taken', async () => {
    const first = await startNode({ http: { enabled: false, metricsPort: 0 } });
    nodes.push(first);
    const taken = first.metricsAddress()!.port;
    await expect(startNode({ http: { enabled: false, metricsPort: taken } })).rejects.toThrow(
      new RegExp(`cannot listen for metrics on 127\\.0\\.0\\.1:${taken}: the port is already in use`),
    );
  });
});

describe('--no-metrics', () => {
  it('serves no /metrics and times no request', async () => {
    const node = await startNode({ http: { port: 0, metrics: false } });
    nodes.push(node);
    expect((await fetch(`http://127.0.0.1:${httpPort(node)}/metrics`)).status).toBe(404);
    expect([...node.dispatcher.latencies()]).toEqual([]);
    expect(() => resolveOptions({ http: { metrics: false, metricsPort: 9464 } })).toThrow(
      /--no-metrics\) leaves nothing for --metrics-port/,
    );
  });

  it('times every method otherwise', async () => {
    const node = await startNode();
    nodes.push(node);
    expect([...node.dispatcher.latencies()].map((l) => `${l.service}.${l.method}`)).toContain('echo.echo');
  });
});
