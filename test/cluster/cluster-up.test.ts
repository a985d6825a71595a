import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
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

/** The child processes of `pid`, with their command lines (Linux /proc). */
const childrenOf = (pid: number) =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        return ppid === pid
          ? [{ pid: Number(d), argv: readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0') }]
          : [];
      } catch {
        return []; // gone meanwhile
      }
    });

/** What `cluster up` made in the engines for `cluster` and is still there. */
async function leftInEngines(cluster: string): Promise<string[]> {
  const left: string[] = [];
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  try {
    const { rows } = await db.query('SELECT nspname FROM pg_namespace WHERE nspname = $1', [
      `nexo_${cluster}`,
    ]);
    left.push(...rows.map((r: { nspname: string }) => `schema ${r.nspname}`));
  } finally {
    await db.end();
  }
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: NATS_URL, timeout: 3000 });
  try {
    for await (const name of (await jetstreamManager(nc)).streams.names()) {
      if (name.includes(cluster)) left.push(`stream ${name}`);
    }
  } finally {
    await nc.close();
  }
  return left;
}

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

  it('Ctrl-C while the nodes start stops at once (exit 130) and leaves no process, schema, stream or directory', async () => {
    // Found by hand: Ctrl-C before 'ready' waited out the 60 s readiness deadline, then blamed the ports.
    const base = 29_800 + (process.pid % 40) * 20;
    const up = spawn(
      process.execPath,
      [CLI, 'cluster', 'up', '--nodes', '3', '--postgres', PG_URL, '--nats', NATS_URL]
        .concat(['--base-port', String(base - 10), '--lb-port', String(base - 3)])
        .concat(['--lb-http-port', String(base - 2), '--stats-port', String(base - 1)]),
      // Its own process group, as a terminal's job: Ctrl-C signals the nodes too.
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' }, detached: true },
    );
    let out = '';
    up.stdout!.on('data', (d) => (out += d));
    up.stderr!.on('data', (d) => (out += d));
    try {
      const cluster = await until('cluster up to start its nodes', 30_000, async () => {
        if (up.exitCode !== null) throw new Error(out);
        return /^starting 3 nodes of cluster '([^']+)'/m.exec(out)?.[1];
      });
      const nodes = childrenOf(up.pid!);
      expect(nodes, out).toHaveLength(3);
      const dataDir = nodes[0]!.argv[nodes[0]!.argv.indexOf('--data-dir') + 1]!;
      expect(existsSync(path.dirname(dataDir)), 'its temporary directory').toBe(true);
      expect(out).not.toMatch(/^ready$/m);

      const sent = Date.now();
      process.kill(-up.pid!, 'SIGINT');
      const [code] = await once(up, 'exit');
      expect(code, out).toBe(130);
      expect(Date.now() - sent, out).toBeLessThan(20_000);
      expect(out).toContain('stopped');
      expect(out).not.toMatch(/exited|did not become ready/);
      for (const { pid } of nodes) expect(alive(pid), `pid ${pid} still runs`).toBe(false);
      expect(existsSync(path.dirname(dataDir)), 'its temporary directory').toBe(false);
      expect(await leftInEngines(cluster)).toEqual([]);
    } finally {
      if (up.exitCode === null) process.kill(-up.pid!, 'SIGKILL');
    }
  }, 60_000);
});
