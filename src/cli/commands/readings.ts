import { type Command, Option } from 'commander';
import type { NexoClient } from '../../client/client.js';
import { addClientOptions, type ClientFlags, connectFromFlags } from '../client-options.js';
import { paint, printJson, reportError } from '../output.js';
import {
  collect,
  csvLine,
  durationArg,
  isoTime,
  num,
  parseWhen,
  renderTable,
  shortTime,
  whenArg,
  wholeNumberArg,
} from '../telemetry-format.js';

interface ReadingsFlags extends ClientFlags {
  metric?: string[];
  since: string;
  until?: string;
  every?: number;
  limit?: number;
  csv?: boolean;
}

/** Readings printed without --csv/--limit: enough to read, not enough to flood a terminal. */
const DEFAULT_LIMIT = 1000;

export function registerReadings(program: Command): void {
  addClientOptions(
    program
      .command('readings')
      .description("a sensor's stored readings in a time range, raw or downsampled (min/avg/max/count)")
      .argument('<sensor>', 'sensor id')
      .addOption(
        new Option('-m, --metric <name>', 'metric (repeatable; default: all of the sensor)').argParser(
          collect,
        ),
      )
      .addOption(
        new Option('--since <when>', 'start: a duration ago (1h, 30m, 7d) or a date')
          .argParser(whenArg)
          .default('1h'),
      )
      .addOption(
        new Option('--until <when>', 'end: a duration ago or a date (default: now)').argParser(whenArg),
      )
      .addOption(
        new Option(
          '--every <duration>',
          'bucket size, e.g. 1m, 15m, 1h (min/avg/max/count per bucket)',
        ).argParser(durationArg),
      )
      .addOption(
        new Option(
          '--limit <n>',
          `raw readings to print (default ${DEFAULT_LIMIT}; 0 = all; --csv: all)`,
        ).argParser(wholeNumberArg),
      )
      .option('--csv', 'CSV on stdout (with a header line), for spreadsheets and scripts'),
  )
    .addHelpText(
      'after',
      `
Examples:
  nexo readings s1 --metric temperature --since 1h --every 1m
  nexo readings s1 --since 24h --every 1h --csv > s1.csv
  nexo readings s1 --metric humidity --since 2026-05-01 --until 2026-05-02 --csv`,
    )
    .action(async (sensor: string, flags: ReadingsFlags) => {
      const now = Date.now();
      const from = parseWhen(flags.since, now);
      const to = flags.until === undefined ? now + 1 : parseWhen(flags.until, now);
      if (to <= from)
        throw new TypeError(`--until (${isoTime(to)}) must be after --since (${isoTime(from)})`);
      if (flags.every !== undefined && flags.every < 1) throw new TypeError('--every must be at least 1ms');
      const client = await connectFromFlags(flags);
      try {
        const metrics = flags.metric ?? (await client.telemetry.sensor(sensor)).metrics.map((m) => m.metric);
        if (flags.csv) {
          process.stdout.write(
            flags.every === undefined
              ? csvLine(['time', 'sensor', 'metric', 'value', 'unit', 'seq'])
              : csvLine(['time', 'sensor', 'metric', 'min', 'avg', 'max', 'count', 'unit']),
          );
        }
        for (const metric of metrics) {
          if (flags.every === undefined)
            await printRaw(client, flags, sensor, metric, from, to, metrics.length > 1);
          else await printBuckets(client, flags, sensor, metric, from, to, flags.every, metrics.length > 1);
        }
      } catch (err) {
        process.exitCode = reportError(err, { json: flags.json });
      } finally {
        await client.close();
      }
    });
}

async function printRaw(
  client: NexoClient,
  flags: ReadingsFlags,
  sensor: string,
  metric: string,
  from: number,
  to: number,
  titled: boolean,
): Promise<void> {
  const limit = flags.limit ?? (flags.csv || flags.json ? 0 : DEFAULT_LIMIT);
  const rows: string[][] = [];
  let unit: string | undefined;
  let shown = 0;
  let more = false;
  let after: { ts: number; seq: number } | undefined;
  const out = flags.json ? [] : undefined;
  do {
    const pageSize = limit === 0 ? 10_000 : Math.min(10_000, limit - shown + 1);
    const page = await client.telemetry.readings({
      sensor,
      metric,
      from,
      to,
      limit: pageSize,
      ...(after ? { after } : {}),
    });
    unit = page.unit;
    for (const r of page.readings) {
      if (limit !== 0 && shown === limit) {
        more = true;
        break;
      }
      shown++;
      if (flags.csv) process.stdout.write(csvLine([isoTime(r.ts), sensor, metric, r.value, unit, r.seq]));
      else if (out !== undefined) out.push(r as never);
      else rows.push([shortTime(r.ts), num(r.value)]);
    }
    after = more ? undefined : page.next;
  } while (after !== undefined);
  if (flags.csv) return;
  if (out !== undefined) {
    printJson({ sensor, metric, unit, readings: out, ...(more ? { truncated: true } : {}) });
    return;
  }
  if (titled) process.stdout.write(`${paint.bold(`${sensor} ${metric}`)}\n`);
  if (rows.length === 0) process.stdout.write(`no ${metric} readings from ${sensor} in that range\n`);
  else
    process.stdout.write(
      `${renderTable(['TIME', unit === undefined ? 'VALUE' : `VALUE (${unit})`], rows, [false, true])}\n`,
    );
  if (more)
    process.stdout.write(paint.dim(`(more readings; use --limit 0 for all, or --every 1m to downsample)\n`));
}

async function printBuckets(
  client: NexoClient,
  flags: ReadingsFlags,
  sensor: string,
  metric: string,
  from: number,
  to: number,
  every: number,
  titled: boolean,
): Promise<void> {
  const result = await client.telemetry.buckets({ sensor, metric, from, to, every });
  if (flags.json) {
    printJson(result);
    return;
  }
  if (flags.csv) {
    for (const b of result.buckets) {
      process.stdout.write(
        csvLine([isoTime(b.t), sensor, metric, b.min, b.avg, b.max, b.count, result.unit]),
      );
    }
    return;
  }
  if (titled) process.stdout.write(`${paint.bold(`${sensor} ${metric}`)}\n`);
  if (result.buckets.length === 0) {
    process.stdout.write(`no ${metric} readings from ${sensor} in that range\n`);
    return;
  }
  const u = result.unit === undefined ? '' : ` (${result.unit})`;
  const rows = result.buckets.map((b) => [
    shortTime(b.t),
    num(b.min),
    num(b.avg),
    num(b.max),
    String(b.count),
  ]);
  process.stdout.write(
    `${renderTable(['TIME', `MIN${u}`, 'AVG', 'MAX', 'COUNT'], rows, [false, true, true, true, true])}\n`,
  );
}
