import type { Command } from 'commander';
import { paint } from '../output.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerCerts(program: Command): void {
  const certs = program.command('certs').description('development certificates for TLS and mTLS');
  certs
    .command('init <dir>')
    .description(
      'make a development CA, a server certificate and client certificates (role in OU, name in CN) in DIR',
    )
    .option('--name <dns>', 'DNS name of the server (repeatable; default localhost)', collect)
    .option('--ip <address>', 'IP address of the server (repeatable; default 127.0.0.1)', collect)
    .option(
      '--client <name=role>',
      'client certificate, e.g. lab-1=sensor (repeatable; default admin=admin and lab-1=sensor)',
      collect,
    )
    .option('--days <n>', 'validity in days', '365')
    .option('--force', 'replace existing files')
    .action(
      async (
        dir: string,
        flags: { name?: string[]; ip?: string[]; client?: string[]; days: string; force?: boolean },
      ) => {
        const { initCerts } = await import('../../security/certs.js');
        const clients = (flags.client ?? ['admin=admin', 'lab-1=sensor']).map((pair) => {
          const at = pair.indexOf('=');
          if (at <= 0) throw new TypeError(`--client ${pair}: expected name=role, e.g. lab-1=sensor`);
          return { name: pair.slice(0, at), role: pair.slice(at + 1) };
        });
        const written = await initCerts({
          dir,
          names: flags.name ?? (flags.ip === undefined ? ['localhost'] : []),
          ips: flags.ip ?? (flags.name === undefined ? ['127.0.0.1'] : []),
          clients,
          days: Number(flags.days),
          force: flags.force === true,
        });
        for (const file of written.files) process.stdout.write(`${file}\n`);
        process.stderr.write(
          paint.dim(
            `serve with: nexo server --tls-cert ${dir}/server.pem --tls-key ${dir}/server-key.pem --tls-ca ${dir}/ca.pem\n`,
          ),
        );
      },
    );
}
