import { type Command, InvalidArgumentError, Option } from 'commander';
import { addClientOptions, type ClientFlags, connectFromFlags } from '../client-options.js';
import { printJson, reportError } from '../output.js';

export function registerPing(program: Command): void {
  addClientOptions(
    program
      .command('ping')
      .description('measure round-trip latency to the server (PING frames)')
      .addOption(new Option('-c, --count <n>', 'pings to send').default('4').argParser(positiveInt))
      .addOption(
        new Option('-i, --interval <ms>', 'pause between pings, ms').default('200').argParser(positiveInt),
      ),
  ).action(async (flags: ClientFlags & { count: number; interval: number }) => {
    const client = await connectFromFlags(flags);
    const rtts: number[] = [];
    try {
      const node = client.welcome?.node ?? '?';
      for (let i = 0; i < Number(flags.count); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, Number(flags.interval)));
        const rtt = await client.ping();
        rtts.push(rtt);
        if (!flags.json)
          process.stdout.write(`pong from ${client.endpoint} (node ${node}): time=${rtt.toFixed(3)} ms\n`);
      }
      const min = Math.min(...rtts);
      const max = Math.max(...rtts);
      const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
      if (flags.json) printJson({ endpoint: client.endpoint, node, rtts, min, avg, max });
      else
        process.stdout.write(
          `${rtts.length} pings: min/avg/max = ${min.toFixed(3)}/${avg.toFixed(3)}/${max.toFixed(3)} ms\n`,
        );
    } catch (err) {
      process.exitCode = reportError(err, { json: flags.json });
    } finally {
      await client.close();
    }
  });
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError(`expected a positive whole number, got '${value}'`);
  return n;
}
