import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NexoError } from '../errors.js';
import { contentDisposition } from './content-disposition.js';
import { type QueryValue, single } from './query.js';

/**
 * Whether the client asked for CSV: a `.csv` path, `?format=csv`, or an `Accept` header that names text/csv
 * (and not JSON first). `?format=json` wins over the header.
 */
export function wantsCsv(request: FastifyRequest, csvPath: boolean): boolean {
  if (csvPath) return true;
  const format = single('format', (request.query as Record<string, QueryValue>).format)?.toLowerCase();
  if (format === 'csv') return true;
  if (format === 'json') return false;
  if (format !== undefined) {
    throw new NexoError('INVALID_ARGS', `format must be csv or json; got '${format.slice(0, 20)}'`, {
      param: 'format',
    });
  }
  const accept = request.headers.accept ?? '';
  const csv = accept.indexOf('text/csv');
  const json = accept.indexOf('application/json');
  return csv !== -1 && (json === -1 || csv < json);
}

/**
 * Streams CSV text as it is produced, a page of rows at a time, pulled by the socket (a slow reader slows the
 * queries, nothing piles up in memory). The first piece is produced before the status is sent, so an error
 * there (an unknown sensor) is still a JSON error with its status; a failure later can only cut the
 * response short, which the client sees as an incomplete transfer.
 */
export async function sendCsv(
  reply: FastifyReply,
  filename: string,
  pieces: AsyncIterable<string>,
): Promise<FastifyReply> {
  const iterator = pieces[Symbol.asyncIterator]();
  const first = await iterator.next();
  async function* rest(): AsyncGenerator<string> {
    try {
      if (first.done) return;
      yield first.value;
      for (;;) {
        const next = await iterator.next();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      await iterator.return?.();
    }
  }
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', contentDisposition(filename))
    .header('cache-control', 'no-store')
    .send(Readable.from(rest(), { objectMode: false }));
}
