import { type Command, InvalidArgumentError, Option } from 'commander';
import { formatBytes } from '../../util/format-bytes.js';
import type { FileEntry } from '../../wire/files.js';
import { addClientOptions, type ClientFlags, connectFromFlags } from '../client-options.js';
import { paint, printJson, reportError } from '../output.js';

interface FilesFlags extends ClientFlags {
  limit: number;
  offset: number;
}

export function registerFiles(program: Command): void {
  addClientOptions(
    program
      .command('files')
      .description('list stored files, newest first (name, size, type, hash, uploader, time)')
      .argument('[prefix]', 'only names starting with this')
      .addOption(new Option('-l, --limit <n>', 'at most this many').default(100).argParser(count))
      .addOption(new Option('--offset <n>', 'skip this many (paging)').default(0).argParser(count)),
  )
    .addHelpText('after', '\nExamples:\n  nexo files\n  nexo files report- --json\n')
    .action(async (prefix: string | undefined, flags: FilesFlags) => {
      const client = await connectFromFlags(flags);
      try {
        const page = await client.files.list({
          limit: flags.limit,
          offset: flags.offset,
          ...(prefix === undefined ? {} : { prefix }),
        });
        if (flags.json) {
          printJson(page);
          return;
        }
        if (page.files.length === 0) {
          process.stdout.write(
            page.total === 0 ? 'no files\n' : `no files on this page (${page.total} in all)\n`,
          );
          return;
        }
        process.stdout.write(`${renderTable(page.files)}\n`);
        const usage = await client.files.usage();
        process.stdout.write(
          paint.dim(
            `${page.files.length === page.total ? page.total : `${page.files.length} of ${page.total}`} file${page.total === 1 ? '' : 's'}; ${formatBytes(usage.storedBytes)} stored${usage.freeBytes === null ? '' : `, ${formatBytes(usage.freeBytes)} free`}\n`,
          ),
        );
      } catch (err) {
        process.exitCode = reportError(err, flags);
      } finally {
        await client.close();
      }
    });
}

function renderTable(files: FileEntry[]): string {
  const rows = files.map((f) => [
    f.id,
    formatBytes(f.size),
    f.type,
    f.sha256.slice(0, 12),
    f.uploader,
    f.uploadedAt.replace('T', ' ').slice(0, 19),
    f.name,
  ]);
  const header = ['ID', 'SIZE', 'TYPE', 'SHA256', 'UPLOADER', 'UPLOADED (UTC)', 'NAME'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : i === 1 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ');
  return [paint.bold(line(header)), ...rows.map(line)].join('\n');
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`expected a whole number, got '${value}'`);
  return n;
}
