import type { Command } from 'commander';
import { formatStatus, type NodeSnapshot } from '../../wire/node.js';
import { addClientOptions, type ClientFlags, connectFromFlags } from '../client-options.js';
import { printJson, reportError } from '../output.js';

export function registerStatus(program: Command): void {
  addClientOptions(
    program
      .command('status')
      .description('which node answers, its uptime, open connections by transport and requests per second')
      .addHelpText('after', '\nExamples:\n  nexo status\n  nexo status -s 10.0.0.2:5000 --json'),
  ).action(async (flags: ClientFlags) => {
    const client = await connectFromFlags(flags);
    try {
      const stats = await client.node.stats();
      if (flags.json) printJson(stats);
      else process.stdout.write(`${formatStatus(stats as NodeSnapshot).join('\n')}\n`);
    } catch (err) {
      process.exitCode = reportError(err, { json: flags.json });
    } finally {
      await client.close();
    }
  });
}
