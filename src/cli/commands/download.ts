import path from 'node:path';
import { type Command, Option } from 'commander';
import type { DownloadResult } from '../../client/api/files-options.js';
import type { NexoError } from '../../errors.js';
import { formatBytes } from '../../util/format-bytes.js';
import { addClientOptions, type ClientFlags } from '../client-options.js';
import { EXIT } from '../exit-codes.js';
import { paint, printJson, reportError } from '../output.js';
import { connectForTransfer, interruptSignal } from '../transfer.js';
import { progressView, TransferClock, transferSummary } from '../transfer-progress.js';

interface DownloadFlags extends ClientFlags {
  output?: string;
  force?: boolean;
  resume: boolean;
}

export function registerDownload(program: Command): void {
  addClientOptions(
    program
      .command('download')
      .description('download a stored file by id or name, verified chunk by chunk and by SHA-256')
      .argument('<id|name>', 'the file: its id (from nexo files) or its name (the newest with it)')
      .addOption(
        new Option(
          '-o, --output <path>',
          'where to write it: a file, a directory, or - for stdout (default: its name, made safe, here)',
        ),
      )
      .addOption(new Option('-f, --force', 'overwrite the destination if it exists'))
      .addOption(new Option('--no-resume', 'start over instead of resuming an interrupted download')),
  )
    .addHelpText(
      'after',
      `
Examples:
  nexo download video.mp4                  writes ./video.mp4
  nexo download k3x9q2m7p4r8t6w2 -o /tmp/  by id, into a directory
  nexo download notes.txt -o - | less      to stdout

While downloading, the bytes go to <path>.nexo-part (with a small .nexo-part.json beside it); the file
appears under its name only once complete and verified. An interrupted download (Ctrl-C, lost network)
resumes from the partial file when the same command runs again.
`,
    )
    .action(async (ref: string, flags: DownloadFlags) => {
      const client = await connectForTransfer(flags);
      const interrupt = interruptSignal();
      const toStdout = flags.output === '-';
      const clock = new TransferClock();
      let view = progressView('download', ref, flags, clock);
      const started = performance.now();
      try {
        // A trailing separator means "into this directory" (created if needed): keep it through resolve().
        const output = flags.output ?? '.';
        const dest = toStdout
          ? process.stdout
          : `${path.resolve(output)}${/[\\/]$/.test(output) ? path.sep : ''}`;
        const result: DownloadResult = await client.files.download(ref, dest, {
          overwrite: flags.force === true,
          resume: flags.resume,
          signal: interrupt.signal,
          onStart: (start) => {
            view = progressView('download', start.entry.name, flags, clock);
            if (start.offset > 0 && !flags.json) {
              process.stderr.write(
                `resuming ${start.entry.name} at byte ${start.offset} of ${start.entry.size} (${((start.offset / Math.max(1, start.entry.size)) * 100).toFixed(1)}%)\n`,
              );
            }
            view.start(start.entry.size, start.offset);
          },
          onProgress: (p) => view.update(p.bytes),
          onRetry: (error) => {
            view.stop();
            if (!flags.json) process.stderr.write(paint.dim(`${error.message}; retrying\n`));
          },
        });
        view.stop();
        const seconds = (performance.now() - started) / 1000;
        const { entry } = result;
        if (flags.json) {
          if (!toStdout) printJson({ ...entry, path: result.path, resumedFrom: result.resumedFrom });
        } else {
          process.stderr.write(paint.dim(`${transferSummary('received', clock, seconds)}\n`));
          if (!toStdout) {
            process.stdout.write(
              `downloaded ${entry.name} (${formatBytes(entry.size)}) to ${result.path}, sha256 ${entry.sha256} verified\n`,
            );
          }
        }
      } catch (err) {
        view.stop();
        if (interrupt.interrupted()) {
          if (!flags.json) process.stderr.write('interrupted: run the same command again to resume\n');
          process.exitCode = EXIT.INTERRUPTED;
        } else {
          process.exitCode = reportError(err, flags);
          const code = (err as NexoError).code;
          if (
            !flags.json &&
            code !== 'FILES_NOT_FOUND' &&
            code !== 'INVALID_ARGS' &&
            code !== 'FILES_HASH_MISMATCH'
          ) {
            process.stderr.write(paint.dim('run the same command again to resume\n'));
          }
        }
      } finally {
        interrupt.dispose();
        await client.close();
      }
    });
}
