import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Flags, FrameType } from '../../src/protocol/constants.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { packValue } from '../../src/protocol/payload.js';
import { CHUNK_HEADER_SIZE, encodeTrailer, writeChunkHeader } from '../../src/wire/chunk-format.js';
import type { ExampleStep } from '../protocol/examples.js';

/**
 * The upload example of docs/protocol.md §9 (files), as exact bytes: a 4-byte file "hola" in one data chunk.
 * The doc's hex dump is generated from this list and test/files/docs.test.ts checks it still matches.
 */
const data = new TextEncoder().encode('hola');
const sha256 = createHash('sha256').update(data).digest();
const dataChunk = new Uint8Array(CHUNK_HEADER_SIZE + data.length);
dataChunk.set(data, CHUNK_HEADER_SIZE);
writeChunkHeader(dataChunk, 0, crc32(data));

export const FILES_EXAMPLE: ExampleStep[] = [
  {
    dir: 'C→S',
    note: 'REQUEST id=7 ["files","upload",{name:"hola.txt",size:4}]',
    bytes: encodeFrame(
      FrameType.REQUEST,
      0,
      7,
      packValue(['files', 'upload', { name: 'hola.txt', size: 4 }]),
    ),
  },
  {
    dir: 'S→C',
    note: 'RESPONSE id=7 flags=MORE {uploadId:"0Tl8n2cS4eyV-s9QhZb1Xw", offset:0, chunkSize:262144, maxChunk:1048564}',
    bytes: encodeFrame(
      FrameType.RESPONSE,
      Flags.MORE,
      7,
      packValue({ uploadId: '0Tl8n2cS4eyV-s9QhZb1Xw', offset: 0, chunkSize: 262144, maxChunk: 1048564 }),
    ),
  },
  {
    dir: 'C→S',
    note: 'CHUNK id=7: offset 0, CRC-32 of "hola" = 6fa0f988, data "hola"',
    bytes: encodeFrame(FrameType.CHUNK, 0, 7, dataChunk),
  },
  {
    dir: 'C→S',
    note: 'CHUNK id=7 flags=END: the trailer, offset 4 (= size), CRC-32 of the hash, SHA-256("hola")',
    bytes: encodeFrame(FrameType.CHUNK, Flags.END, 7, encodeTrailer(4, sha256, crc32)),
  },
];
