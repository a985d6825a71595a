/**
 * Issue #12 TLS benchmark: the same node, measured over its plain TCP port and its TLS port in the same run,
 * interleaved in rounds (best of each): calc round trips at 64 in flight on one connection (target: TLS >= 70%
 * of TCP), and a 1 GiB upload through the client library (verified and committed; target >= 60%). The
 * certificate is a development CA's (nexo certs init), ECDSA P-256; Node negotiates TLS 1.3.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { connect } from '../src/client/index.js';
import { makeFile, Rounds } from './files.js';
import { benchCerts, fmt, type LoadResult, spawnBenchServer, table } from './harness.js';
import { nexoLeanLoad, SHAPES } from './protocol.js';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.BENCH_FILE_MIB ?? 1024) * MIB;
const ROUNDS = Number(process.env.BENCH_TLS_ROUNDS ?? 2);

export async function benchTls(): Promise<{ text: string }> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'nexo-bench-tls-'));
  const { cert, key, ca } = await benchCerts(work);
  const source = path.join(work, 'source.bin');
  await makeFile(source, SIZE);
  const nexo = await spawnBenchServer('file-servers.js', ['nexo', path.join(work, 'node'), cert, key]);
  const tlsPort = nexo.tlsPort!;
  const shape = SHAPES.find((s) => s.connections === 1 && s.inFlight === 64)!;
  const calc = ['calc', 'eval', { expr: '2*(3+4)' }];
  const dialTls = (ready: () => void) =>
    tls.connect({ port: tlsPort, host: '127.0.0.1', ca, noDelay: true } as tls.ConnectionOptions, ready);
  const best = (a: LoadResult | undefined, b: LoadResult) => (a === undefined || b.rate > a.rate ? b : a);
  let tcpCalc: LoadResult | undefined;
  let tlsCalc: LoadResult | undefined;
  const rounds = new Rounds();
  try {
    const tcpClient = await connect({ endpoints: [`127.0.0.1:${nexo.port}`] });
    const tlsClient = await connect({ endpoints: [`nexos://127.0.0.1:${tlsPort}`], tls: { ca } });
    for (let round = 0; round < ROUNDS; round++) {
      tcpCalc = best(tcpCalc, await nexoLeanLoad(nexo.port, shape, calc, { value: '14' }));
      tlsCalc = best(tlsCalc, await nexoLeanLoad(tlsPort, shape, calc, { value: '14' }, dialTls));
      for (const [name, client] of [
        ['tcp', tcpClient],
        ['tls', tlsClient],
      ] as const) {
        await rounds.time(name, async () => {
          const started = performance.now();
          await client.files.upload(source, { name: `bench-${name}-${round}.bin` });
          return performance.now() - started;
        });
      }
    }
    await tcpClient.close();
    await tlsClient.close();
  } finally {
    await nexo.stop();
    rmSync(work, { recursive: true, force: true });
  }
  const rate = (ms: number) => SIZE / (ms / 1000);
  const up = { tcp: rate(rounds.best('tcp')), tls: rate(rounds.best('tls')) };
  const c = { tcp: tcpCalc!, tls: tlsCalc! };
  const calcRatio = c.tls.rate / c.tcp.rate;
  const uploadRatio = up.tls / up.tcp;
  const text = table(
    ['case', 'TCP', 'TLS', 'TLS/TCP', 'target'],
    [
      [
        'calc rt/s, 64 in flight, 1 conn',
        fmt.rate(c.tcp.rate),
        fmt.rate(c.tls.rate),
        fmt.pct(calcRatio),
        `>= 70% ${calcRatio >= 0.7 ? 'met' : 'MISSED'}`,
      ],
      [
        '  p50 / p99 µs',
        `${fmt.us(c.tcp.p50)} / ${fmt.us(c.tcp.p99)}`,
        `${fmt.us(c.tls.p50)} / ${fmt.us(c.tls.p99)}`,
        '',
        '',
      ],
      [
        `upload ${SIZE / MIB} MiB (verified, committed)`,
        fmt.mbps(up.tcp),
        fmt.mbps(up.tls),
        fmt.pct(uploadRatio),
        `>= 60% ${uploadRatio >= 0.6 ? 'met' : 'MISSED'}`,
      ],
    ],
  );
  return {
    text: `${text}\n(best of ${ROUNDS} interleaved rounds; ${tls.DEFAULT_MAX_VERSION}, ECDSA P-256 certificate)`,
  };
}
