import type { Setting } from './setting.js';

/** Who may connect without a token. */
export const AUTH_SETTINGS: readonly Setting[] = [
  {
    path: 'auth.anonymous',
    flag: '--no-anonymous',
    env: 'NEXO_ANONYMOUS',
    help: 'require a token from every client',
    kind: 'bool',
  },
];

/** The TLS listener, its certificates, and HTTPS. */
export const TLS_SETTINGS: readonly Setting[] = [
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
];
