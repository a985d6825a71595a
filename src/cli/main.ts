#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { NexoError } from '../errors.js';
import { OptionsError } from '../options/options.js';
import { registerAlerts } from './commands/alerts.js';
import { registerCalc } from './commands/calc.js';
import { registerCerts } from './commands/certs.js';
import { registerChat } from './commands/chat.js';
import { registerCluster } from './commands/cluster.js';
import { registerDownload } from './commands/download.js';
import { registerFiles } from './commands/files.js';
import { registerGreet } from './commands/greet.js';
import { registerHaproxy, registerHaproxySync } from './commands/haproxy.js';
import { registerPing } from './commands/ping.js';
import { registerReadings } from './commands/readings.js';
import { registerRm } from './commands/rm.js';
import { registerSend } from './commands/send.js';
import { registerSensor } from './commands/sensor.js';
import { registerSensors } from './commands/sensors.js';
import { registerServer } from './commands/server.js';
import { registerStatus } from './commands/status.js';
import { registerToken } from './commands/token.js';
import { registerUpload } from './commands/upload.js';
import { registerWatch } from './commands/watch.js';
import { EXIT } from './exit-codes.js';
import { paint, reportError } from './output.js';

// `nexo readings s1 --csv | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

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
registerChat(program);
registerStatus(program);
registerSensor(program);
registerSensors(program);
registerReadings(program);
registerWatch(program);
registerAlerts(program);
registerUpload(program);
registerDownload(program);
registerFiles(program);
registerRm(program);
registerCerts(program);
registerToken(program);
registerCluster(program);
registerHaproxy(program);
registerHaproxySync(program);

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
  } else if (
    err instanceof TypeError ||
    err instanceof RangeError ||
    (err instanceof Error && (err.name === 'TokenFileError' || err.name === 'TlsMaterialError'))
  ) {
    process.stderr.write(`${paint.red('nexo:')} ${err.message}\n`);
    process.exitCode = EXIT.USAGE;
  } else {
    throw err;
  }
}
