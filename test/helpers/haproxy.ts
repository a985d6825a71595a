import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { NATS_URL } from './engines.js';
import { runCli } from './node.js';
import { program } from './programs.js';

/** HAProxy's binary, or undefined (a printed skip; a failure under CI=true). */
export function haproxyBinary(): string | undefined {
  return program('haproxy', ['/usr/sbin/haproxy']);
}

export interface Haproxy {
  readonly child: ChildProcess;
  readonly dir: string;
  /** The runtime API socket path (the config must name it: pass `socket` to the generator). */
  readonly socket: string;
  log(): string;
  /** One command on the runtime API. */
  runtime(command: string): Promise<string>;
  /** Servers of a backend from `show servers state`: name → {addr, opState (2 up, 0 down), weight}. */
  servers(
    backend: string,
  ): Promise<
    Map<string, { addr: string; port: number; opState: number; adminState: number; weight: number }>
  >;
  /** `show stat` rows of a backend's servers: name → {status (UP, DOWN, DRAIN (agent), MAINT...), agent status, weight}. */
  stat(
    backend: string,
  ): Promise<Map<string, { status: string; agentStatus: string; weight: number; sessions: number }>>;
  stop(): Promise<void>;
}

/** A temporary directory for HAProxy's config and socket. */
export function haproxyDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'nexo-haproxy-'));
}

/** Where a test's HAProxy goes: a fresh directory, its runtime socket, free ports for its three frontends. */
export interface HaproxyPlace {
  readonly dir: string;
  readonly socket: string;
  readonly proto: number;
  readonly web: number;
  readonly stats: number;
}

export async function haproxyPlace(): Promise<HaproxyPlace> {
  const dir = haproxyDir();
  const [proto, web, stats] = await Promise.all([anyFreePort(), anyFreePort(), anyFreePort()]);
  return { dir, socket: path.join(dir, 'admin.sock'), proto, web, stats };
}

/** `haproxy -c -f file`: whether HAProxy accepts the config, and what it said. */
export function haproxyAccepts(binary: string, file: string): { ok: boolean; output: string } {
  const check = spawnSync(binary, ['-c', '-f', file], { encoding: 'utf8', timeout: 20_000 });
  return { ok: check.status === 0, output: check.stderr + check.stdout };
}

/** Runs HAProxy in the foreground (-db) on `config`, a child of this test (never the system service). */
export function startHaproxy(binary: string, dir: string, config: string, netns?: string): Haproxy {
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const socket = path.join(dir, 'admin.sock');
  const args = ['-db', '-f', file];
  const child =
    netns === undefined
      ? spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn('ip', ['netns', 'exec', netns, binary, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d) => {
    if (log.length < 20_000) log += d;
  });
  const runtime = (command: string) => runtimeCommand(socket, command);
  return {
    child,
    dir,
    socket,
    log: () => log,
    runtime,
    async servers(backend) {
      const out = await runtime(`show servers state ${backend}`);
      const map = new Map<
        string,
        { addr: string; port: number; opState: number; adminState: number; weight: number }
      >();
      // columns: be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight
      // srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state
      // srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port ...
      for (const line of out.split('\n')) {
        const c = line.split(' ');
        if (c.length < 19 || c[1] !== backend) continue;
        map.set(c[3]!, {
          addr: c[4]!,
          opState: Number(c[5]),
          adminState: Number(c[6]),
          weight: Number(c[7]),
          port: Number(c[18]),
        });
      }
      return map;
    },
    async stat(backend) {
      const lines = (await runtime('show stat')).split('\n');
      const head = (lines[0] ?? '').replace(/^# /, '').split(',');
      const col = (name: string) => head.indexOf(name);
      const map = new Map<
        string,
        { status: string; agentStatus: string; weight: number; sessions: number }
      >();
      for (const line of lines.slice(1)) {
        const c = line.split(',');
        if (c[0] !== backend || c[1] === 'BACKEND' || c[1] === undefined) continue;
        map.set(c[1], {
          status: c[col('status')] ?? '',
          agentStatus: c[col('agent_status')] ?? '',
          weight: Number(c[col('weight')]),
          sessions: Number(c[col('stot')]),
        });
      }
      return map;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function runtimeCommand(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(socket);
    let out = '';
    c.setTimeout(3000, () => c.destroy(new Error('runtime API timeout')));
    c.on('connect', () => c.write(`${command}\n`));
    c.on('data', (d) => (out += d));
    c.on('end', () => resolve(out));
    c.on('error', reject);
  });
}

/** GET on a new connection each time (so HAProxy balances each one): status and the answering node. */
export function getVia(host: string, port: number, p: string): Promise<{ status: number; node: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: p, agent: false, timeout: 3000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, node: String(res.headers['x-nexo-node']) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Polls `f` every 100 ms until it gives a value, for at most `ms`. */
export async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    let v: T | undefined;
    try {
      v = await f();
    } catch {
      v = undefined;
    }
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A port free on every address. */
export function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '0.0.0.0', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

/**
 * `nexo haproxy-config` from a cluster's live membership (this machine's NATS), on free loopback ports, with
 * checks every 500 ms and no TLS frontend, for an HAProxy in `dir`. `common` holds the arguments
 * `nexo haproxy-sync` takes too.
 */
export async function configFromMembership(
  cluster: string,
): Promise<{ dir: string; common: string[]; config: string; web: number }> {
  const { dir, socket, proto, web, stats } = await haproxyPlace();
  const common = [
    '--nats',
    NATS_URL,
    '--cluster',
    cluster,
    '--socket',
    socket,
    '--inter',
    '500ms',
    '--agent-inter',
    '500ms',
    '--tls-port',
    'off',
  ];
  const cfg = await runCli([
    'haproxy-config',
    ...common,
    '--bind',
    '127.0.0.1',
    '--protocol-port',
    String(proto),
    '--http-port',
    String(web),
    '--stats',
    `127.0.0.1:${stats}`,
    '--maxconn',
    '1000',
  ]);
  if (cfg.code !== 0) throw new Error(`nexo haproxy-config failed (${cfg.code}): ${cfg.stderr}`);
  return { dir, common, config: cfg.stdout, web };
}

/** One line from an agent-check port, as HAProxy reads it. */
export function agentSays(port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let out = '';
    socket.setTimeout(3000, () => socket.destroy(new Error('agent-check timed out')));
    socket.on('data', (d) => (out += d));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}
