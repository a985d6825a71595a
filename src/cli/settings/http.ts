import type { Setting } from './setting.js';

/** The HTTP gateway (REST API, WebSocket, dashboard) and /metrics. */
export const HTTP_SETTINGS: readonly Setting[] = [
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
];
