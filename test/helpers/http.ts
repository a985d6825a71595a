import net from 'node:net';
import { expect } from 'vitest';

/** What came back on a raw HTTP connection: status line, headers, body (as text). */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  raw: string;
}

/**
 * Sends `request` bytes exactly as given (no client library to fix them up: `..` in paths, broken headers)
 * and reads until the server closes or `timeoutMs` passes. For requests fetch() would refuse or normalise.
 */
export function rawHttp(port: number, request: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => socket.write(request));
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer in ${timeoutMs} ms; got: ${JSON.stringify(data.slice(0, 300))}`));
    }, timeoutMs);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
      const parsed = parse(data);
      if (parsed !== undefined) {
        clearTimeout(timer);
        socket.destroy();
        resolve(parsed);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parse(data, true) ?? { status: 0, headers: {}, body: '', raw: data });
    });
  });
}

function parse(data: string, closed = false): RawResponse | undefined {
  const end = data.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine = '', ...lines] = data.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = data.slice(end + 4);
  const length = headers['content-length'];
  if (length !== undefined && Buffer.byteLength(body, 'latin1') < Number(length)) return undefined;
  if (
    length === undefined &&
    !closed &&
    headers['transfer-encoding'] === 'chunked' &&
    !body.endsWith('0\r\n\r\n')
  )
    return undefined;
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  return { status, headers, body: Buffer.from(body, 'latin1').toString('utf8'), raw: data };
}

/** Opens a TCP connection and leaves it idle. */
export function idleConnection(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' }, () => resolve(socket));
    socket.on('error', () => {});
    socket.once('error', reject);
  });
}

/** POSTs `body` as JSON and expects 200 (the response text is the failure message otherwise). */
export async function postJson(url: string, body: unknown): Promise<void> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.text()).toBe(200);
}
