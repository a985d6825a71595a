import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../src/client/client.js';
import { connect } from '../../src/client/index.js';
import { NexoError } from '../../src/errors.js';
import { FrameType } from '../../src/protocol/constants.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { packValue } from '../../src/protocol/payload.js';
import { type ServerProcess, spawnServer } from '../helpers/node.js';
import { startPinger } from '../helpers/pinger.js';
import { RawPeer } from '../helpers/raw-peer.js';

let server: ServerProcess;
let attacker: NexoClient;

beforeAll(async () => {
  server = await spawnServer();
  attacker = await connect({ endpoints: [`127.0.0.1:${server.port}`] });
});
afterAll(async () => {
  await attacker?.close();
  await server?.stop();
});

/** Built once: the attacker's own CPU cost of making it is not what this test measures. */
const TEN_MB_REQUEST = encodeFrame(
  FrameType.REQUEST,
  0,
  1,
  packValue(['calc', 'eval', { expr: '1+'.repeat(5_000_000) }]),
);

const HOSTILE: [string, string][] = [
  ['9^9^9^9', '9^9^9^9'],
  ['100k nested parentheses', `${'('.repeat(100_000)}1${')'.repeat(100_000)}`],
  ['a huge modulo', '1e999999 % 7'],
  ['exp of a huge number', 'exp(1e15)'],
  ['sine of 1e1000', 'sin(1e1000)'],
  ['many digits of rounding', 'round(1, 1000000000)'],
  ['a long expression', `${'sqrt(2)*'.repeat(4000)}1`],
];

async function expectQuickError(name: string, run: () => Promise<unknown>): Promise<void> {
  const started = performance.now();
  const error = await run().then(
    (r) => r,
    (e: unknown) => e,
  );
  expect(error, name).toBeInstanceOf(NexoError);
  expect((error as NexoError).code, name).toMatch(/^CALC_|^FRAME_TOO_LARGE$/);
  expect(performance.now() - started, name).toBeLessThan(1000);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

describe('hostile calc input (acceptance)', () => {
  it('each gets an error in under a second while another client pings under 10 ms', async () => {
    const pinger = startPinger(server.port);
    await new Promise((r) => setTimeout(r, 200));
    // The worker pool is kept busy all along with legal but costly expressions.
    const heavy = attacker.calc.batch(
      Array.from({ length: 300 }, (_, k) => `sin(1e${100 + k})`),
      { timeout: 60_000 },
    );
    for (let round = 0; round < 3; round++) {
      for (const [name, expr] of HOSTILE) {
        await expectQuickError(name, () => attacker.calc.eval(expr));
        await new Promise((r) => setTimeout(r, 20));
      }
      // A 10 MB expression from a client that does not check sizes itself (the nexo client does).
      const raw = await RawPeer.open(server.port);
      const id = 1;
      raw.write(TEN_MB_REQUEST);
      await expectQuickError('a 10 MB expression', async () => {
        throw NexoError.fromPayload((await raw.reply(id)).value);
      });
      await raw.closedByServer();
    }
    expect((await heavy).results).toHaveLength(300);
    const pings = (await pinger.stop()).sort((a, b) => a - b);
    expect(pings.length).toBeGreaterThan(100);
    const detail = `slowest of ${pings.length} pings: ${pings.slice(-3).map((p) => p.toFixed(2))} ms; p99 ${percentile(pings, 0.99).toFixed(2)} ms`;
    expect(pings.at(-1), detail).toBeLessThan(10);
    console.info(`hostile calc: ${detail}`);
    expect(await attacker.calc.eval('2*(3+4)')).toEqual({ value: '14' });
  });

  it('a flood of hostile input, back to back, keeps the p99 of another client under 10 ms', async () => {
    const pinger = startPinger(server.port);
    await new Promise((r) => setTimeout(r, 100));
    const until = Date.now() + 1500;
    let sent = 0;
    while (Date.now() < until) {
      for (const [name, expr] of HOSTILE) {
        await expectQuickError(name, () => attacker.calc.eval(expr));
        sent++;
      }
    }
    const pings = (await pinger.stop()).sort((a, b) => a - b);
    const detail = `${sent} hostile requests; ${pings.length} pings p50 ${percentile(pings, 0.5).toFixed(2)} p99 ${percentile(pings, 0.99).toFixed(2)} max ${pings.at(-1)!.toFixed(2)} ms`;
    console.info(`hostile flood: ${detail}`);
    expect(percentile(pings, 0.99), detail).toBeLessThan(10);
    expect(pings.at(-1), detail).toBeLessThan(100);
  });
});
