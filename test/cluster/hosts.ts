/**
 * Separate network hosts on one machine, for the multi-host cluster tests (issue #11) and the deploy
 * rehearsal: a Linux bridge and one network namespace per host, each joined to the bridge by a veth pair.
 *
 *   <prefix>-eng   engines: its own PostgreSQL (Debian binaries, user postgres, a temporary directory) and a
 *                  three-server NATS JetStream cluster (or one server, `nats: 1`)
 *   <prefix>-n1..  one `nexo server` each (protocol 5000, HTTP 8080, agent-check 5555, --storage postgres)
 *   <prefix>-lb    HAProxy on the config `nexo haproxy-config --node ...` writes (stats socket: a file path,
 *                  so the runtime API is reachable from the root namespace)
 *   <prefix>-cli   clients (`exec(hosts.clients, ...)` runs a program there)
 *
 * The root namespace has an address on the bridge too (.1): the test process, its client library and its
 * PostgreSQL queries reach every host over the bridge (a Node process cannot enter a namespace per socket).
 * Addresses: 10.240.<subnet>.0/24 — .1 root, .2 engines, .5 HAProxy, .6 clients, .11.. nodes. Names stay
 * within Linux's 15 characters: the prefix is at most 6 (e.g. `nxck`, NAMES.md reserves `nxc`).
 *
 * Faults: `kill(i)` (kill -9 a node), `linkDown(i)` / `linkUp(i)` (its veth's bridge end), `loss(i, 30)` /
 * `clearLoss(i)` (nftables `numgen random mod 100 < 30 drop` in and out of the node's namespace; this kernel
 * has no netem), `restart(i)` (SIGTERM, wait, start again on the same addresses).
 *
 * `close()` removes every process, namespace, link and temporary directory; it is safe to call twice and
 * after a failed start. `startHosts` first removes what a crashed run with the same prefix left behind.
 * No vitest import here: the deploy rehearsal uses this module outside vitest. `hostsMissing()` says why it
 * cannot run (not root, a program missing) and throws under CI=true.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  type EngineProcess,
  engineProgramsMissing,
  startOwnNats,
  startOwnPostgres,
} from '../helpers/engine-processes.js';
import { type Haproxy, haproxyBinary, haproxyDir, startHaproxy } from '../helpers/haproxy.js';
import { CLI, runCli } from '../helpers/node.js';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));
const NFT = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((p) => existsSync(p));

export const PORTS = { protocol: 5000, http: 8080, agent: 5555, stats: 8404, postgres: 5432 } as const;
const NATS_PORT = 4222;
const ROUTE_PORT = 6222;

/** Why the hosts cannot be built here (printed), or undefined; under CI=true a reason is an error. */
export function hostsMissing(): string | undefined {
  let why: string | undefined;
  if (process.getuid?.() !== 0) why = 'not root (network namespaces need it)';
  else if (IP === undefined) why = 'no ip program (Debian iproute2)';
  else if (NFT === undefined) why = 'no nft program (Debian nftables)';
  else if (haproxyBinary() === undefined) why = 'no haproxy (Debian haproxy)';
  else why = engineProgramsMissing();
  if (why === undefined) return undefined;
  if (process.env.CI === 'true') throw new Error(`multi-host tests cannot run under CI: ${why}`);
  console.warn(`skipping multi-host tests: ${why}`);
  return why;
}

export interface HostsOptions {
  /** Names start with it (≤ 6 characters, from NAMES.md's `nxc`): one prefix per concurrent user. */
  prefix: string;
  /** The third byte of 10.240.x.0/24 (one per prefix). */
  subnet: number;
  nodes: number;
  /** NATS servers in the engines namespace: 3 (a JetStream cluster, the default) or 1. */
  nats?: 1 | 3;
  /** Start HAProxy in front of the nodes (default true). */
  haproxy?: boolean;
  /** HAProxy health-check and agent-check interval (default 500ms, fall 2: a dead node is down in ~1 s). */
  inter?: string;
  /** Extra `nexo server` arguments for every node. */
  nodeArgs?: string[];
}

export interface Host {
  readonly name: string;
  readonly ns: string;
  readonly ip: string;
  /** The veth end on the bridge (root namespace): `ip link set it down` cuts the host off. */
  readonly link: string;
}

export interface HostNode {
  readonly id: string;
  readonly host: Host;
  child: ChildProcess;
  output(): string;
  /** `ip:5000`, what a client connects to. */
  readonly endpoint: string;
  readonly running: boolean;
}

export interface Hosts {
  readonly engines: Host;
  readonly haproxyHost: Host;
  readonly clients: Host;
  readonly nodeHosts: readonly Host[];
  readonly nodes: HostNode[];
  /** `postgres://postgres@10.240.x.2:5432/test`, from anywhere on the bridge. */
  readonly postgresUrl: string;
  /** Every NATS server's URL. */
  readonly natsUrls: readonly string[];
  /** The cluster name the nodes share. */
  readonly cluster: string;
  /** HAProxy (undefined with `haproxy: false`); its protocol frontend is `haproxyHost.ip:5000`. */
  readonly haproxy: Haproxy | undefined;
  readonly lbEndpoint: string;
  /** Every node's protocol endpoint, in order. */
  readonly endpoints: string[];
  /** Starts node i (0-based) again, or for the first time, and waits until /readyz answers 200. */
  startNode(i: number): Promise<HostNode>;
  /** kill -9 of node i; resolves once it has exited. */
  kill(i: number): Promise<void>;
  /** SIGTERM to node i and waits for it to exit (it drains first), at most `ms` (then SIGKILL). */
  stop(i: number, ms?: number): Promise<number | null>;
  /** stop(i) then startNode(i). */
  restart(i: number): Promise<HostNode>;
  linkDown(i: number): void;
  linkUp(i: number): void;
  /** Drops `percent`% of node i's packets, each way, with nftables in its namespace. */
  loss(i: number, percent: number): void;
  clearLoss(i: number): void;
  /** GET http://<node i>:8080/readyz: its status, or 0 when unreachable. */
  readyz(i: number): Promise<number>;
  /** The live membership, as `nexo cluster status --json` reads it from the engines' NATS: id → state. */
  members(): Promise<Map<string, string>>;
  /** Runs a program in a host's namespace (synchronously), returning its stdout. */
  exec(host: Host, file: string, args: string[]): string;
  /** Removes everything (processes, namespaces, links, directories); safe to call twice. */
  close(): Promise<void>;
}

function ip(args: string[]): void {
  execFileSync(IP!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

function quiet(args: string[]): void {
  try {
    ip(args);
  } catch {
    // not there
  }
}

/** Removes the namespaces and links a run with `prefix` may have left (a crashed or killed test). */
export function removeLeftovers(prefix: string): void {
  const names = execFileSync(IP!, ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(`${prefix}-`));
  for (const ns of names) {
    // Processes still in it (a node of a crashed run) would keep it alive.
    const pids = execFileSync(IP!, ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const pid of pids) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    quiet(['netns', 'del', ns]);
  }
  const links = execFileSync(IP!, ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1])
    .filter((n): n is string => n?.startsWith(prefix) === true);
  for (const link of links) quiet(['link', 'del', link]);
}

async function httpStatus(host: string, port: number, p: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path: p, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

async function ended(child: ChildProcess, signal: NodeJS.Signals, ms = 15_000): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exit = once(child, 'exit');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  const [code] = await exit;
  clearTimeout(timer);
  return code as number | null;
}

export async function startHosts(o: HostsOptions): Promise<Hosts> {
  if (o.prefix.length > 6) throw new Error(`hosts prefix ${o.prefix}: at most 6 characters`);
  removeLeftovers(o.prefix);
  const net = `10.240.${o.subnet}`;
  const bridge = `${o.prefix}br`;
  const dirs: string[] = [];
  const engines: EngineProcess[] = [];
  const nodes: HostNode[] = [];
  let lb: Haproxy | undefined;
  let closed: Promise<void> | undefined;

  const host = (name: string, last: number): Host => ({
    name,
    ns: `${o.prefix}-${name}`,
    ip: `${net}.${last}`,
    link: `${o.prefix}${name}`,
  });
  const engHost = host('eng', 2);
  const lbHost = host('lb', 5);
  const cliHost = host('cli', 6);
  const nodeHosts = Array.from({ length: o.nodes }, (_, i) => host(`n${i + 1}`, 11 + i));
  const all = [engHost, lbHost, cliHost, ...nodeHosts];
  const inNs = (h: Host, file: string, args: string[]) =>
    execFileSync(IP!, ['netns', 'exec', h.ns, file, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  const close = () => {
    closed ??= (async () => {
      await Promise.all(nodes.map((n) => ended(n.child, 'SIGKILL')));
      await lb?.stop().catch(() => {});
      await Promise.all(engines.map((e) => e.close().catch(() => {})));
      for (const h of all) quiet(['netns', 'del', h.ns]);
      for (const h of all) quiet(['link', 'del', h.link]);
      quiet(['link', 'del', bridge]);
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      removeLeftovers(o.prefix);
    })();
    return closed;
  };

  try {
    ip(['link', 'add', bridge, 'type', 'bridge']);
    ip(['addr', 'add', `${net}.1/24`, 'dev', bridge]);
    ip(['link', 'set', bridge, 'up']);
    for (const h of all) {
      ip(['netns', 'add', h.ns]);
      const inner = `${o.prefix}${h.name}i`;
      ip(['link', 'add', h.link, 'type', 'veth', 'peer', 'name', inner]);
      ip(['link', 'set', inner, 'netns', h.ns]);
      ip(['link', 'set', h.link, 'master', bridge]);
      ip(['link', 'set', h.link, 'up']);
      ip(['netns', 'exec', h.ns, IP!, 'addr', 'add', `${h.ip}/24`, 'dev', inner]);
      ip(['netns', 'exec', h.ns, IP!, 'link', 'set', inner, 'up']);
      ip(['netns', 'exec', h.ns, IP!, 'link', 'set', 'lo', 'up']);
    }

    // Engines: PostgreSQL and NATS in their own namespace.
    const natsCount = o.nats ?? 3;
    const natsPorts = Array.from({ length: natsCount }, (_, i) => NATS_PORT + i);
    const routes = natsPorts.map((_, i) => `nats://${engHost.ip}:${ROUTE_PORT + i}`);
    const place = { netns: engHost.ns, host: engHost.ip };
    const [pg, ...nats] = await Promise.all([
      startOwnPostgres({ ...place, port: PORTS.postgres }),
      ...natsPorts.map((port, i) =>
        startOwnNats(
          { ...place, port },
          natsCount === 1
            ? undefined
            : { name: o.prefix, server: `${o.prefix}-nats${i + 1}`, routePort: ROUTE_PORT + i, routes },
        ),
      ),
    ]);
    engines.push(pg!, ...nats);
    const natsUrls = nats.map((n) => n.url);
    await jetStreamReady(natsUrls);

    const cluster = `${o.prefix}c`;
    const nodeArgs = (i: number) => {
      const h = nodeHosts[i]!;
      const data = mkdtempSync(path.join(os.tmpdir(), `nexo-${h.ns}-`));
      dirs.push(data);
      return [
        CLI,
        'server',
        '--host',
        h.ip,
        '--port',
        String(PORTS.protocol),
        '--http-host',
        h.ip,
        '--http-port',
        String(PORTS.http),
        '--agent-port',
        String(PORTS.agent),
        '--advertise',
        h.ip,
        '--node-id',
        `node${i + 1}`,
        '--storage',
        'postgres',
        '--postgres',
        pg!.url,
        '--nats',
        natsUrls.join(','),
        '--cluster',
        cluster,
        '--no-udp',
        '--data-dir',
        data,
        '--log-format',
        'json',
        '--log-level',
        'warn',
        ...(o.nodeArgs ?? []),
      ];
    };
    const startNode = async (i: number): Promise<HostNode> => {
      const h = nodeHosts[i]!;
      const old = nodes[i];
      if (old?.running) throw new Error(`node${i + 1} is running`);
      const child = spawn(IP!, ['netns', 'exec', h.ns, process.execPath, ...nodeArgs(i)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const keep = (d: Buffer) => {
        output = (output + d).slice(-20_000);
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      const node: HostNode = {
        id: `node${i + 1}`,
        host: h,
        child,
        output: () => output,
        endpoint: `${h.ip}:${PORTS.protocol}`,
        get running() {
          return child.exitCode === null && child.signalCode === null;
        },
      };
      nodes[i] = node;
      // Generous: three nodes starting at once against engines in namespaces, on a loaded 2-core machine.
      const deadline = Date.now() + 60_000;
      while ((await httpStatus(h.ip, PORTS.http, '/readyz')) !== 200) {
        if (!node.running) throw new Error(`node${i + 1} exited (${child.exitCode}):\n${output}`);
        if (Date.now() > deadline) throw new Error(`node${i + 1} not ready within 60 s:\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return node;
    };
    // The first node runs the migrations; the others then start at once.
    await startNode(0);
    await Promise.all(nodeHosts.slice(1).map((_, i) => startNode(i + 1)));

    if (o.haproxy !== false) {
      const dir = haproxyDir();
      const inter = o.inter ?? '500ms';
      const cfg = await runCli([
        'haproxy-config',
        ...nodeHosts.flatMap((h) => ['--node', `${h.ip}:${PORTS.protocol}:${PORTS.http}:${PORTS.agent}`]),
        '--bind',
        lbHost.ip,
        '--protocol-port',
        String(PORTS.protocol),
        '--http-port',
        String(PORTS.http),
        '--tls-port',
        'off',
        '--stats',
        `${lbHost.ip}:${PORTS.stats}`,
        '--socket',
        path.join(dir, 'admin.sock'),
        '--maxconn',
        '2000',
        '--inter',
        inter,
        '--agent-inter',
        inter,
      ]);
      if (cfg.code !== 0) throw new Error(`nexo haproxy-config failed: ${cfg.stderr}`);
      // The node names in HAProxy are node1..N, as the generator numbers --node entries.
      lb = startHaproxy(haproxyBinary()!, dir, cfg.stdout, lbHost.ns);
      const deadline = Date.now() + 20_000;
      for (;;) {
        const up = await lb
          .stat('nexo_nodes_tcp')
          .then((s) => [...s.values()].filter((v) => v.status === 'UP').length)
          .catch(() => 0);
        if (up === o.nodes) break;
        if (lb.child.exitCode !== null) throw new Error(`haproxy exited:\n${lb.log()}`);
        if (Date.now() > deadline) throw new Error(`HAProxy did not see every node up:\n${lb.log()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }

    const nftIn = (i: number, args: string[]) => inNs(nodeHosts[i]!, NFT!, args);
    const hosts: Hosts = {
      engines: engHost,
      haproxyHost: lbHost,
      clients: cliHost,
      nodeHosts,
      nodes,
      postgresUrl: pg!.url,
      natsUrls,
      cluster,
      haproxy: lb,
      lbEndpoint: `${lbHost.ip}:${PORTS.protocol}`,
      endpoints: nodeHosts.map((h) => `${h.ip}:${PORTS.protocol}`),
      startNode,
      async kill(i) {
        const n = nodes[i];
        if (n !== undefined) await ended(n.child, 'SIGKILL');
      },
      async stop(i, ms = 15_000) {
        const n = nodes[i];
        return n === undefined ? null : ended(n.child, 'SIGTERM', ms);
      },
      async restart(i) {
        await hosts.stop(i);
        return startNode(i);
      },
      linkDown: (i) => ip(['link', 'set', nodeHosts[i]!.link, 'down']),
      linkUp: (i) => ip(['link', 'set', nodeHosts[i]!.link, 'up']),
      loss(i, percent) {
        const t = o.prefix;
        nftIn(i, ['add', 'table', 'inet', t]);
        nftIn(i, ['add', 'chain', 'inet', t, 'in', '{ type filter hook input priority 0; }']);
        nftIn(i, ['add', 'chain', 'inet', t, 'out', '{ type filter hook output priority 0; }']);
        for (const [chain, dir] of [
          ['in', 'iif'],
          ['out', 'oif'],
        ] as const) {
          nftIn(i, ['add', 'rule', 'inet', t, chain, dir, 'lo', 'accept']);
          const rule = `numgen random mod 100 < ${percent} counter drop`;
          nftIn(i, ['add', 'rule', 'inet', t, chain, ...rule.split(' ')]);
        }
      },
      clearLoss(i) {
        try {
          nftIn(i, ['delete', 'table', 'inet', o.prefix]);
        } catch {
          // no loss set
        }
      },
      readyz: (i) => httpStatus(nodeHosts[i]!.ip, PORTS.http, '/readyz'),
      async members() {
        const run = await runCli(
          ['cluster', 'status', '--json', '--nats', natsUrls.join(','), '--cluster', cluster],
          10_000,
        );
        if (run.code !== 0) throw new Error(`nexo cluster status: ${run.stderr}`);
        const list = JSON.parse(run.stdout) as { id: string; state: string }[];
        return new Map(list.map((m) => [m.id, m.state]));
      },
      exec: (h, file, args) => inNs(h, file, args),
      close,
    };
    return hosts;
  } catch (err) {
    await close();
    throw err;
  }
}

/** Waits until JetStream answers on every server (a cluster needs a meta leader first). */
async function jetStreamReady(urls: readonly string[]): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const deadline = Date.now() + 30_000;
  for (const url of urls) {
    for (;;) {
      try {
        const nc = await connect({ servers: url, timeout: 1000, reconnect: false });
        try {
          const jsm = await jetstreamManager(nc, { timeout: 1000 });
          await jsm.getAccountInfo();
          break;
        } finally {
          await nc.close();
        }
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`JetStream not ready at ${url}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}
