import { type Command, Option } from 'commander';
import type { Member } from '../../cluster/member.js';
import { EXIT } from '../exit-codes.js';
import { paint, printJson } from '../output.js';

export interface ClusterFlags {
  nats?: string;
  cluster?: string;
  json?: boolean;
}

/** --nats and --cluster, as `nexo server` reads them (same environment variables). */
export function addClusterEngineOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--nats <urls>', 'NATS server URLs, comma-separated (default nats://127.0.0.1:4222)').env(
        'NEXO_NATS',
      ),
    )
    .addOption(new Option('--cluster <name>', "cluster name (default 'nexo')").env('NEXO_CLUSTER'));
}

export function registerCluster(program: Command): void {
  const cluster = program
    .command('cluster')
    .description(
      'the nodes of a cluster (--storage postgres): who is live, and a local cluster for trying it',
    );
  addClusterEngineOptions(
    cluster
      .command('status')
      .description('list the live nodes of a cluster from its membership in NATS')
      .option('--json', 'print machine-readable JSON (an array of members)')
      .addHelpText(
        'after',
        '\nExamples:\n  nexo cluster status --nats nats://10.0.1.5:4222\n  NEXO_CLUSTER=lab nexo cluster status --json',
      ),
  ).action(async (flags: ClusterFlags) => {
    const { withMembers } = await import('../cluster-members.js');
    const members = await withMembers(flags, (read) => read());
    if (members === undefined) {
      process.exitCode = EXIT.UNREACHABLE;
      return;
    }
    if (flags.json) printJson(members);
    else process.stdout.write(formatMembers(members, flags.cluster ?? 'nexo'));
  });
  registerUp(cluster);
}

interface UpFlags {
  nodes: string;
  postgres?: string;
  nats?: string;
  basePort: string;
  lbPort: string;
  lbHttpPort: string;
  statsPort: string;
  haproxy: boolean;
}

function registerUp(cluster: Command): void {
  cluster
    .command('up')
    .description(
      'start a local cluster: N nodes and HAProxy (when installed) on the local PostgreSQL and NATS; Ctrl-C stops all',
    )
    .addOption(new Option('--nodes <n>', 'how many nodes (1-9)').default('3'))
    .addOption(
      new Option(
        '--postgres <url>',
        'PostgreSQL to use (a schema of its own is made, and dropped at the end)',
      )
        .env('NEXO_POSTGRES')
        .default('postgres://postgres@127.0.0.1:5432/postgres'),
    )
    .addOption(
      new Option('--nats <urls>', 'NATS with JetStream').env('NEXO_NATS').default('nats://127.0.0.1:4222'),
    )
    .addOption(
      new Option(
        '--base-port <port>',
        'node i listens on base+10i (protocol), +1 (HTTP), +2 (agent)',
      ).default('15000'),
    )
    .addOption(new Option('--lb-port <port>', "HAProxy's protocol port").default('5000'))
    .addOption(
      new Option('--lb-http-port <port>', "HAProxy's HTTP port (REST, /ws, dashboard)").default('8080'),
    )
    .addOption(new Option('--stats-port <port>', "HAProxy's stats page").default('8404'))
    .option('--no-haproxy', 'do not start HAProxy')
    .addHelpText(
      'after',
      '\nExample:\n  nexo cluster up --nodes 3\n  nexo calc "1+1" -s 127.0.0.1:5000      # through HAProxy',
    )
    .action(async (flags: UpFlags) => {
      const int = (name: string, v: string, min: number, max: number) => {
        const n = Number(v);
        if (!/^\d+$/.test(v) || n < min || n > max)
          throw new TypeError(`--${name}: expected ${min}-${max} (got ${JSON.stringify(v)})`);
        return n;
      };
      const nodes = int('nodes', flags.nodes, 1, 9);
      const basePort = int('base-port', flags.basePort, 1024, 65_000);
      const { clusterUp } = await import('../cluster-up.js');
      process.exitCode = await clusterUp({
        nodes,
        postgres: flags.postgres ?? 'postgres://postgres@127.0.0.1:5432/postgres',
        nats: flags.nats ?? 'nats://127.0.0.1:4222',
        basePort,
        lbPort: int('lb-port', flags.lbPort, 1, 65535),
        lbHttpPort: int('lb-http-port', flags.lbHttpPort, 1, 65535),
        statsPort: int('stats-port', flags.statsPort, 1, 65535),
        haproxy: flags.haproxy,
      });
    });
}

/** A table of members, one per line, for people. */
export function formatMembers(members: readonly Member[], cluster: string): string {
  if (members.length === 0) return `no live nodes in cluster '${cluster}'\n`;
  const rows = members.map((m) => [
    m.id,
    m.state,
    `${m.host}:${m.ports.tcp}`,
    m.ports.http === undefined ? '-' : String(m.ports.http),
    m.ports.agent === undefined ? '-' : String(m.ports.agent),
    m.version,
    uptime(m.uptimeS),
    String(m.load.connections),
    String(m.load.requestsPerSec),
    String(m.load.eventLoopDelayMs),
  ]);
  const head = [
    'NODE',
    'STATE',
    'ADDRESS',
    'HTTP',
    'AGENT',
    'VERSION',
    'UPTIME',
    'CONNS',
    'REQ/S',
    'LOOP MS',
  ];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const colour = (state: string, text: string) =>
    state === 'ready' ? text : state === 'draining' ? paint.dim(text) : text;
  return `${paint.bold(line(head))}\n${rows.map((r) => colour(r[1]!, line(r))).join('\n')}\n${paint.dim(
    `${members.length} live node${members.length === 1 ? '' : 's'} in cluster '${cluster}'`,
  )}\n`;
}

function uptime(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}
