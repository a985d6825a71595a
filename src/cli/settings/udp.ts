import type { Setting } from './setting.js';

/** nexo over UDP: text datagrams and secure sensor sessions. */
export const UDP_SETTINGS: readonly Setting[] = [
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
];
