import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import {
  OptionsError,
  resolveOptions,
  type ServerOptions,
  type ServerOptionsInput,
} from '../options/options.js';

/**
 * `nexo server` settings: each one is a flag, an environment variable and a config-file key. Precedence:
 * flag > environment > config file > default (the defaults live in options/, composed by options/options.ts).
 */
interface Setting {
  /** Dotted path in the config file / ServerOptionsInput. */
  readonly path: string;
  readonly flag: string;
  readonly env: string;
  readonly help: string;
  /** `roles`: "anyone" or a comma-separated list of roles. */
  readonly kind: 'string' | 'int' | 'bool' | 'unit' | 'roles';
}

export const SERVER_SETTINGS: readonly Setting[] = [
  {
    path: 'host',
    flag: '--host <host>',
    env: 'NEXO_HOST',
    help: 'address to listen on (default 0.0.0.0)',
    kind: 'string',
  },
  { path: 'port', flag: '--port <port>', env: 'NEXO_PORT', help: 'TCP port (default 5000)', kind: 'int' },
  {
    path: 'dataDir',
    flag: '--data-dir <dir>',
    env: 'NEXO_DATA_DIR',
    help: 'where embedded stores live (default ./nexo-data)',
    kind: 'string',
  },
  {
    path: 'trace',
    flag: '--trace',
    env: 'NEXO_TRACE',
    help: 'log every frame: type, id, service and method, payload length (never a payload or a token)',
    kind: 'bool',
  },
  {
    path: 'nodeId',
    flag: '--node-id <id>',
    env: 'NEXO_NODE_ID',
    help: 'name of this node (default host:port)',
    kind: 'string',
  },
  {
    path: 'maxClients',
    flag: '--max-clients <n>',
    env: 'NEXO_MAX_CLIENTS',
    help: 'clients served at once, others wait in line; 1 = sequential server (default 0 = no limit)',
    kind: 'int',
  },
  {
    path: 'maxQueue',
    flag: '--max-queue <n>',
    env: 'NEXO_MAX_QUEUE',
    help: 'clients allowed to wait (default 1024)',
    kind: 'int',
  },
  {
    path: 'maxConnectionsPerAddress',
    flag: '--max-connections-per-address <n>',
    env: 'NEXO_MAX_CONNECTIONS_PER_ADDRESS',
    help: 'open connections per client address on the protocol and TLS ports (default 256, 0 = no limit)',
    kind: 'int',
  },
  {
    path: 'requestRate',
    flag: '--request-rate <n>',
    env: 'NEXO_REQUEST_RATE',
    help: 'requests per second each stored token may make, over all its sessions (default 0 = no limit; beyond it RATE_LIMITED)',
    kind: 'int',
  },
  {
    path: 'requestBurst',
    flag: '--request-burst <n>',
    env: 'NEXO_REQUEST_BURST',
    help: 'requests a token may make at once above --request-rate (default twice the rate)',
    kind: 'int',
  },
  {
    path: 'queueTimeout',
    flag: '--queue-timeout <duration>',
    env: 'NEXO_QUEUE_TIMEOUT',
    help: 'longest wait in line (default 0 = none)',
    kind: 'unit',
  },
  {
    path: 'maxFrame',
    flag: '--max-frame <size>',
    env: 'NEXO_MAX_FRAME',
    help: 'largest frame accepted (default 1MiB)',
    kind: 'unit',
  },
  {
    path: 'maxInFlight',
    flag: '--max-in-flight <n>',
    env: 'NEXO_MAX_IN_FLIGHT',
    help: 'open requests per connection (default 256)',
    kind: 'int',
  },
  {
    path: 'maxLine',
    flag: '--max-line <size>',
    env: 'NEXO_MAX_LINE',
    help: 'longest text-mode line (default 8KiB)',
    kind: 'unit',
  },
  {
    path: 'handshakeTimeout',
    flag: '--handshake-timeout <duration>',
    env: 'NEXO_HANDSHAKE_TIMEOUT',
    help: 'time to say HELLO or type a first line (default 10s)',
    kind: 'unit',
  },
  {
    path: 'idleTimeout',
    flag: '--idle-timeout <duration>',
    env: 'NEXO_IDLE_TIMEOUT',
    help: 'close connections idle this long (default 5m, 0 = never)',
    kind: 'unit',
  },
  {
    path: 'heartbeat',
    flag: '--heartbeat <duration>',
    env: 'NEXO_HEARTBEAT',
    help: 'PING quiet peers this often (default 30s, 0 = never)',
    kind: 'unit',
  },
  {
    path: 'slowPeerTimeout',
    flag: '--slow-peer-timeout <duration>',
    env: 'NEXO_SLOW_PEER_TIMEOUT',
    help: 'drop a client that leaves replies unread this long (default 15s)',
    kind: 'unit',
  },
  {
    path: 'maxOutbound',
    flag: '--max-outbound <size>',
    env: 'NEXO_MAX_OUTBOUND',
    help: 'drop a client with this much unread (default 8MiB)',
    kind: 'unit',
  },
  {
    path: 'shutdownTimeout',
    flag: '--shutdown-timeout <duration>',
    env: 'NEXO_SHUTDOWN_TIMEOUT',
    help: 'time to finish requests on SIGTERM (default 10s)',
    kind: 'unit',
  },
  {
    path: 'storage',
    flag: '--storage <mode>',
    env: 'NEXO_STORAGE',
    help: 'embedded (SQLite and files in --data-dir, one node) or postgres (shared: needs --postgres and --nats)',
    kind: 'string',
  },
  {
    path: 'postgres',
    flag: '--postgres <url>',
    env: 'NEXO_POSTGRES',
    help: 'PostgreSQL URL for --storage postgres, e.g. postgres://nexo@127.0.0.1:5432/nexo',
    kind: 'string',
  },
  {
    path: 'nats',
    flag: '--nats <urls>',
    env: 'NEXO_NATS',
    help: 'NATS server URLs for --storage postgres, comma-separated, e.g. nats://127.0.0.1:4222',
    kind: 'string',
  },
  {
    path: 'cluster',
    flag: '--cluster <name>',
    env: 'NEXO_CLUSTER',
    help: "cluster name, prefix of its NATS subjects and buckets (default 'nexo')",
    kind: 'string',
  },
  {
    path: 'advertise',
    flag: '--advertise <host>',
    env: 'NEXO_ADVERTISE',
    help: "address other hosts reach this node at, as the cluster membership shows it (default: --host, or this host's first IPv4)",
    kind: 'string',
  },
  {
    path: 'agent.port',
    flag: '--agent-port <port>',
    env: 'NEXO_AGENT_PORT',
    help: "HAProxy agent-check port: answers 'up N%' from the load, 'drain' while draining (default 5555 with --storage postgres; 0 = any free port)",
    kind: 'int',
  },
  {
    path: 'agent.enabled',
    flag: '--no-agent',
    env: 'NEXO_AGENT',
    help: 'do not answer HAProxy agent-checks',
    kind: 'bool',
  },
  {
    path: 'auth.anonymous',
    flag: '--no-anonymous',
    env: 'NEXO_ANONYMOUS',
    help: 'require a token from every client',
    kind: 'bool',
  },
  {
    path: 'udp.enabled',
    flag: '--no-udp',
    env: 'NEXO_UDP',
    help: 'do not listen on UDP (text datagrams, secure sensor sessions)',
    kind: 'bool',
  },
  {
    path: 'udp.port',
    flag: '--udp-port <port>',
    env: 'NEXO_UDP_PORT',
    help: 'UDP port (default: the TCP port)',
    kind: 'int',
  },
  {
    path: 'udp.maxSessions',
    flag: '--udp-max-sessions <n>',
    env: 'NEXO_UDP_MAX_SESSIONS',
    help: 'secure UDP sensor sessions at once (default 1000)',
    kind: 'int',
  },
  {
    path: 'tls.cert',
    flag: '--tls-cert <file>',
    env: 'NEXO_TLS_CERT',
    help: 'PEM server certificate (chain): turns on the TLS port and HTTPS',
    kind: 'string',
  },
  {
    path: 'tls.key',
    flag: '--tls-key <file>',
    env: 'NEXO_TLS_KEY',
    help: 'PEM private key of --tls-cert',
    kind: 'string',
  },
  {
    path: 'tls.port',
    flag: '--tls-port <port>',
    env: 'NEXO_TLS_PORT',
    help: 'TLS port for the nexo protocol and text mode (default 5443)',
    kind: 'int',
  },
  {
    path: 'tls.ca',
    flag: '--tls-ca <file>',
    env: 'NEXO_TLS_CA',
    help: 'PEM CA that client certificates must chain to',
    kind: 'string',
  },
  {
    path: 'tls.clientAuth',
    flag: '--tls-client-auth <mode>',
    env: 'NEXO_TLS_CLIENT_AUTH',
    help: 'client certificates: none, optional or require (default none)',
    kind: 'string',
  },
  {
    path: 'tls.https',
    flag: '--no-https',
    env: 'NEXO_HTTPS',
    help: 'keep the HTTP gateway on plain HTTP even with --tls-cert',
    kind: 'bool',
  },
  {
    path: 'http.enabled',
    flag: '--no-http',
    env: 'NEXO_HTTP',
    help: 'do not start the HTTP gateway (REST API, WebSocket, dashboard)',
    kind: 'bool',
  },
  {
    path: 'http.port',
    flag: '--http-port <port>',
    env: 'NEXO_HTTP_PORT',
    help: 'HTTP port: REST API, WebSocket /ws, dashboard (default 8080, 0 = any free port)',
    kind: 'int',
  },
  {
    path: 'http.host',
    flag: '--http-host <host>',
    env: 'NEXO_HTTP_HOST',
    help: 'address the HTTP gateway listens on (default: --host)',
    kind: 'string',
  },
  {
    path: 'http.bodyLimit',
    flag: '--http-body-limit <size>',
    env: 'NEXO_HTTP_BODY_LIMIT',
    help: 'largest JSON request body (default 1MiB)',
    kind: 'unit',
  },
  {
    path: 'http.requestTimeout',
    flag: '--http-request-timeout <duration>',
    env: 'NEXO_HTTP_REQUEST_TIMEOUT',
    help: 'time to send a whole HTTP request (default 30s)',
    kind: 'unit',
  },
  {
    path: 'http.maxConnectionsPerIp',
    flag: '--http-max-connections-per-ip <n>',
    env: 'NEXO_HTTP_MAX_CONNECTIONS_PER_IP',
    help: 'open HTTP/WebSocket connections per client address (default 256, 0 = no limit)',
    kind: 'int',
  },
  {
    path: 'http.wsMaxMessage',
    flag: '--ws-max-message <size>',
    env: 'NEXO_WS_MAX_MESSAGE',
    help: 'largest WebSocket message on /ws (default 4MiB)',
    kind: 'unit',
  },
  {
    path: 'http.metricsToken',
    flag: '--metrics-token <token>',
    env: 'NEXO_METRICS_TOKEN',
    help: 'GET /metrics needs "Authorization: Bearer <token>" (default: open)',
    kind: 'string',
  },
  {
    path: 'http.metrics',
    flag: '--no-metrics',
    env: 'NEXO_METRICS',
    help: 'serve no /metrics and time no requests (the latency histograms cost a little per request)',
    kind: 'bool',
  },
  {
    path: 'http.metricsPort',
    flag: '--metrics-port <port>',
    env: 'NEXO_METRICS_PORT',
    help: 'serve GET /metrics on this port (plain HTTP) instead of the HTTP port (default: the HTTP port)',
    kind: 'int',
  },
  {
    path: 'chat.history',
    flag: '--chat-history <n>',
    env: 'NEXO_CHAT_HISTORY',
    help: 'messages kept per chat room and sent on join (default 100)',
    kind: 'int',
  },
  {
    path: 'calc.timeout',
    flag: '--calc-timeout <duration>',
    env: 'NEXO_CALC_TIMEOUT',
    help: 'time limit of one heavy calculation (default 1s)',
    kind: 'unit',
  },
  {
    path: 'telemetry.retention',
    flag: '--retention <duration>',
    env: 'NEXO_RETENTION',
    help: 'delete telemetry readings older than this, e.g. 30d (default 0 = keep forever)',
    kind: 'unit',
  },
  {
    path: 'telemetry.rate',
    flag: '--sensor-rate <n>',
    env: 'NEXO_SENSOR_RATE',
    help: 'readings per second each sensor may send (default 1000, 0 = no limit)',
    kind: 'int',
  },
  {
    path: 'telemetry.burst',
    flag: '--sensor-burst <n>',
    env: 'NEXO_SENSOR_BURST',
    help: 'readings a sensor may send at once above its rate (default 10000)',
    kind: 'int',
  },
  {
    path: 'telemetry.mqtt.url',
    flag: '--mqtt <url>',
    env: 'NEXO_MQTT',
    help: 'ingest sensor readings from this MQTT broker, e.g. mqtt://127.0.0.1:1883',
    kind: 'string',
  },
  {
    path: 'telemetry.mqtt.topic',
    flag: '--mqtt-topic <filter>',
    env: 'NEXO_MQTT_TOPIC',
    help: "topic filter whose last two levels are <sensor>/<metric> (default 'sensors/+/+')",
    kind: 'string',
  },
  {
    path: 'telemetry.mqtt.clientId',
    flag: '--mqtt-client-id <id>',
    env: 'NEXO_MQTT_CLIENT_ID',
    help: 'MQTT client id (persistent session; default nexo-<node id>)',
    kind: 'string',
  },
  {
    path: 'files.maxFileSize',
    flag: '--files-max-size <size>',
    env: 'NEXO_FILES_MAX_SIZE',
    help: 'largest file accepted for upload (default 64GiB)',
    kind: 'unit',
  },
  {
    path: 'files.quota',
    flag: '--files-quota <size>',
    env: 'NEXO_FILES_QUOTA',
    help: 'bytes stored files and unfinished uploads may take (default 0 = the disk is the limit)',
    kind: 'unit',
  },
  {
    path: 'files.maxUploads',
    flag: '--files-max-uploads <n>',
    env: 'NEXO_FILES_MAX_UPLOADS',
    help: 'uploads received at once (default 16)',
    kind: 'int',
  },
  {
    path: 'files.partialExpiry',
    flag: '--files-partial-expiry <duration>',
    env: 'NEXO_FILES_PARTIAL_EXPIRY',
    help: 'delete unfinished uploads untouched this long (default 24h)',
    kind: 'unit',
  },
  {
    path: 'files.stallTimeout',
    flag: '--files-stall-timeout <duration>',
    env: 'NEXO_FILES_STALL_TIMEOUT',
    help: 'fail an upload that sends nothing this long; it stays resumable (default 2m)',
    kind: 'unit',
  },
  {
    path: 'files.readRoles',
    flag: '--files-read-roles <roles>',
    env: 'NEXO_FILES_READ_ROLES',
    help: 'who may download and list files: anyone, or roles like admin,user (default anyone)',
    kind: 'roles',
  },
  {
    path: 'files.writeRoles',
    flag: '--files-write-roles <roles>',
    env: 'NEXO_FILES_WRITE_ROLES',
    help: 'who may upload: anyone, or roles (default anyone)',
    kind: 'roles',
  },
  {
    path: 'files.deleteRoles',
    flag: '--files-delete-roles <roles>',
    env: 'NEXO_FILES_DELETE_ROLES',
    help: 'who may delete files: anyone, or roles (default admin)',
    kind: 'roles',
  },
  {
    path: 'workers.threads',
    flag: '--workers <n>',
    env: 'NEXO_WORKERS',
    help: 'worker threads for heavy work (default cores - 1)',
    kind: 'int',
  },
  {
    path: 'log.level',
    flag: '--log-level <level>',
    env: 'NEXO_LOG_LEVEL',
    help: 'trace, debug, info, warn, error or silent (default info)',
    kind: 'string',
  },
];

export function addServerOptions(command: Command): Command {
  command.addOption(
    new Option('-c, --config <file>', 'JSON config file (keys as in docs/configuration.md)').env(
      'NEXO_CONFIG',
    ),
  );
  for (const s of SERVER_SETTINGS) command.addOption(new Option(s.flag, s.help));
  command.addOption(
    new Option('--token <token=role...>', 'accept this token and give it a role (repeatable)'),
  );
  command.addOption(
    new Option('--log-format <format>', 'pretty or json (default: pretty on a terminal)').choices([
      'pretty',
      'json',
    ]),
  );
  return command;
}

type Flags = Record<string, unknown>;

/**
 * Builds the node's input from flags, env and the config file, and validates it, naming the source of each
 * bad value.
 */
export function serverOptionsFrom(
  flags: Flags,
  env: NodeJS.ProcessEnv = process.env,
): { input: ServerOptionsInput; options: ServerOptions } {
  const input: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  const configPath = (flags.config as string | undefined) ?? env.NEXO_CONFIG;
  if (configPath !== undefined) {
    const file = readConfig(configPath);
    Object.assign(input, file);
    for (const key of flatKeys(file)) sources.set(key, `config file ${configPath}`);
  }
  for (const s of SERVER_SETTINGS) {
    const value = env[s.env];
    if (value !== undefined && value !== '') {
      setPath(input, s.path, convert(value, s.kind));
      sources.set(s.path, `env ${s.env}`);
    }
  }
  if (env.NEXO_TOKENS !== undefined && env.NEXO_TOKENS !== '') {
    setPath(input, 'auth.tokens', { ...getTokens(input), ...parseTokens(env.NEXO_TOKENS.split(',')) });
    sources.set('auth.tokens', 'env NEXO_TOKENS');
  }
  for (const s of SERVER_SETTINGS) {
    const key = camel(s.flag);
    const value = flags[key];
    if (value === undefined) continue;
    if (s.kind === 'bool' && s.flag.startsWith('--no-')) {
      if (value === false) setPath(input, s.path, false);
      else continue;
    } else setPath(input, s.path, convert(String(value), s.kind));
    sources.set(s.path, `flag ${s.flag.split(' ')[0]}`);
  }
  if (Array.isArray(flags.token)) {
    setPath(input, 'auth.tokens', { ...getTokens(input), ...parseTokens(flags.token as string[]) });
    sources.set('auth.tokens', 'flag --token');
  }
  if (flags.logFormat !== undefined) setPath(input, 'log.pretty', flags.logFormat === 'pretty');
  else if (getPath(input, 'log.pretty') === undefined)
    setPath(input, 'log.pretty', process.stdout.isTTY === true);
  try {
    return { input: input as ServerOptionsInput, options: resolveOptions(input) };
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    throw new OptionsError(
      err.problems.map((p) => {
        const path = p.slice(0, p.indexOf(':'));
        const source = [...sources].find(([k]) => path === k || path.startsWith(`${k}.`))?.[1];
        return source === undefined ? p : `${p} [from ${source}]`;
      }),
    );
  }
}

function readConfig(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new OptionsError([`config: cannot read ${path}: ${(err as Error).message}`]);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new OptionsError([`config: ${path} is not valid JSON: ${(err as Error).message}`]);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new OptionsError([`config: ${path} must hold a JSON object`]);
  }
  return value as Record<string, unknown>;
}

function convert(value: string, kind: Setting['kind']): unknown {
  if (kind === 'int') return /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (kind === 'bool')
    return value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;
  if (kind === 'unit') return /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (kind === 'roles') {
    if (value.trim() === 'anyone') return 'anyone';
    return value
      .split(',')
      .map((r) => r.trim())
      .filter(Boolean);
  }
  return value;
}

function parseTokens(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.lastIndexOf('=');
    if (at <= 0) throw new OptionsError([`auth.tokens: '${pair.slice(0, 20)}...' must be token=role`]);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

function getTokens(input: Record<string, unknown>): Record<string, string> {
  return (getPath(input, 'auth.tokens') as Record<string, string> | undefined) ?? {};
}

function camel(flag: string): string {
  const name = flag.split(' ')[0]!.replace(/^--(no-)?/, '');
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}

function getPath(target: Record<string, unknown>, path: string): unknown {
  let node: unknown = target;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function flatKeys(value: Record<string, unknown>, prefix = ''): string[] {
  return Object.entries(value).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) && k !== 'tokens'
      ? flatKeys(v as Record<string, unknown>, `${prefix}${k}.`)
      : [`${prefix}${k}`],
  );
}
