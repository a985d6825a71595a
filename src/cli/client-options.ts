import { type Command, Option } from 'commander';
import { type ClientOptions, NexoClient } from '../client/client.js';
import { defaultEndpoints } from '../client/index.js';
import { parseEndpoint } from '../client/socket.js';
import { tcpSocketFactory } from '../client/tcp.js';
import { parseDuration } from '../util/units.js';
import { paint } from './output.js';

export interface ClientFlags {
  host?: string;
  port?: string;
  server?: string;
  token?: string;
  json?: boolean;
  timeout?: string;
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
    .addOption(new Option('--timeout <duration>', 'request timeout, e.g. 5s').default('30s'))
    .option('--json', 'print machine-readable JSON');
}

/** Endpoints from --server, else --host/--port, else $NEXO_SERVER, else 127.0.0.1:5000. */
export function endpointsFrom(flags: ClientFlags): string[] {
  if (flags.host !== undefined || flags.port !== undefined) {
    const host = flags.host ?? '127.0.0.1';
    const port = flags.port ?? '5000';
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
  return defaultEndpoints();
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
    socketFactory: tcpSocketFactory,
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
