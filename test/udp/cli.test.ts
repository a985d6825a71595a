import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../src/client/client.js';
import type { NexoNode } from '../../src/node/node.js';
import { keyFromToken } from '../../src/transport/udp/keys.js';
import { encodeRefused, encodeReset } from '../../src/transport/udp/wire.js';
import { ROOT, runCli, startNode } from '../helpers/node.js';
import { client } from '../helpers/telemetry.js';

const nexo = (args: string[]) => runCli(args);

let node: NexoNode & { port: number };
let c: NexoClient;
beforeAll(async () => {
  node = await startNode({ auth: { anonymous: true, tokens: { 'lab-sensor-token': 'sensor' } } });
  c = await client(node.port);
});
afterAll(async () => {
  await c.close();
  await node.close({ timeoutMs: 2000 });
});

describe('nexo sensor --udp', () => {
  it('reports over a secure UDP session; the node stores each reading once, as over TCP', async () => {
    const run = await nexo([
      'sensor',
      '--port',
      String(node.port),
      '--udp',
      '--token',
      'lab-sensor-token',
      '--id',
      'udp-cli',
      '--every',
      '0',
      '--count',
      '50',
      '--batch',
      '10',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('udp-cli: 50 readings reported, 50 acknowledged (0 already stored)');
    const page = await c.telemetry.readings({ sensor: 'udp-cli', metric: 'temperature' });
    expect(page.readings).toHaveLength(50);
    expect(new Set(page.readings.map((r) => r.seq)).size).toBe(50);
    expect(node.udp!.stats().secure.handshakes).toBeGreaterThanOrEqual(1);
  });

  it('with a token the node does not know: refused, nothing stored', async () => {
    const run = await nexo([
      'sensor',
      '--port',
      String(node.port),
      '--udp',
      '--token',
      'not-the-right-token',
      '--id',
      'udp-bad',
      '--count',
      '1',
    ]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/AUTH_FAILED/);
    const sensors = await c.telemetry.sensors();
    expect(sensors.sensors.map((s) => s.sensor)).not.toContain('udp-bad');
  });
});

describe('docs/protocol.md §13.3 examples', () => {
  const spec = readFileSync(path.join(ROOT, 'docs/protocol.md'), 'utf8');
  const hex = (b: Uint8Array) =>
    Buffer.from(b)
      .toString('hex')
      .toUpperCase()
      .replace(/(..)(?!$)/g, '$1 ');

  it('shows the key ids the code derives', () => {
    expect(spec).toContain(`key id is \`${hex(keyFromToken('').keyId)}\``);
    expect(spec).toContain(`\`sensor-token-1\` has key id \`${hex(keyFromToken('sensor-token-1').keyId)}\``);
  });

  it('shows RESET and REFUSED as the code encodes them', () => {
    expect(spec).toContain(`\`${hex(encodeReset(12345))}\` is RESET of session 12345`);
    expect(spec).toContain(`\`${hex(encodeRefused('AUTH_FAILED'))}\` is\n  REFUSED \`AUTH_FAILED\``);
  });
});
