import type { Command } from 'commander';
import { EXIT } from '../exit-codes.js';
import { paint } from '../output.js';
import { addServerOptions, serverOptionsFrom } from '../server-settings.js';

export function registerServer(program: Command): void {
  addServerOptions(
    program
      .command('server')
      .description('start a nexo node with every service (embedded defaults, nothing else to install)'),
  ).action(async (flags: Record<string, unknown>) => {
    const { input } = serverOptionsFrom(flags);
    // Loaded here so client commands start without the server's modules.
    const { NexoNode } = await import('../../node/node.js');
    const node = new NexoNode(input);
    // A rejected promise nobody awaited is a bug to log, not a reason to drop every client.
    process.on('unhandledRejection', (reason) => node.log.error({ err: reason }, 'unhandled rejection'));
    // An exception nobody caught means state may be broken: say so in the log, then exit for a supervisor
    // to restart the node (acked data is durable by design).
    process.on('uncaughtException', (err) => {
      node.log.fatal({ err }, 'uncaught exception; exiting');
      process.exit(70);
    });
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        node.log.warn({ signal }, 'second signal: exiting now');
        process.exit(1);
      }
      stopping = true;
      node.log.info({ signal }, 'stopping (again to force)');
      node.close().then(
        () => process.exit(0),
        (err: unknown) => {
          node.log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    // SIGHUP: read the TLS certificate files again (renewed certificates) without dropping a connection.
    process.on('SIGHUP', () => {
      node.security.reloadTls();
    });
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
    try {
      await node.start();
    } catch (err) {
      // A port in use or not allowed is a configuration problem: say which, and how to fix it.
      const e = err as Error & { code?: string };
      const message =
        e.code === 'EADDRINUSE'
          ? `port ${node.options.port} on ${node.options.host} is already in use (another nexo node?); choose another with --port`
          : e.message;
      process.stderr.write(`${paint.red('nexo: cannot start:')} ${message}\n`);
      process.exit(EXIT.USAGE);
    }
  });
}
