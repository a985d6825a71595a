import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { HAPROXY_DEFAULTS, type HaproxyNode, haproxyConfig } from '../cluster/haproxy-config.js';
import { EXIT } from './exit-codes.js';
import { paint } from './output.js';

export interface ClusterUpOptions {
  readonly nodes: number;
  readonly postgres: string;
  readonly nats: string;
  /** Node i (1-based) listens on basePort + 10*i (protocol), +1 (HTTP), +2 (agent-check). */
  readonly basePort: number;
  readonly lbPort: number;
  readonly lbHttpPort: number;
  readonly statsPort: number;
  readonly haproxy: boolean;
}

const CLI = path.resolve(import.meta.dirname, 'main.js');

/** HAProxy's binary when installed. */
function findHaproxy(): string | undefined {
  for (const c of ['/usr/sbin/haproxy', 'haproxy']) {
    if (spawnSync(c, ['-v'], { stdio: 'ignore' }).error === undefined) return c;
  }
  return undefined;
}

function readyz(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/readyz', agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/**
 * `nexo cluster up`: N nodes (child processes of this one) sharing a schema of the local PostgreSQL and a
 * cluster prefix of the local NATS, both unique to this run, and HAProxy in front when it is installed. Prints
 * every address; on Ctrl-C or SIGTERM stops every child (SIGTERM, then SIGKILL after the drain time), drops
 * the schema and the NATS streams, and exits. Resolves with the exit code.
 */
export async function clusterUp(o: ClusterUpOptions): Promise<number> {
  const id = randomBytes(4).toString('hex');
  const cluster = `up_${id}`;
  const schema = `nexo_up_${id}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nexo-cluster-up-'));
  const children: { name: string; child: ChildProcess }[] = [];
  let stopping = false;
  const say = (line: string) => process.stdout.write(`${line}\n`);

  const { default: pg } = await import('pg');
  const db = new pg.Client({ connectionString: o.postgres });
  try {
    await db.connect();
    await db.query(`CREATE SCHEMA ${schema}`);
  } catch (err) {
    process.stderr.write(
      `${paint.red('error:')} cannot use PostgreSQL at ${o.postgres}: ${(err as Error).message}\n`,
    );
    await db.end().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    return 3;
  }
  const url = new URL(o.postgres);
  url.searchParams.set('options', `-c search_path=${schema}`);

  const stopAll = async () => {
    for (const { child } of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const deadline = Date.now() + 12_000;
    while (
      children.some(({ child }) => child.exitCode === null && child.signalCode === null) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const { child } of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    await db.end().catch(() => {});
    await dropStreams(o.nats, cluster).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopping = true;
    stopped ??= stopAll();
    return stopped;
  };
  // Ctrl-C reaches the nodes and HAProxy too (one process group): from the signal on, their exits are
  // expected, not reported.
  let interrupted = false;
  const signalled = new Promise<void>((resolve) => {
    const onSignal = () => {
      interrupted = true;
      stopping = true;
      resolve();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });

  const nodes: HaproxyNode[] = [];
  for (let i = 1; i <= o.nodes; i++) {
    const tcp = o.basePort + 10 * i;
    const node: HaproxyNode = { name: `node${i}`, host: '127.0.0.1', tcp, http: tcp + 1, agent: tcp + 2 };
    nodes.push(node);
    const data = path.join(dir, node.name);
    const child = spawn(
      process.execPath,
      [CLI, 'server', '--host', '127.0.0.1', '--port', String(tcp), '--http-port', String(node.http)]
        .concat(['--agent-port', String(node.agent), '--no-udp', '--node-id', node.name, '--data-dir', data])
        .concat([
          '--storage',
          'postgres',
          '--postgres',
          url.toString(),
          '--nats',
          o.nats,
          '--cluster',
          cluster,
        ])
        .concat(['--log-level', 'warn', '--log-format', 'json', '--workers', '1']),
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    watch(node.name, child, () => stopping);
    children.push({ name: node.name, child });
  }
  say(`starting ${o.nodes} node${o.nodes === 1 ? '' : 's'} of cluster '${cluster}'...`);
  const started = Date.now();
  for (const node of nodes) {
    while (!(await readyz(node.http))) {
      const c = children.find((x) => x.name === node.name)!.child;
      if (interrupted) {
        // Ctrl-C while the nodes start: stop and clean up now, not after the 60 s readiness deadline.
        say('stopping...');
        await stop();
        say('stopped');
        return EXIT.INTERRUPTED;
      }
      if (c.exitCode !== null || c.signalCode !== null || Date.now() - started > 60_000) {
        process.stderr.write(
          `${paint.red('error:')} ${node.name} did not become ready (ports ${node.tcp}, ${node.http}, ${node.agent} in use?)\n`,
        );
        await stop();
        return 1;
      }
      await Promise.race([new Promise((r) => setTimeout(r, 200)), signalled]);
    }
  }
  say(
    `${paint.bold(`nexo cluster '${cluster}'`)}: ${o.nodes} node${o.nodes === 1 ? '' : 's'}, PostgreSQL schema ${schema}, NATS ${o.nats}`,
  );
  for (const [i, node] of nodes.entries()) {
    say(
      `  ${node.name}  pid ${children[i]!.child.pid}  nexo://127.0.0.1:${node.tcp}  http://127.0.0.1:${node.http}/  agent-check 127.0.0.1:${node.agent}`,
    );
  }
  const haproxy = o.haproxy ? findHaproxy() : undefined;
  if (haproxy !== undefined) {
    const socket = path.join(dir, 'haproxy.sock');
    const cfg = path.join(dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      haproxyConfig(nodes, {
        ...HAPROXY_DEFAULTS,
        bind: '127.0.0.1',
        protocolPort: o.lbPort,
        httpPort: o.lbHttpPort,
        tlsPort: undefined,
        stats: `127.0.0.1:${o.statsPort}`,
        socket,
        maxconn: 1000,
        inter: '1s',
        agentInter: '1s',
      }),
    );
    const child = spawn(haproxy, ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    watch('haproxy', child, () => stopping);
    children.push({ name: 'haproxy', child });
    say(
      `  haproxy pid ${child.pid}  nexo://127.0.0.1:${o.lbPort}  http://127.0.0.1:${o.lbHttpPort}/ (REST, /ws, dashboard)  stats http://127.0.0.1:${o.statsPort}/  runtime API ${socket}`,
    );
    say(`try: nexo calc "2^10" -s 127.0.0.1:${o.lbPort}   nexo cluster status --cluster ${cluster}`);
  } else {
    say(
      o.haproxy
        ? paint.dim('  (HAProxy is not installed: apt-get install haproxy; connect to the nodes directly)')
        : '',
    );
    say(
      `try: nexo calc "2^10" -s ${nodes.map((n) => `127.0.0.1:${n.tcp}`).join(',')}   nexo cluster status --cluster ${cluster}`,
    );
  }
  say(paint.dim('Ctrl-C stops everything.'));
  say('ready');
  await signalled;
  say('stopping...');
  await stop();
  say('stopped');
  return 0;
}

/** A child's stderr goes to ours with its name; an unexpected exit is reported. */
function watch(name: string, child: ChildProcess, stopping: () => boolean): void {
  let tail = '';
  child.stderr?.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-2000);
  });
  child.on('exit', (code, signal) => {
    if (!stopping()) {
      process.stderr.write(
        `${paint.red(`${name} exited`)} (${signal ?? code}): ${tail.trim().split('\n').at(-1) ?? ''}\n`,
      );
    }
  });
}

async function dropStreams(nats: string, cluster: string): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: nats.split(','), timeout: 3000 });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) {
      if ([`${cluster}_`, `KV_${cluster}_`, `OBJ_${cluster}_`].some((p) => name.startsWith(p)))
        names.push(name);
    }
    for (const name of names) await jsm.streams.delete(name).catch(() => {});
  } finally {
    await nc.close();
  }
}
