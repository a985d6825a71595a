import { execFile } from 'node:child_process';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { CLI, freePort, spawnServer, startNode } from '../helpers/node.js';
import { eventsOf, member } from '../services/chat/helpers.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The built CLI as a user runs it; `input` is piped to stdin (then closed). */
async function nexo(args: string[], input = ''): Promise<Run> {
  const child = execFile(process.execPath, [CLI, ...args], {
    env: { ...process.env, NO_COLOR: '1', NEXO_SERVER: '' },
    // generous: in the full suite a CLI shares two cores with multi-host tests (once killed at 15 s)
    timeout: 30_000,
  });
  child.stdin!.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}

let node: NexoNode & { port: number };
let at: string[];

beforeAll(async () => {
  node = await startNode({ nodeId: 'cli-web-node', chat: { rate: 1000 } });
  at = ['--port', String(node.port)];
});
afterAll(() => node.close({ timeoutMs: 1000 }));

describe('nexo chat', () => {
  it('says each piped line in the room and leaves at end of input', async () => {
    const watcher = await member(node, 'ops', 'watcher');
    const run = await nexo(['chat', 'ops', '--nick', 'ci', ...at], 'deploy started\n/who\ndeploy done\n');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = run.stdout.split('\n');
    expect(out[0]).toBe('* you joined #ops as ci; here: watcher, ci. Type to talk, /help for commands');
    expect(out).toContain('[ops] <ci> deploy started');
    expect(out).toContain('* in #ops: watcher, ci');
    expect(out).toContain('[ops] <ci> deploy done');
    await expect.poll(() => watcher.said()).toEqual(['ci: deploy started', 'ci: deploy done']);
    await expect
      .poll(() => eventsOf(watcher.events, 'leave').map((e) => `${e.nick} ${e.reason}`))
      .toEqual(['ci left']);
    watcher.close();
  });

  it('--json prints one event per line for scripts, history first', async () => {
    const run = await nexo(
      ['chat', '#ops', '--nick', 'bot', '--json', '--history', '1', ...at],
      '/msg nobody hi\n',
    );
    expect(run.code).toBe(0);
    const events = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ type: 'joined', room: 'ops', nick: 'bot', history: 1 });
    expect(events[1]).toMatchObject({ type: 'message', history: true, text: 'deploy done' });
    expect(events).toContainEqual(
      expect.objectContaining({ error: expect.objectContaining({ code: 'CHAT_NO_SUCH_MEMBER' }) }),
    );
  });

  it('explains a taken nickname and exits 1', async () => {
    const holder = await member(node, 'taken', 'Ana');
    const run = await nexo(['chat', 'taken', '--nick', 'ana', ...at]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      "error: the nickname 'Ana' is taken in #taken; choose another (CHAT_NICK_TAKEN)\n",
    );
    holder.close();
  });

  it('refuses a bad room name with the field named, exit 1', async () => {
    const run = await nexo(['chat', 'no spaces', '--nick', 'x', ...at]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/args\.room.*\(INVALID_ARGS\)/);
  });
});

describe('nexo status', () => {
  it('prints which node answered, its uptime, connections and request rate', async () => {
    const run = await nexo(['status', ...at]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^node cli-web-node, up \d+s\nconnections: tcp \d+\nrequests: \d+ total/);
    const json = JSON.parse((await nexo(['status', '--json', ...at])).stdout);
    expect(json).toMatchObject({ node: 'cli-web-node', connections: { tcp: expect.any(Number) } });
  });
});

describe('nexo server HTTP gateway', () => {
  it('serves the API and dashboard on --http-port and names itself', async () => {
    const httpPort = await freePort();
    const server = await spawnServer(['--http-port', String(httpPort), '--node-id', 'cli-http']);
    try {
      const response = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
      expect(response.headers.get('x-nexo-node')).toBe('cli-http');
      expect(await response.json()).toEqual({ status: 'ok', node: 'cli-http' });
      expect(server.output()).toContain(`"http":"http://127.0.0.1:${httpPort}"`);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it('stops with a clear message when the HTTP port is taken (exit 2)', async () => {
    const blocker = net.createServer();
    const httpPort = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as net.AddressInfo).port)),
    );
    try {
      const port = await freePort();
      const run = await nexo([
        'server',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--http-port',
        String(httpPort),
        '--log-level',
        'silent',
      ]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`HTTP port ${httpPort} on 127.0.0.1 is already in use`);
      expect(run.stderr).toContain('--http-port');
    } finally {
      blocker.close();
    }
  });

  it('refuses an HTTP port equal to the protocol port', async () => {
    const run = await nexo(['server', '--port', '7001', '--http-port', '7001']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('http.port: 7001 is also the nexo TCP port');
  });
});
