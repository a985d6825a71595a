import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Relay, startRelay } from '../../bench/udp-relay.js';
import { connect } from '../../src/client/index.js';
import { CLI, tempDataDir } from '../helpers/node.js';
import { eventually, reachable } from '../helpers/telemetry.js';

/**
 * Sensor and node in two network namespaces (prefix nxu, NAMES.md), joined only through a relay of this
 * test's own in the root namespace that reorders and duplicates datagrams, with nftables dropping 10% of the
 * node's UDP datagrams each way (`numgen random mod 100 < 10 drop`; this kernel has no netem). Every reading
 * must arrive exactly once and in order.
 */
const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));
const NFT = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((p) => existsSync(p));
const root = process.getuid?.() === 0;
const reason = !root
  ? 'not root (network namespaces need it)'
  : IP === undefined
    ? 'no ip program (Debian iproute2)'
    : NFT === undefined
      ? 'no nft program (Debian nftables)'
      : undefined;
if (reason !== undefined && process.env.CI === 'true') {
  throw new Error(`the UDP namespace test cannot run under CI: ${reason}`);
}

const tag = String(process.pid % 10_000);
const subnet = 100 + (process.pid % 150);
const SENSOR_NS = `nxu-s${tag}`;
const NODE_NS = `nxu-n${tag}`;
const SENSOR_SIDE = {
  ns: `nxu${tag}a`,
  root: `nxu${tag}b`,
  nsIp: `10.231.${subnet}.2`,
  rootIp: `10.231.${subnet}.1`,
};
const NODE_SIDE = {
  ns: `nxu${tag}c`,
  root: `nxu${tag}d`,
  nsIp: `10.232.${subnet}.2`,
  rootIp: `10.232.${subnet}.1`,
};
const PORT = 5000;
const READINGS = 400;

function ip(...args: string[]): void {
  execFileSync(IP!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function inNs(ns: string, file: string, ...args: string[]): void {
  execFileSync(IP!, ['netns', 'exec', ns, file, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function cleanup(): void {
  for (const ns of [SENSOR_NS, NODE_NS]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      // not there
    }
  }
  for (const link of [SENSOR_SIDE.root, NODE_SIDE.root]) {
    try {
      ip('link', 'del', link);
    } catch {
      // gone with its namespace
    }
  }
}

function wire(ns: string, side: typeof SENSOR_SIDE): void {
  ip('netns', 'add', ns);
  ip('link', 'add', side.root, 'type', 'veth', 'peer', 'name', side.ns);
  ip('link', 'set', side.ns, 'netns', ns);
  ip('addr', 'add', `${side.rootIp}/24`, 'dev', side.root);
  ip('link', 'set', side.root, 'up');
  ip('netns', 'exec', ns, IP!, 'addr', 'add', `${side.nsIp}/24`, 'dev', side.ns);
  ip('netns', 'exec', ns, IP!, 'link', 'set', side.ns, 'up');
  ip('netns', 'exec', ns, IP!, 'link', 'set', 'lo', 'up');
}

describe.skipIf(reason !== undefined)(
  'UDP sensor across network namespaces with 10% loss (spec §13.3)',
  () => {
    let server: ChildProcess | undefined;
    let relay: Relay | undefined;
    let serverOutput = '';

    beforeAll(async () => {
      cleanup();
      wire(SENSOR_NS, SENSOR_SIDE);
      wire(NODE_NS, NODE_SIDE);
      // 10% of the node's UDP datagrams dropped on the way in and on the way out.
      inNs(NODE_NS, NFT!, 'add', 'table', 'inet', 'nxu');
      inNs(NODE_NS, NFT!, 'add', 'chain', 'inet', 'nxu', 'in', '{ type filter hook input priority 0; }');
      inNs(NODE_NS, NFT!, 'add', 'chain', 'inet', 'nxu', 'out', '{ type filter hook output priority 0; }');
      for (const [chain, port] of [
        ['in', 'dport'],
        ['out', 'sport'],
      ] as const) {
        const rule = `udp ${port} ${PORT} numgen random mod 100 < 10 counter drop`;
        inNs(NODE_NS, NFT!, 'add', 'rule', 'inet', 'nxu', chain, ...rule.split(' '));
      }
      server = spawn(
        IP!,
        [
          'netns',
          'exec',
          NODE_NS,
          process.execPath,
          CLI,
          'server',
          '--host',
          NODE_SIDE.nsIp,
          '--port',
          String(PORT),
          '--no-http',
          '--data-dir',
          tempDataDir(),
          '--log-level',
          'warn',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      server.stdout!.on('data', (d) => (serverOutput += d));
      server.stderr!.on('data', (d) => (serverOutput += d));
      await eventually(async () => ((await reachable(PORT, NODE_SIDE.nsIp)) ? true : undefined), 15_000);
      relay = await startRelay({
        target: { host: NODE_SIDE.nsIp, port: PORT },
        host: SENSOR_SIDE.rootIp,
        upstreamHost: NODE_SIDE.rootIp,
        duplicate: 0.05,
        reorderMs: 10,
        seed: process.pid,
      });
    }, 30_000);

    afterAll(async () => {
      await relay?.close();
      if (server !== undefined && server.exitCode === null) {
        server.kill('SIGTERM');
        await new Promise((r) => server!.once('exit', r));
      }
      cleanup();
      expect(() => ip('netns', 'pids', SENSOR_NS)).toThrow(); // both namespaces are gone
    });

    it('delivers every reading of `nexo sensor --udp` exactly once and in order', async () => {
      const sensor = spawn(
        IP!,
        [
          'netns',
          'exec',
          SENSOR_NS,
          process.execPath,
          CLI,
          'sensor',
          '--host',
          SENSOR_SIDE.rootIp,
          '--port',
          String(relay!.port),
          '--udp',
          '--id',
          'ns-s1',
          '--every',
          '0',
          '--count',
          String(READINGS),
          '--batch',
          '5',
          '--quiet',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', NEXO_SERVER: '' } },
      );
      let out = '';
      sensor.stdout!.on('data', (d) => (out += d));
      sensor.stderr!.on('data', (d) => (out += d));
      const code = await new Promise<number>((resolve) => {
        const timer = setTimeout(() => sensor.kill('SIGKILL'), 60_000);
        sensor.once('exit', (c) => {
          clearTimeout(timer);
          resolve(c ?? -1);
        });
      });
      expect(code, `${out}\n${serverOutput}`).toBe(0);
      expect(out).toContain(
        `ns-s1: ${READINGS} readings reported, ${READINGS} acknowledged (0 already stored)`,
      );
      const client = await connect({ endpoints: [`${NODE_SIDE.nsIp}:${PORT}`] });
      try {
        const page = await client.telemetry.readings({
          sensor: 'ns-s1',
          metric: 'temperature',
          limit: 10_000,
        });
        const seqs = page.readings.map((r) => r.seq!);
        expect(seqs).toHaveLength(READINGS);
        expect(new Set(seqs).size).toBe(READINGS); // once each
        expect(seqs[READINGS - 1]! - seqs[0]!).toBe(READINGS - 1); // none missing: consecutive numbers
        expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
        const recv = page.readings.map((r) => r.recv);
        expect(recv).toEqual([...recv].sort((a, b) => a - b)); // received in the order sent
      } finally {
        await client.close();
      }
      // nftables did drop: its counters in the node's namespace (inbound and outbound).
      for (const chain of ['in', 'out']) {
        const listing = execFileSync(
          IP!,
          ['netns', 'exec', NODE_NS, NFT!, 'list', 'chain', 'inet', 'nxu', chain],
          {
            encoding: 'utf8',
          },
        );
        const dropped = Number(/packets (\d+)/.exec(listing)?.[1] ?? 0);
        expect(dropped, listing).toBeGreaterThan(0);
      }
      expect(relay!.stats.duplicated).toBeGreaterThan(0);
      expect(relay!.stats.delayed).toBeGreaterThan(0);
    }, 90_000);
  },
);

if (reason !== undefined) {
  it('UDP namespace test', (ctx) => {
    console.log(`skipped: ${reason}`);
    ctx.skip();
  });
}
