import type { Command } from 'commander';
import { formatBytes } from '../../util/format-bytes.js';
import { addClientOptions, type ClientFlags, connectFromFlags } from '../client-options.js';
import { printJson, reportError } from '../output.js';

export function registerRm(program: Command): void {
  addClientOptions(
    program
      .command('rm')
      .description('delete stored files by id or name (needs a role allowed to delete; default admin)')
      .argument('<id|name...>', 'files to delete; a name must belong to one file only'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  nexo rm k3x9q2m7p4r8t6w2 --token $ADMIN_TOKEN\n  nexo rm old-report.pdf\n',
    )
    .action(async (refs: string[], flags: ClientFlags) => {
      const client = await connectFromFlags(flags);
      try {
        for (const ref of refs) {
          try {
            const { deleted, contentRemoved } = await client.files.remove(ref);
            if (flags.json) printJson({ deleted, contentRemoved });
            else
              process.stdout.write(
                `deleted ${deleted.name} (${formatBytes(deleted.size)}, id ${deleted.id})${contentRemoved ? '' : '; its content is still used by another file'}\n`,
              );
          } catch (err) {
            const code = reportError(err, flags);
            process.exitCode ??= code;
          }
        }
      } finally {
        await client.close();
      }
    });
}
