/**
 * The HAProxy configuration for a nexo cluster (`nexo haproxy-config`; deploy/install.sh ROLE=haproxy writes
 * the same text, and deploy/haproxy.cfg.example is its output for the default three nodes):
 * - TCP frontends for the protocol port (and TLS passthrough), an HTTP frontend for REST, WebSocket /ws and
 *   the dashboard, each with `balance leastconn` over every node;
 * - health checks against each node's `/readyz` (503 while it drains or an engine is down);
 * - HAProxy's agent-check on each node's agent port (`up N%` from its load, `drain` while it drains);
 * - `timeout tunnel` for long-lived sessions, the stats page, and the runtime API socket `nexo haproxy-sync`
 *   uses to add and remove servers without a reload.
 * No `tune.*`, splice or `nbthread` lines, on purpose: on the cluster bench none of them lowered the CPU per
 * round trip (docs/benchmarks.md, "Where the overhead goes"): HAProxy's cost there is kernel socket work and
 * wake-ups, not anything it can be tuned out of; its defaults (a thread per core, 16 KiB buffers that only
 * active sessions hold) suit a host of its own.
 */
export interface HaproxyNode {
  /** Server name in HAProxy: the node id (HAProxy allows the characters node ids use). */
  readonly name: string;
  readonly host: string;
  readonly tcp: number;
  readonly http: number;
  readonly tls?: number;
  readonly agent?: number;
}

export interface HaproxySettings {
  /** Address the frontends bind (empty: every address). */
  readonly bind: string;
  readonly protocolPort: number;
  readonly httpPort: number;
  /** The TLS passthrough frontend, or undefined for none. */
  readonly tlsPort: number | undefined;
  /** host:port of the stats page. */
  readonly stats: string;
  /** Path of the runtime API socket. */
  readonly socket: string;
  readonly maxconn: number;
  /** Health-check interval, e.g. `2s`. */
  readonly inter: string;
  /** Agent-check interval. */
  readonly agentInter: string;
  /** Agent port of nodes that do not say theirs. */
  readonly agentPort: number;
}

export const HAPROXY_DEFAULTS: HaproxySettings = {
  bind: '',
  protocolPort: 5000,
  httpPort: 8080,
  tlsPort: 5443,
  stats: '127.0.0.1:8404',
  socket: '/run/haproxy/admin.sock',
  maxconn: 20000,
  // fall 2 checks a second apart, each given `inter` to answer: a dead or cut-off node is down within 3 s
  inter: '1s',
  agentInter: '2s',
  agentPort: 5555,
};

/** The backends the configuration defines, and which port of a node each one reaches. */
export const BACKENDS = {
  tcp: 'nexo_nodes_tcp',
  tls: 'nexo_nodes_tls',
  http: 'nexo_nodes_http',
} as const;
export type BackendKind = keyof typeof BACKENDS;

/**
 * The options after `server NAME ADDR:PORT` for a node in one backend (also used by `add server`). Weight
 * 100, so the agent's `up N%` scales it in steps of 1 (with HAProxy's default weight 1 every share below
 * 100% would round to 0, a drain).
 */
export function serverOptions(kind: BackendKind, node: HaproxyNode, s: HaproxySettings): string {
  const check = kind === 'http' ? 'check' : `check port ${node.http}`;
  return `${check} inter ${s.inter} fall 2 rise 2 weight 100 agent-check agent-port ${node.agent ?? s.agentPort} agent-inter ${s.agentInter}`;
}

/** The port of a node a backend sends traffic to. */
export function serverPort(kind: BackendKind, node: HaproxyNode, s: HaproxySettings): number {
  if (kind === 'tcp') return node.tcp;
  if (kind === 'http') return node.http;
  return node.tls ?? s.tlsPort ?? 5443;
}

/** A server name HAProxy accepts, from a node id. */
export function serverName(id: string): string {
  return id.replace(/[^A-Za-z0-9_.:-]/g, '_').slice(0, 64) || 'node';
}

export function haproxyConfig(nodes: readonly HaproxyNode[], s: HaproxySettings = HAPROXY_DEFAULTS): string {
  const servers = (kind: BackendKind) =>
    nodes
      .map(
        (n) =>
          `    server ${n.name} ${hostPort(n.host, serverPort(kind, n, s))} ${serverOptions(kind, n, s)}\n`,
      )
      .join('');
  const tls =
    s.tlsPort === undefined
      ? ''
      : `
# TLS passes through untouched: the nodes hold the certificate (TLS_CERT/TLS_KEY of ROLE=node),
# so client certificates (mTLS) reach them. Nodes without TLS refuse these connections.
frontend nexo_tls
    mode tcp
    bind ${s.bind}:${s.tlsPort}
    option tcplog
    default_backend ${BACKENDS.tls}

backend ${BACKENDS.tls}
    mode tcp
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    option redispatch
${servers('tls')}`;
  return `# HAProxy in front of the nexo nodes (written by nexo haproxy-config; deploy/install.sh ROLE=haproxy
# writes the same). TCP ${s.protocolPort}: the binary/text protocol, long-lived connections. HTTP ${s.httpPort}: REST API,
# WebSocket /ws, dashboard. A node is healthy while GET /readyz answers 200; it answers 503 while draining
# or while a shared engine (PostgreSQL, NATS) is down, and HAProxy then sends new clients elsewhere. Each
# node's agent-check answers "up N%" (a weight from its load) or "drain" the moment it starts draining.
global
    log /dev/log local0
    maxconn ${s.maxconn}
    # runtime API: echo 'show servers state' | socat stdio ${s.socket}
    stats socket ${s.socket} mode 660 level admin expose-fd listeners
    stats timeout 30s

defaults
    log global
    option dontlognull
    timeout connect 5s
    timeout client 5m
    timeout server 5m
    # protocol sessions and WebSockets stay open for hours; idle ones are closed by the node (5m)
    timeout tunnel 1h
    timeout client-fin 10s
    timeout server-fin 10s

frontend nexo_protocol
    mode tcp
    bind ${s.bind}:${s.protocolPort}
    option tcplog
    default_backend ${BACKENDS.tcp}

backend ${BACKENDS.tcp}
    mode tcp
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    # a node that goes down takes its clients with it: they reconnect through here
    option redispatch
${servers('tcp')}${tls}
frontend nexo_http
    mode http
    bind ${s.bind}:${s.httpPort}
    option httplog
    option forwardfor
    default_backend ${BACKENDS.http}

backend ${BACKENDS.http}
    mode http
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
${servers('http')}
listen stats
    mode http
    bind ${s.stats}
    stats enable
    stats uri /
    stats refresh 5s
    stats show-node
`;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
