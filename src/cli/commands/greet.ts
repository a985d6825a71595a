import { type Command, Option } from 'commander';
import type { GreetLanguage } from '../../client/api/greet.js';
import { addClientOptions, type ClientFlags, connectFromFlags } from '../client-options.js';
import { printJson, reportError } from '../output.js';

export function registerGreet(program: Command): void {
  addClientOptions(
    program
      .command('greet')
      .description("ask the server to greet each name (the seeds' greeting server)")
      .argument('<names...>', 'one or more names')
      .addOption(
        new Option('-l, --lang <lang>', 'language')
          .choices(['es', 'pt', 'en', 'fr', 'de', 'it'])
          .default('es'),
      ),
  ).action(async (names: string[], flags: ClientFlags & { lang: GreetLanguage }) => {
    const client = await connectFromFlags(flags);
    try {
      const result = await client.greet.hello(names, flags.lang);
      if (flags.json) printJson(result);
      else process.stdout.write(`${result.greetings.join('\n')}\n`);
    } catch (err) {
      process.exitCode = reportError(err, { json: flags.json });
    } finally {
      await client.close();
    }
  });
}
