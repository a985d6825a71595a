import { Type } from '@sinclair/typebox';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineMethod, type ServiceDefinition } from '../../src/contract/service.js';
import { ERRORS, type ErrorCode } from '../../src/errors.js';
import type { NexoNode } from '../../src/node/node.js';
import { builtinServices } from '../../src/services/index.js';
import { dashboardBuilt } from '../helpers/browser.js';
import { idleConnection, rawHttp } from '../helpers/http.js';
import { startNode } from '../helpers/node.js';
import { RawPeer } from '../helpers/raw-peer.js';
import { slowService } from '../helpers/slow-service.js';
import { httpPort } from '../helpers/transports.js';

/** A method only the admin role may call, to see roles enforced over HTTP as over the protocol. */
function vaultService(): ServiceDefinition {
  return {
    name: 'vault',
    description: 'test-only: role checks',
    methods: {
      peek: defineMethod({
        description: 'admins only',
        args: Type.Null(),
        access: ['admin'],
        handler: (_args, ctx) => ({ role: ctx.session.role, mode: ctx.session.mode }),
      }),
    },
  };
}

const ADMIN_TOKEN = 'admin-token-123';
let node: NexoNode & { port: number };
let base: string;
let port: number;

beforeAll(async () => {
  node = await startNode(
    {
      nodeId: 'gw-node',
      auth: { tokens: { [ADMIN_TOKEN]: 'admin' } },
      http: { port: 0, bodyLimit: '4KiB', requestTimeout: '600ms', maxConnectionsPerIp: 40 },
    },
    { services: [...builtinServices(), slowService, vaultService] },
  );
  port = httpPort(node);
  base = `http://127.0.0.1:${port}`;
});
afterAll(() => node.close({ timeoutMs: 2000 }));

async function call(
  method: 'GET' | 'POST',
  path: string,
  body?: string,
  headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' },
): Promise<{ status: number; headers: Headers; json: unknown }> {
  const response = await fetch(base + path, { method, body, headers });
  const text = await response.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: response.status, headers: response.headers, json };
}

/** Every error body is {error: {code, message}} with the HTTP status the registry gives that code. */
function expectError(r: { status: number; json: unknown }, code: ErrorCode): void {
  expect(r.json).toMatchObject({ error: { code, message: expect.any(String) } });
  expect(r.status).toBe(ERRORS[code].status);
}

describe('HTTP gateway: health, node header, REST API', () => {
  it('/healthz and /readyz answer, and every response names the node', async () => {
    expect(await call('GET', '/healthz')).toMatchObject({
      status: 200,
      json: { status: 'ok', node: 'gw-node' },
    });
    expect(await call('GET', '/readyz')).toMatchObject({
      status: 200,
      json: { status: 'ready', node: 'gw-node' },
    });
    for (const [method, path] of [
      ['GET', '/healthz'],
      ['GET', '/api'],
      ['GET', '/no/such/thing'],
      ['POST', '/api/calc/eval'],
      ['GET', '/ws'],
      ['GET', '/api/calc/vars'],
    ] as const) {
      const r = await call(method, path);
      expect(r.headers.get('x-nexo-node'), `${method} ${path}`).toBe('gw-node');
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('calls any unary method with POST /api/<service>/<method> and JSON args', async () => {
    expect(await call('POST', '/api/calc/eval', '{"expr":"2*(3+4)"}')).toMatchObject({
      status: 200,
      json: { value: '14' },
    });
    expect((await call('POST', '/api/echo/echo', '{"a":[1,"two",null]}')).json).toEqual({
      a: [1, 'two', null],
    });
    expect((await call('POST', '/api/echo/echo', '"just a string"')).json).toBe('just a string');
    // No body means no args.
    expect(await call('POST', '/api/greet/languages')).toMatchObject({
      status: 200,
      json: { default: 'es' },
    });
    // Each HTTP request is its own session: calc variables do not outlive it.
    expect((await call('POST', '/api/calc/eval', '{"expr":"x = 2"}')).json).toEqual({
      value: '2',
      assigned: 'x',
    });
    expectError(await call('POST', '/api/calc/eval', '{"expr":"x + 1"}'), 'CALC_UNKNOWN_VARIABLE');
  });

  it('reports method errors with the protocol code, its HTTP status and details', async () => {
    const r = await call('POST', '/api/calc/eval', '{"expr":"1/0"}');
    expectError(r, 'CALC_DIVISION_BY_ZERO');
    expect(r.json).toMatchObject({ error: { details: { column: 2 } } });
    expectError(await call('POST', '/api/nope/x', 'null'), 'UNKNOWN_SERVICE');
    expectError(await call('POST', '/api/calc/nope', 'null'), 'UNKNOWN_METHOD');
    const invalid = await call('POST', '/api/calc/eval', '{"expr":42}');
    expectError(invalid, 'INVALID_ARGS');
    expect(JSON.stringify(invalid.json)).toContain('args.expr');
    expectError(await call('POST', '/api/calc/eval', '{"expr":"1","extra":true}'), 'INVALID_ARGS');
  });

  it('has GET routes for curl: calc, greet, chat history, node', async () => {
    expect((await call('GET', '/api/calc/eval?expr=2%5E10')).json).toEqual({ value: '1024' });
    expect((await call('GET', '/api/greet/hello?name=Ana&name=Jo%C3%A3o&lang=pt')).json).toMatchObject({
      greetings: ['Olá, Ana!', 'Olá, João!'],
      node: 'gw-node',
    });
    expectError(await call('GET', '/api/greet/hello?name=Ana&lang=xx'), 'INVALID_ARGS');
    expectError(await call('GET', '/api/greet/hello'), 'INVALID_ARGS');
    expectError(await call('GET', '/api/calc/eval'), 'INVALID_ARGS');
    expect((await call('GET', '/api/chat/rooms/lobby/messages?limit=5')).json).toEqual({
      room: 'lobby',
      messages: [],
    });
    expectError(await call('GET', '/api/chat/rooms/lobby/messages?limit=lots'), 'INVALID_ARGS');
    expectError(await call('GET', '/api/chat/rooms/a%20b/members'), 'INVALID_ARGS');
    expect((await call('GET', '/api/chat/rooms')).json).toEqual({ rooms: [] });
    const stats = await call('GET', '/api/node');
    expect(stats.json).toMatchObject({ node: 'gw-node', connections: { http: expect.any(Number) } });
    expect((await call('GET', '/api/node/info')).json).toMatchObject({ node: 'gw-node', http: { port } });
    const index = (await call('GET', '/api')).json as { services: { name: string }[] };
    expect(index.services.map((s) => s.name)).toEqual(
      expect.arrayContaining(['calc', 'greet', 'chat', 'node']),
    );
  });

  it('refuses streams and subscriptions over plain HTTP, and says how to call a method it does not GET', async () => {
    const stream = await call('POST', '/api/echo/stream', 'null');
    expectError(stream, 'METHOD_NOT_ALLOWED');
    expect(JSON.stringify(stream.json)).toContain('WebSocket /ws');
    expectError(await call('POST', '/api/chat/join', '{"room":"a","nick":"b"}'), 'METHOD_NOT_ALLOWED');
    const get = await call('GET', '/api/calc/vars');
    expectError(get, 'METHOD_NOT_ALLOWED');
    expect(get.headers.get('allow')).toBe('POST');
    expectError(await call('GET', '/api/calc/nothing'), 'NOT_FOUND');
    expectError(await call('GET', '/ws'), 'UPGRADE_REQUIRED');
  });

  it('applies roles from Authorization: Bearer <token>, like HELLO tokens', async () => {
    expectError(await call('POST', '/api/vault/peek', 'null'), 'FORBIDDEN');
    const admin = await call('POST', '/api/vault/peek', 'null', {
      'content-type': 'application/json',
      authorization: `Bearer ${ADMIN_TOKEN}`,
    });
    expect(admin).toMatchObject({ status: 200, json: { role: 'admin', mode: 'http' } });
    for (const authorization of [
      'Bearer wrong-token-1',
      'Basic YWRtaW46YWRtaW4=',
      'Bearer',
      `Bearer ${'x'.repeat(5000)}`,
    ]) {
      const r = await call('POST', '/api/vault/peek', 'null', {
        'content-type': 'application/json',
        authorization,
      });
      expectError(r, 'AUTH_FAILED');
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  it('requires a token on a node without anonymous access', async () => {
    const closed = await startNode({
      auth: { anonymous: false, tokens: { [ADMIN_TOKEN]: 'admin' } },
      http: { port: 0 },
    });
    try {
      const url = `http://127.0.0.1:${httpPort(closed)}/api/calc/eval`;
      const denied = await fetch(url, {
        method: 'POST',
        body: '{"expr":"1"}',
        headers: { 'content-type': 'application/json' },
      });
      expect(denied.status).toBe(401);
      const allowed = await fetch(url, {
        method: 'POST',
        body: '{"expr":"1"}',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(await allowed.json()).toEqual({ value: '1' });
      // Health checks stay open to load balancers.
      expect((await fetch(`http://127.0.0.1:${httpPort(closed)}/healthz`)).status).toBe(200);
    } finally {
      await closed.close({ timeoutMs: 1000 });
    }
  });
});

describe('HTTP gateway: hostile input', () => {
  it('refuses bodies over the limit (413), malformed JSON (400) and other content types (415)', async () => {
    expectError(
      await call('POST', '/api/echo/echo', JSON.stringify('x'.repeat(10_000))),
      'PAYLOAD_TOO_LARGE',
    );
    // A body larger than its Content-Length claims, or a lie the other way, never reaches a handler.
    const lying = await rawHttp(
      port,
      'POST /api/echo/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n"short"',
      3000,
    );
    expect([400, 408, 413]).toContain(lying.status);
    for (const body of ['{bad', '{"expr":', '[1,2', '\u0000', 'NaN', "{'a':1}"]) {
      expectError(await call('POST', '/api/echo/echo', body), 'BAD_REQUEST');
    }
    expectError(
      await call('POST', '/api/echo/echo', '', { 'content-type': 'application/json' }),
      'BAD_REQUEST',
    );
    for (const type of [
      'text/plain',
      'application/xml',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      expectError(
        await call('POST', '/api/echo/echo', 'expr=1', { 'content-type': type }),
        'UNSUPPORTED_MEDIA_TYPE',
      );
    }
  });

  it('refuses prototype pollution and survives deeply nested JSON', async () => {
    expectError(await call('POST', '/api/echo/echo', '{"__proto__":{"polluted":true}}'), 'BAD_REQUEST');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const deep = `${'['.repeat(1900)}${']'.repeat(1900)}`;
    const r = await call('POST', '/api/calc/eval', deep);
    expectError(r, 'INVALID_ARGS');
    expect((await call('GET', '/healthz')).status).toBe(200);
  });

  it('property: any body with a JSON content type gets an answer with a registry code, never a 500', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 4 })), async (body) => {
        const r = await call('POST', '/api/calc/eval', body);
        expect(r.status).toBeLessThan(500);
        if (r.status !== 200) {
          const code = (r.json as { error: { code: ErrorCode } }).error.code;
          expect(Object.keys(ERRORS)).toContain(code);
          expect(r.status).toBe(ERRORS[code].status);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('never serves a file outside the dashboard, however the path is written', async () => {
    dashboardBuilt();
    const index = await rawHttp(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(index.status).toBe(200);
    expect(index.headers['content-type']).toMatch(/^text\/html/);
    expect(index.headers['x-nexo-node']).toBe('gw-node');
    expect(index.headers['cache-control']).toBe('no-cache');
    expect(index.headers['content-security-policy']).toContain("default-src 'self'");
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(index.body)?.[1];
    expect(asset).toBeDefined();
    const script = await rawHttp(port, `GET ${asset} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(script.status).toBe(200);
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    for (const path of [
      '/../package.json',
      '/../../package.json',
      '/%2e%2e/package.json',
      '/%2e%2e/%2e%2e/package.json',
      '/assets/..%2f..%2f..%2fpackage.json',
      '/..%5c..%5cpackage.json',
      '/%252e%252e/package.json',
      '/....//....//package.json',
      '/assets/%00.js',
      '/.env',
      '/../../../../../../etc/passwd',
    ]) {
      const r = await rawHttp(port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      expect(r.status, path).not.toBe(200);
      if (r.status !== 400) expect(JSON.parse(r.body), path).toMatchObject({ error: { code: 'NOT_FOUND' } });
      expect(r.body, path).not.toContain('"name": "nexo"');
      expect(r.body, path).not.toContain('root:');
    }
  });

  it('cuts a request that arrives too slowly (slowloris) while others are served', async () => {
    const started = Date.now();
    const slow = rawHttp(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ', 5000); // never finishes its headers
    expect((await call('GET', '/healthz')).status).toBe(200);
    const r = await slow;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(r.status).toBe(408);
    expect(JSON.parse(r.body)).toMatchObject({ error: { code: 'REQUEST_TIMEOUT' } });
    expect(r.headers['x-nexo-node']).toBe('gw-node');
  });

  it('refuses oversized headers (431) and requests that are not HTTP (400)', async () => {
    const huge = await rawHttp(
      port,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(huge.status).toBe(431);
    expect(JSON.parse(huge.body)).toMatchObject({ error: { code: 'HEADERS_TOO_LARGE' } });
    // 2000 short headers: ~24 KB on the wire, though Node's parser counts only their names and values.
    const many = (value: (i: number) => string) =>
      `GET /healthz HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 2000 }, (_, i) => `${value(i)}\r\n`).join('')}\r\n`;
    for (const head of [
      many((i) => `h${String(i % 1000).padStart(3, '0')}: 1234`),
      many(() => 'h: 123456'),
    ]) {
      const r = await rawHttp(port, head);
      expect(r.status, `${head.length} bytes`).toBe(431);
      expect(JSON.parse(r.body)).toMatchObject({
        error: { code: 'HEADERS_TOO_LARGE', details: { limit: 16384 } },
      });
    }
    // Just under 16 KiB in all is accepted.
    const fits = `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(16384 - 52)}\r\n\r\n`;
    expect(fits.length).toBeLessThanOrEqual(16384);
    expect((await rawHttp(port, fits)).status).toBe(200);
    const garbage = await rawHttp(port, Buffer.from([0x8e, 0x4e, 0x58, 0x4f, 0, 0, 0, 0, 1, 0, 0, 0]));
    expect(garbage.status).toBe(400);
    expect(JSON.parse(garbage.body)).toMatchObject({ error: { code: 'BAD_REQUEST' } });
    expect((await call('GET', '/healthz')).status).toBe(200);
  });

  it('caps connections per client address (429 TOO_MANY_CONNECTIONS), and frees the slot on close', async () => {
    const held = await Promise.all(Array.from({ length: 40 }, () => idleConnection(port)));
    try {
      // Let the server see them all.
      await new Promise((r) => setTimeout(r, 100));
      const refused = await rawHttp(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(refused.status).toBe(429);
      expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'TOO_MANY_CONNECTIONS' } });
      expect(refused.headers['x-nexo-node']).toBe('gw-node');
      // The protocol port is not the HTTP port: TCP clients are unaffected.
      const peer = await RawPeer.open(node.port);
      expect((await peer.reply(peer.request('echo', 'echo', 'still fine'))).value).toBe('still fine');
      peer.close();
    } finally {
      for (const socket of held) socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 100));
    expect((await call('GET', '/healthz')).status).toBe(200);
  });
});

describe('HTTP gateway: draining', () => {
  it('answers /readyz 503 while the node drains, refuses new calls, and finishes what was running', async () => {
    // Counts the calls that reached the handler: draining starts only once both are running (a fixed wait
    // of 50 ms let the HTTP call arrive after the drain on a loaded machine, and it was refused).
    const slow = slowService();
    let running = 0;
    const sleep = slow.methods.sleep!;
    const counted = {
      ...slow,
      methods: {
        ...slow.methods,
        sleep: {
          ...sleep,
          handler: (...a: Parameters<typeof sleep.handler>) => {
            running++;
            return sleep.handler(...a);
          },
        },
      },
    };
    const draining = await startNode(
      { nodeId: 'drain-node', http: { port: 0 } },
      { services: [...builtinServices(), () => counted] },
    );
    const url = `http://127.0.0.1:${httpPort(draining)}`;
    // A protocol request keeps the node draining for a while; an HTTP call is in flight too.
    const peer = await RawPeer.open(draining.port);
    const slowId = peer.request('slow', 'sleep', { ms: 2500 });
    const inFlight = fetch(`${url}/api/slow/sleep`, {
      method: 'POST',
      body: '{"ms":1500}',
      headers: { 'content-type': 'application/json' },
    });
    for (let i = 0; i < 500 && running < 2; i++) await new Promise((r) => setTimeout(r, 10));
    expect(running).toBe(2);
    const closed = draining.close({ timeoutMs: 10_000 });
    let ready = await fetch(`${url}/readyz`);
    for (let i = 0; i < 100 && ready.status !== 503; i++) ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('x-nexo-node')).toBe('drain-node');
    expect(await ready.json()).toMatchObject({ error: { code: 'SHUTTING_DOWN' } });
    const refused = await fetch(`${url}/api/echo/echo`, {
      method: 'POST',
      body: '1',
      headers: { 'content-type': 'application/json' },
    });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { code: 'SHUTTING_DOWN' } });
    expect((await fetch(`${url}/healthz`)).status).toBe(200); // alive, just not ready
    const done = await inFlight;
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ slept: 1500 });
    expect((await peer.reply(slowId)).value).toEqual({ slept: 2500 });
    await closed;
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
  });
});
