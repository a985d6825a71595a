import { NexoError, toNexoError } from '../errors.js';
import { exitCodeFor } from './exit-codes.js';

const useColor = (stream: NodeJS.WriteStream) => stream.isTTY === true && process.env.NO_COLOR === undefined;

export const paint = {
  red: (s: string) => (useColor(process.stderr) ? `\x1b[31m${s}\x1b[0m` : s),
  dim: (s: string) => (useColor(process.stdout) ? `\x1b[2m${s}\x1b[0m` : s),
  bold: (s: string) => (useColor(process.stdout) ? `\x1b[1m${s}\x1b[0m` : s),
  green: (s: string) => (useColor(process.stdout) ? `\x1b[32m${s}\x1b[0m` : s),
};

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/**
 * Prints an error on stderr the way a person can act on it: the message, the code, and for errors with a
 * column (calc) a caret under the input. With --json the error goes to stdout as JSON instead.
 */
export function reportError(err: unknown, options: { json?: boolean; input?: string } = {}): number {
  const error = toNexoError(err);
  if (options.json) {
    printJson({ error: error.toPayload() });
    return exitCodeFor(error.code);
  }
  process.stderr.write(`${paint.red('error:')} ${error.message} ${paint.dim(`(${error.code})`)}\n`);
  const column = error.details?.column;
  if (
    options.input !== undefined &&
    typeof column === 'number' &&
    column >= 1 &&
    options.input.length < 200
  ) {
    process.stderr.write(`  ${options.input}\n  ${' '.repeat(column - 1)}${paint.red('^')}\n`);
  }
  return exitCodeFor(error.code);
}

export function isNexoError(err: unknown): err is NexoError {
  return err instanceof NexoError;
}
