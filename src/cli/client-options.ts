import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { type ClientOptions, NexoClient } from '../client/client.js';
import { defaultEndpoints } from '../client/index.js';
import type { SocketFactory } from '../client/socket.js';
import { parseEndpoint } from '../client/socket.js';
import { type ClientTlsOptions, nodeSocketFactory } from '../client/tls.js';
import { parseDuration } from '../util/units.js';
import { paint } from './output.js';

export interface ClientFlags {
  host?: string;
  port?: string;
  server?: string;
  token?: string;
  json?: boolean;
  timeout?: string;
  tls?: boolean;
  ca?: string;
  cert?: string;
  key?: string;
}

/** The options every client command shares: where the server is, who we are, how to print. */
export function addClientOptions(command: Command): Command {
  return command
    .addOption(new Option('-H, --host <host>', 'server host (default 127.0.0.1)'))
    .addOption(new Option('-p, --port <port>', 'server port (default 5000)'))
    .addOption(
      new Option('-s, --server <endpoints>', 'server(s) as host:port, comma-separated for failover').env(
        'NEXO_SERVER',
      ),
    )
    .addOption(new Option('--token <token>', 'auth token sent in the handshake').env('NEXO_TOKEN'))
    .addOption(new Option('--tls', 'connect with TLS (as nexos://host:port does)').env('NEXO_TLS'))
    .addOption(new Option('--ca <file>', 'PEM CA the server certificate must chain to').env('NEXO_CA'))
    .addOption(new Option('--cert <file>', 'PEM client certificate (mTLS)').env('NEXO_CERT'))
    .addOption(new Option('--key <file>', 'PEM key of --cert').env('NEXO_KEY'))
    .addOption(new Option('--timeout <duration>', 'request timeout, e.g. 5s').default('30s'))
    .option('--json', 'print machine-readable JSON');
}

/** Endpoints from --server, else --host/--port, else $NEXO_SERVER, else 127.0.0.1:5000 (5443 with --tls). */
export function endpointsFrom(flags: ClientFlags): string[] {
  if (flags.host !== undefined || flags.port !== undefined) {
    const host = flags.host ?? '127.0.0.1';
    const port = flags.port ?? (flags.tls === true ? '5443' : '5000');
    const endpoint = parseEndpoint(
      host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`,
    );
    return [`${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`];
  }
  if (flags.server !== undefined) {
    const list = flags.server
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const e of list) parseEndpoint(e); // fail early with a clear message
    return list;
  }
  // --tls alone: the local node's TLS port.
  if (flags.tls === true && process.env.NEXO_SERVER === undefined) return ['127.0.0.1:5443'];
  return defaultEndpoints();
}

/** TCP, or TLS for `--tls` and `nexos://` endpoints, with the CA and client certificate of the flags. */
export function socketFactoryFrom(flags: ClientFlags): SocketFactory {
  return nodeSocketFactory(tlsFrom(flags));
}

export function tlsFrom(flags: ClientFlags): ClientTlsOptions {
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new TypeError('--cert and --key go together (a client certificate and its key)');
  }
  const read = (file: string | undefined, what: string) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new TypeError(`${what} ${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? err})`);
    }
  };
  const options: ClientTlsOptions = { always: flags.tls === true };
  const ca = read(flags.ca, '--ca');
  const cert = read(flags.cert, '--cert');
  const key = read(flags.key, '--key');
  if (ca !== undefined) options.ca = ca;
  if (cert !== undefined) options.cert = cert;
  if (key !== undefined) options.key = key;
  return options;
}

export function timeoutFrom(flags: ClientFlags): number {
  return parseDuration(flags.timeout ?? '30s');
}

/**
 * Connects for a command: tries each endpoint once (no reconnect loop unless asked), and tells the user on
 * stderr when the server puts us in its wait queue (§7.1).
 */
export async function connectFromFlags(
  flags: ClientFlags,
  extra: Partial<ClientOptions> = {},
): Promise<NexoClient> {
  const client = new NexoClient({
    endpoints: endpointsFrom(flags),
    socketFactory: socketFactoryFrom(flags),
    token: flags.token,
    name: 'nexo-cli/0.1.0',
    requestTimeoutMs: timeoutFrom(flags),
    reconnect: false,
    ...extra,
  });
  client.on('queued', (position) => {
    process.stderr.write(
      paint.dim(`waiting for a free slot on the server (you are number ${position})...\n`),
    );
  });
  await client.connect();
  return client;
}
