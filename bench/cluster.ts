/**
 * `npm run bench -- cluster`: nexo behind HAProxy (issue #11). Calc round trips at 64 in flight on one
 * connection through HAProxy's TCP frontend vs straight to the node (same node, same run; target: overhead
 * ≤ 25%), and failover: a client connected through HAProxy to a node that is killed with SIGKILL, from the
 * kill to its first successful request through HAProxy on a new connection (median of 5; target < 2 s).
 * Nodes are real `nexo server` processes (embedded storage: calc needs no shared state); HAProxy runs on the
 * config `nexo haproxy-config` writes, with 500 ms health checks.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '../src/client/index.js';
import { HAPROXY_DEFAULTS, type HaproxyNode, haproxyConfig } from '../src/cluster/haproxy-config.js';
import { clientLoop, fmt, table } from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const CLI = path.resolve(here, '../../dist/cli/main.js');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

interface Node extends HaproxyNode {
  child: ChildProcess;
}

async function startNode(name: string, dir: string, ports?: HaproxyNode): Promise<Node> {
  const [tcp, http, agent] = ports
    ? [ports.tcp, ports.http, ports.agent!]
    : [await freePort(), await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [CLI, 'server', '--host', '127.0.0.1', '--port', String(tcp), '--http-port', String(http)].concat(
      ['--agent-port', String(agent), '--no-udp', '--node-id', name, '--data-dir', path.join(dir, name)],
      ['--log-level', 'warn', '--log-format', 'json'],
    ),
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 300; i++) {
    const ok = await fetch(`http://127.0.0.1:${http}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { name, host: '127.0.0.1', tcp, http, agent, child };
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not start`);
}

/**
 * What a process has spent so far: CPU (user and system, µs, all threads: /proc/<pid>/stat), read and write
 * system calls (/proc/<pid>/io syscr/syscw: the read(2)/write(2) libuv does on sockets; HAProxy's
 * recvfrom/sendto are not counted there, so its are 0) and context switches (voluntary and not, all threads).
 */
interface Counters {
  user: number;
  system: number;
  reads: number;
  writes: number;
  switches: number;
}

const ZERO: Counters = { user: 0, system: 0, reads: 0, writes: 0, switches: 0 };

function counters(pid: number | undefined): Counters {
  if (pid === undefined) return ZERO;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in ticks.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    const field = (text: string, name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
    let switches = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
      switches += field(status, 'voluntary_ctxt_switches') + field(status, 'nonvoluntary_ctxt_switches');
    }
    return {
      user: Number(fields[11]) * TICK_US,
      system: Number(fields[12]) * TICK_US,
      reads: field(io, 'syscr'),
      writes: field(io, 'syscw'),
      switches,
    };
  } catch {
    return ZERO;
  }
}
/** USER_HZ is 100 on every Linux this runs on: a tick is 10 ms. */
const TICK_US = 10_000;

const sum = (list: Counters[]): Counters =>
  list.reduce(
    (a, b) => ({
      user: a.user + b.user,
      system: a.system + b.system,
      reads: a.reads + b.reads,
      writes: a.writes + b.writes,
      switches: a.switches + b.switches,
    }),
    ZERO,
  );

/** (after - before) / calls for each counter. */
function perCall(after: Counters, before: Counters, calls: number): Counters {
  const d = (k: keyof Counters) => (after[k] - before[k]) / calls;
  return {
    user: d('user'),
    system: d('system'),
    reads: d('reads'),
    writes: d('writes'),
    switches: d('switches'),
  };
}

interface CostPerRequest {
  client: Counters;
  node: Counters;
  haproxy: Counters;
}

/**
 * Calc round trips at 64 in flight on each of `connections` connections, and what each process spent per
 * round trip meanwhile (warm-up included on both sides of the division): on this 2-core machine the three
 * processes share two cores, so HAProxy's CPU comes out of what the client and the node would get.
 */
async function calcLoad(
  port: number,
  pids: { node: (number | undefined)[]; haproxy?: number },
  connections = 1,
) {
  const clients = await Promise.all(
    Array.from({ length: connections }, () => connect({ endpoints: [`127.0.0.1:${port}`] })),
  );
  let calls = 0;
  const snapshot = () => ({
    cpu: process.cpuUsage(),
    client: counters(process.pid),
    node: sum(pids.node.map(counters)),
    haproxy: counters(pids.haproxy),
  });
  const before = snapshot();
  const result = await clientLoop(
    clients,
    64,
    (c) => {
      calls++;
      return c.calc.eval('2*(3+4)');
    },
    { warmupMs: 500, seconds: SECONDS },
  );
  const after = snapshot();
  // The client's CPU from process.cpuUsage (µs resolution) rather than /proc's 10 ms ticks.
  const cpu = process.cpuUsage(before.cpu);
  const cost: CostPerRequest = {
    client: {
      ...perCall(after.client, before.client, calls),
      user: cpu.user / calls,
      system: cpu.system / calls,
    },
    node: perCall(after.node, before.node, calls),
    haproxy: perCall(after.haproxy, before.haproxy, calls),
  };
  return { ...result, cost };
}

const cpuOf = (c: Counters) => c.user + c.system;
const cpuText = (c: CostPerRequest) =>
  `client ${cpuOf(c.client).toFixed(2)} + node ${cpuOf(c.node).toFixed(2)}${cpuOf(c.haproxy) > 0 ? ` + HAProxy ${cpuOf(c.haproxy).toFixed(2)}` : ''} µs`;
/** CPU µs per round trip with its system (kernel) part. */
const cpuSys = (c: Counters) => `${cpuOf(c).toFixed(2)} (sys ${c.system.toFixed(2)})`;
/** Per 100 round trips, to keep the figures readable. */
const per100 = (n: number) => (n * 100).toFixed(1);

export async function benchCluster(): Promise<{ text: string }> {
  const haproxy = ['/usr/sbin/haproxy', 'haproxy'].find(
    (c) => spawnSync(c, ['-v'], { stdio: 'ignore' }).error === undefined,
  );
  if (haproxy === undefined) return { text: 'skipped: HAProxy is not installed (apt-get install haproxy)' };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nexo-bench-cluster-'));
  const nodes: Node[] = [];
  let lb: ChildProcess | undefined;
  try {
    for (const name of ['b1', 'b2', 'b3']) nodes.push(await startNode(name, dir));
    const [lbPort, lbHttp, stats] = [await freePort(), await freePort(), await freePort()];
    const cfg = path.join(dir, 'haproxy.cfg');
    const write = (servers: Node[]) =>
      writeFileSync(
        cfg,
        haproxyConfig(servers, {
          ...HAPROXY_DEFAULTS,
          bind: '127.0.0.1',
          protocolPort: lbPort,
          httpPort: lbHttp,
          tlsPort: undefined,
          stats: `127.0.0.1:${stats}`,
          socket: path.join(dir, 'admin.sock'),
          maxconn: 1000,
          inter: '500ms',
          agentInter: '500ms',
        }),
      );

    // 1. Throughput: one node alone behind HAProxy vs straight to it.
    write([nodes[0]!]);
    lb = spawn(haproxy, ['-db', '-f', cfg], { stdio: 'ignore' });
    await sleep(1500);
    const one = { node: [nodes[0]!.child.pid] };
    const direct = await calcLoad(nodes[0]!.tcp, one);
    const via = await calcLoad(lbPort, { ...one, haproxy: lb.pid });
    const direct2 = await calcLoad(nodes[0]!.tcp, one);
    const best = direct.rate > direct2.rate ? direct : direct2;
    const overhead = 1 - via.rate / best.rate;
    // Two cores for three busy processes: the rate HAProxy's CPU per round trip leaves, if the direct run's
    // two processes kept their CPU per round trip and all three shared the same two cores.
    const directCpu = cpuOf(best.cost.client) + cpuOf(best.cost.node);
    const viaCpu = cpuOf(via.cost.client) + cpuOf(via.cost.node) + cpuOf(via.cost.haproxy);
    const cpuBound = 1 - directCpu / viaCpu;
    // Six connections keep both cores busy (one connection at 64 in flight is bound by its round-trip time,
    // which HAProxy's two extra hops lengthen): the overhead where CPU, not latency, sets the rate.
    const oneNodeVia6 = await calcLoad(lbPort, { ...one, haproxy: lb.pid }, 6);
    const direct6 = await calcLoad(nodes[0]!.tcp, one, 6);
    const overhead6 = 1 - oneNodeVia6.rate / direct6.rate;
    lb.kill('SIGKILL');

    // 1b. Three nodes vs one through HAProxy, six connections (leastconn spreads them two per node).
    write(nodes);
    lb = spawn(haproxy, ['-db', '-f', cfg], { stdio: 'ignore' });
    await sleep(2000);
    const threeVia6 = await calcLoad(lbPort, { node: nodes.map((n) => n.child.pid), haproxy: lb.pid }, 6);
    lb.kill('SIGKILL');

    // 2. Failover over three nodes.
    write(nodes);
    lb = spawn(haproxy, ['-db', '-f', cfg], { stdio: 'ignore' });
    await sleep(2000);
    const times: number[] = [];
    for (let round = 0; round < 5; round++) {
      const client = await connect({ endpoints: [`127.0.0.1:${lbPort}`] });
      await client.calc.eval('1+1');
      const victim = nodes.find((n) => n.name === client.welcome?.node)!;
      const killed = performance.now();
      victim.child.kill('SIGKILL');
      await client.close().catch(() => {});
      let ms = -1;
      while (performance.now() - killed < 10_000) {
        try {
          const c = await connect({ endpoints: [`127.0.0.1:${lbPort}`] });
          try {
            await c.calc.eval('1+1', { timeout: 1000 });
            ms = performance.now() - killed;
          } finally {
            await c.close().catch(() => {});
          }
          break;
        } catch {
          await sleep(10);
        }
      }
      times.push(ms);
      // Bring the node back on its ports and let HAProxy's checks (500 ms, rise 2) see it up again.
      nodes[nodes.indexOf(victim)] = await startNode(victim.name, dir, victim);
      await sleep(1500);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    const cases: [string, Awaited<ReturnType<typeof calcLoad>>][] = [
      ['1 conn, direct to the node', best],
      ['1 conn, through HAProxy', via],
      ['6 conns, direct to the node', direct6],
      ['6 conns, HAProxy → 1 node', oneNodeVia6],
      ['6 conns, HAProxy → 3 nodes', threeVia6],
    ];
    const io = (c: Counters) => `${per100(c.reads)} / ${per100(c.writes)}`;
    return {
      text: [
        table(
          ['calc, 64 in flight per conn', 'rt/s', 'p50', 'p99', 'CPU per round trip'],
          cases.map(([name, r]) => [name, fmt.rate(r.rate), fmt.us(r.p50), fmt.us(r.p99), cpuText(r.cost)]),
        ),
        'Where it goes, per round trip: CPU µs (kernel part), read / write calls and context switches per 100:',
        table(
          ['', 'client CPU', 'node CPU', 'HAProxy CPU', 'client r / w', 'node r / w', 'switches c / n / h'],
          cases.map(([name, { cost }]) => [
            name,
            cpuSys(cost.client),
            cpuSys(cost.node),
            cpuSys(cost.haproxy),
            io(cost.client),
            io(cost.node),
            [cost.client, cost.node, cost.haproxy].map((c) => per100(c.switches)).join(' / '),
          ]),
        ),
        `per round trip through HAProxy vs direct: client ${cpuOf(via.cost.client).toFixed(2)} vs ${cpuOf(best.cost.client).toFixed(2)} µs, node ${cpuOf(via.cost.node).toFixed(2)} vs ${cpuOf(best.cost.node).toFixed(2)} µs, HAProxy ${cpuOf(via.cost.haproxy).toFixed(2)} µs (load average ${os.loadavg()[0]!.toFixed(1)}: CPU per round trip is the measure while other work shares the cores)`,
        `HAProxy overhead: ${fmt.pct(overhead)} (target ≤ 25%); what its CPU alone explains on two shared cores: ${fmt.pct(cpuBound)}; at 6 connections: ${fmt.pct(overhead6)}`,
        `three nodes vs one through HAProxy: ${(threeVia6.rate / oneNodeVia6.rate).toFixed(2)}x (two cores for client, HAProxy and nodes: no gain is possible here; with a core per node the node side would scale ~3x until HAProxy's ${cpuOf(via.cost.haproxy).toFixed(2)} µs per round trip fills its own core)`,
        `failover kill -9 → first success through HAProxy: ${times.map((t) => `${t.toFixed(0)} ms`).join(', ')}; median ${median.toFixed(0)} ms (target < 2 s)`,
      ].join('\n'),
    };
  } finally {
    lb?.kill('SIGKILL');
    for (const n of nodes) n.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
