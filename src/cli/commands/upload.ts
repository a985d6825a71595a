import fs from 'node:fs/promises';
import path from 'node:path';
import { type Command, Option } from 'commander';
import type { UploadResult } from '../../client/api/files-options.js';
import { NexoError } from '../../errors.js';
import { formatBytes } from '../../util/format-bytes.js';
import { parseSize } from '../../util/units.js';
import { addClientOptions, type ClientFlags } from '../client-options.js';
import { EXIT } from '../exit-codes.js';
import { paint, printJson, reportError } from '../output.js';
import { connectForTransfer, interruptSignal } from '../transfer.js';
import { progressView, TransferClock, transferSummary } from '../transfer-progress.js';
import { UploadStateFile } from '../upload-state.js';

interface UploadFlags extends ClientFlags {
  name?: string;
  type?: string;
  resume: boolean;
  chunkSize?: string;
}

export function registerUpload(program: Command): void {
  addClientOptions(
    program
      .command('upload')
      .description('upload files to the node: verified end to end, resumable (run it again to resume)')
      .argument('<path...>', 'files to upload')
      .addOption(new Option('-n, --name <name>', 'name to store (one file only; default its file name)'))
      .addOption(new Option('-t, --type <type>', 'media type, e.g. video/mp4 (default: from the extension)'))
      .addOption(new Option('--no-resume', 'start over instead of resuming an interrupted upload'))
      .addOption(new Option('--chunk-size <size>', 'bytes per chunk (default: what the server suggests)')),
  )
    .addHelpText(
      'after',
      `
Examples:
  nexo upload video.mp4                    progress bar on a terminal, plain lines otherwise
  nexo upload a.txt b.txt --json           one JSON line per file
  nexo upload big.iso --name "ISO de prueba.iso"

An interrupted upload (Ctrl-C, lost network, server restart) resumes from where the server stopped when
the same command runs again. Each chunk carries a CRC-32 and the file's SHA-256 is checked before it is
stored, so a damaged transfer is re-sent or refused, never stored.
`,
    )
    .action(async (paths: string[], flags: UploadFlags) => {
      if (flags.name !== undefined && paths.length > 1) {
        process.stderr.write(`${paint.red('error:')} --name needs exactly one file (got ${paths.length})\n`);
        process.exitCode = EXIT.USAGE;
        return;
      }
      const chunkSize = flags.chunkSize === undefined ? undefined : parseSize(flags.chunkSize);
      const client = await connectForTransfer(flags);
      const interrupt = interruptSignal();
      try {
        for (const file of paths) {
          const code = await uploadOne(client, file, flags, chunkSize, interrupt.signal);
          if (code !== EXIT.OK && process.exitCode === undefined) process.exitCode = code;
          if (interrupt.interrupted()) break;
        }
      } finally {
        interrupt.dispose();
        await client.close();
      }
    });
}

async function uploadOne(
  client: Awaited<ReturnType<typeof connectForTransfer>>,
  file: string,
  flags: UploadFlags,
  chunkSize: number | undefined,
  signal: AbortSignal,
): Promise<number> {
  const absolute = path.resolve(file);
  let stat: Awaited<ReturnType<typeof fs.stat>>;
  try {
    stat = await fs.stat(absolute);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    reportError(new NexoError('INVALID_ARGS', `cannot upload ${file}: ${reason}`), flags);
    return EXIT.USAGE;
  }
  if (!stat.isFile()) {
    reportError(new NexoError('INVALID_ARGS', `cannot upload ${file}: not a regular file`), flags);
    return EXIT.USAGE;
  }
  const name = flags.name ?? path.basename(absolute);
  const state = new UploadStateFile({
    path: absolute,
    name,
    size: stat.size,
    mtimeMs: stat.mtimeMs,
    node: client.welcome?.node ?? client.endpoint,
  });
  const previous = flags.resume ? await state.read() : undefined;
  const clock = new TransferClock();
  const view = progressView('upload', name, flags, clock);
  const started = performance.now();
  try {
    const result: UploadResult = await client.files.upload(absolute, {
      name,
      ...(flags.type === undefined ? {} : { type: flags.type }),
      ...(previous === undefined ? {} : { uploadId: previous }),
      ...(chunkSize === undefined ? {} : { chunkSize }),
      signal,
      onStart: (start) => {
        state.save(start.uploadId).catch(() => {});
        view.stop();
        if (start.offset > 0 && !flags.json) {
          process.stderr.write(
            `resuming ${name} at byte ${start.offset} of ${start.size} (${((start.offset / Math.max(1, start.size)) * 100).toFixed(1)}%)\n`,
          );
        }
        view.start(start.size, start.offset);
      },
      onProgress: (p) => view.update(p.bytes),
      onRetry: (error) => {
        view.stop();
        if (!flags.json) process.stderr.write(paint.dim(`${error.message}; retrying\n`));
      },
    });
    view.stop();
    await state.clear();
    const seconds = (performance.now() - started) / 1000;
    if (flags.json) printJson(result);
    else {
      process.stdout.write(
        `uploaded ${result.name} (${formatBytes(result.size)}) id ${result.id} sha256 ${result.sha256}${result.deduplicated ? ' (content already stored: kept once)' : ''}\n`,
      );
      if (clock.measured().bytes > 0)
        process.stderr.write(paint.dim(`${transferSummary('sent', clock, seconds)}\n`));
    }
    return EXIT.OK;
  } catch (err) {
    view.stop();
    const error = err as NexoError;
    if (signal.aborted) {
      if (!flags.json) {
        process.stderr.write(`interrupted: run the same command again to resume ${name}\n`);
      } else printJson({ error: { code: 'CANCELLED', message: 'interrupted', details: error.details } });
      return EXIT.INTERRUPTED;
    }
    if (error.code === 'FILES_HASH_MISMATCH' || error.code === 'FILES_UPLOAD_NOT_FOUND') await state.clear();
    const code = reportError(err, flags);
    if (!flags.json && error.details?.uploadId !== undefined && error.code !== 'FILES_HASH_MISMATCH') {
      process.stderr.write(paint.dim('run the same command again to resume\n'));
    }
    return code;
  }
}
