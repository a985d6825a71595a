import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { QUIT_WORDS } from '../../protocol/text-mode.js';
import { addClientOptions, type ClientFlags, connectFromFlags } from '../client-options.js';
import { printJson, reportError } from '../output.js';

export function registerSend(program: Command): void {
  addClientOptions(
    program
      .command('send')
      .description(
        'send text and print the reply (the seeds\' client); no text: send each line typed, "fim" ends',
      )
      .argument('[text...]', 'the message'),
  ).action(async (words: string[], flags: ClientFlags) => {
    const client = await connectFromFlags(flags);
    const send = async (text: string) => {
      const started = performance.now();
      const reply = await client.echo.echo(text);
      if (flags.json)
        printJson({ reply, node: client.welcome?.node, ms: +(performance.now() - started).toFixed(3) });
      else process.stdout.write(`${String(reply)}\n`);
    };
    try {
      if (words.length > 0) {
        await send(words.join(' '));
        return;
      }
      const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
      for await (const line of lines) {
        if (QUIT_WORDS.has(line.trim().toLowerCase())) break;
        await send(line);
      }
    } catch (err) {
      process.exitCode = reportError(err, { json: flags.json });
    } finally {
      await client.close();
    }
  });
}
