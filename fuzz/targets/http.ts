import http from 'node:http';
import fc from 'fast-check';
import { parseRange } from '../../src/http/range.js';
import { assert, type FuzzTarget, mutated } from '../engine.js';
import { fuzzNode } from '../node.js';

const spec = fc.oneof(
  fc.tuple(fc.option(fc.nat({ max: 5000 })), fc.option(fc.nat({ max: 5000 }))).map(([a, b]) => `${a ?? ''}-${b ?? ''}`),
  fc.tuple(fc.maxSafeNat(), fc.maxSafeNat()).map(([a, b]) => `${a}-${b}`),
  fc.stringMatching(/^[0-9 -]{0,20}$/),
  fc.string({ maxLength: 12 }),
);
const ws = fc.constantFrom('', ' ', '  ', '\t');
const header = fc.oneof(
  fc
    .tuple(fc.constantFrom('bytes', 'Bytes', 'items', 'bytes '), ws, fc.array(fc.tuple(ws, spec), { maxLength: 20 }))
    .map(([unit, w, specs]) => `${unit}${w}=${specs.map(([s, x]) => `${s}${x}`).join(',')}`),
  fc.string({ maxLength: 60 }),
  fc.string({ maxLength: 1100, unit: 'binary-ascii' }),
);

/**
 * HTTP Range (RFC 9110 §14, src/http/range.ts): never throws; a partial answer is inside the file; a single
 * well-formed range inside the file is served as asked.
 */
export const httpRange: FuzzTarget<{ header: string | undefined; size: number }> = {
  name: 'http-range',
  arbitrary: fc.record({
    header: fc.option(header, { nil: undefined }),
    size: fc.oneof(fc.nat({ max: 6000 }), fc.maxSafeNat()),
  }),
  check({ header, size }) {
    const r = parseRange(header, size);
    if (r.kind === 'partial') {
      assert(
        Number.isSafeInteger(r.start) && Number.isSafeInteger(r.end) && r.start >= 0 && r.start <= r.end && r.end < size,
        `partial range [${r.start}, ${r.end}] outside a file of ${size}`,
      );
    }
    const single = header === undefined ? null : /^bytes=(\d{1,15})-(\d{1,15})$/.exec(header);
    if (single !== null) {
      const a = Number(single[1]);
      const b = Number(single[2]);
      if (a <= b && a < size) {
        assert(r.kind === 'partial' && r.start === a && r.end === Math.min(b, size - 1), `bytes=${a}-${b} of ${size}`);
      }
    }
  },
};

// ---- multipart, over a real socket ------------------------------------------------------------------

const BOUNDARY = 'fuzzBoundary7MA4YWxkTrZu0gW';

const part = fc.oneof(
  fc.record({
    headers: fc.constantFrom(
      'Content-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain',
      'Content-Disposition: form-data; name="file"; filename="../../etc/x"',
      'Content-Disposition: form-data; name="file"; filename*=UTF-8\'\'%E2%82%AC.bin',
      'Content-Disposition: form-data; name="name"',
      'Content-Disposition: form-data; name="type"',
      'Content-Disposition: form-data; name="sha256"',
      'Content-Disposition: form-data; name="__proto__"',
      'Content-Disposition: form-data; name="constructor"',
      'Content-Disposition: form-data',
      'Content-Type: text/plain',
    ),
    body: fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.constantFrom('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'x'.repeat(70)),
    ),
  }),
  fc.record({ headers: fc.string({ maxLength: 60 }), body: fc.string({ maxLength: 40 }) }),
);

const body = fc
  .tuple(fc.array(part, { maxLength: 5 }), fc.boolean())
  .map(([parts, close]) =>
    Buffer.from(
      `${parts.map((p) => `--${BOUNDARY}\r\n${p.headers}\r\n\r\n${p.body}\r\n`).join('')}${close ? `--${BOUNDARY}--\r\n` : ''}`,
    ),
  );

interface MultipartInput {
  body: Uint8Array;
  contentType: string;
  query: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
let httpNode: { port: number; stop(): Promise<void> } | undefined;
let httpPort = 0;

function post(port: number, input: MultipartInput): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port,
        agent,
        method: 'POST',
        path: `/api/files${input.query}`,
        headers: { 'content-type': input.contentType, 'content-length': input.body.length },
        timeout: 4000,
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (d: string) => (text += d));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        response.on('error', reject);
      },
    );
    request.on('timeout', () => request.destroy(new Error('no answer within 4 s')));
    request.on('error', reject);
    request.end(input.body);
  });
}

/**
 * POST /api/files with multipart bodies made and mutated at random (docs/http.md): every answer is 201 or
 * a 4xx with a registry code in a JSON body, never a 5xx or no answer.
 */
export const multipart: FuzzTarget<MultipartInput> = {
  name: 'multipart',
  hangMs: 5000,
  arbitrary: fc.record({
    body: fc.oneof(body, mutated(body, 6), fc.uint8Array({ maxLength: 200 })),
    contentType: fc.oneof(
      fc.constant(`multipart/form-data; boundary=${BOUNDARY}`),
      fc.constantFrom('multipart/form-data', 'multipart/form-data; boundary=', 'text/plain', `multipart/mixed; boundary=${BOUNDARY}`),
      fc.string({ maxLength: 40, unit: 'binary-ascii' }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
    ),
    query: fc.constantFrom('', '?name=q.txt', '?sha256=00', '?name=a&name=b', '?type=text%2Fplain'),
  }),
  async setup() {
    const started = await fuzzNode({ http: { enabled: true, port: 0, host: '127.0.0.1' } });
    httpNode = started;
    httpPort = started.node.httpAddress()!.port;
  },
  async teardown() {
    agent.destroy();
    await httpNode?.stop();
  },
  async check(input) {
    const { status, text } = await post(httpPort, input);
    assert(status < 500 && status >= 200, `status ${status}: ${text.slice(0, 300)}`);
    if (status >= 400) {
      const parsed = JSON.parse(text) as { error?: { code?: string } };
      assert(typeof parsed.error?.code === 'string', `4xx without an error code: ${text.slice(0, 200)}`);
    }
  },
};
