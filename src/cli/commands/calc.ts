import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import type { CalcValue } from '../../client/api/calc.js';
import { addClientOptions, type ClientFlags, connectFromFlags } from '../client-options.js';
import { EXIT } from '../exit-codes.js';
import { printJson, reportError } from '../output.js';
import { runRepl } from '../repl.js';

export function registerCalc(program: Command): void {
  addClientOptions(
    program
      .command('calc')
      .description(
        'evaluate an expression exactly (no expression: interactive calculator; piped: one per line)',
      )
      .argument('[expression...]', 'e.g. "2*(3+4)", "x = 0.1+0.2", "sqrt(x)"'),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  nexo calc "2*(3+4)"          prints 14\n  nexo calc "0.1 + 0.2"         prints 0.3\n  echo "2^10" | nexo calc       one result per input line\n  nexo calc                     interactive, with history and variables',
    )
    .action(async (words: string[], flags: ClientFlags) => {
      const client = await connectFromFlags(flags);
      try {
        if (words.length > 0) {
          const expr = words.join(' ');
          try {
            const result = await client.calc.eval(expr);
            if (flags.json) printJson(result);
            else process.stdout.write(`${result.value}\n`);
          } catch (err) {
            process.exitCode = reportError(err, { json: flags.json, input: expr });
          }
        } else if (process.stdin.isTTY) {
          await runRepl(client);
        } else {
          process.exitCode = await evaluateLines(client, flags);
        }
      } finally {
        await client.close();
      }
    });
}

/** `… | nexo calc`: each input line is an expression; variables carry over between lines. */
async function evaluateLines(
  client: Awaited<ReturnType<typeof connectFromFlags>>,
  flags: ClientFlags,
): Promise<number> {
  let exit: number = EXIT.OK;
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const raw of lines) {
    const line = raw.trim();
    if (line === '') continue;
    try {
      const result: CalcValue = await client.calc.eval(line);
      if (flags.json) printJson(result);
      else process.stdout.write(`${result.value}\n`);
    } catch (err) {
      exit = reportError(err, { json: flags.json, input: line });
    }
  }
  return exit;
}
