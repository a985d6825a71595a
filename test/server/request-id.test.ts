/**
 * §6.1.4 A request id the client chose: sent as the REQUEST's fourth element `{rid}` (or HTTP x-request-id),
 * it comes back in every ERROR's details for that request, and never in a RESPONSE; malformed ones are
 * BAD_REQUEST on that id while the connection goes on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoError } from '../../src/errors.js';
import type { NexoNode } from '../../src/node/node.js';
import { FrameType } from '../../src/protocol/constants.js';
import { packValue } from '../../src/protocol/payload.js';
import { startNode } from '../helpers/node.js';
import { decodeValue, RawPeer } from '../helpers/raw-peer.js';
import { clientOver, httpPort, tcp } from '../helpers/transports.js';

let node: NexoNode & { port: number };
beforeAll(async () => {
  node = await startNode({ http: { port: 0 } });
});
afterAll(() => node.close({ timeoutMs: 1000 }));

type ErrorBody = { code: string; details?: Record<string, unknown> };

describe('request id (§6.1.4)', () => {
  it('comes back in the details of an error, whatever the error, and not in a response', async () => {
    const peer = await RawPeer.open(node.port);
    try {
      const send = (id: number, request: unknown[]) =>
        peer.send(FrameType.REQUEST, 0, id, packValue(request));
      send(1, ['calc', 'eval', { expr: '1/0' }, { rid: 'web-7f3a' }]);
      send(2, ['nosuch', 'method', null, { rid: 'r-2' }]);
      send(3, ['calc', 'eval', { expr: 42 }, { rid: 'r-3', later: true }]);
      send(4, ['calc', 'eval', { expr: '1+1' }, { rid: 'r-4' }]);
      send(5, ['calc', 'eval', { expr: '1/0' }]);
      send(6, ['calc', 'eval', { expr: '1/0' }, null]);
      const replies = new Map<number, { type: number; value: unknown }>();
      for (let i = 0; i < 6; i++) {
        const f = await peer.next();
        replies.set(f.id, { type: f.type, value: decodeValue(f) });
      }
      const error = (id: number) => {
        const r = replies.get(id)!;
        expect(r.type).toBe(FrameType.ERROR);
        return r.value as ErrorBody;
      };
      expect(error(1)).toMatchObject({ code: 'CALC_DIVISION_BY_ZERO', details: { requestId: 'web-7f3a' } });
      expect(error(2)).toMatchObject({ code: 'UNKNOWN_SERVICE', details: { requestId: 'r-2' } });
      expect(error(3)).toMatchObject({ code: 'INVALID_ARGS', details: { requestId: 'r-3' } });
      expect(replies.get(4)).toEqual({ type: FrameType.RESPONSE, value: { value: '2' } });
      expect(error(5).details?.requestId).toBeUndefined();
      expect(error(6).details?.requestId).toBeUndefined();
    } finally {
      peer.close();
    }
  });

  it('refuses a malformed one with BAD_REQUEST on that id; the connection goes on', async () => {
    const peer = await RawPeer.open(node.port);
    try {
      const bad: unknown[] = [
        { rid: '' },
        { rid: 'has space' },
        { rid: 'x'.repeat(65) },
        { rid: 7 },
        'rid',
        ['rid'],
      ];
      bad.forEach((meta, i) => {
        peer.send(FrameType.REQUEST, 0, i + 1, packValue(['echo', 'echo', 'x', meta]));
      });
      for (let i = 0; i < bad.length; i++) {
        const f = await peer.next();
        expect(f.type).toBe(FrameType.ERROR);
        expect((decodeValue(f) as ErrorBody).code).toBe('BAD_REQUEST');
      }
      peer.request('echo', 'echo', 'still here', 99);
      const f = await peer.next();
      expect(f.type).toBe(FrameType.RESPONSE);
      expect(decodeValue(f)).toBe('still here');
    } finally {
      peer.close();
    }
  });

  it('is sent by the client library (RequestOptions.requestId)', async () => {
    const client = await clientOver(tcp, node);
    try {
      const err = (await client
        .request('calc', 'eval', { expr: '1/0' }, { requestId: 'lib-1' })
        .catch((e: unknown) => e)) as NexoError;
      expect(err.code).toBe('CALC_DIVISION_BY_ZERO');
      expect(err.details?.requestId).toBe('lib-1');
      expect(await client.request('calc', 'eval', { expr: '2+2' }, { requestId: 'lib-2' })).toEqual({
        value: '4',
      });
    } finally {
      await client.close();
    }
  });

  it('is the x-request-id header over HTTP', async () => {
    const url = `http://127.0.0.1:${httpPort(node)}/api/calc/eval`;
    const call = (headers: Record<string, string>) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ expr: '1/0' }),
      });
    const res = await call({ 'x-request-id': 'web-7f3a' });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: ErrorBody };
    expect(body.error).toMatchObject({ code: 'CALC_DIVISION_BY_ZERO', details: { requestId: 'web-7f3a' } });
    const bad = await call({ 'x-request-id': 'x'.repeat(65) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: ErrorBody }).error.code).toBe('BAD_REQUEST');
  });
});
