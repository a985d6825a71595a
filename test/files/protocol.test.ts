/**
 * files service at the frame level (docs/protocol.md §9 files): a raw peer decides every byte, so malformed,
 * misplaced, oversized and lying chunks, and every limit, are checked exactly as another client would meet
 * them. Real sockets, a real node with its own data directory.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoNode } from '../../src/node/node.js';
import type { ServerOptionsInput } from '../../src/options/options.js';
import { Flags, FrameType } from '../../src/protocol/constants.js';
import type { Frame } from '../../src/protocol/frame.js';
import { unpackValue } from '../../src/protocol/payload.js';
import {
  CHUNK_HEADER_SIZE,
  decodeChunk,
  encodeTrailer,
  hexToBytes,
  writeChunkHeader,
} from '../../src/wire/chunk-format.js';
import { partialSizes, sha256, storedBlobs } from '../helpers/files.js';
import { startNode, textSession } from '../helpers/node.js';
import { RawPeer } from '../helpers/raw-peer.js';

const ADMIN = 'admin-token-0123';

type Node = NexoNode & { port: number };
const nodes: Node[] = [];
async function node(options: ServerOptionsInput = {}): Promise<Node> {
  const n = await startNode({ auth: { tokens: { [ADMIN]: 'admin' } }, ...options });
  nodes.push(n);
  return n;
}
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close({ timeoutMs: 2000 })));
  for (const n of nodes) rmSync(n.options.dataDir, { recursive: true, force: true });
});

function chunkPayload(offset: number, data: Uint8Array, crc = crc32(data)): Uint8Array {
  const out = new Uint8Array(CHUNK_HEADER_SIZE + data.length);
  out.set(data, CHUNK_HEADER_SIZE);
  writeChunkHeader(out, offset, crc);
  return out;
}

/** Sends files.upload and waits for the first reply for it: progress (MORE) or final. */
async function begin(
  peer: RawPeer,
  args: Record<string, unknown>,
): Promise<{
  id: number;
  progress?: { uploadId: string; offset: number; chunkSize: number; maxChunk: number };
  final?: { type: number; value: unknown };
}> {
  const id = peer.request('files', 'upload', args);
  const frame = await nextFor(peer, id);
  if (frame.type === FrameType.RESPONSE && (frame.flags & Flags.MORE) !== 0) {
    return { id, progress: unpackValue(frame.payload) as never };
  }
  return { id, final: { type: frame.type, value: unpackValue(frame.payload) } };
}

/** The next frame for request `id` (other frames stay queued). */
async function nextFor(peer: RawPeer, id: number, timeoutMs = 5000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const i = peer.frames.findIndex((f) => f.id === id);
    if (i !== -1) return peer.frames.splice(i, 1)[0] as Frame;
    if (peer.closed) throw new Error(`connection closed while waiting for a frame of ${id}`);
    if (Date.now() > deadline) throw new Error(`no frame for ${id}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function sendData(peer: RawPeer, id: number, offset: number, data: Uint8Array, crc?: number): void {
  peer.send(FrameType.CHUNK, 0, id, chunkPayload(offset, data, crc));
}

function sendTrailer(peer: RawPeer, id: number, size: number, sha?: string): void {
  peer.send(
    FrameType.CHUNK,
    Flags.END,
    id,
    encodeTrailer(size, sha === undefined ? undefined : hexToBytes(sha), crc32),
  );
}

async function errorOf(
  peer: RawPeer,
  id: number,
): Promise<{ code: string; message: string; details?: Record<string, unknown> }> {
  const reply = await peer.reply(id);
  expect(reply.type, JSON.stringify(reply.value)).toBe(FrameType.ERROR);
  return reply.value as never;
}

/** Uploads `data` in chunks of `chunk` bytes over a raw peer; returns the final reply. */
async function uploadRaw(
  peer: RawPeer,
  name: string,
  data: Uint8Array,
  chunk = 1000,
): Promise<{ type: number; value: Record<string, unknown> }> {
  const started = await begin(peer, { name, size: data.length });
  expect(started.progress?.offset).toBe(0);
  for (let at = 0; at < data.length; at += chunk)
    sendData(peer, started.id, at, data.subarray(at, at + chunk));
  sendTrailer(peer, started.id, data.length, sha256(data));
  return (await peer.reply(started.id)) as never;
}

function data4(): Uint8Array {
  return new TextEncoder().encode('hol!');
}

/** A request id as the 4 bytes of a frame header. */
function id32(id: number): string {
  return id.toString(16).padStart(8, '0');
}

function dataDir(n: Node): string {
  return n.options.dataDir;
}

describe('files.upload at the frame level', () => {
  let n: Node;
  let peer: RawPeer;
  beforeAll(async () => {
    n = await node({ maxFrame: '64KiB' });
    peer = await RawPeer.open(n.port);
  });
  afterAll(() => peer.close());

  it('progress {uploadId, offset 0, chunkSize, maxChunk}, chunks, END trailer → the stored entry', async () => {
    const data = randomBytes(2500);
    const started = await begin(peer, { name: 'tiny.bin', size: data.length, type: 'application/x-test' });
    expect(started.progress).toEqual({
      uploadId: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      offset: 0,
      chunkSize: 64 * 1024 - CHUNK_HEADER_SIZE,
      maxChunk: 64 * 1024 - CHUNK_HEADER_SIZE,
    });
    sendData(peer, started.id, 0, data.subarray(0, 1000));
    sendData(peer, started.id, 1000, data.subarray(1000, 2000));
    sendData(peer, started.id, 2000, data.subarray(2000));
    sendTrailer(peer, started.id, data.length, sha256(data));
    const reply = await peer.reply(started.id);
    expect(reply.type).toBe(FrameType.RESPONSE);
    expect(reply.value).toEqual({
      id: expect.stringMatching(/^[a-z2-7]{16}$/),
      name: 'tiny.bin',
      size: 2500,
      sha256: sha256(data),
      type: 'application/x-test',
      uploader: 'anonymous@127.0.0.1',
      uploadedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      deduplicated: false,
    });
    expect(storedBlobs(dataDir(n))).toContain(sha256(data));
  });

  it('an empty file is just the trailer at offset 0', async () => {
    const started = await begin(peer, { name: 'empty.txt', size: 0, sha256: sha256(new Uint8Array(0)) });
    expect(started.progress?.offset).toBe(0);
    sendTrailer(peer, started.id, 0);
    const reply = await peer.reply(started.id);
    expect(reply.value).toMatchObject({
      size: 0,
      sha256: sha256(new Uint8Array(0)),
      type: 'text/plain'.replace(/.*/, 'application/octet-stream'),
    });
  });

  it('a chunk shorter than its 12-byte header: FILES_BAD_CHUNK with the offset to resume from', async () => {
    const started = await begin(peer, { name: 'short-header', size: 100 });
    sendData(peer, started.id, 0, new Uint8Array(10));
    peer.send(FrameType.CHUNK, 0, started.id, new Uint8Array(5));
    const error = await errorOf(peer, started.id);
    expect(error).toMatchObject({ code: 'FILES_BAD_CHUNK', details: { offset: 10 } });
    expect(error.message).toMatch(/12-byte header/);
  });

  it('a chunk for the wrong offset (a gap, or a repeat) is refused, naming the expected offset', async () => {
    const gap = await begin(peer, { name: 'gap', size: 100 });
    sendData(peer, gap.id, 50, new Uint8Array(10));
    expect(await errorOf(peer, gap.id)).toMatchObject({
      code: 'FILES_BAD_CHUNK',
      details: { offset: 0, got: 50 },
    });

    const repeat = await begin(peer, { name: 'repeat', size: 100 });
    sendData(peer, repeat.id, 0, new Uint8Array(20));
    sendData(peer, repeat.id, 0, new Uint8Array(20));
    const error = await errorOf(peer, repeat.id);
    expect(error).toMatchObject({ code: 'FILES_BAD_CHUNK', details: { offset: 20, got: 0 } });
    expect(error.message).toMatch(/upload is at offset 20/);
  });

  it('a lying size: more bytes than declared is refused before they are written', async () => {
    const data = randomBytes(150);
    const started = await begin(peer, { name: 'liar', size: 100 });
    sendData(peer, started.id, 0, data.subarray(0, 80));
    sendData(peer, started.id, 80, data.subarray(80));
    const error = await errorOf(peer, started.id);
    expect(error).toMatchObject({ code: 'FILES_SIZE_MISMATCH', details: { size: 100, offset: 80 } });
    expect(error.message).toMatch(/declared 100 bytes, but this chunk reaches byte 150/);
    const status = (
      await peer.reply(peer.request('files', 'status', { uploadId: started.progress!.uploadId }))
    ).value;
    expect(status).toMatchObject({ offset: 80, size: 100, state: 'paused' });
  });

  it('an upload that ends before its size fails and stays resumable from where it ended', async () => {
    const data = randomBytes(100);
    const started = await begin(peer, { name: 'early', size: 100 });
    peer.send(FrameType.CHUNK, Flags.END, started.id, chunkPayload(0, data.subarray(0, 60)));
    expect(await errorOf(peer, started.id)).toMatchObject({
      code: 'FILES_SIZE_MISMATCH',
      details: { offset: 60 },
    });
    const resumed = await begin(peer, { name: 'early', size: 100, uploadId: started.progress!.uploadId });
    expect(resumed.progress?.offset).toBe(60);
    sendData(peer, resumed.id, 60, data.subarray(60));
    sendTrailer(peer, resumed.id, 100, sha256(data));
    expect((await peer.reply(resumed.id)).value).toMatchObject({ size: 100, sha256: sha256(data) });
  });

  it('a chunk failing its CRC-32 is refused with the last good offset; resuming continues from it', async () => {
    const data = randomBytes(3000);
    const started = await begin(peer, { name: 'crc.bin', size: data.length });
    sendData(peer, started.id, 0, data.subarray(0, 1000));
    sendData(peer, started.id, 1000, data.subarray(1000, 2000), 12345);
    const error = await errorOf(peer, started.id);
    expect(error).toMatchObject({
      code: 'FILES_CHUNK_CORRUPT',
      details: { uploadId: started.progress!.uploadId, offset: 1000 },
    });
    const resumed = await begin(peer, {
      name: 'crc.bin',
      size: data.length,
      uploadId: started.progress!.uploadId,
    });
    expect(resumed.progress?.offset).toBe(1000);
    sendData(peer, resumed.id, 1000, data.subarray(1000));
    sendTrailer(peer, resumed.id, data.length, sha256(data));
    expect((await peer.reply(resumed.id)).value).toMatchObject({ sha256: sha256(data) });
  });

  it('a wrong whole-file hash stores nothing and discards the upload', async () => {
    const data = randomBytes(2000);
    const wrong = sha256(randomBytes(10));
    const blobsBefore = storedBlobs(dataDir(n));
    const started = await begin(peer, { name: 'wrong-hash.bin', size: data.length });
    sendData(peer, started.id, 0, data);
    sendTrailer(peer, started.id, data.length, wrong);
    const error = await errorOf(peer, started.id);
    expect(error).toMatchObject({
      code: 'FILES_HASH_MISMATCH',
      details: { expected: wrong, actual: sha256(data) },
    });
    expect(error.message).toMatch(/nothing was stored/);
    expect(storedBlobs(dataDir(n))).toEqual(blobsBefore);
    const list = (await peer.reply(peer.request('files', 'list', { prefix: 'wrong-hash' }))).value;
    expect(list).toMatchObject({ files: [], total: 0 });
    expect(existsSync(path.join(dataDir(n), 'files', 'partial', started.progress!.uploadId))).toBe(false);
    const again = await begin(peer, {
      name: 'wrong-hash.bin',
      size: data.length,
      uploadId: started.progress!.uploadId,
    });
    expect(again.final?.value).toMatchObject({ code: 'FILES_UPLOAD_NOT_FOUND' });
  });

  it('a declared hash is checked too; a trailer that contradicts it is refused', async () => {
    const data = randomBytes(500);
    const declared = await begin(peer, { name: 'declared.bin', size: 500, sha256: sha256(randomBytes(5)) });
    sendData(peer, declared.id, 0, data);
    sendTrailer(peer, declared.id, 500);
    expect(await errorOf(peer, declared.id)).toMatchObject({ code: 'FILES_HASH_MISMATCH' });

    // §9.F.7.1 A trailer contradicting the declared hash is a malformed trailer: the bytes stay.
    const both = await begin(peer, { name: 'declared.bin', size: 500, sha256: sha256(data) });
    sendData(peer, both.id, 0, data);
    sendTrailer(peer, both.id, 500, sha256(randomBytes(5)));
    expect(await errorOf(peer, both.id)).toEqual({
      code: 'FILES_BAD_CHUNK',
      message: expect.stringMatching(/declared/),
      details: { offset: 500, uploadId: both.progress!.uploadId, sha256: sha256(data) },
    });
    const fixed = await begin(peer, {
      name: 'declared.bin',
      size: 500,
      uploadId: both.progress!.uploadId,
    });
    expect(fixed.progress?.offset).toBe(500);
    sendTrailer(peer, fixed.id, 500, sha256(data));
    expect((await peer.reply(fixed.id)).value).toMatchObject({ size: 500, sha256: sha256(data) });

    const ok = await begin(peer, { name: 'declared.bin', size: 500, sha256: sha256(data).toUpperCase() });
    sendData(peer, ok.id, 0, data);
    sendTrailer(peer, ok.id, 500);
    expect((await peer.reply(ok.id)).value).toMatchObject({ sha256: sha256(data) });
  });

  it('no hash at all (none declared, empty trailer) cannot be verified and is not stored', async () => {
    const started = await begin(peer, { name: 'unverifiable', size: 3 });
    sendData(peer, started.id, 0, new Uint8Array([1, 2, 3]));
    sendTrailer(peer, started.id, 3);
    expect((await errorOf(peer, started.id)).message).toMatch(/no SHA-256 to verify/);
  });

  it('a trailer of the wrong length, or anything after the trailer, is refused', async () => {
    const odd = await begin(peer, { name: 'odd-trailer', size: 0 });
    peer.send(FrameType.CHUNK, Flags.END, odd.id, chunkPayload(0, new Uint8Array(31)));
    expect((await errorOf(peer, odd.id)).message).toMatch(/32-byte SHA-256/);

    const after = await begin(peer, { name: 'after-trailer', size: 0 });
    peer.send(FrameType.CHUNK, 0, after.id, encodeTrailer(0, hexToBytes(sha256(new Uint8Array(0))), crc32));
    peer.send(FrameType.CHUNK, Flags.END, after.id, chunkPayload(0, new Uint8Array(1)));
    expect((await errorOf(peer, after.id)).message).toMatch(/after the END chunk/);
  });

  it('an oversized chunk fails the upload (FRAME_TOO_LARGE) but the bytes before it stay resumable', async () => {
    const own = await RawPeer.open(n.port);
    const data = randomBytes(5000);
    const started = await begin(own, { name: 'oversize.bin', size: data.length });
    sendData(own, started.id, 0, data.subarray(0, 1000));
    own.send(FrameType.CHUNK, 0, started.id, new Uint8Array(64 * 1024 + 1));
    const error = await errorOf(own, started.id);
    expect(error).toMatchObject({ code: 'FRAME_TOO_LARGE', details: { limit: 65536, length: 65537 } });
    await own.closedByServer(); // §4.4.3: the stream cannot be parsed past it
    const resumed = await begin(peer, {
      name: 'oversize.bin',
      size: data.length,
      uploadId: started.progress!.uploadId,
    });
    expect(resumed.progress?.offset).toBe(1000);
    sendData(peer, resumed.id, 1000, data.subarray(1000));
    sendTrailer(peer, resumed.id, data.length, sha256(data));
    expect((await peer.reply(resumed.id)).value).toMatchObject({ sha256: sha256(data) });
  });

  it('hostile arguments are refused before anything is stored', async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ name: '', size: 1 }, 'FILES_NAME_INVALID', /empty/],
      [{ name: 'x'.repeat(10 * 1024), size: 1 }, 'FILES_NAME_INVALID', /10240 bytes/],
      [{ name: 'a\u0000b', size: 1 }, 'FILES_NAME_INVALID', /U\+0000/],
      [{ name: 'ok', size: -1 }, 'INVALID_ARGS', /size/],
      [{ name: 'ok', size: 1.5 }, 'INVALID_ARGS', /size/],
      [{ name: 'ok', size: 2 ** 60 }, 'INVALID_ARGS', /size/],
      [{ name: 'ok', size: 1, sha256: 'abc' }, 'INVALID_ARGS', /sha256/],
      [{ name: 'ok', size: 1, uploadId: '../../../../etc/passwd' }, 'INVALID_ARGS', /uploadId/],
      [
        { name: 'ok', size: 1, uploadId: 'AAAAAAAAAAAAAAAAAAAAAA' },
        'FILES_UPLOAD_NOT_FOUND',
        /unknown or expired/,
      ],
      [{ name: 'ok', size: 1, type: 'not a type' }, 'INVALID_ARGS', /media type/],
      [{ name: 'ok', size: 1, path: '/etc' }, 'INVALID_ARGS', /args/],
      [{ name: 7, size: 1 }, 'INVALID_ARGS', /name/],
    ];
    const partialsBefore = partialSizes(dataDir(n)).length;
    for (const [args, code, message] of cases) {
      const started = await begin(peer, args);
      expect(started.progress, JSON.stringify(args).slice(0, 80)).toBeUndefined();
      expect(started.final?.value).toMatchObject({ code, message: expect.stringMatching(message) });
    }
    expect(partialSizes(dataDir(n)).length).toBe(partialsBefore);
  });

  it('a resumed upload must describe the same file', async () => {
    const started = await begin(peer, { name: 'same.bin', size: 10 });
    peer.send(FrameType.CANCEL, 0, started.id);
    await peer.reply(started.id);
    const other = await begin(peer, { name: 'same.bin', size: 11, uploadId: started.progress!.uploadId });
    expect(other.final?.value).toMatchObject({
      code: 'FILES_UPLOAD_MISMATCH',
      message: expect.stringMatching(/'same.bin' \(10 bytes\)/),
    });
    const renamed = await begin(peer, { name: 'other.bin', size: 10, uploadId: started.progress!.uploadId });
    expect(renamed.final?.value).toMatchObject({ code: 'FILES_UPLOAD_MISMATCH' });
  });

  it('a newer request for the same upload takes it over (the client reconnected); the older one is told', async () => {
    const data = randomBytes(4000);
    const a = await RawPeer.open(n.port);
    const started = await begin(a, { name: 'takeover.bin', size: data.length });
    sendData(a, started.id, 0, data.subarray(0, 1500));
    await new Promise((r) => setTimeout(r, 50));
    const b = await RawPeer.open(n.port);
    const resumed = await begin(b, {
      name: 'takeover.bin',
      size: data.length,
      uploadId: started.progress!.uploadId,
    });
    expect(resumed.progress?.offset).toBe(1500);
    expect(await errorOf(a, started.id)).toMatchObject({
      code: 'CANCELLED',
      message: expect.stringMatching(/resumed by a newer request/),
    });
    sendData(b, resumed.id, 1500, data.subarray(1500));
    sendTrailer(b, resumed.id, data.length, sha256(data));
    expect((await b.reply(resumed.id)).value).toMatchObject({ sha256: sha256(data) });
    a.close();
    b.close();
  });

  it('two requests resuming the same upload at once: the later wins, the bytes stay right', async () => {
    const data = randomBytes(6000);
    const started = await begin(peer, { name: 'race.bin', size: data.length });
    sendData(peer, started.id, 0, data.subarray(0, 2000));
    await new Promise((r) => setTimeout(r, 50));
    const [b, c] = [await RawPeer.open(n.port), await RawPeer.open(n.port)];
    const args = { name: 'race.bin', size: data.length, uploadId: started.progress!.uploadId };
    const idB = b.request('files', 'upload', args);
    const idC = c.request('files', 'upload', args);
    expect(await errorOf(peer, started.id)).toMatchObject({ code: 'CANCELLED' });
    // One of them is told to stop; the other gets the offset and finishes the upload.
    const outcomes = await Promise.all(
      [
        [b, idB],
        [c, idC],
      ].map(async ([p, id]) => {
        const frame = await nextFor(p as RawPeer, id as number);
        const value = unpackValue(frame.payload) as { offset?: number };
        // A progress reply may still be followed by CANCELLED if the other request replaced this one.
        return { peer: p as RawPeer, id: id as number, offset: value.offset };
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    const winners = outcomes.filter(
      (o) => o.offset !== undefined && !o.peer.frames.some((f) => f.id === o.id),
    );
    expect(winners).toHaveLength(1);
    const winner = winners[0]!;
    expect(winner.offset).toBe(2000);
    sendData(winner.peer, winner.id, 2000, data.subarray(2000));
    sendTrailer(winner.peer, winner.id, data.length, sha256(data));
    expect((await winner.peer.reply(winner.id)).value).toMatchObject({ sha256: sha256(data) });
    b.close();
    c.close();
  });

  it('an upload committed earlier answers its final reply again (the client lost it)', async () => {
    const data = randomBytes(100);
    const started = await begin(peer, { name: 'twice.bin', size: 100 });
    sendData(peer, started.id, 0, data);
    sendTrailer(peer, started.id, 100, sha256(data));
    const first = (await peer.reply(started.id)).value as { id: string };
    const again = await begin(peer, { name: 'twice.bin', size: 100, uploadId: started.progress!.uploadId });
    expect(again.progress).toBeUndefined();
    expect(again.final?.value).toMatchObject({ id: first.id, sha256: sha256(data) });
  });

  it('§9.F.10.1 a committed upload resumed under another name, size or hash: FILES_UPLOAD_MISMATCH', async () => {
    const hola = new TextEncoder().encode('hola');
    const started = await begin(peer, { name: 'hola.txt', size: 4 });
    sendData(peer, started.id, 0, hola);
    sendTrailer(peer, started.id, 4, sha256(hola));
    const entry = (await peer.reply(started.id)).value as { id: string };
    const uploadId = started.progress!.uploadId;
    const renamed = await begin(peer, { name: 'adios.txt', size: 4, uploadId });
    expect(renamed.progress).toBeUndefined();
    expect(renamed.final).toEqual({
      type: FrameType.ERROR,
      value: {
        code: 'FILES_UPLOAD_MISMATCH',
        message: expect.stringMatching(/hola\.txt/),
        details: { name: 'hola.txt', size: 4 },
      },
    });
    const resized = await begin(peer, { name: 'hola.txt', size: 5, uploadId });
    expect(resized.final?.value).toMatchObject({ code: 'FILES_UPLOAD_MISMATCH' });
    const otherHash = await begin(peer, { name: 'hola.txt', size: 4, uploadId, sha256: sha256(data4()) });
    expect(otherHash.final?.value).toMatchObject({
      code: 'FILES_UPLOAD_MISMATCH',
      details: { sha256: sha256(hola) },
    });
    // The same file (NFC, any case of the declared hash) still gets the entry, unchanged.
    const same = await begin(peer, {
      name: 'hola.txt',
      size: 4,
      uploadId,
      sha256: sha256(hola).toUpperCase(),
    });
    expect(same.final?.value).toMatchObject({ id: entry.id, name: 'hola.txt' });
    const list = (await peer.reply(peer.request('files', 'list', { prefix: 'adios' }))).value;
    expect(list).toMatchObject({ total: 0 });
  });

  it('§9.F.8.1 an END chunk before size is data that ends the stream (exact bytes of the spec)', async () => {
    const started = await begin(peer, { name: 'hola.txt', size: 4 });
    const hexBytes = (h: string) => Buffer.from(h.replace(/[\s|]/g, ''), 'hex');
    peer.write(
      hexBytes(`00 00 00 0e 13 01 ${id32(started.id)} | 00 00 00 00 00 00 00 00 | 31 f0 8f 99 | 68 6f`),
    );
    expect(await errorOf(peer, started.id)).toEqual({
      code: 'FILES_SIZE_MISMATCH',
      message: expect.any(String),
      details: { size: 4, offset: 2, uploadId: started.progress!.uploadId },
    });
    const resumed = await begin(peer, { name: 'hola.txt', size: 4, uploadId: started.progress!.uploadId });
    expect(resumed.progress?.offset).toBe(2);
    // Its data reaching size exactly completes the data: verified against the declared hash, no trailer.
    const hola = new TextEncoder().encode('hola');
    const folded = await begin(peer, { name: 'folded.txt', size: 4, sha256: sha256(hola) });
    peer.send(FrameType.CHUNK, Flags.END, folded.id, chunkPayload(0, hola));
    expect((await peer.reply(folded.id)).value).toMatchObject({ name: 'folded.txt', sha256: sha256(hola) });
    // None declared: no hash (FILES_BAD_CHUNK), and a resume from size sends only the trailer.
    const bare = await begin(peer, { name: 'bare.txt', size: 4 });
    peer.send(FrameType.CHUNK, Flags.END, bare.id, chunkPayload(0, hola));
    expect(await errorOf(peer, bare.id)).toMatchObject({ code: 'FILES_BAD_CHUNK', details: { offset: 4 } });
    const end = await begin(peer, { name: 'bare.txt', size: 4, uploadId: bare.progress!.uploadId });
    expect(end.progress?.offset).toBe(4);
    sendTrailer(peer, end.id, 4, sha256(hola));
    expect((await peer.reply(end.id)).value).toMatchObject({ name: 'bare.txt', size: 4 });
  });
});

describe('files.download at the frame level', () => {
  let n: Node;
  let peer: RawPeer;
  const data = randomBytes(150_000);
  let id: string;
  beforeAll(async () => {
    n = await node({ maxFrame: '64KiB' });
    peer = await RawPeer.open(n.port);
    id = ((await uploadRaw(peer, 'dl.bin', data, 30_000)).value as { id: string }).id;
  });
  afterAll(() => peer.close());

  async function download(args: Record<string, unknown>) {
    const request = peer.request('files', 'download', args);
    const reply = await peer.reply(request);
    return {
      reply,
      progress: reply.others.filter((f) => f.type === FrameType.RESPONSE).map((f) => unpackValue(f.payload)),
      chunks: reply.others.filter((f) => f.type === FrameType.CHUNK),
    };
  }

  it('progress with the metadata and offset, chunks with offset + CRC-32 headers, END trailer with the hash', async () => {
    const { reply, progress, chunks } = await download({ id, offset: 1000 });
    expect(reply.value).toEqual({ bytes: 149_000, offset: 1000, size: 150_000 });
    // §9.F.12.1 One flat map: the entry's fields and offset, nothing nested.
    expect(progress).toEqual([
      {
        id,
        name: 'dl.bin',
        size: 150_000,
        sha256: sha256(data),
        type: 'application/octet-stream',
        uploader: expect.stringMatching(/^anonymous@/),
        uploadedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/),
        offset: 1000,
      },
    ]);
    let expected = 1000;
    const received: Uint8Array[] = [];
    for (const frame of chunks.slice(0, -1)) {
      expect(frame.flags & Flags.END).toBe(0);
      expect(frame.length).toBeLessThanOrEqual(64 * 1024);
      const chunk = decodeChunk(frame.payload, expected);
      expect(chunk.offset).toBe(expected);
      expect(chunk.crc).toBe(crc32(chunk.data));
      received.push(Uint8Array.from(chunk.data));
      expected += chunk.data.length;
    }
    expect(Buffer.concat(received).equals(data.subarray(1000))).toBe(true);
    const last = chunks.at(-1)!;
    expect(last.flags & Flags.END).toBe(Flags.END);
    const trailer = decodeChunk(last.payload, expected);
    expect(trailer.offset).toBe(150_000);
    expect(Buffer.from(trailer.data).toString('hex')).toBe(sha256(data));
  });

  it('by name (the newest with it) and by content hash; offset = size sends only the trailer', async () => {
    const newer = randomBytes(10);
    await uploadRaw(peer, 'dl.bin', newer);
    expect((await download({ name: 'dl.bin' })).progress[0]).toMatchObject({ sha256: sha256(newer) });
    expect((await download({ sha256: sha256(data) })).progress[0]).toMatchObject({ id });
    const atEnd = await download({ id, offset: 150_000 });
    expect(atEnd.chunks).toHaveLength(1);
    expect(atEnd.reply.value).toMatchObject({ bytes: 0 });
  });

  it('refuses what cannot be served, clearly', async () => {
    expect((await download({ id, offset: 150_001 })).reply.value).toMatchObject({
      code: 'INVALID_ARGS',
      message: expect.stringMatching(/past the end/),
    });
    expect((await download({ id: 'aaaaaaaaaaaaaaaa' })).reply.value).toMatchObject({
      code: 'FILES_NOT_FOUND',
    });
    expect((await download({ name: 'nope' })).reply.value).toMatchObject({
      code: 'FILES_NOT_FOUND',
      message: "no file is named 'nope'",
    });
    expect((await download({ id, name: 'dl.bin' })).reply.value).toMatchObject({
      code: 'INVALID_ARGS',
      message: expect.stringMatching(/exactly one/),
    });
    expect((await download({})).reply.value).toMatchObject({ code: 'INVALID_ARGS' });
    expect((await download({ id: '../etc/passwd' })).reply.value).toMatchObject({ code: 'INVALID_ARGS' });
  });
});

describe('limits are refused before the client sends a byte', () => {
  it('max file size', async () => {
    const n = await node({ files: { maxFileSize: '1MiB' } });
    const peer = await RawPeer.open(n.port);
    const started = await begin(peer, { name: 'big', size: 1024 * 1024 + 1 });
    expect(started.progress).toBeUndefined();
    expect(started.final?.value).toMatchObject({
      code: 'FILES_TOO_LARGE',
      message: 'the file is 1.0 MiB; this node accepts files up to 1.0 MiB',
      details: { limit: 1048576, size: 1048577 },
    });
    expect((await begin(peer, { name: 'fits', size: 1024 * 1024 })).progress?.offset).toBe(0);
    peer.close();
  });

  it('quota: stored content (once per hash) plus unfinished uploads', async () => {
    const n = await node({ files: { quota: 10_000 } });
    const peer = await RawPeer.open(n.port);
    const data = randomBytes(6000);
    expect((await uploadRaw(peer, 'a', data)).type).toBe(FrameType.RESPONSE);
    // The same content again costs nothing more, but only a declared hash can tell before the bytes come.
    expect((await begin(peer, { name: 'a-copy', size: 6000 })).final?.value).toMatchObject({
      code: 'FILES_QUOTA_EXCEEDED',
    });
    const copy = await begin(peer, { name: 'a-copy', size: 6000, sha256: sha256(data) });
    sendData(peer, copy.id, 0, data);
    sendTrailer(peer, copy.id, 6000);
    expect((await peer.reply(copy.id)).value).toMatchObject({ deduplicated: true });
    const refused = await begin(peer, { name: 'b', size: 4001 });
    expect(refused.final?.value).toMatchObject({
      code: 'FILES_QUOTA_EXCEEDED',
      details: { quota: 10_000, used: 6000, size: 4001 },
    });
    const open = await begin(peer, { name: 'c', size: 3000 }); // reserved while unfinished
    expect(open.progress?.offset).toBe(0);
    expect((await begin(peer, { name: 'd', size: 1001 })).final?.value).toMatchObject({
      code: 'FILES_QUOTA_EXCEEDED',
      details: { used: 9000 },
    });
    peer.close();
  });

  it('concurrent uploads per node; a slot frees when one ends', async () => {
    const n = await node({ files: { maxUploads: 2 } });
    const peer = await RawPeer.open(n.port);
    const one = await begin(peer, { name: 'one', size: 3, sha256: sha256(new Uint8Array(3)) });
    const two = await begin(peer, { name: 'two', size: 3 });
    expect(one.progress && two.progress).toBeTruthy();
    const three = await begin(peer, { name: 'three', size: 3 });
    expect(three.final?.value).toMatchObject({ code: 'FILES_TOO_MANY_UPLOADS', details: { limit: 2 } });
    sendData(peer, one.id, 0, new Uint8Array(3));
    sendTrailer(peer, one.id, 3);
    expect((await peer.reply(one.id)).type).toBe(FrameType.RESPONSE);
    expect((await begin(peer, { name: 'four', size: 3 })).progress?.offset).toBe(0);
    peer.close();
  });

  it('an upload that stalls fails with TIMEOUT after the stall timeout and stays resumable', async () => {
    const n = await node({ files: { stallTimeout: '1s' } });
    const peer = await RawPeer.open(n.port);
    const started = await begin(peer, { name: 'stalled', size: 100 });
    sendData(peer, started.id, 0, new Uint8Array(40));
    const t0 = Date.now();
    const error = await errorOf(peer, started.id);
    expect(error).toMatchObject({ code: 'TIMEOUT', details: { uploadId: started.progress!.uploadId } });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(700);
    expect(
      (await begin(peer, { name: 'stalled', size: 100, uploadId: started.progress!.uploadId })).progress
        ?.offset,
    ).toBe(40);
    peer.close();
  });

  it('unfinished uploads expire after partialExpiry: record and bytes are gone', async () => {
    const n = await node({ files: { partialExpiry: '1s' } });
    const peer = await RawPeer.open(n.port);
    const started = await begin(peer, { name: 'abandoned', size: 100 });
    sendData(peer, started.id, 0, new Uint8Array(40));
    await new Promise((r) => setTimeout(r, 100));
    peer.close(); // the client goes away for good
    const uploadId = started.progress!.uploadId;
    const partial = path.join(dataDir(n), 'files', 'partial', uploadId);
    expect(existsSync(partial)).toBe(true);
    const deadline = Date.now() + 6000;
    while (existsSync(partial) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(partial)).toBe(false);
    const other = await RawPeer.open(n.port);
    const status = await other.reply(other.request('files', 'status', { uploadId }));
    expect(status.value).toMatchObject({ code: 'FILES_UPLOAD_NOT_FOUND' });
    other.close();
  });
});

describe('list, info, delete and roles', () => {
  it('delete needs a role allowed to (admin by default); shared content stays until its last entry goes', async () => {
    const n = await node();
    const anonymous = await RawPeer.open(n.port);
    const admin = await RawPeer.open(n.port, { versions: [1], token: ADMIN });
    const data = randomBytes(1000);
    const a = (await uploadRaw(anonymous, 'shared-a', data)).value as { id: string };
    const b = (await uploadRaw(anonymous, 'shared-b', data)).value as { id: string };
    expect(storedBlobs(dataDir(n))).toEqual([sha256(data)]);
    const forbidden = await anonymous.reply(anonymous.request('files', 'delete', { id: a.id }));
    expect(forbidden.value).toMatchObject({ code: 'FORBIDDEN', details: { required: ['admin'] } });
    const first = await admin.reply(admin.request('files', 'delete', { id: a.id }));
    expect(first.value).toMatchObject({ deleted: { id: a.id }, contentRemoved: false });
    expect(storedBlobs(dataDir(n))).toEqual([sha256(data)]);
    const second = await admin.reply(admin.request('files', 'delete', { name: 'shared-b' }));
    expect(second.value).toMatchObject({ deleted: { id: b.id }, contentRemoved: true });
    expect(storedBlobs(dataDir(n))).toEqual([]);
    expect((await admin.reply(admin.request('files', 'info', { id: b.id }))).value).toMatchObject({
      code: 'FILES_NOT_FOUND',
    });
    const bySha = await admin.reply(admin.request('files', 'delete', { sha256: sha256(data) }));
    expect(bySha.value).toMatchObject({
      code: 'INVALID_ARGS',
      message: expect.stringMatching(/by id or name/),
    });
    anonymous.close();
    admin.close();
  });

  it('a name several files share is ambiguous for delete (the ids are listed) but means the newest elsewhere', async () => {
    const n = await node();
    const admin = await RawPeer.open(n.port, { versions: [1], token: ADMIN });
    const older = (await uploadRaw(admin, 'dup.txt', randomBytes(10))).value as { id: string };
    const newer = (await uploadRaw(admin, 'dup.txt', randomBytes(10))).value as { id: string };
    const info = await admin.reply(admin.request('files', 'info', { name: 'dup.txt' }));
    expect(info.value).toMatchObject({ id: newer.id });
    const ambiguous = await admin.reply(admin.request('files', 'delete', { name: 'dup.txt' }));
    expect(ambiguous.value).toMatchObject({
      code: 'FILES_AMBIGUOUS',
      details: { ids: [newer.id, older.id], count: 2 },
    });
    admin.close();
  });

  it('list pages newest first and filters by prefix; roles for reading and writing are settings', async () => {
    const n = await node({ files: { readRoles: ['admin'], writeRoles: ['admin'] } });
    const anonymous = await RawPeer.open(n.port);
    const admin = await RawPeer.open(n.port, { versions: [1], token: ADMIN });
    expect((await anonymous.reply(anonymous.request('files', 'list', null))).value).toMatchObject({
      code: 'FORBIDDEN',
    });
    expect((await begin(anonymous, { name: 'x', size: 1 })).final?.value).toMatchObject({
      code: 'FORBIDDEN',
    });
    for (const name of ['r-1', 'r-2', 'other', 'r-3']) await uploadRaw(admin, name, randomBytes(5));
    const page = (await admin.reply(admin.request('files', 'list', { limit: 2, prefix: 'r-' }))).value;
    expect(page).toMatchObject({ total: 3, limit: 2, offset: 0, files: [{ name: 'r-3' }, { name: 'r-2' }] });
    const next = (await admin.reply(admin.request('files', 'list', { limit: 2, offset: 2, prefix: 'r-' })))
      .value;
    expect(next).toMatchObject({ files: [{ name: 'r-1' }] });
    expect((await admin.reply(admin.request('files', 'list', { limit: 0 }))).value).toMatchObject({
      code: 'INVALID_ARGS',
    });
    anonymous.close();
    admin.close();
  });

  it('text mode lists files for nc users', async () => {
    const n = await node();
    const peer = await RawPeer.open(n.port);
    const entry = (await uploadRaw(peer, 'vídeo de prueba.mp4', randomBytes(2048))).value as { id: string };
    peer.close();
    const out = await textSession(n.port, `files\nfiles zzz\nfiles ${'\u00e9'.repeat(3000)}\nquit\n`);
    expect(out).toContain(`${entry.id}    2.0 KiB  vídeo de prueba.mp4\n`);
    expect(out).toMatch(/vídeo de prueba\.mp4\nno files\nno files\n$/);
  });
});

describe('a client that goes away mid-upload', () => {
  it('half-closing before the END chunk ends the upload at once (resumable) and the connection closes', async () => {
    const n = await node();
    const peer = await RawPeer.open(n.port);
    const started = await begin(peer, { name: 'half-closed', size: 100 });
    sendData(peer, started.id, 0, new Uint8Array(30));
    await new Promise((r) => setTimeout(r, 50));
    peer.socket.end();
    const error = await errorOf(peer, started.id);
    expect(error).toMatchObject({
      code: 'CONNECTION_LOST',
      message: expect.stringMatching(/before ending its upload/),
    });
    await peer.closedByServer(2000);
    const other = await RawPeer.open(n.port);
    const status = await other.reply(
      other.request('files', 'status', { uploadId: started.progress!.uploadId }),
    );
    expect(status.value).toMatchObject({ state: 'paused', offset: 30 });
    other.close();
  });
});

describe('unknown frames on a files request', () => {
  it('chunks for a request that already failed are dropped silently (§6.4.3)', async () => {
    const n = await node();
    const peer = await RawPeer.open(n.port);
    const started = await begin(peer, { name: 'late', size: 10 });
    sendData(peer, started.id, 5, new Uint8Array(5));
    await errorOf(peer, started.id);
    for (let i = 0; i < 20; i++) sendData(peer, started.id, 0, new Uint8Array(100));
    expect(await peer.reply(peer.request('echo', 'echo', 'still here'))).toMatchObject({
      value: 'still here',
    });
    expect(peer.frames.filter((f) => f.id === started.id)).toEqual([]);
    peer.close();
  });
});
