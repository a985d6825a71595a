import { type Command, Option } from 'commander';
import type { AlertEvent, LatestReading, LiveReading } from '../../wire/telemetry.js';
import { addClientOptions, type ClientFlags, connectFromFlags } from '../client-options.js';
import { EXIT } from '../exit-codes.js';
import { paint, printJson, reportError } from '../output.js';
import { ago, collect, isoTime, positiveIntArg, renderTable, withUnit } from '../telemetry-format.js';

interface WatchFlags extends ClientFlags {
  metric?: string[];
  alerts: boolean;
  count?: number;
}

interface Row {
  sensor: string;
  metric: string;
  value: number;
  unit: string | undefined;
  ts: number;
  previous: number | undefined;
}

export function registerWatch(program: Command): void {
  addClientOptions(
    program
      .command('watch')
      .description('live readings and alerts as they arrive (a table updating in place on a terminal)')
      .argument('[sensor...]', 'only these sensors (default: all)')
      .addOption(new Option('-m, --metric <name>', 'only this metric (repeatable)').argParser(collect))
      .option('--no-alerts', 'do not show alert events')
      .addOption(new Option('-n, --count <n>', 'exit after this many readings').argParser(positiveIntArg)),
  )
    .addHelpText(
      'after',
      `
On a terminal the latest value of each sensor and metric updates in place; piped, each reading is one line
("<time> <sensor> <metric> <value> <unit>"), and with --json one JSON object per line.

Examples:
  nexo watch
  nexo watch s1 s2 --metric temperature
  nexo watch --json | jq 'select(.type == "alert")'`,
    )
    .action(async (sensors: string[], flags: WatchFlags) => {
      process.exitCode = await watch(sensors, flags);
    });
}

async function watch(sensors: string[], flags: WatchFlags): Promise<number> {
  const client = await connectFromFlags(flags, {
    reconnect: { initialDelayMs: 200, maxDelayMs: 3000, maxAttempts: Number.POSITIVE_INFINITY },
    requestTimeoutMs: 0,
  });
  const tty = process.stdout.isTTY === true && !flags.json;
  const rows = new Map<string, Row>();
  const alerts: string[] = [];
  let seen = 0;
  let drawn = 0;
  let dirty = false;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => {
    finish = resolve;
  });

  const draw = () => {
    dirty = false;
    const now = Date.now();
    const sorted = [...rows.values()].sort((a, b) =>
      a.sensor === b.sensor ? a.metric.localeCompare(b.metric) : a.sensor.localeCompare(b.sensor),
    );
    const table = renderTable(
      ['SENSOR', 'METRIC', 'VALUE', '', 'UPDATED'],
      sorted.map((r) => [
        r.sensor,
        r.metric,
        withUnit(r.value, r.unit),
        r.previous === undefined || r.previous === r.value ? ' ' : r.value > r.previous ? '▲' : '▼',
        ago(r.ts, now),
      ]),
      [false, false, true, false, false],
    ).split('\n');
    const lines = [
      paint.dim(
        `watching ${sensors.length > 0 ? sensors.join(', ') : 'all sensors'} on ${client.endpoint} (Ctrl-C to stop)`,
      ),
      ...table,
      ...alerts.slice(-5),
    ];
    let out = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const line of lines) out += `\r\x1b[2K${line}\n`;
    process.stdout.write(out);
    drawn = lines.length;
  };
  const redraw = () => {
    if (!dirty) {
      dirty = true;
      setTimeout(draw, 100);
    }
  };

  const remember = (r: LatestReading | LiveReading) => {
    const key = `${r.sensor}\u0000${r.metric}`;
    const row = rows.get(key);
    if (row !== undefined && r.ts < row.ts) return;
    rows.set(key, {
      sensor: r.sensor,
      metric: r.metric,
      value: r.value,
      unit: r.unit,
      ts: r.ts,
      previous: row?.value,
    });
  };

  const onReading = (r: LiveReading) => {
    seen++;
    if (flags.json) printJson({ type: 'reading', ...r });
    else if (tty) {
      remember(r);
      redraw();
    } else process.stdout.write(`${isoTime(r.ts)} ${r.sensor} ${r.metric} ${withUnit(r.value, r.unit)}\n`);
    if (flags.count !== undefined && seen >= flags.count) finish(EXIT.OK);
  };
  const onAlert = (e: AlertEvent) => {
    const line =
      e.state === 'firing'
        ? `${paint.red('ALERT')} ${e.sensor}: ${e.rule} (value ${e.value}, since ${isoTime(e.since)})`
        : `${paint.green('resolved')} ${e.sensor}: ${e.rule} (value ${e.value})`;
    if (flags.json) printJson({ type: 'alert', ...e });
    else if (tty) {
      alerts.push(`${isoTime(e.at).slice(11, 19)} ${line}`);
      redraw();
    } else process.stdout.write(`${isoTime(e.at)} ${line}\n`);
  };
  const onDropped = (count: number) => {
    if (flags.json) printJson({ type: 'dropped', count });
    else process.stderr.write(paint.dim(`(${count} readings skipped: this terminal read too slowly)\n`));
  };

  const stop = () => finish(EXIT.OK);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let current: { stop(): void } | undefined;
  const loop = async () => {
    for (;;) {
      try {
        const w = await client.telemetry.watch(
          {
            ...(sensors.length > 0 ? { sensors } : {}),
            ...(flags.metric ? { metrics: flags.metric } : {}),
            alerts: flags.alerts,
          },
          { onReading, onAlert, onDropped },
        );
        current = w;
        if (tty) {
          for (const r of w.latest) remember(r);
          draw();
        }
        await w.done;
        return;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== 'CONNECTION_LOST' && code !== 'SHUTTING_DOWN' && code !== 'GOING_AWAY') throw err;
        process.stderr.write(
          paint.dim(`(connection lost; watching again when ${client.endpoint} is back)\n`),
        );
        await client.ready();
      }
    }
  };
  let exit: number;
  try {
    exit = await Promise.race([finished, loop().then(() => EXIT.OK)]);
  } catch (err) {
    exit = reportError(err, { json: flags.json });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  current?.stop();
  client.destroy();
  return exit;
}
