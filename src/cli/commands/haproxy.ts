import { writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import {
  HAPROXY_DEFAULTS,
  type HaproxyNode,
  type HaproxySettings,
  haproxyConfig,
} from '../../cluster/haproxy-config.js';
import { nodesFromMembers, parseNodeSpecs } from '../../cluster/haproxy-nodes.js';
import { EXIT } from '../exit-codes.js';
import { paint } from '../output.js';
import { addClusterEngineOptions, type ClusterFlags } from './cluster.js';

interface HaproxyFlags extends ClusterFlags {
  node?: string[];
  output?: string;
  bind?: string;
  protocolPort?: string;
  httpPort?: string;
  tlsPort?: string;
  stats?: string;
  socket?: string;
  maxconn?: string;
  inter?: string;
  agentInter?: string;
  agentPort?: string;
}

/** HAProxy's own options (frontend ports, stats, socket, check timing), shared with haproxy-sync. */
export function addHaproxyOptions(command: Command): Command {
  const d = HAPROXY_DEFAULTS;
  return command
    .addOption(new Option('--bind <address>', 'address the frontends bind (default: every address)'))
    .addOption(new Option('--protocol-port <port>', `protocol frontend port (default ${d.protocolPort})`))
    .addOption(
      new Option('--http-port <port>', `HTTP frontend port: REST, /ws, dashboard (default ${d.httpPort})`),
    )
    .addOption(
      new Option('--tls-port <port>', `TLS passthrough frontend port, or 'off' (default ${d.tlsPort})`),
    )
    .addOption(new Option('--stats <host:port>', `stats page (default ${d.stats})`))
    .addOption(new Option('--socket <path>', `runtime API socket (default ${d.socket})`))
    .addOption(new Option('--maxconn <n>', `global maxconn (default ${d.maxconn})`))
    .addOption(new Option('--inter <duration>', `health-check interval (default ${d.inter})`))
    .addOption(new Option('--agent-inter <duration>', `agent-check interval (default ${d.agentInter})`))
    .addOption(
      new Option(
        '--agent-port <port>',
        `nodes' agent-check port when they do not announce one (default ${d.agentPort})`,
      ),
    );
}

export function haproxySettingsFrom(flags: HaproxyFlags): HaproxySettings {
  const d = HAPROXY_DEFAULTS;
  const port = (name: string, v: string | undefined, fallback: number) => {
    if (v === undefined) return fallback;
    if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65535) {
      throw new TypeError(`--${name}: expected a port 1-65535 (got ${JSON.stringify(v)})`);
    }
    return Number(v);
  };
  const duration = (name: string, v: string | undefined, fallback: string) => {
    if (v === undefined) return fallback;
    if (!/^[1-9]\d{0,6}(ms|s|m)?$/.test(v)) {
      throw new TypeError(`--${name}: expected an HAProxy time such as 500ms, 2s (got ${JSON.stringify(v)})`);
    }
    return v;
  };
  const maxconn = flags.maxconn === undefined ? d.maxconn : Number(flags.maxconn);
  if (!Number.isInteger(maxconn) || maxconn < 1 || maxconn > 10_000_000) {
    throw new TypeError(
      `--maxconn: expected a whole number 1-10000000 (got ${JSON.stringify(flags.maxconn)})`,
    );
  }
  const stats = flags.stats ?? d.stats;
  if (!/^[^\s:]*:\d{1,5}$/.test(stats))
    throw new TypeError(`--stats: expected host:port (got ${JSON.stringify(stats)})`);
  const socket = flags.socket ?? d.socket;
  if (/\s/.test(socket) || socket === '') throw new TypeError('--socket: expected a path without spaces');
  const bind = flags.bind ?? d.bind;
  if (/[\s:]/.test(bind) && !/^\[[0-9a-fA-F:.]+\]$/.test(bind)) {
    throw new TypeError(`--bind: expected an address (IPv6 in brackets) (got ${JSON.stringify(bind)})`);
  }
  return {
    bind,
    protocolPort: port('protocol-port', flags.protocolPort, d.protocolPort),
    httpPort: port('http-port', flags.httpPort, d.httpPort),
    tlsPort: flags.tlsPort === 'off' ? undefined : port('tls-port', flags.tlsPort, d.tlsPort ?? 5443),
    stats,
    socket,
    maxconn,
    inter: duration('inter', flags.inter, d.inter),
    agentInter: duration('agent-inter', flags.agentInter, d.agentInter),
    agentPort: port('agent-port', flags.agentPort, d.agentPort),
  };
}

export function registerHaproxy(program: Command): void {
  addHaproxyOptions(
    addClusterEngineOptions(
      program
        .command('haproxy-config')
        .description("write an haproxy.cfg for the cluster's nodes (from its membership, or --node)")
        .addOption(
          new Option(
            '--node <spec>',
            'a node as host:port:httpport[:agentport] (repeatable); without it, the live membership',
          ).argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
        )
        .addOption(new Option('-o, --output <file>', 'write here instead of stdout'))
        .addHelpText(
          'after',
          '\nExamples:\n  nexo haproxy-config --node 10.0.1.11:5000:8080 --node 10.0.1.12:5000:8080 -o /etc/haproxy/haproxy.cfg\n  nexo haproxy-config --nats nats://10.0.1.11:4222 --cluster lab > haproxy.cfg && haproxy -c -f haproxy.cfg',
        ),
    ),
  ).action(async (flags: HaproxyFlags) => {
    const settings = haproxySettingsFrom(flags);
    let nodes: HaproxyNode[];
    if (flags.node !== undefined && flags.node.length > 0) nodes = parseNodeSpecs(flags.node);
    else {
      const { withMembers } = await import('../cluster-members.js');
      const found = await withMembers(flags, (read) => read());
      if (found === undefined) {
        process.exitCode = EXIT.UNREACHABLE;
        return;
      }
      const { nodes: usable, skipped } = nodesFromMembers(found);
      for (const id of skipped) {
        process.stderr.write(`${paint.dim(`left out ${id}: it has no HTTP port for health checks`)}\n`);
      }
      if (usable.length === 0) {
        process.stderr.write(
          `${paint.red('error:')} no live nodes in cluster '${flags.cluster ?? 'nexo'}' (start nodes with --storage postgres, or name them with --node)\n`,
        );
        process.exitCode = EXIT.UNREACHABLE;
        return;
      }
      nodes = usable;
    }
    const text = haproxyConfig(nodes, settings);
    if (flags.output === undefined) process.stdout.write(text);
    else writeFileSync(flags.output, text);
  });
}

interface SyncFlags extends HaproxyFlags {
  interval?: string;
  once?: boolean;
  json?: boolean;
}

export function registerHaproxySync(program: Command): void {
  addHaproxyOptions(
    addClusterEngineOptions(
      program
        .command('haproxy-sync')
        .description(
          "keep a running HAProxy's servers equal to the cluster's membership, through its runtime API",
        )
        .addOption(new Option('--interval <duration>', 'how often to compare (default 1s)'))
        .option('--once', 'compare and change once, then exit')
        .option('--json', 'print each change as a JSON line')
        .addHelpText(
          'after',
          '\nA node that joins the membership is added to every backend (add server, checks enabled, state ready);\none that leaves is put in maintenance and deleted once it holds no connection. No reload.\n\nExample:\n  nexo haproxy-sync --socket /run/haproxy/admin.sock --nats nats://10.0.1.11:4222 --cluster lab',
        ),
    ),
  ).action(async (flags: SyncFlags) => {
    const settings = haproxySettingsFrom(flags);
    const { parseDuration } = await import('../../util/units.js');
    const interval = parseDuration(flags.interval ?? '1s');
    if (interval < 100 || interval > 3_600_000) throw new TypeError('--interval: expected 100ms to 1h');
    const { syncHaproxy } = await import('../../cluster/haproxy-sync.js');
    const { withMembers } = await import('../cluster-members.js');
    let stop = false;
    let wake: (() => void) | undefined;
    const onSignal = () => {
      stop = true;
      wake?.();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    let failing = '';
    const ok = await withMembers(flags, async (read) => {
      while (!stop) {
        try {
          const { nodes } = nodesFromMembers(await read());
          for (const c of await syncHaproxy(settings.socket, nodes, settings)) {
            if (flags.json) process.stdout.write(`${JSON.stringify(c)}\n`);
            else process.stdout.write(`${c.action} ${c.backend}/${c.server}\n`);
          }
          failing = '';
        } catch (err) {
          // NATS or HAProxy away for a moment: say it once, try again next round; nothing is removed blindly.
          const message = (err as Error).message;
          if (message !== failing) process.stderr.write(`${paint.red('error:')} ${message}\n`);
          failing = message;
          if (flags.once) return false;
        }
        if (flags.once) return true;
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, interval).unref();
        });
      }
      return true;
    });
    if (ok !== true) process.exitCode = EXIT.UNREACHABLE;
  });
}
