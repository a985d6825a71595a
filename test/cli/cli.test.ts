import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { CLI, freePort, spawnServer, startNode } from '../helpers/node.js';

const exec = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function nexo(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const child = execFile(process.execPath, [CLI, ...args], {
    env: { ...process.env, NO_COLOR: '1', NEXO_SERVER: '', ...options.env },
    timeout: 15_000,
  });
  if (options.input !== undefined) child.stdin!.end(options.input);
  else child.stdin!.end();
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
  node = await startNode({ nodeId: 'cli-node' });
  at = ['--port', String(node.port)];
});
afterAll(() => node.close({ timeoutMs: 1000 }));

describe('nexo CLI', () => {
  it('calc prints just the result and exits 0', async () => {
    expect(await nexo(['calc', ...at, '2*(3+4)'])).toEqual({ code: 0, stdout: '14\n', stderr: '' });
    expect((await nexo(['calc', ...at, '0.1', '+', '0.2'])).stdout).toBe('0.3\n');
  });

  it('calc prints the error with a caret on stderr and exits 1', async () => {
    const run = await nexo(['calc', ...at, '2*(3+']);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(
      /^error: syntax error at column 6: .* \(CALC_SYNTAX\)\n {2}2\*\(3\+\n {7}\^\n$/,
    );
  });

  it('calc --json prints JSON for scripts, errors included', async () => {
    expect(JSON.parse((await nexo(['calc', ...at, '--json', '6*7'])).stdout)).toEqual({ value: '42' });
    const bad = await nexo(['calc', ...at, '--json', '1/0']);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ error: { code: 'CALC_DIVISION_BY_ZERO' } });
  });

  it('calc reads one expression per line from a pipe, variables carry over', async () => {
    const run = await nexo(['calc', ...at], { input: 'x = 2\nx ^ 10\n\nans / 4\n' });
    expect(run).toMatchObject({ code: 0, stdout: '2\n1024\n256\n' });
  });

  it('greet, send and ping', async () => {
    expect((await nexo(['greet', ...at, 'Ana', 'Bob'])).stdout).toBe('¡Hola, Ana!\n¡Hola, Bob!\n');
    expect((await nexo(['greet', ...at, '--lang', 'pt', 'João'])).stdout).toBe('Olá, João!\n');
    expect((await nexo(['send', ...at, 'Hola', 'Servidor'])).stdout).toBe('Hola Servidor\n');
    expect((await nexo(['send', ...at], { input: 'uno\ndos\nfim\ntres\n' })).stdout).toBe('uno\ndos\n');
    const ping = await nexo(['ping', ...at, '-c', '2', '-i', '10']);
    expect(ping.code).toBe(0);
    expect(ping.stdout).toMatch(
      /^pong from 127\.0\.0\.1:\d+ \(node cli-node\): time=\d+\.\d+ ms\n.*\n2 pings: min\/avg\/max = /,
    );
    const json = JSON.parse((await nexo(['ping', ...at, '-c', '1', '--json'])).stdout);
    expect(json).toMatchObject({ node: 'cli-node', rtts: [expect.any(Number)] });
  });

  it('uses NEXO_SERVER, with failover across a comma-separated list', async () => {
    const dead = await freePort();
    const run = await nexo(['calc', '1+1'], {
      env: { NEXO_SERVER: `127.0.0.1:${dead},127.0.0.1:${node.port}` },
    });
    expect(run.stdout).toBe('2\n');
  });

  it('says how to start a server when none listens, and exits 3', async () => {
    const port = await freePort();
    const run = await nexo(['calc', '--port', String(port), '1+1']);
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(
      `error: no nexo server is listening at 127.0.0.1:${port} (start one with: nexo server --port ${port}) (CONNECTION_REFUSED)\n`,
    );
  });

  it('has --help for every command and exits 0', async () => {
    for (const command of [[], ['server'], ['calc'], ['greet'], ['send'], ['ping']]) {
      const run = await nexo([...command, '--help']);
      expect(run.code, command.join(' ')).toBe(0);
      expect(run.stdout).toMatch(/^Usage: nexo/);
    }
  });

  it('rejects bad usage with exit 2', async () => {
    expect((await nexo(['frobnicate'])).code).toBe(2);
    expect((await nexo(['greet'])).code).toBe(2);
    expect((await nexo(['greet', ...at, '--lang', 'xx', 'Ana'])).code).toBe(2);
    expect((await nexo(['ping', ...at, '-c', 'zero'])).code).toBe(2);
    const badEndpoint = await nexo(['calc', '--server', 'not:a:port', '1']);
    expect(badEndpoint.code).toBe(2);
    expect(badEndpoint.stderr).toMatch(/invalid endpoint/);
  });

  it('server: bad configuration names the value and where it came from, exit 2', async () => {
    const flag = await nexo(['server', '--port', '70000']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(
      /port: expected integer to be less or equal to 65535 \(got 70000\) \[from flag --port\]/,
    );

    const env = await nexo(['server'], { env: { NEXO_MAX_CLIENTS: 'lots' } });
    expect(env.stderr).toMatch(/maxClients: .* \(got "lots"\) \[from env NEXO_MAX_CLIENTS\]/);

    const file = path.join(os.tmpdir(), `nexo-bad-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ idleTimeout: 'soon', colour: 'blue' }));
    const config = await nexo(['server', '--config', file]);
    expect(config.code).toBe(2);
    expect(config.stderr).toMatch(/colour: unknown option/);
    writeFileSync(file, '{ not json');
    expect((await nexo(['server', '--config', file])).stderr).toMatch(/is not valid JSON/);
  });

  it('server: starts from flags, env and config file, serves, and stops on SIGINT with exit 0', async () => {
    const file = path.join(os.tmpdir(), `nexo-ok-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ nodeId: 'from-file', maxClients: 5 }));
    const server = await spawnServer(['--config', file]);
    const { stdout } = await exec(process.execPath, [
      CLI,
      'greet',
      '--port',
      String(server.port),
      '--json',
      'Zoe',
    ]);
    expect(JSON.parse(stdout)).toMatchObject({ node: 'from-file' });
    expect(await server.stop('SIGINT')).toBe(0);
  });
});

describe('nexo calc, interactive', () => {
  const hasScript = ['/usr/bin/script', '/bin/script'].some((p) => existsSync(p));
  if (!hasScript) console.warn('skipping the REPL test: `script` (util-linux) is not installed');
  it.skipIf(!hasScript && process.env.CI !== 'true')(
    'runs a calculator with variables on a terminal (pty via script)',
    async () => {
      const home = mkdtempSync(path.join(os.tmpdir(), 'nexo-home-'));
      const command = `${process.execPath} ${CLI} calc --port ${node.port}`;
      const child = spawn('script', ['-qfec', command, '/dev/null'], {
        env: {
          ...process.env,
          NO_COLOR: '1',
          HOME: home,
          NEXO_HISTORY: path.join(home, 'history'),
          TERM: 'dumb',
        },
      });
      const closed = new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      const send = async (line: string) => {
        child.stdin.write(`${line}\n`);
        await new Promise((r) => setTimeout(r, 150));
      };
      await new Promise((r) => setTimeout(r, 600));
      await send('x = 2');
      await send('x * 21');
      await send('sqr(4)');
      await send(':vars');
      await send('quit');
      child.stdin.end(); // script(1) keeps reading its stdin until EOF, even after the calculator quit
      const code = await closed;
      const text = out.replace(/\r/g, '');
      expect(code).toBe(0);
      expect(text).toMatch(/connected to .*Type an expression/);
      expect(text).toMatch(/x = 2\n/);
      // The prompt for the next line may be printed before or after the result, depending on when the pty
      // delivers the typed lines, so the result is either on a line of its own or right after a prompt.
      expect(text).toMatch(/(\n|calc> )42\n/);
      expect(text).toMatch(/unknown function 'sqr'.*did you mean sqrt/);
      expect(text).toMatch(/ans = 42/);
      expect(readFileSync(path.join(home, 'history'), 'utf8')).toContain('x * 21');
    },
  );
});
