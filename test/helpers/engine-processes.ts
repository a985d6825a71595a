import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './node.js';
import { program } from './programs.js';

/**
 * PostgreSQL and NATS servers of a test's own, in temporary directories on free loopback ports, for tests
 * that stop, kill or restart an engine. The machine's shared PostgreSQL (5432) and NATS (4222) serve other
 * test runs at the same time and are never touched; tests that only need an engine that stays up use
 * helpers/engines.ts instead.
 *
 * Each engine keeps its port and data across stop/start, so a node pointed at it sees the same server
 * come back. `close()` kills it and removes its directory; call it in afterAll.
 */

export interface EngineProcess {
  /** The URL a node's --postgres / --nats takes. */
  readonly url: string;
  readonly port: number;
  readonly running: boolean;
  /** Starts it again (same port, same data) and waits until it answers. */
  start(): Promise<void>;
  /** A clean stop (PostgreSQL: fast shutdown; NATS: SIGTERM), waiting for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL, like a crash (PostgreSQL: every process of the server; it recovers from its WAL at the next start). */
  kill(): Promise<void>;
  restart(): Promise<void>;
  /** Kills it and removes its directory. */
  close(): Promise<void>;
}

const READY_MS = 30_000;

/**
 * Where an engine runs: by default on a free port of this namespace's loopback; the multi-host harness
 * (test/cluster/hosts.ts) runs it inside a network namespace (`ip netns exec`) on that namespace's address.
 */
export interface EnginePlace {
  /** Network namespace to run the server in (`ip netns exec NETNS ...`). */
  readonly netns?: string;
  /** Address it listens on and the URL names (default 127.0.0.1). */
  readonly host?: string;
  /** Its port (default: a free loopback port; give one when `netns` is set). */
  readonly port?: number;
}

/** `ip netns exec NETNS file args` when `netns` is given, else `file args`. */
function inPlace(place: EnginePlace, file: string, args: string[]): [string, string[]] {
  return place.netns === undefined ? [file, args] : ['ip', ['netns', 'exec', place.netns, file, ...args]];
}

/** The newest installed PostgreSQL server binaries (Debian: /usr/lib/postgresql/<version>/bin). */
function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(path.join(root, v, 'bin/postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length > 0) return path.join(root, versions[0]!, 'bin');
  const initdb = program('initdb', [], 'postgresql');
  return initdb === undefined ? undefined : path.dirname(initdb);
}

/** Why own engines cannot be started here (printed; a failure under CI=true), or undefined. */
export function engineProgramsMissing(): string | undefined {
  const missing: string[] = [];
  if (postgresBin() === undefined) missing.push('PostgreSQL server (initdb, postgres)');
  if (program('nats-server', ['/usr/sbin/nats-server']) === undefined) missing.push('nats-server');
  if (missing.length === 0) return undefined;
  const why = `${missing.join(' and ')} not installed`;
  if (process.env.CI === 'true') throw new Error(`${why} (required under CI)`);
  console.warn(`skipping own-engine tests: ${why}`);
  return why;
}

/** PostgreSQL refuses to run as root: as root, its processes run as the `postgres` user. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

async function until(what: string, check: () => Promise<boolean>, child: () => ChildProcess | undefined) {
  const deadline = Date.now() + READY_MS;
  for (;;) {
    if (await check()) return;
    const c = child();
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) {
      throw new Error(`${what} exited before it was ready`);
    }
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${READY_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Sends `signal` (to the child's whole process group with `group`) and waits for the child to exit. */
async function ended(child: ChildProcess | undefined, signal: NodeJS.Signals, group = false): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exit = once(child, 'exit');
  if (group && child.pid !== undefined) process.kill(-child.pid, signal);
  else child.kill(signal);
  await exit;
}

/** One server process kept on one port; `launch` spawns it, `answers` says it serves. */
class Engine implements EngineProcess {
  #child: ChildProcess | undefined;
  #output = '';

  constructor(
    readonly name: string,
    readonly url: string,
    readonly port: number,
    readonly dir: string,
    private readonly launch: () => ChildProcess,
    private readonly answers: () => Promise<boolean>,
    private readonly stopSignal: NodeJS.Signals,
    /** Started as a process group (spawn `detached`): kill() ends every process of the server at once. */
    private readonly group = false,
  ) {}

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running) return;
    // A server that exits at once (its port not yet released by the previous run, on a loaded machine) is
    // started again, a few times.
    for (let attempt = 1; ; attempt++) {
      this.#output = '';
      const child = this.launch();
      child.stdout?.on('data', (d) => (this.#output = (this.#output + d).slice(-8000)));
      child.stderr?.on('data', (d) => (this.#output = (this.#output + d).slice(-8000)));
      this.#child = child;
      try {
        await until(this.name, this.answers, () => this.#child);
        return;
      } catch (err) {
        const exited = child.exitCode !== null || child.signalCode !== null;
        await ended(child, 'SIGKILL', this.group);
        if (!exited || attempt === 3) throw new Error(`${(err as Error).message}:\n${this.#output}`);
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  stop(): Promise<void> {
    return ended(this.#child, this.stopSignal);
  }

  kill(): Promise<void> {
    return ended(this.#child, 'SIGKILL', this.group);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async close(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A PostgreSQL cluster of the test's own: initdb (trust, user postgres, database `test`) in a temporary
 * directory, the server on a free loopback port with its socket in that directory. fsync is off: the tests
 * stop and kill the server, never the machine, so the operating system keeps every write; durability across
 * a server crash still comes from the WAL.
 */
export async function startOwnPostgres(place: EnginePlace = {}): Promise<EngineProcess> {
  const bin = postgresBin();
  if (bin === undefined) throw new Error('PostgreSQL server binaries not installed');
  const user = postgresUser();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nexo-pg-'));
  const data = path.join(dir, 'data');
  if (user !== undefined) chownSync(dir, user.uid, user.gid);
  const as = user === undefined ? {} : { uid: user.uid, gid: user.gid };
  execFileSync(
    path.join(bin, 'initdb'),
    ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'],
    { ...as, stdio: 'pipe', cwd: dir },
  );
  const port = place.port ?? (await freePort());
  const host = place.host ?? '127.0.0.1';
  // initdb trusts loopback only; on a namespace's address, every peer of the test's own network is trusted.
  if (host !== '127.0.0.1') appendFileSync(path.join(data, 'pg_hba.conf'), 'host all all 0.0.0.0/0 trust\n');
  const url = `postgres://postgres@${host}:${port}/postgres`;
  let created = false;
  const answers = async () => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on('error', () => {});
    try {
      await client.connect();
      if (!created) {
        await client.query('CREATE DATABASE test');
        created = true;
      }
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  };
  const engine = new Engine(
    'own PostgreSQL',
    `postgres://postgres@${host}:${port}/test`,
    port,
    dir,
    () => {
      const args = [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        `listen_addresses=${host}`,
        '-c',
        'fsync=off',
        '-c',
        'max_connections=60',
        '-c',
        'shared_buffers=16MB',
      ];
      if (place.netns === undefined) {
        return spawn(path.join(bin, 'postgres'), args, {
          ...as,
          cwd: dir,
          stdio: ['ignore', 'pipe', 'pipe'],
          detached: true,
        });
      }
      // `ip netns exec` needs root: it runs setpriv, which drops to the postgres user and execs the server.
      const drop =
        user === undefined
          ? []
          : ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--'];
      const [file, wrapped] = inPlace(place, drop[0] ?? path.join(bin, 'postgres'), [
        ...drop.slice(1),
        ...(drop.length > 0 ? [path.join(bin, 'postgres')] : []),
        ...args,
      ]);
      return spawn(file, wrapped, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    },
    answers,
    // SIGINT is PostgreSQL's fast shutdown: sessions are ended, the server checkpoints and exits.
    'SIGINT',
    // A crash kills the postmaster and its backends together; backends left behind would hold the shared
    // memory, and the next start would refuse ("pre-existing shared memory block is still in use").
    true,
  );
  await engine.start();
  return engine;
}

/** One server of a NATS cluster (`--cluster`, `--routes`; JetStream clustered needs a name per server). */
export interface NatsClusterPlace {
  /** The cluster's name (`--cluster_name`). */
  readonly name: string;
  /** This server's name (`-n`). */
  readonly server: string;
  /** This server's cluster (route) port. */
  readonly routePort: number;
  /** Every server's route URL (its own is left out). */
  readonly routes: readonly string[];
}

/**
 * A nats-server of the test's own with JetStream, its store in a temporary directory; with `cluster`, one
 * server of a JetStream cluster (start every server of it at once: each waits for a quorum).
 */
export async function startOwnNats(
  place: EnginePlace = {},
  cluster?: NatsClusterPlace,
): Promise<EngineProcess> {
  const natsServer = program('nats-server', ['/usr/sbin/nats-server']);
  if (natsServer === undefined) throw new Error('nats-server not installed');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'nexo-nats-'));
  const port = place.port ?? (await freePort());
  const host = place.host ?? '127.0.0.1';
  const url = `nats://${host}:${port}`;
  const args = ['-js', '-sd', dir, '-a', host, '-p', String(port)];
  if (cluster !== undefined) {
    const own = `nats://${host}:${cluster.routePort}`;
    args.push('-n', cluster.server, '--cluster_name', cluster.name, '--cluster', own);
    args.push('--routes', cluster.routes.filter((r) => r !== own).join(','));
  }
  const engine = new Engine(
    'own nats-server',
    url,
    port,
    dir,
    () => {
      const [file, wrapped] = inPlace(place, natsServer, args);
      return spawn(file, wrapped, { stdio: ['ignore', 'pipe', 'pipe'] });
    },
    async () => {
      // Serving once its monitoring-free client port answers the protocol's INFO line.
      const { connect } = await import('@nats-io/transport-node');
      try {
        const nc = await connect({ servers: url, timeout: 1000, reconnect: false });
        await nc.close();
        return true;
      } catch {
        return false;
      }
    },
    'SIGTERM',
  );
  await engine.start();
  return engine;
}
