import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { anyFreePort as freePort, getVia as get, runtimeCommand as runtime } from '../helpers/haproxy.js';
import { CLI, runCli } from '../helpers/node.js';
import { program } from '../helpers/programs.js';
import { type DryRun, dryRun } from './tools.js';

/**
 * The HAProxy configuration install.sh writes, run by a real HAProxy in front of three real nodes started
 * from the nexo.env install.sh writes. One machine stands for four: HAProxy on 127.0.0.10 and the nodes on
 * 127.0.0.11-13 (all loopback), sharing port numbers as the real machines do.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls like helpers/haproxy.ts until, but fails at once when HAProxy has exited. */
async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    let v: T | undefined;
    try {
      v = await f();
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('haproxy exited')) throw err;
    }
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

const children: ChildProcess[] = [];
const runs: DryRun[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const r of runs) rmSync(r.root, { recursive: true, force: true });
});

describe('HAProxy from install.sh in front of nodes from install.sh', () => {
  it('balances HTTP and the protocol over ready nodes, carries a sensor, and drops a draining node', async () => {
    const haproxy = program('haproxy', ['/usr/sbin/haproxy']);
    if (haproxy === undefined) return;
    const [proto, web, tls, stats] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const nodes = ['127.0.0.11', '127.0.0.12', '127.0.0.13'];
    const lb = dryRun({
      ROLE: 'haproxy',
      NODES: nodes.join(','),
      PROTOCOL_PORT: String(proto),
      HTTP_PORT: String(web),
      TLS_PORT: String(tls),
      HAPROXY_BIND: '127.0.0.10',
      HAPROXY_STATS: `127.0.0.10:${stats}`,
      HAPROXY_SOCKET: 'PLACEHOLDER',
      // this machine's hard limit on open files may be below what 20000 connections need
      HAPROXY_MAXCONN: '1000',
    });
    runs.push(lb);
    expect(lb.status, lb.stderr).toBe(0);
    const socket = path.join(lb.root, 'admin.sock');
    const cfg = path.join(lb.root, 'etc/haproxy/haproxy.cfg');
    const text = readFileSync(cfg, 'utf8').replaceAll('PLACEHOLDER', socket);
    writeFileSync(cfg, text);

    // three nodes, each with the env file ROLE=node writes (as nexo.service reads it)
    for (const [i, host] of nodes.entries()) {
      const r = dryRun({ ROLE: 'node', NODE_ID: `node${i + 1}` });
      runs.push(r);
      const env: Record<string, string> = {};
      for (const line of readFileSync(path.join(r.root, 'etc/nexo/nexo.env'), 'utf8').split('\n')) {
        const m = /^(NEXO_[A-Z_]+)=(.*)$/.exec(line);
        if (m) env[m[1]!] = m[2]!;
      }
      const data = path.join(r.root, 'var/lib/nexo');
      mkdirSync(data, { recursive: true });
      const child = spawn(process.execPath, [CLI, 'server'], {
        env: {
          PATH: process.env.PATH,
          ...env,
          NEXO_DATA_DIR: data,
          NEXO_HOST: host,
          NEXO_PORT: String(proto),
          NEXO_HTTP_PORT: String(web),
          NEXO_UDP: 'false',
          NEXO_LOG_LEVEL: 'warn',
          NEXO_WORKERS: '1',
        },
        stdio: 'ignore',
      });
      children.push(child);
    }
    const lbProcess = spawn(haproxy, ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(lbProcess);
    let lbLog = '';
    lbProcess.stderr!.on('data', (d) => {
      if (lbLog.length < 10_000) lbLog += d;
    });
    lbProcess.on('exit', (code) => {
      if (code !== null && code !== 0) console.error(`haproxy exited ${code}:\n${lbLog}`);
    });

    // every node up behind HAProxy, each request on a new connection: leastconn spreads them
    const seen = await until('all three nodes through HAProxy', 20_000, async () => {
      if (lbProcess.exitCode !== null) throw new Error(`haproxy exited: ${lbLog}`);
      const names = new Set<string>();
      for (let i = 0; i < 9; i++) {
        const r = await get('127.0.0.10', web, '/readyz');
        if (r.status === 200) names.add(r.node);
      }
      return names.size === 3 ? names : undefined;
    });
    expect([...seen].sort()).toEqual(['node1', 'node2', 'node3']);

    // the protocol through HAProxy's TCP frontend: a sensor's readings are acked. That backend's health checks
    // mark its servers up on their own schedule, after the HTTP one's (seen: exit 3, no server, under load), so
    // retry while HAProxy still has no server for it.
    let sensor = { code: -1, stdout: '', stderr: '' };
    await until('the protocol frontend', 15_000, async () => {
      sensor = await runCli([
        'sensor',
        '--id',
        's1',
        '--server',
        `127.0.0.10:${proto}`,
        '--count',
        '3',
        '--every',
        '0',
        '--json',
      ]);
      return sensor.code === 3 ? undefined : true;
    }).catch(() => undefined);
    expect(sensor.code, sensor.stderr).toBe(0);
    expect(sensor.stdout.trim().split('\n').length).toBeGreaterThanOrEqual(3);

    // node2 drains (SIGTERM, as systemctl stop does): HAProxy's /readyz checks take it out
    const node2 = children[1]!;
    node2.kill('SIGTERM');
    await once(node2, 'exit');
    const state = await until('HAProxy to mark node2 down', 15_000, async () => {
      const s = await runtime(socket, 'show servers state nexo_nodes_http');
      // columns: ... srv_name srv_addr srv_op_state (0 = stopped, 2 = running) ...
      const line = s.split('\n').find((l) => l.includes(' node2 '));
      return line && line.split(' ')[5] === '0' ? s : undefined;
    });
    expect(state).toMatch(/ node1 127\.0\.0\.11 2 /);
    for (let i = 0; i < 6; i++) {
      const r = await get('127.0.0.10', web, '/readyz');
      expect(r.status).toBe(200);
      expect(r.node).not.toBe('node2');
    }
  }, 60_000);
});
