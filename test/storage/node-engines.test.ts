import { execFile } from 'node:child_process';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import {
  createSchema,
  dropSchema,
  enginesMissing,
  NATS_URL,
  PG_URL,
  pgUrlFor,
  uniqueName,
} from '../helpers/engines.js';
import { CLI, startNode, tempDataDir } from '../helpers/node.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const missing = await enginesMissing();
const run = promisify(execFile);

async function until(check: () => Promise<boolean> | boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.skipIf(missing)('a node with --storage postgres', () => {
  const schema = uniqueName('nxnode');
  let pgProxy: TcpProxy & { port: number };
  let natsProxy: TcpProxy & { port: number };
  let node: NexoNode & { port: number };
  let http: string;

  beforeAll(async () => {
    await createSchema(schema);
    // Both engines through proxies this test can cut, so the shared PostgreSQL and NATS are never touched.
    pgProxy = await TcpProxy.start(Number(new URL(PG_URL).port));
    natsProxy = await TcpProxy.start(Number(new URL(NATS_URL).port));
    const viaProxy = new URL(pgUrlFor(schema));
    viaProxy.port = String(pgProxy.port);
    node = await startNode({
      storage: 'postgres',
      postgres: viaProxy.toString(),
      nats: `nats://127.0.0.1:${natsProxy.port}`,
      cluster: uniqueName('nxnode'),
      http: { port: 0 },
    });
    http = `http://127.0.0.1:${node.httpAddress()!.port}`;
  });
  afterAll(async () => {
    await node?.close({ timeoutMs: 1000 });
    await pgProxy?.close();
    await natsProxy?.close();
    await dropSchema(schema);
  });

  interface Ready {
    engines: { engine: string; up: boolean }[];
    error: { code: string; message: string; details: { engines: { engine: string; up: boolean }[] } };
  }
  const readyz = async () => {
    const response = await fetch(`${http}/readyz`);
    return { status: response.status, body: (await response.json()) as Ready };
  };

  it('is ready with both engines up, and says so in node.stats', async () => {
    const { status, body } = await readyz();
    expect(status).toBe(200);
    expect(body.engines.map((e) => [e.engine, e.up])).toEqual([
      ['postgres', true],
      ['nats', true],
    ]);
    const stats = (await (await fetch(`${http}/api/node/stats`, { method: 'POST' })).json()) as {
      storage: { mode: string; engines: unknown[] };
    };
    expect(stats.storage.mode).toBe('postgres');
    expect(stats.storage.engines).toHaveLength(2);
  });

  it('turns /readyz 503 STORAGE_UNAVAILABLE while PostgreSQL is away, 200 again by itself', async () => {
    pgProxy.refusing = true;
    pgProxy.cutAll();
    await until(async () => (await readyz()).status === 503, 5000);
    const { body } = await readyz();
    expect(body.error.code).toBe('STORAGE_UNAVAILABLE');
    expect(body.error.message).toMatch(
      /^not ready: postgres at postgres:\/\/postgres@127\.0\.0\.1:\d+\/test/,
    );
    expect(body.error.details.engines.find((e) => e.engine === 'nats')?.up).toBe(true);
    pgProxy.refusing = false;
    await until(async () => (await readyz()).status === 200, 5000);
  });

  it('turns /readyz 503 while NATS is away, 200 again by itself', async () => {
    natsProxy.refusing = true;
    natsProxy.cutAll();
    await until(async () => (await readyz()).status === 503, 5000);
    expect((await readyz()).body.error.message).toMatch(/nats at nats:\/\/127\.0\.0\.1:\d+ is unreachable/);
    natsProxy.refusing = false;
    await until(async () => (await readyz()).status === 200, 8000);
  });

  it('nexo status shows the storage mode and each engine', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'status', '-s', `127.0.0.1:${node.port}`]);
    expect(stdout).toMatch(/^storage: postgres \(postgres up, nats up\)$/m);
  });
});

describe.skipIf(missing)('start-up against an engine that refuses connections', () => {
  /** `nexo server --storage postgres` with these engines; it must fail at start-up. */
  const serve = (postgres: string, nats: string) =>
    run(
      process.execPath,
      [
        CLI,
        'server',
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--no-http',
        '--data-dir',
        tempDataDir(),
        '--log-level',
        'silent',
        '--storage',
        'postgres',
        '--postgres',
        postgres,
        '--nats',
        nats,
      ],
      { timeout: 15_000 },
    ).then(
      () => {
        throw new Error('nexo server started against an engine that refuses connections');
      },
      (e: { code: number; stderr: string }) => e,
    );

  it('nexo server stops with one line naming the PostgreSQL URL (password hidden)', async () => {
    const port = await deadPort();
    const err = await serve(`postgres://nexo:pw@127.0.0.1:${port}/nexo`, NATS_URL);
    expect(err.code).toBe(2);
    expect(err.stderr.trim()).toBe(
      `nexo: cannot start: cannot connect to PostgreSQL at postgres://nexo:***@127.0.0.1:${port}/nexo: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
  });

  it('nexo server stops with one line naming the NATS URL (password hidden)', async () => {
    const port = await deadPort();
    const err = await serve(pgUrlFor('public'), `nats://nexo:pw@127.0.0.1:${port}`);
    expect(err.code).toBe(2);
    const line = err.stderr.trim();
    expect(line).not.toContain('\n');
    expect(line).toMatch(
      new RegExp(
        `^nexo: cannot start: cannot connect to NATS at nats://nexo:\\*\\*\\*@127\\.0\\.0\\.1:${port}: \\S`,
      ),
    );
    expect(line).not.toContain('pw@');
  });

  it('names the NATS URL when NATS refuses, and leaves nothing open', async () => {
    const port = await deadPort();
    const schema = uniqueName('nxnode');
    const node = startNode({
      storage: 'postgres',
      postgres: pgUrlFor('public'),
      nats: `nats://127.0.0.1:${port}`,
      nodeId: schema,
    });
    await expect(node).rejects.toThrow(`cannot connect to NATS at nats://127.0.0.1:${port}: `);
  });
});
