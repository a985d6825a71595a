import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jetstreamManager, type StreamInfo } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/node.js';
import { program } from '../helpers/programs.js';
import { type DryRun, dryRun } from './tools.js';

const servers: ChildProcess[] = [];
const runs: DryRun[] = [];
let nc: NatsConnection | undefined;
afterAll(async () => {
  await nc?.close();
  for (const s of servers) s.kill('SIGKILL');
  for (const r of runs) rmSync(r.root, { recursive: true, force: true });
});

describe('ROLE=nats configs form a JetStream cluster', () => {
  it('three servers started from the configs install.sh writes elect a leader and keep a 3-replica stream', async () => {
    const natsServer = program('nats-server', ['/usr/sbin/nats-server']);
    if (natsServer === undefined) return;
    // One machine stands for three: each server gets its own client and route port on loopback.
    const ports = await Promise.all(Array.from({ length: 6 }, freePort));
    const routes = [1, 3, 5].map((i) => `127.0.0.1:${ports[i]}`);
    for (let n = 0; n < 3; n++) {
      const r = dryRun({
        ROLE: 'nats',
        NATS_NAME: `t${n}`,
        NATS_HOST: '127.0.0.1',
        NATS_PORT: String(ports[n * 2]),
        NATS_CLUSTER_PORT: String(ports[n * 2 + 1]),
        NATS_MONITOR_PORT: '0',
        NODES: '127.0.0.1',
        NATS_STORE_DIR: 'PLACEHOLDER',
      });
      runs.push(r);
      expect(r.status, r.stderr).toBe(0);
      // routes go to each server's own cluster port (on real machines they share one port number)
      const conf = readFileSync(path.join(r.root, 'etc/nexo/nats.conf'), 'utf8')
        .replace('PLACEHOLDER', path.join(r.root, 'js'))
        .replace(/ {4}nats-route:\/\/.*\n/, routes.map((h) => `    nats-route://${h}\n`).join(''));
      const file = path.join(r.root, 'nats.conf');
      writeFileSync(file, conf);
      const child = spawn(natsServer, ['-c', file], { stdio: 'ignore' });
      servers.push(child);
    }
    const url = `nats://127.0.0.1:${ports[0]}`;
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        nc = await connect({ servers: url, timeout: 1000 });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // a replicated stream needs all three servers routed and a meta leader: the cluster is real
    let info: StreamInfo | undefined;
    while (info === undefined) {
      try {
        const jsm = await jetstreamManager(nc, { timeout: 2000 });
        info = await jsm.streams.add({ name: 'deploy_check', subjects: ['deploy.check'], num_replicas: 3 });
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    expect(info.config.num_replicas).toBe(3);
    expect(info.cluster?.name).toBe('nexo');
    expect((info.cluster?.replicas ?? []).length).toBe(2);
  }, 40_000);
});
