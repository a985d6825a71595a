import { type Command, Option } from 'commander';
import { SensorClient } from '../../client/sensor-client.js';
import {
  addClientOptions,
  type ClientFlags,
  connectFromFlags,
  socketFactoryFrom,
} from '../client-options.js';
import { EXIT } from '../exit-codes.js';
import { paint, printJson, reportError } from '../output.js';
import { defaultUnit, RandomWalk } from '../random-walk.js';
import { collect, durationArg, num, positiveIntArg } from '../telemetry-format.js';

interface SensorFlags extends ClientFlags {
  id: string;
  metric?: string[];
  every: number;
  count?: number;
  batch: number;
  unit?: string;
  kind?: string;
  location?: string;
  start?: number;
  quiet?: boolean;
  udp?: boolean;
}

export function registerSensor(program: Command): void {
  addClientOptions(
    program
      .command('sensor')
      .description('simulate a sensor: report readings (a realistic random walk) and print the acks')
      .requiredOption('--id <sensor>', 'sensor id, e.g. s1')
      .addOption(
        new Option(
          '-m, --metric <name>',
          'metric to report, repeatable or comma-separated (default temperature)',
        ).argParser(collect),
      )
      .addOption(
        new Option('--every <duration>', 'time between readings, e.g. 2s (0: as fast as acks allow)')
          .argParser(durationArg)
          .default(2000, '2s'),
      )
      .addOption(
        new Option('-n, --count <n>', 'stop after this many readings (per metric)').argParser(positiveIntArg),
      )
      .addOption(
        new Option('--batch <n>', 'readings per request (1..1000)').argParser(positiveIntArg).default(1),
      )
      .option('--unit <unit>', 'unit of the readings (default: by metric, e.g. °C, %)')
      .option('--kind <kind>', 'what the sensor is (registered with its first report)')
      .option('--location <location>', 'where it is')
      .addOption(new Option('--start <value>', 'first value of the walk').argParser(Number))
      .option('-q, --quiet', 'print only the summary')
      .option('--udp', 'send over a secure UDP session (protocol §13.3; same port number, key from --token)'),
  )
    .addHelpText(
      'after',
      `
Each reading is kept until nexo acknowledges it (it is then on disk). If the server goes away, readings are
buffered and sent again, oldest first, when it is back; nothing is stored twice.

Examples:
  nexo sensor --id s1 --metric temperature --every 2s          the seeds' temperature sensor
  nexo sensor --id s2 --metric humidity --every 3s              the seeds' humidity sensor
  nexo sensor --id lab --metric temperature,humidity --count 100 --every 0 --batch 50
  nexo sensor --id s1 --json | jq .                            one JSON line per ack
  nexo sensor --id s1 --udp --every 1s                          over UDP: encrypted, acked, resent when lost`,
    )
    .action(async (flags: SensorFlags) => {
      process.exitCode = await simulate(flags);
    });
}

async function simulate(flags: SensorFlags): Promise<number> {
  if (flags.batch > 1000) throw new TypeError('--batch: at most 1000 readings per request');
  const metrics = [...new Set(flags.metric ?? ['temperature'])];
  const socketFactory =
    flags.udp === true
      ? (await import('../../client/udp.js')).udpSocketFactory({ token: flags.token })
      : socketFactoryFrom(flags);
  const client = await connectFromFlags(flags, {
    socketFactory,
    reconnect: { initialDelayMs: 100, maxDelayMs: 2000, maxAttempts: Number.POSITIVE_INFINITY },
  }).catch((err: unknown) => {
    // Not there yet: readings are buffered until it is. (A refused token or a non-nexo server is final.)
    if ((err as { code?: string }).code !== 'CONNECTION_REFUSED') throw err;
    process.stderr.write(`${paint.dim(`${(err as Error).message}; buffering until it answers`)}\n`);
    return undefined;
  });
  const { NexoClient } = await import('../../client/client.js');
  const { endpointsFrom, timeoutFrom } = await import('../client-options.js');
  const nexo =
    client ??
    new NexoClient({
      endpoints: endpointsFrom(flags),
      socketFactory,
      token: flags.token,
      name: 'nexo-sensor/0.1.0',
      requestTimeoutMs: timeoutFrom(flags),
      reconnect: { initialDelayMs: 100, maxDelayMs: 2000, maxAttempts: Number.POSITIVE_INFINITY },
    });
  const sensor = new SensorClient(nexo, {
    sensor: flags.id,
    kind: flags.kind,
    location: flags.location,
    batchSize: flags.batch,
    // --batch n: a request when n readings are ready (the last, partial one when the simulator stops).
    lingerMs: flags.batch > 1 && flags.every > 0 ? Number.POSITIVE_INFINITY : 0,
    maxInFlight: flags.every === 0 ? 4 : 8,
    requestTimeoutMs: timeoutFrom(flags),
  });
  const tty = process.stdout.isTTY === true && !flags.json && !flags.quiet;
  const last = new Map<string, number>();
  const units = new Map(metrics.map((m) => [m, flags.unit ?? defaultUnit(m)]));
  let status = '';
  const showStatus = (extra = '') => {
    if (!tty) return;
    const values = [...last]
      .map(([m, v]) => `${m} ${num(v)}${units.get(m) ? ` ${units.get(m)}` : ''}`)
      .join('  ');
    status = `${flags.id} → ${nexo.endpoint}  sent ${sensor.stats.reported}  acked ${sensor.stats.acked}  buffered ${sensor.buffered}  ${values}${extra}`;
    process.stdout.write(`\r\x1b[2K${status.slice(0, (process.stdout.columns ?? 120) - 1)}`);
  };
  const say = (line: string, stream: NodeJS.WriteStream = process.stdout) => {
    if (tty) process.stdout.write('\r\x1b[2K');
    stream.write(`${line}\n`);
    if (tty) showStatus();
  };
  sensor.on('ack', (ack) => {
    if (flags.json) printJson({ sensor: flags.id, ...ack, ms: Math.round(ack.ms * 100) / 100 });
    else if (tty) showStatus();
    else if (!flags.quiet) {
      const what = ack.count === 1 ? `#${ack.first}` : `${ack.count} readings #${ack.first}..#${ack.last}`;
      const dup = ack.duplicates > 0 ? `, ${ack.duplicates} already stored` : '';
      say(`ack ${flags.id} ${what} (${ack.ms.toFixed(1)} ms${dup})`);
    }
  });
  sensor.on('buffering', ({ buffered, reason }) => {
    if (!flags.quiet) say(paint.dim(`buffering (${buffered} unacknowledged): ${reason}`), process.stderr);
  });
  sensor.on('resumed', ({ buffered }) => {
    if (!flags.quiet) say(paint.dim(`sending again (${buffered} buffered)`), process.stderr);
  });
  sensor.on('rejected', ({ readings, error }) => {
    say(
      `${paint.red('rejected:')} ${readings.length} reading(s): ${error.message} (${error.code})`,
      process.stderr,
    );
  });
  sensor.on('dropped', ({ count }) =>
    say(paint.red(`buffer full: dropped the ${count} oldest readings`), process.stderr),
  );

  const walks = metrics.map((m) => ({ metric: m, walk: new RandomWalk(m, flags.start) }));
  let stop = false;
  let interrupted = false;
  const onSignal = () => {
    if (stop) process.exit(EXIT.INTERRUPTED);
    stop = true;
    interrupted = true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let exit: number = EXIT.OK;
  try {
    for (let n = 0; !stop && (flags.count === undefined || n < flags.count); n++) {
      const ts = Date.now();
      for (const { metric, walk } of walks) {
        const value = walk.next();
        last.set(metric, value);
        const unit = units.get(metric);
        sensor.report(metric, value, unit === undefined ? { ts } : { ts, unit });
      }
      if (flags.every > 0) {
        showStatus();
        await sleep(flags.every, () => stop);
      } else if (sensor.buffered >= flags.batch * 8) {
        // As fast as acks allow: wait for the backlog to clear rather than buffer without end.
        while (sensor.buffered >= flags.batch * 4 && !stop) await sleep(1, () => stop);
      }
    }
    // Everything reported must be acknowledged before we say we are done (Ctrl-C again to give up).
    await sensor.flush();
  } catch (err) {
    exit = reportError(err, { json: flags.json });
  } finally {
    if (tty) process.stdout.write('\r\x1b[2K');
    const s = sensor.stats;
    const summary = {
      sensor: flags.id,
      reported: s.reported,
      acked: s.acked,
      duplicates: s.duplicates,
      rejected: s.rejected,
      dropped: s.dropped,
      unacknowledged: sensor.buffered,
    };
    if (flags.json) printJson({ summary });
    else
      process.stderr.write(
        `${flags.id}: ${s.reported} readings reported, ${s.acked} acknowledged (${s.duplicates} already stored), ${s.rejected} rejected, ${s.dropped} dropped\n`,
      );
    if (exit === EXIT.OK && (s.rejected > 0 || s.dropped > 0)) exit = EXIT.REQUEST_FAILED;
    if (interrupted && exit === EXIT.OK && sensor.buffered > 0) exit = EXIT.INTERRUPTED;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    nexo.destroy();
  }
  return exit;
}

/** Sleeps up to `ms`, waking early (every 50 ms check) when `stopped()` says so. */
async function sleep(ms: number, stopped: () => boolean): Promise<void> {
  const end = Date.now() + ms;
  while (!stopped()) {
    const left = end - Date.now();
    if (left <= 0) return;
    await new Promise((r) => setTimeout(r, Math.min(left, 50)));
  }
}
