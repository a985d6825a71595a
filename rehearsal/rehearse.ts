import { execFileSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HARD_NOFILE, Machine, REPO } from './machines.js';
import { createHost, createRouter, IP, netnsMissing, removeNetwork } from './netns.js';
import { dashboardUrl, PG_PASSWORD, type RehearsalHost, SUBNETS, topology } from './topology.js';
import { unitCommand } from './units.js';

/**
 * The deployment rehearsed on this machine (`npm run rehearse`, docs/deploy.md): the AWS template's machines
 * (HAProxy, three nodes each running NATS and nexo, PostgreSQL, two sensors) as network namespaces, each
 * configured by deploy/install.sh itself (DRY_RUN=1 writes the same files it writes on a VM) and each
 * process started from the command its systemd unit gives. It checks that both sensors' readings arrive
 * through HAProxy, prints the dashboard's address, and removes everything on Ctrl-C (or, with `--check`,
 * once the check passed or failed).
 */

const HAPROXY_UNIT = '/lib/systemd/system/haproxy.service';
const NATS_SERVER = '/usr/sbin/nats-server';

export interface Rehearsal {
  readonly machines: Map<string, Machine>;
  readonly dashboard: string;
  readonly dir: string;
  close(): void;
}

/** Why the rehearsal cannot run here, or undefined. */
export function rehearsalMissing(): string | undefined {
  const net = netnsMissing();
  if (net !== undefined) return net;
  if (!existsSync(HAPROXY_UNIT)) return `no ${HAPROXY_UNIT} (Debian haproxy)`;
  if (!existsSync(NATS_SERVER)) return `no ${NATS_SERVER} (Debian nats-server)`;
  if (postgresBin() === undefined) return 'no PostgreSQL server binaries (Debian postgresql)';
  if (!existsSync(path.join(REPO, 'dist/cli/main.js'))) return 'nexo is not built (npm run build)';
  return undefined;
}

function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const v = readdirSync(root)
    .filter((d) => existsSync(path.join(root, d, 'bin/postgres')))
    .sort((a, b) => Number(b) - Number(a))[0];
  return v === undefined ? undefined : path.join(root, v, 'bin');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await f();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(250);
  }
  throw new Error(`${what}: not within ${ms / 1000} s${last ? ` (${(last as Error).message})` : ''}`);
}

function id(name: string): { uid: number; gid: number } {
  const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).split(':');
  return { uid: Number(line[2]), gid: Number(line[3]) };
}

/**
 * PostgreSQL as install.sh ROLE=postgres leaves it: a cluster whose postgresql.conf includes the
 * /etc/postgresql/nexo.conf it wrote (listen on every address, SCRAM), the pg_hba line for the nodes'
 * subnet, and the `nexo` role and database made by the SQL it runs.
 */
async function startPostgres(m: Machine): Promise<void> {
  const bin = postgresBin()!;
  const pgUser = id('postgres');
  const data = path.join(m.root, 'var/lib/postgresql/data');
  const sockets = path.join(m.root, 'run/postgresql');
  mkdirSync(data, { recursive: true });
  mkdirSync(sockets, { recursive: true });
  for (const d of [path.dirname(data), data, sockets]) chownSync(d, pgUser.uid, pgUser.gid);
  const as = { uid: pgUser.uid, gid: pgUser.gid, stdio: 'pipe' as const, cwd: path.dirname(data) };
  execFileSync(
    path.join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth-local=trust', '--no-instructions'],
    as,
  );
  appendFileSync(path.join(data, 'postgresql.conf'), `include '${m.map('/etc/postgresql/nexo.conf')}'\n`);
  appendFileSync(path.join(data, 'pg_hba.conf'), `host nexo nexo ${m.host.vars.PG_ALLOW} scram-sha-256\n`);
  m.start('postgresql', {
    argv: ['runuser', '-u', 'postgres', '--', path.join(bin, 'postgres'), '-D', data, '-k', sockets],
    env: {},
    user: 'postgres',
    cwd: path.dirname(data),
    nofile: 65_536,
    restart: 'no',
    restartMs: 0,
  });
  const psql = (sql: string) =>
    execFileSync(
      IP!,
      ['netns', 'exec', m.ns, 'runuser', '-u', 'postgres', '--', 'psql', '-h', sockets, '-tAc', sql],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
  await until('PostgreSQL answers', 30_000, async () => (psql('SELECT 1').trim() === '1' ? true : undefined));
  // install.sh role_postgres's two statements
  psql(`CREATE ROLE nexo LOGIN PASSWORD '${PG_PASSWORD}'`);
  psql('CREATE DATABASE nexo OWNER nexo');
}

async function get(url: string): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

export async function rehearse(log: (line: string) => void = console.log): Promise<Rehearsal> {
  const missing = rehearsalMissing();
  if (missing !== undefined) throw new Error(`cannot rehearse here: ${missing}`);
  removeNetwork();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nexo-rehearsal-'));
  chownSync(dir, id('postgres').uid, id('postgres').gid);
  execFileSync('chmod', ['0755', dir]);
  const machines = new Map<string, Machine>();
  const close = () => {
    for (const m of [...machines.values()].reverse()) m.stopAll();
    removeNetwork();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    createRouter([SUBNETS.server, SUBNETS.client]);
    const hosts: RehearsalHost[] = topology(HARD_NOFILE);
    for (const host of hosts) {
      const ns = createHost(host.name, host.ip, SUBNETS[host.subnet]);
      const m = new Machine(host, ns, dir);
      m.install();
      machines.set(host.name, m);
    }
    log(`machines: ${hosts.map((h) => `${h.name} ${h.ip}`).join(', ')}`);
    const unit = (name: string) => path.join(REPO, 'deploy/systemd', name);
    const byRole = (role: string) =>
      [...machines.values()].filter((m) => m.host.vars.ROLE!.split(',').includes(role));

    await startPostgres(byRole('postgres')[0]!);
    log('PostgreSQL up (install.sh ROLE=postgres configuration)');
    for (const m of byRole('nats')) m.start('nexo-nats', unitCommand(unit('nexo-nats.service'), m.map));
    for (const m of byRole('node')) m.start('nexo', unitCommand(unit('nexo.service'), m.map));
    for (const m of byRole('haproxy')) m.start('haproxy', unitCommand(HAPROXY_UNIT, m.map));
    const nodes = byRole('node');
    await until('every node ready (GET /readyz through its own address)', 90_000, async () => {
      for (const m of nodes) await get(`http://${m.host.ip}:8080/readyz`);
      return true;
    });
    log(`nodes ready: ${nodes.map((m) => m.host.name).join(', ')}`);
    await until('HAProxy passes requests to the nodes', 30_000, () => get(`${dashboardUrl()}readyz`));
    for (const m of byRole('sensor')) {
      for (const file of readdirSync(m.map('/etc/nexo'))) {
        const sensor = /^sensor-(.+)\.env$/.exec(file)?.[1];
        if (sensor !== undefined)
          m.start(`nexo-sensor@${sensor}`, unitCommand(unit('nexo-sensor@.service'), m.map, sensor));
      }
    }
    return { machines, dashboard: dashboardUrl(), dir, close };
  } catch (err) {
    const logs = lastLogs(machines);
    close();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
}

/** The end of every process's log, for a failure's message. */
function lastLogs(machines: Map<string, Machine>): string {
  return [...machines.values()]
    .flatMap((m) => m.logNames().map((n) => [m.host.name, n, m.log(n)] as const))
    .filter(([, , text]) => text !== '')
    .map(([h, n, text]) => `--- ${h} ${n}:\n${text.slice(-1500)}`)
    .join('\n');
}

/** Both sensors' readings, read through HAProxy's HTTP port, as the dashboard reads them. */
export async function sensorsThroughHaproxy(
  r: Rehearsal,
  ids: readonly string[],
  ms = 60_000,
): Promise<string[]> {
  return until(`readings of ${ids.join(', ')} through HAProxy`, ms, async () => {
    const body = (await get(`${r.dashboard}api/telemetry/sensors`)) as {
      sensors?: { sensor?: string; id?: string }[];
    };
    const seen = (body.sensors ?? []).map((s) => s.sensor ?? s.id ?? '');
    return ids.every((i) => seen.includes(i)) ? seen : undefined;
  });
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  const r = await rehearse();
  let closed = false;
  const stop = () => {
    if (closed) return;
    closed = true;
    r.close();
    console.log('rehearsal: every namespace, process and file removed');
  };
  process.on('SIGINT', () => {
    stop();
    process.exit(130);
  });
  process.on('SIGTERM', () => {
    stop();
    process.exit(143);
  });
  try {
    const seen = await sensorsThroughHaproxy(r, ['s1', 's2']);
    console.log(`sensors reporting through HAProxy: ${seen.join(', ')}`);
    console.log(`dashboard: ${r.dashboard}   (HAProxy stats: inside nxr-haproxy, 127.0.0.1:8404)`);
  } catch (err) {
    const logs = lastLogs(r.machines);
    stop();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  if (check) return stop();
  console.log('Ctrl-C removes everything');
  await new Promise(() => {});
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(`rehearsal failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
