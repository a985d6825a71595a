import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { enginesMissing, NATS_URL, PG_URL } from '../helpers/engines.js';
import { getVia, haproxyBinary, until } from '../helpers/haproxy.js';
import { CLI, runCli } from '../helpers/node.js';

const missing = await enginesMissing();
const haproxy = haproxyBinary();

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * `nexo cluster up --nodes 3` as a user runs it: three nodes and HAProxy start on the local PostgreSQL and
 * NATS, every address is printed, requests go through HAProxy, and SIGINT (Ctrl-C) leaves no process behind.
 */
describe.skipIf(missing !== undefined || haproxy === undefined)('nexo cluster up', () => {
  it('starts three nodes and HAProxy, serves through HAProxy, and stops everything on Ctrl-C', async () => {
    const base = 28_100 + (process.pid % 40) * 20;
    const [lb, lbHttp, stats] = [base - 3, base - 2, base - 1];
    const up = spawn(
      process.execPath,
      [CLI, 'cluster', 'up', '--nodes', '3', '--postgres', PG_URL, '--nats', NATS_URL]
        .concat(['--base-port', String(base - 10), '--lb-port', String(lb), '--lb-http-port', String(lbHttp)])
        .concat(['--stats-port', String(stats)]),
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
    );
    let out = '';
    up.stdout!.on('data', (d) => (out += d));
    up.stderr!.on('data', (d) => (out += d));
    try {
      await until('cluster up to be ready', 90_000, async () => {
        if (up.exitCode !== null) throw new Error(out);
        return /^ready$/m.test(out) ? true : undefined;
      });
      const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
      expect(pids.length, out).toBe(4);
      for (let i = 0; i < 3; i++) expect(out).toContain(`nexo://127.0.0.1:${base + 10 * i}`);
      expect(out).toContain(`http://127.0.0.1:${lbHttp}/`);
      const cluster = /nexo cluster '([^']+)'/.exec(out)![1]!;

      // The README's examples through HAProxy's ports.
      const calc = await until('calc through HAProxy', 30_000, async () => {
        const r = await runCli(['calc', '2^10', '-s', `127.0.0.1:${lb}`]);
        return r.code === 0 ? r : undefined;
      });
      expect(calc.stdout.trim()).toBe('1024');
      const seen = await until('all three nodes through HAProxy', 30_000, async () => {
        const names = new Set<string>();
        for (let i = 0; i < 9; i++) names.add((await getVia('127.0.0.1', lbHttp, '/readyz')).node);
        return names.size === 3 ? names : undefined;
      });
      expect([...seen].sort()).toEqual(['node1', 'node2', 'node3']);
      const status = await runCli(['cluster', 'status', '--json', '--nats', NATS_URL, '--cluster', cluster]);
      expect((JSON.parse(status.stdout) as { id: string }[]).map((m) => m.id)).toEqual([
        'node1',
        'node2',
        'node3',
      ]);

      up.kill('SIGINT');
      const [code] = await once(up, 'exit');
      expect(code, out).toBe(0);
      expect(out).toContain('stopped');
      for (const pid of pids) expect(alive(pid), `pid ${pid} still runs`).toBe(false);
    } finally {
      if (up.exitCode === null) up.kill('SIGKILL');
    }
  }, 180_000);
});
