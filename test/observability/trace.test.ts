/**
 * --trace: every frame of a binary connection is logged with its direction, type, id and payload length, a
 * REQUEST with its service and method; never a payload: not a chunk's bytes, not HELLO's token.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/index.js';
import type { NexoNode } from '../../src/node/node.js';
import { startNode } from '../helpers/node.js';

const TOKEN = 'secret-token-TRACE-MARKER-1234';
const CHUNK_MARKER = 'CHUNK-PAYLOAD-MARKER-5678';
const lines: string[] = [];
let node: NexoNode & { port: number };

function startWith(trace: boolean) {
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(
        ...String(chunk)
          .split('\n')
          .filter((l) => l !== ''),
      );
      done();
    },
  });
  return startNode(
    { trace, auth: { tokens: { [TOKEN]: 'user' } } },
    { logger: pino({ level: 'info' }, sink) },
  );
}

beforeAll(async () => {
  node = await startWith(true);
});
afterAll(() => node.close({ timeoutMs: 1000 }));

const frames = () =>
  lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'frame');

describe('--trace', () => {
  it('logs each frame with type, id, service and method, and never a payload or token', async () => {
    const client = await connect({ endpoints: [`127.0.0.1:${node.port}`], token: TOKEN });
    try {
      await client.request('calc', 'eval', { expr: '1+1' }, { requestId: 'trace-1' });
      const body = Buffer.from(CHUNK_MARKER.repeat(100));
      const { Readable } = await import('node:stream');
      await client.files.upload(Readable.from([body]), { name: 'trace.bin', size: body.length });
    } finally {
      await client.close();
    }
    const all = frames();
    expect(all.find((f) => f.dir === 'in' && f.frame === 'HELLO')).toBeDefined();
    expect(all.find((f) => f.dir === 'out' && f.frame === 'WELCOME')).toBeDefined();
    const request = all.find((f) => f.dir === 'in' && f.frame === 'REQUEST' && f.service === 'calc');
    expect(request).toMatchObject({ method: 'eval', requestId: 'trace-1' });
    expect(all.find((f) => f.dir === 'out' && f.frame === 'RESPONSE' && f.id === request!.id)).toBeDefined();
    const chunks = all.filter((f) => f.dir === 'in' && f.frame === 'CHUNK');
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.every((c) => typeof c.bytes === 'number')).toBe(true);
    const text = lines.join('\n');
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('TRACE-MARKER');
    expect(text).not.toContain('CHUNK-PAYLOAD');
    // Nothing of the payload under another encoding either.
    expect(text).not.toContain(Buffer.from(CHUNK_MARKER).toString('base64').slice(0, 16));
    expect(text).not.toContain(Buffer.from(CHUNK_MARKER).toString('hex').slice(0, 16));
  });

  it('logs no frames without --trace', async () => {
    const quiet = await startWith(false);
    const before = frames().length;
    const client = await connect({ endpoints: [`127.0.0.1:${quiet.port}`], token: TOKEN });
    await client.request('echo', 'echo', 'x');
    await client.close();
    await quiet.close({ timeoutMs: 1000 });
    expect(frames().length).toBe(before);
  });
});
