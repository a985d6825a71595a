import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import { startNode, textSession } from '../helpers/node.js';

let node: NexoNode & { port: number };

beforeAll(async () => {
  node = await startNode({ maxLine: 256 });
});
afterAll(() => node.close({ timeoutMs: 2000 }));

describe('text mode (spec §8)', () => {
  it('calc, greet, echo, and fim closes', async () => {
    const out = await textSession(
      node.port,
      'calc 2*(3+4)\ngreet Ana Bob\ngreet --lang pt João\necho hola mundo\nfim\n',
    );
    expect(out).toBe('14\n¡Hola, Ana!\n¡Hola, Bob!\nOlá, João!\nhola mundo\n');
  });

  it('keeps per-session variables and ans', async () => {
    const out = await textSession(node.port, 'calc x = 0.1 + 0.2\ncalc x * 10\ncalc ans + 1\nvars\nquit\n');
    expect(out).toBe('x = 0.3\n3\n4\nx = 0.3\nans = 4\n');
  });

  it('answers errors in one readable line and stays usable', async () => {
    const out = await textSession(node.port, 'calc 2*(3+\ncalc 1/0\nfrobnicate\ngreet\ncalc 1+1\nexit\n');
    const lines = out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^error: syntax error at column \d+: .* \(CALC_SYNTAX\)$/);
    expect(lines[1]).toMatch(/\(CALC_DIVISION_BY_ZERO\)$/);
    expect(lines[2]).toBe("error: unknown command 'frobnicate' (type help for the list) (UNKNOWN_COMMAND)");
    expect(lines[3]).toMatch(/^error: usage: greet/);
    expect(lines.slice(4)).toEqual(['2']);
  });

  it('sends at most 20 error lines at once, then says how many it withheld; a good line resets the count (§8.7)', async () => {
    const bad = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}\n`).join('');
    const out = await textSession(node.port, `${bad(30, 'a')}calc 1+1\n${bad(5, 'b')}fim\n`);
    const lines = out.trimEnd().split('\n');
    expect(lines.filter((l) => l.endsWith('(UNKNOWN_COMMAND)')).length).toBeLessThan(30);
    expect(lines.slice(0, 20).every((l) => l.endsWith('(UNKNOWN_COMMAND)'))).toBe(true);
    expect(lines).toContain('2');
    expect(out).not.toMatch(/TOO_MANY_ERRORS/);
    // Once the rate allows, the next error line is sent after the notice of those withheld.
    const socket = net.connect({ port: node.port, host: '127.0.0.1' });
    let text = '';
    socket.on('data', (d) => (text += d));
    socket.write(bad(25, 'c'));
    await new Promise((r) => setTimeout(r, 300));
    socket.write('late\n');
    const deadline = Date.now() + 5000;
    while (!text.includes("'late'") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    socket.destroy();
    expect(text).toMatch(
      /nexo: \d+ error replies withheld \(at most 10 a second\)\nerror: unknown command 'late'/,
    );
  });

  it('closes a session whose last 100 lines all failed, with TOO_MANY_ERRORS (§8.7)', async () => {
    const lines = Array.from({ length: 150 }, (_, i) => `nope${i}\n`).join('');
    const out = await textSession(node.port, lines, { until: /TOO_MANY_ERRORS/ });
    expect(out.trimEnd().split('\n').at(-1)).toBe(
      'nexo: 100 lines in a row failed; closing (TOO_MANY_ERRORS)',
    );
  });

  it('rejects an over-long line without buffering it and goes on', async () => {
    const out = await textSession(node.port, `calc ${'1+'.repeat(5000)}1\ncalc 3*3\nfim\n`);
    expect(out).toMatch(/^error: line of \d+\+? bytes is longer than 256 \(LINE_TOO_LONG\)\n9\n$/);
  });

  it('answers help and ping with CRLF line ends', async () => {
    expect(await textSession(node.port, 'ping\r\nhelp\r\nsalir\r\n')).toMatch(
      /^pong\nnexo .* text mode\. Commands:\n[\s\S]*calc <expression>[\s\S]*close the connection\n$/,
    );
  });

  it('answers lines sent before a half-close (printf | nc), even a last line without newline', async () => {
    const out = await new Promise<string>((resolve) => {
      const socket = net.connect({ port: node.port, host: '127.0.0.1' }, () =>
        socket.end('calc 6*7\ncalc 1+1'),
      );
      let data = '';
      socket.on('data', (d) => (data += d));
      socket.on('close', () => resolve(data));
    });
    expect(out).toBe('42\n2\n');
  });

  it('does not let a result forge extra lines', async () => {
    const out = await textSession(node.port, 'echo a\u2028b\nfim\n');
    expect(out.split('\n')).toHaveLength(2);
  });

  it('never echoes control characters: an OSC title sequence in an unknown command or echo is defused (§8.3)', async () => {
    const osc = '\u001b]0;pwned\u0007';
    const out = await textSession(node.port, `${osc}x\necho a${osc}b\u009bc\tz\u007f\nfim\n`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the test looks for exactly these
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    expect(out.split('\n')).toEqual([
      "error: unknown command '?]0;pwned?x' (type help for the list) (UNKNOWN_COMMAND)",
      'a?]0;pwned?b?c\tz?',
      '',
    ]);
  });

  it("reads telnet's CR NUL as a line end, not as a NUL in the command (§8.1)", async () => {
    const out = await textSession(node.port, 'calc 1+1\r\0greet Ana\r\0\r\0fim\r\0');
    expect(out).toBe('2\n¡Hola, Ana!\n');
  });

  const nc = ['/usr/bin/nc', '/bin/nc'].find((p) => existsSync(p));
  const needNc = nc === undefined && process.env.CI !== 'true';
  it.skipIf(needNc)(
    'acceptance: printf "calc 2*(3+4)\\nfim\\n" | nc 127.0.0.1 PORT prints 14 and closes',
    async () => {
      if (nc === undefined) throw new Error('nc is required in CI (apt-get install netcat-openbsd)');
      const { stdout } = await promisify(execFile)(
        'sh',
        ['-c', `printf 'calc 2*(3+4)\\nfim\\n' | ${nc} 127.0.0.1 ${node.port}`],
        {
          timeout: 5000,
        },
      );
      expect(stdout).toBe('14\n');
    },
  );
  if (needNc)
    console.warn('skipping the nc acceptance test: nc is not installed (apt-get install netcat-openbsd)');
});
