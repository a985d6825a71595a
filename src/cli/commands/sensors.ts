import type { Command } from 'commander';
import type { SensorSummary } from '../../wire/telemetry.js';
import { addClientOptions, type ClientFlags, connectFromFlags } from '../client-options.js';
import { printJson, reportError } from '../output.js';
import { ago, renderTable, withUnit } from '../telemetry-format.js';

export function registerSensors(program: Command): void {
  addClientOptions(
    program
      .command('sensors')
      .description('list the sensors that have reported, with their latest readings')
      .argument('[sensor]', 'show only this sensor'),
  )
    .addHelpText('after', '\nExamples:\n  nexo sensors\n  nexo sensors s1 --json')
    .action(async (only: string | undefined, flags: ClientFlags) => {
      const client = await connectFromFlags(flags);
      try {
        const sensors: SensorSummary[] = [];
        if (only !== undefined) sensors.push(await client.telemetry.sensor(only));
        else {
          let after: string | undefined;
          do {
            const page = await client.telemetry.sensors(after === undefined ? {} : { after });
            sensors.push(...page.sensors);
            after = page.next;
          } while (after !== undefined);
        }
        if (flags.json) {
          printJson({ sensors });
          return;
        }
        if (sensors.length === 0) {
          process.stdout.write('no sensors have reported yet (try: nexo sensor --id s1)\n');
          return;
        }
        const now = Date.now();
        const rows = sensors.map((s) => [
          s.sensor,
          s.kind ?? '',
          s.location ?? '',
          s.metrics.map((m) => `${m.metric} ${withUnit(m.last.value, m.unit)}`).join(', '),
          String(s.readings),
          ago(s.lastSeen, now),
        ]);
        process.stdout.write(
          `${renderTable(['SENSOR', 'KIND', 'LOCATION', 'LATEST', 'READINGS', 'LAST SEEN'], rows, [false, false, false, false, true, false])}\n`,
        );
      } catch (err) {
        process.exitCode = reportError(err, { json: flags.json });
      } finally {
        await client.close();
      }
    });
}
