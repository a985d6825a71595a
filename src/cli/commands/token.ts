import type { Command } from 'commander';
import { EXIT } from '../exit-codes.js';
import { paint, printJson } from '../output.js';

interface TokenFlags {
  dataDir?: string;
  json?: boolean;
}

/**
 * `nexo token create|list|revoke`: edits DATA_DIR/tokens.json (digests only). A running node with the same
 * data directory polls the file and applies a change within ~200 ms: a new token works at once, and sessions
 * of a revoked one are ended with TOKEN_REVOKED (protocol §5.1.5). No connection to the node is needed, so
 * this works while the node is down too, and only who may write the data directory may change tokens.
 */
export function registerToken(program: Command): void {
  const token = program.command('token').description('create, list and revoke stored tokens (hashed)');
  const dataDir = (c: Command) =>
    c
      .option(
        '--data-dir <dir>',
        "the node's data directory (default ./nexo-data)",
        process.env.NEXO_DATA_DIR,
      )
      .option('--json', 'print machine-readable JSON');
  const store = async (flags: TokenFlags) => {
    const { FileTokenStore } = await import('../../security/token-store.js');
    return new FileTokenStore(flags.dataDir ?? './nexo-data');
  };

  dataDir(
    token
      .command('create')
      .description('make a token; its secret is printed once and never stored')
      .requiredOption('--name <name>', 'name of the token (a sensor id for role sensor), e.g. lab-1')
      .requiredOption('--role <role>', 'role it grants: admin, user, sensor, ...'),
  ).action(async (flags: TokenFlags & { name: string; role: string }) => {
    const { record, secret } = await (await store(flags)).create(flags.name, flags.role);
    if (flags.json) printJson({ name: record.name, role: record.role, created: record.created, secret });
    else {
      process.stdout.write(`${secret}\n`);
      process.stderr.write(
        paint.dim(`token '${record.name}' (role ${record.role}); the secret above is shown only now\n`),
      );
    }
  });

  dataDir(token.command('list').description('names, roles and creation times (never secrets)')).action(
    async (flags: TokenFlags) => {
      const tokens = await (await store(flags)).list();
      if (flags.json) {
        printJson(tokens.map(({ name, role, created }) => ({ name, role, created })));
        return;
      }
      if (tokens.length === 0) process.stderr.write(paint.dim('no stored tokens\n'));
      for (const t of tokens) process.stdout.write(`${t.name}\t${t.role}\t${t.created}\n`);
    },
  );

  dataDir(
    token.command('revoke <name>').description('revoke a token; its open sessions end within 1 s'),
  ).action(async (name: string, flags: TokenFlags) => {
    const found = await (await store(flags)).revoke(name);
    if (flags.json) printJson({ name, revoked: found });
    if (!found) {
      process.stderr.write(`${paint.red('error:')} no token named '${name}'\n`);
      process.exitCode = EXIT.REQUEST_FAILED;
    } else if (!flags.json) process.stderr.write(paint.dim(`token '${name}' revoked\n`));
  });
}
