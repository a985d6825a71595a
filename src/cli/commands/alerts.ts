import { type Command, Option } from 'commander';
import type { AlertEvent } from '../../wire/telemetry.js';
import { addClientOptions, type ClientFlags, connectFromFlags } from '../client-options.js';
import { paint, printJson, reportError } from '../output.js';
import {
  ago,
  collect,
  isoTime,
  parseWhen,
  positiveIntArg,
  renderTable,
  shortTime,
  whenArg,
} from '../telemetry-format.js';

type Connected = Awaited<ReturnType<typeof connectFromFlags>>;

/** Connects, runs, prints errors the usual way, closes. */
async function withClient(flags: ClientFlags, run: (client: Connected) => Promise<void>): Promise<void> {
  const client = await connectFromFlags(flags);
  try {
    await run(client);
  } catch (err) {
    process.exitCode = reportError(err, { json: flags.json });
  } finally {
    await client.close();
  }
}

function eventRows(events: AlertEvent[]): string[][] {
  return events.map((e) => [
    shortTime(e.at),
    e.state === 'firing' ? paint.red('FIRING') : paint.green('resolved'),
    e.sensor,
    e.rule,
    String(e.value),
  ]);
}

export function registerAlerts(program: Command): void {
  const alerts = program
    .command('alerts')
    .description('threshold alerts: list rules and what is firing, add or remove rules, see past events')
    .addHelpText(
      'after',
      `
A rule is "<metric> <op> <number> [for <duration>]" (op: > >= < <= == !=). It fires when the condition has
held for the duration on a sensor (by the sensor's timestamps), and resolves when it stops holding. Events are
logged by the node, pushed to \`nexo watch\`, and kept for \`nexo alerts history\`.

Examples:
  nexo alerts add "temperature > 30 for 1m"
  nexo alerts add "humidity < 20" --sensor s2 --name "dry lab"
  nexo alerts                      rules, what is firing, recent events
  nexo alerts rm 3
  nexo alerts history --since 7d`,
    );

  addClientOptions(
    alerts
      .command('list', { isDefault: true })
      .description('rules, what is firing now, and events of the last day'),
  ).action(async (flags: ClientFlags) =>
    withClient(flags, async (client) => {
      const { rules } = await client.telemetry.alerts();
      const { events } = await client.telemetry.alertEvents({ from: Date.now() - 86_400_000, limit: 10 });
      if (flags.json) {
        printJson({ rules, events });
        return;
      }
      if (rules.length === 0)
        process.stdout.write('no alert rules (add one: nexo alerts add "temperature > 30 for 1m")\n');
      else {
        const rows = rules.map((r) => [
          String(r.id),
          r.name,
          r.text,
          r.sensors.length > 0 ? r.sensors.join(',') : 'all',
          r.firing.length > 0
            ? paint.red(`FIRING on ${r.firing.map((f) => `${f.sensor} (${ago(f.since)})`).join(', ')}`)
            : 'ok',
        ]);
        process.stdout.write(`${renderTable(['ID', 'NAME', 'RULE', 'SENSORS', 'STATE'], rows)}\n`);
      }
      if (events.length > 0) {
        process.stdout.write(
          `\nrecent events:\n${renderTable(['TIME', 'STATE', 'SENSOR', 'RULE', 'VALUE'], eventRows(events))}\n`,
        );
      }
    }),
  );

  addClientOptions(
    alerts
      .command('add')
      .description('add a rule, e.g. "temperature > 30 for 1m"')
      .argument('<rule...>', 'the rule (quote it, or write it as separate words)')
      .addOption(new Option('--sensor <id>', 'only for this sensor (repeatable)').argParser(collect))
      .option('--name <name>', 'a name to show instead of the rule'),
  ).action(async (words: string[], flags: ClientFlags & { sensor?: string[]; name?: string }) =>
    withClient(flags, async (client) => {
      const { rule } = await client.telemetry.addAlert(words.join(' '), {
        ...(flags.sensor ? { sensors: flags.sensor } : {}),
        ...(flags.name ? { name: flags.name } : {}),
      });
      if (flags.json) printJson({ rule });
      else
        process.stdout.write(
          `added alert ${rule.id}: ${rule.text}${rule.sensors.length > 0 ? ` (sensors ${rule.sensors.join(', ')})` : ''}\n`,
        );
    }),
  );

  addClientOptions(
    alerts
      .command('rm')
      .alias('remove')
      .description('remove a rule by id')
      .argument('<id>', 'rule id (see nexo alerts)', positiveIntArg),
  ).action(async (id: number, flags: ClientFlags) =>
    withClient(flags, async (client) => {
      const { removed } = await client.telemetry.removeAlert(id);
      if (flags.json) printJson({ removed });
      else process.stdout.write(`removed alert ${removed.id}: ${removed.text}\n`);
    }),
  );

  addClientOptions(
    alerts
      .command('history')
      .description('past alert events, newest first')
      .addOption(new Option('--since <when>', 'a duration ago or a date').argParser(whenArg).default('24h'))
      .option('--sensor <id>', 'only this sensor')
      .addOption(new Option('--limit <n>', 'events to show').argParser(positiveIntArg).default(100)),
  ).action(async (flags: ClientFlags & { since: string; sensor?: string; limit: number }) =>
    withClient(flags, async (client) => {
      const { events } = await client.telemetry.alertEvents({
        from: parseWhen(flags.since),
        limit: flags.limit,
        ...(flags.sensor ? { sensor: flags.sensor } : {}),
      });
      if (flags.json) printJson({ events });
      else if (events.length === 0)
        process.stdout.write(`no alert events since ${isoTime(parseWhen(flags.since))}\n`);
      else
        process.stdout.write(
          `${renderTable(['TIME', 'STATE', 'SENSOR', 'RULE', 'VALUE'], eventRows(events))}\n`,
        );
    }),
  );
}
