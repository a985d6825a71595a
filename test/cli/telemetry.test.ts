import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../src/client/client.js';
import type { NexoNode } from '../../src/node/node.js';
import { CLI, freePort, runCli, spawnServer, startNode, tempDataDir } from '../helpers/node.js';
import { client, eventually } from '../helpers/telemetry.js';

/** The telemetry commands as a user runs them: the built CLI against a real node. */

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function nexo(args: string[], timeout = 30_000): Promise<Run> {
  return runCli(args, timeout);
}

/** A long-running command (watch): its output so far, and a way to stop it like Ctrl-C. */
function background(args: string[]): { child: ChildProcess; output: () => string; stop(): Promise<number> } {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, NO_COLOR: '1', NEXO_SERVER: '' },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return {
    child,
    output: () => out,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code ?? -1));
        child.kill('SIGINT');
      }),
  };
}

let node: NexoNode & { port: number };
let c: NexoClient;
let at: string[];

beforeAll(async () => {
  node = await startNode();
  c = await client(node.port);
  at = ['--port', String(node.port)];
});
afterAll(async () => {
  await c?.close();
  await node?.close({ timeoutMs: 2000 });
});

describe('telemetry CLI', () => {
  it('acceptance: two simulators (temperature, humidity) are acked; nexo readings and nexo watch show their data', async () => {
    const watch = background(['watch', ...at]);
    await eventually(async () => ((await c.telemetry.stats()).watchers === 1 ? true : undefined), 10_000);
    // The seeds' sensors send every 2 s and 3 s; the same at 200 ms and 300 ms.
    const [s1, s2] = await Promise.all([
      nexo([
        'sensor',
        ...at,
        '--id',
        'cli-s1',
        '--metric',
        'temperature',
        '--every',
        '200ms',
        '--count',
        '10',
      ]),
      nexo([
        'sensor',
        ...at,
        '--id',
        'cli-s2',
        '--metric',
        'humidity',
        '--every',
        '300ms',
        '--count',
        '7',
        '--location',
        'lab 3',
      ]),
    ]);
    expect(s1.code).toBe(0);
    expect(s2.code).toBe(0);
    expect(s1.stdout.trim().split('\n')).toHaveLength(10);
    expect(s1.stdout).toMatch(/^ack cli-s1 #\d+ \(\d+\.\d ms\)$/m);
    expect(s1.stderr).toContain(
      'cli-s1: 10 readings reported, 10 acknowledged (0 already stored), 0 rejected, 0 dropped',
    );
    expect(s2.stdout.trim().split('\n')).toHaveLength(7);
    expect(s2.stderr).toContain('cli-s2: 7 readings reported, 7 acknowledged');

    await eventually(() => {
      const out = watch.output();
      return (out.match(/ cli-s1 temperature /g) ?? []).length === 10 &&
        (out.match(/ cli-s2 humidity /g) ?? []).length === 7
        ? true
        : undefined;
    });
    expect(await watch.stop()).toBe(0);
    expect(watch.output()).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z cli-s1 temperature \d+(\.\d+)? °C$/m);
    expect(watch.output()).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z cli-s2 humidity \d+(\.\d+)? %$/m);

    const raw = await nexo(['readings', 'cli-s1', ...at, '--metric', 'temperature', '--since', '1h']);
    expect(raw.code).toBe(0);
    const lines = raw.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+VALUE \(°C\)$/);
    expect(lines).toHaveLength(11);
    const buckets = await nexo(['readings', 'cli-s2', ...at, '--since', '1h', '--every', '1m', '--json']);
    const result = JSON.parse(buckets.stdout) as {
      buckets: { count: number; min: number; max: number }[];
      unit: string;
    };
    expect(result.unit).toBe('%');
    expect(result.buckets.reduce((n, b) => n + b.count, 0)).toBe(7);
    const csv = await nexo(['readings', 'cli-s1', ...at, '--csv']);
    const rows = csv.stdout.trim().split('\n');
    expect(rows[0]).toBe('time,sensor,metric,value,unit,seq');
    expect(rows).toHaveLength(11);
    expect(rows[1]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z,cli-s1,temperature,\d+(\.\d+)?,°C,\d+$/);

    const sensors = await nexo(['sensors', ...at]);
    expect(sensors.stdout).toMatch(/^SENSOR\s+KIND\s+LOCATION\s+LATEST\s+READINGS\s+LAST SEEN$/m);
    expect(sensors.stdout).toMatch(/^cli-s2\s+lab 3\s+humidity [\d.]+ %\s+7\s+\d+s ago$/m);
  });

  it('sends batches and prints one JSON line per ack with --json', async () => {
    const run = await nexo([
      'sensor',
      ...at,
      '--id',
      'cli-b',
      '--metric',
      'pressure,co2',
      '--every',
      '0',
      '--count',
      '10',
      '--batch',
      '5',
      '--json',
    ]);
    expect(run.code).toBe(0);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const acks = lines.filter((l) => l.count !== undefined);
    expect(acks.map((a) => a.count)).toEqual([5, 5, 5, 5]);
    expect(lines.at(-1)).toEqual({
      summary: {
        sensor: 'cli-b',
        reported: 20,
        acked: 20,
        duplicates: 0,
        rejected: 0,
        dropped: 0,
        unacknowledged: 0,
      },
    });
    const sensor = await c.telemetry.sensor('cli-b');
    expect(sensor.metrics.map((m) => [m.metric, m.unit, m.count])).toEqual([
      ['co2', 'ppm', 10],
      ['pressure', 'hPa', 10],
    ]);
  });

  it('--batch n sends a request per n readings, and a simulator started before its server waits for it', async () => {
    const batched = await nexo([
      'sensor',
      ...at,
      '--id',
      'cli-batch',
      '--every',
      '50ms',
      '--count',
      '7',
      '--batch',
      '3',
    ]);
    expect(batched.code).toBe(0);
    expect(
      batched.stdout
        .trim()
        .split('\n')
        .map((l) => /^ack cli-batch (\d+) readings/.exec(l)?.[1] ?? '1'),
    ).toEqual(['3', '3', '1']);

    const port = await freePort();
    const early = background([
      'sensor',
      '--port',
      String(port),
      '--id',
      'early',
      '--every',
      '100ms',
      '--count',
      '5',
    ]);
    await eventually(
      () => (early.output().includes('buffering until it answers') ? true : undefined),
      10_000,
    );
    const late = await startNode({ port });
    try {
      const code = await new Promise<number>((resolve) => early.child.once('exit', (c) => resolve(c ?? -1)));
      expect(code, early.output()).toBe(0);
      expect(early.output()).toMatch(
        /no nexo server is listening at 127\.0\.0\.1:\d+ .*; buffering until it answers/,
      );
      expect(early.output()).toContain('early: 5 readings reported, 5 acknowledged');
    } finally {
      await early.stop();
      await late.close({ timeoutMs: 2000 });
    }
  });

  it('a simulator survives its server being killed and restarted: it buffers, resends, and every reading is stored once', async () => {
    const dataDir = tempDataDir();
    const port = await freePort();
    const args = ['--data-dir', dataDir, '--port', String(port)];
    let server = await spawnServer(args);
    const sensor = background([
      'sensor',
      '--port',
      String(port),
      '--id',
      'phoenix',
      '--every',
      '50ms',
      '--count',
      '60',
    ]);
    try {
      await eventually(
        () => ((sensor.output().match(/^ack /gm) ?? []).length >= 10 ? true : undefined),
        10_000,
      );
      await server.stop('SIGKILL');
      await new Promise((r) => setTimeout(r, 400));
      server = await spawnServer(args);
      const code = await new Promise<number>((resolve) => sensor.child.once('exit', (c) => resolve(c ?? -1)));
      expect(code, sensor.output()).toBe(0);
      expect(sensor.output()).toMatch(/buffering \(\d+ unacknowledged\)/);
      expect(sensor.output()).toContain('phoenix: 60 readings reported, 60 acknowledged');
      const x = await client(port);
      expect((await x.telemetry.sensor('phoenix')).readings).toBe(60);
      await x.close();
    } finally {
      await sensor.stop();
      await server.stop('SIGKILL');
    }
  });

  it('alerts: add, list, history, remove', async () => {
    const add = await nexo(['alerts', 'add', ...at, 'temperature > 30', '--sensor', 'cli-hot']);
    expect(add.code).toBe(0);
    const id = Number(
      /^added alert (\d+): temperature > 30 \(sensors cli-hot\)$/.exec(add.stdout.trim())?.[1],
    );
    expect(id).toBeGreaterThan(0);
    await c.telemetry.report('cli-hot', { metric: 'temperature', value: 35 });
    const list = await eventually(async () => {
      const r = await nexo(['alerts', ...at]);
      return r.stdout.includes('FIRING on cli-hot') ? r : undefined;
    });
    expect(list.stdout).toMatch(
      new RegExp(
        `^${id}\\s+temperature > 30\\s+temperature > 30\\s+cli-hot\\s+FIRING on cli-hot \\(\\d+s ago\\)$`,
        'm',
      ),
    );
    const history = await eventually(async () => {
      const r = await nexo(['alerts', 'history', ...at, '--json']);
      const events = (JSON.parse(r.stdout) as { events: { sensor: string; state: string }[] }).events;
      return events.some((e) => e.sensor === 'cli-hot') ? events : undefined;
    });
    expect(history.find((e) => e.sensor === 'cli-hot')).toMatchObject({ state: 'firing', value: 35 });
    expect((await nexo(['alerts', 'rm', ...at, String(id)])).stdout).toBe(
      `removed alert ${id}: temperature > 30\n`,
    );
    const again = await nexo(['alerts', 'rm', ...at, String(id)]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/there is no alert rule \d+ .*\(TELEMETRY_UNKNOWN_ALERT\)/);
    const bad = await nexo(['alerts', 'add', ...at, 'temperature', 'is', 'hot']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/write it as <metric> <op> <number> \[for <duration>\]/);
  });

  it('explains bad usage (exit 2) and unknown sensors (exit 1)', async () => {
    const noId = await nexo(['sensor', ...at]);
    expect(noId.code).toBe(2);
    expect(noId.stderr).toMatch(/required option '--id <sensor>' not specified/);
    expect((await nexo(['sensor', ...at, '--id', 'x', '--every', 'often'])).code).toBe(2);
    const since = await nexo(['readings', 'x', ...at, '--since', 'last tuesday']);
    expect(since.code).toBe(2);
    expect(since.stderr).toMatch(/expected a duration ago \(30m, 1h, 7d\), an ISO date/);
    const unknown = await nexo(['readings', 'nobody', ...at]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      "error: no sensor 'nobody' has reported to this node (TELEMETRY_UNKNOWN_SENSOR)\n",
    );
    const bad = await nexo(['sensor', ...at, '--id', 'bad id', '--count', '1', '--every', '0']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/rejected: 1 reading\(s\): sensor id "bad id" is not valid/);
    for (const command of [['sensor'], ['sensors'], ['readings'], ['watch'], ['alerts'], ['alerts', 'add']]) {
      const help = await nexo([...command, '--help']);
      expect(help.code, command.join(' ')).toBe(0);
      expect(help.stdout).toMatch(/^Usage: nexo/);
    }
  });
});
