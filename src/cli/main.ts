#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { NexoError } from '../errors.js';
import { OptionsError } from '../server/options.js';
import { registerCalc } from './commands/calc.js';
import { registerDownload } from './commands/download.js';
import { registerFiles } from './commands/files.js';
import { registerGreet } from './commands/greet.js';
import { registerPing } from './commands/ping.js';
import { registerRm } from './commands/rm.js';
import { registerSend } from './commands/send.js';
import { registerServer } from './commands/server.js';
import { registerUpload } from './commands/upload.js';
import { EXIT } from './exit-codes.js';
import { paint, reportError } from './output.js';

const program = new Command('nexo')
  .description('nexo: calculator, greetings, telemetry, files and chat over one documented protocol')
  .version('0.1.0', '-v, --version')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerServer(program);
registerCalc(program);
registerGreet(program);
registerSend(program);
registerPing(program);
registerUpload(program);
registerDownload(program);
registerFiles(program);
registerRm(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander already printed the message (or the help / version).
    process.exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
  } else if (err instanceof OptionsError) {
    process.stderr.write(
      `${paint.red('nexo: invalid configuration:')}\n  - ${err.problems.join('\n  - ')}\n`,
    );
    process.exitCode = EXIT.USAGE;
  } else if (err instanceof NexoError) {
    process.exitCode = reportError(err, { json: process.argv.includes('--json') });
  } else if (err instanceof TypeError || err instanceof RangeError) {
    process.stderr.write(`${paint.red('nexo:')} ${err.message}\n`);
    process.exitCode = EXIT.USAGE;
  } else {
    throw err;
  }
}
