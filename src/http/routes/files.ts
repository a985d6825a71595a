import { Readable } from 'node:stream';
import fastifyMultipart, { type MultipartFile } from '@fastify/multipart';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { NexoError, toNexoError } from '../../errors.js';
import { type FilesLocalApi, filesLocalApi } from '../../services/files/index.js';
import type { BlobReader } from '../../services/files/store.js';
import { clip } from '../../util/clip.js';
import { guessMediaType } from '../../util/media-types.js';
import {
  ENTRY_ID_PATTERN,
  type FileEntry,
  type FileRef,
  SHA256_PATTERN,
  type UploadCommitted,
} from '../../wire/files.js';
import { contentDisposition } from '../content-disposition.js';
import { integer, type QueryValue, single } from '../query.js';
import { parseRange } from '../range.js';
import type { RestContext, RestModule } from '../types.js';
import { sendJson } from './api.js';

type Query = Record<string, QueryValue>;
interface FileParams {
  file: string;
}

const ENTRY_ID = new RegExp(ENTRY_ID_PATTERN);
const SHA256 = new RegExp(SHA256_PATTERN);
/** Bytes read from the store per read while a download streams. */
const READ_SIZE = 256 * 1024;
/** What a multipart body may add around its file, beyond which a Content-Length over the file limit is refused. */
const MULTIPART_SLACK = 64 * 1024;
/** Files per multipart request; fields (name, type, sha256 before each file) per request. */
const MAX_FILES = 100;
const MAX_FIELDS = 3 * MAX_FILES;

/**
 * Files for curl users and browsers (docs/http.md). Uploads stream into the files service's own upload
 * machinery (admission, ordered appends, running SHA-256, atomic commit; nothing is buffered whole);
 * downloads read the stored content by range. Lists, lookups and deletes are the service's methods, with
 * its roles (`files.readRoles`, `files.writeRoles`, `files.deleteRoles`; `Authorization: Bearer <token>`).
 *
 *   GET    /api/files?prefix=&limit=&offset=     list, newest first
 *   POST   /api/files                            multipart/form-data upload, one or more files
 *   GET    /api/files/<id|name>                  the entry (JSON)
 *   GET    /api/files/<id|name>/content          the bytes: Range, If-Range, ETag, HEAD
 *   DELETE /api/files/<id|name>                  delete
 *   GET    /api/files/usage                      space used and allowed
 *   GET    /api/files/uploads/<uploadId>         how far an unfinished protocol upload got
 */
export const filesRest: RestModule = {
  service: 'files',
  register(context) {
    const { app, call, node } = context;
    const local = filesLocalApi(node.dispatcher.services.find((s) => s.name === 'files'));

    app.get<{ Querystring: Query }>('/api/files', async (request, reply) => {
      const q = request.query;
      const args: Record<string, unknown> = {};
      const prefix = single('prefix', q.prefix);
      const limit = integer('limit', q.limit, 1, 1000);
      const offset = integer('offset', q.offset);
      if (prefix !== undefined) args.prefix = prefix;
      if (limit !== undefined) args.limit = limit;
      if (offset !== undefined) args.offset = offset;
      return sendJson(reply, await call(request, 'files', 'list', args));
    });
    app.get('/api/files/usage', async (request, reply) =>
      sendJson(reply, await call(request, 'files', 'usage', null)),
    );
    app.get<{ Params: { uploadId: string } }>('/api/files/uploads/:uploadId', async (request, reply) =>
      sendJson(reply, await call(request, 'files', 'status', { uploadId: request.params.uploadId })),
    );
    app.get<{ Params: FileParams }>('/api/files/:file', async (request, reply) =>
      sendJson(reply, await entryOf(context, request, request.params.file)),
    );
    app.delete<{ Params: FileParams }>('/api/files/:file', async (request, reply) =>
      sendJson(
        reply,
        await call(request, 'files', 'delete', await refOf(context, request, request.params.file)),
      ),
    );
    // HEAD is its own route (declared first, so fastify does not derive one from GET): the derived one would
    // read the whole file to throw it away, and report no length.
    for (const method of ['HEAD', 'GET'] as const) {
      app.route<{ Params: FileParams }>({
        method,
        url: '/api/files/:file/content',
        handler: async (request, reply) => {
          if (local === undefined) throw notServed();
          return sendContent(context, local, request, reply);
        },
      });
    }

    // Multipart parsing only for the upload route: elsewhere a multipart body stays 415.
    app.register(async (scope) => {
      await scope.register(fastifyMultipart, { throwFileSizeLimit: true });
      scope.post<{ Querystring: Query }>(
        '/api/files',
        { config: { streamingBody: true } },
        async (request, reply) => {
          if (local === undefined) throw notServed();
          return receiveUpload(context, local, request, reply);
        },
      );
    });
  },
};

function notServed(): NexoError {
  return new NexoError('NOT_FOUND', 'this node runs a files service without HTTP transfers');
}

// ---- lookups -------------------------------------------------------------------------------------

/** `<id|name>` of a path: an id when it looks like one and exists, else a name (as `nexo download` reads it). */
async function entryOf(context: RestContext, request: FastifyRequest, file: string): Promise<FileEntry> {
  if (ENTRY_ID.test(file)) {
    try {
      return (await context.call(request, 'files', 'info', { id: file })) as FileEntry;
    } catch (err) {
      if ((err as NexoError).code !== 'FILES_NOT_FOUND') throw err;
    }
  }
  return (await context.call(request, 'files', 'info', { name: file })) as FileEntry;
}

async function refOf(context: RestContext, request: FastifyRequest, file: string): Promise<FileRef> {
  if (ENTRY_ID.test(file)) {
    try {
      await context.call(request, 'files', 'info', { id: file });
      return { id: file };
    } catch (err) {
      if ((err as NexoError).code !== 'FILES_NOT_FOUND') throw err;
    }
  }
  return { name: file };
}

// ---- download ------------------------------------------------------------------------------------

async function sendContent(
  context: RestContext,
  local: FilesLocalApi,
  request: FastifyRequest<{ Params: FileParams }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const entry = await entryOf(context, request, request.params.file);
  const etag = `"${entry.sha256}"`;
  const modified = new Date(entry.uploadedAt).toUTCString();
  let range = parseRange(request.headers.range, entry.size);
  const ifRange = request.headers['if-range'];
  if (range.kind !== 'full' && ifRange !== undefined && !ifRangeHolds(String(ifRange), etag, modified)) {
    range = { kind: 'full' }; // the file changed since the client's copy: the whole of it
  }
  if (range.kind === 'unsatisfiable' && !etagMatches(request.headers['if-none-match'], entry.sha256)) {
    reply.header('content-range', `bytes */${entry.size}`);
    throw new NexoError(
      'RANGE_NOT_SATISFIABLE',
      `the range starts at or past the end of '${clip(entry.name, 60)}' (${entry.size} bytes)`,
      { size: entry.size },
    );
  }
  reply
    .header('etag', etag)
    .header('last-modified', modified)
    .header('accept-ranges', 'bytes')
    .header('cache-control', 'no-cache')
    // Stored files are whatever someone uploaded (HTML and scripts too): always saved, never run as the node's.
    .header('content-security-policy', "default-src 'none'; sandbox")
    .header('content-disposition', contentDisposition(entry.name));
  if (etagMatches(request.headers['if-none-match'], entry.sha256)) return reply.code(304).send();
  const start = range.kind === 'partial' ? range.start : 0;
  const end = range.kind === 'partial' ? range.end + 1 : entry.size;
  reply.type(entry.type).header('content-length', String(end - start));
  if (range.kind === 'partial') {
    reply.code(206).header('content-range', `bytes ${start}-${end - 1}/${entry.size}`);
  }
  if (request.method === 'HEAD') return reply.send();
  const reader = await local.openContent(entry);
  return reply.send(contentStream(reader, start, end));
}

/** `If-None-Match: "<sha256>"` (or `*`, or a list; weak tags compare by their value). */
function etagMatches(header: string | undefined, sha256: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === `"${sha256}"`);
}

/** If-Range: a strong entity tag equal to ours, or exactly our Last-Modified date. */
function ifRangeHolds(header: string, etag: string, modified: string): boolean {
  const value = header.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === etag;
  return value === modified;
}

/** Bytes [start, end) of stored content, read as the socket takes them (one read of 256 KiB at a time). */
function contentStream(reader: BlobReader, start: number, end: number): Readable {
  let position = start;
  return new Readable({
    highWaterMark: READ_SIZE,
    read() {
      if (position >= end) {
        this.push(null);
        return;
      }
      const buffer = Buffer.allocUnsafe(Math.min(READ_SIZE, end - position));
      reader.read(buffer, 0, buffer.length, position).then(
        (n) => {
          if (n === 0) {
            this.destroy(new NexoError('INTERNAL_ERROR', `stored file ended early at byte ${position}`));
            return;
          }
          position += n;
          this.push(n === buffer.length ? buffer : buffer.subarray(0, n));
        },
        (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    },
    destroy(err, callback) {
      reader.close().then(
        () => callback(err),
        () => callback(err),
      );
    },
  });
}

// ---- upload --------------------------------------------------------------------------------------

/** Declared for the next file part by the fields before it (or for all of them by the query string). */
interface Declared {
  name?: string | undefined;
  type?: string | undefined;
  sha256?: string | undefined;
}

async function receiveUpload(
  context: RestContext,
  local: FilesLocalApi,
  request: FastifyRequest<{ Querystring: Query }>,
  reply: FastifyReply,
): Promise<FastifyReply> {
  if (!request.isMultipart()) {
    throw new NexoError(
      'UNSUPPORTED_MEDIA_TYPE',
      'send files as multipart/form-data, e.g. curl -F file=@video.mp4 http://<node>/api/files',
    );
  }
  const maxFileSize = context.node.options.files.maxFileSize;
  const length = contentLength(request.headers['content-length']);
  if (length !== undefined && length > maxFileSize + MULTIPART_SLACK) {
    // Refused before a byte of the body is read; the connection closes so the rest is not sent for nothing.
    reply.header('connection', 'close');
    throw new NexoError(
      'FILES_TOO_LARGE',
      `the request is ${length} bytes; this node accepts files up to ${maxFileSize} bytes (--files-max-size)`,
      { limit: maxFileSize, size: length },
    );
  }
  const query = request.query;
  const defaults: Declared = {
    name: single('name', query.name),
    type: single('type', query.type),
    sha256: checkSha256(single('sha256', query.sha256)),
  };
  const stored: UploadCommitted[] = [];
  let next: Declared = {};
  let current: MultipartFile | undefined;
  try {
    const parts = request.parts({
      // The client's file name is kept as sent (names are metadata, never paths: protocol §9 files).
      preservePath: true,
      limits: {
        fileSize: maxFileSize + 1, // the service enforces the limit itself; this only backs it up
        files: MAX_FILES,
        fields: MAX_FIELDS,
        parts: MAX_FILES + MAX_FIELDS,
        fieldNameSize: 100,
        fieldSize: 4096,
        headerPairs: 100,
      },
    });
    for await (const part of parts) {
      if (part.type === 'field') {
        if (part.valueTruncated) {
          throw new NexoError(
            'INVALID_ARGS',
            `the form field '${clip(part.fieldname, 60)}' is longer than 4096 bytes`,
          );
        }
        const value = String(part.value);
        if (part.fieldname === 'name') next.name = value;
        else if (part.fieldname === 'type') next.type = value;
        else if (part.fieldname === 'sha256') next.sha256 = checkSha256(value);
        continue; // other fields are ignored, as forms often carry some
      }
      current = part;
      const declared: Declared = { ...defaults, ...definedOnly(next) };
      next = {};
      const name = declared.name ?? part.filename;
      const partType = part.mimetype === 'application/octet-stream' ? undefined : part.mimetype;
      const type = declared.type ?? partType ?? guessMediaType(name);
      const entry = (await context.run(request, 'files', 'upload', (ctx) =>
        local.receiveStream({ name, type, sha256: declared.sha256, maxSize: length }, complete(part), ctx),
      )) as UploadCommitted;
      current = undefined;
      stored.push(entry);
    }
  } catch (err) {
    // A field named like an Object.prototype property is refused by the parser, which says so only after
    // the last part: by then it is one more field this route ignores.
    const ignorable = (err as { code?: string }).code === 'FST_PROTO_VIOLATION' && current === undefined;
    if (ignorable && stored.length > 0) return created(reply, stored);
    // The rest of the body is not read: stop the part, and close the connection once the answer is out.
    current?.file.destroy();
    reply.header('connection', 'close');
    throw withStored(fromMultipartError(err), stored);
  }
  if (stored.length === 0) {
    throw new NexoError(
      'INVALID_ARGS',
      'the form has no file part: curl -F file=@<path> http://<node>/api/files',
    );
  }
  return created(reply, stored);
}

function created(reply: FastifyReply, stored: UploadCommitted[]): FastifyReply {
  reply.code(201);
  if (stored.length === 1) reply.header('location', `/api/files/${stored[0]!.id}`);
  return sendJson(reply, { files: stored });
}

/** A file part's bytes, failing (not ending) if the parser cut it at its size limit. */
async function* complete(part: MultipartFile): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of part.file) yield chunk as Buffer;
  } catch (err) {
    throw fromMultipartError(err); // a malformed body is the client's error, not the node's
  }
  if (part.file.truncated) {
    throw new NexoError('FILES_TOO_LARGE', 'the file is larger than this node accepts (--files-max-size)');
  }
}

function definedOnly(declared: Declared): Declared {
  return Object.fromEntries(Object.entries(declared).filter(([, v]) => v !== undefined));
}

function checkSha256(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!SHA256.test(value)) {
    throw new NexoError('INVALID_ARGS', `sha256 must be 64 hex digits; got '${clip(value, 60)}'`, {
      param: 'sha256',
    });
  }
  return value.toLowerCase();
}

function contentLength(header: string | undefined): number | undefined {
  if (header === undefined || !/^\d{1,16}$/.test(header)) return undefined;
  return Number(header);
}

/** Parser errors (a malformed body, too many parts) as registry errors a person can act on. */
function fromMultipartError(err: unknown): NexoError {
  if (err instanceof NexoError) return err;
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new NexoError(
        'PAYLOAD_TOO_LARGE',
        `the form has too many parts: at most ${MAX_FILES} files and ${MAX_FIELDS} fields per request`,
      );
    case 'FST_REQ_FILE_TOO_LARGE':
      return new NexoError('FILES_TOO_LARGE', 'the file is larger than this node accepts (--files-max-size)');
    case 'FST_PROTO_VIOLATION':
      return new NexoError('BAD_REQUEST', 'a form field is named like a property of Object.prototype');
    case 'FST_MP_PREMATURE_CLOSE':
      return new NexoError('CANCELLED', 'the client closed the request before the form was complete');
    default:
      if (/multipart|boundary|part terminated|unexpected end/i.test(message)) {
        return new NexoError('BAD_REQUEST', `the multipart body is malformed: ${message.slice(0, 120)}`);
      }
      return toNexoError(err);
  }
}

function withStored(error: NexoError, stored: UploadCommitted[]): NexoError {
  if (stored.length === 0) return error;
  return new NexoError(
    error.code,
    `${error.message} (the ${stored.length} file(s) before it were stored: ${stored.map((s) => s.id).join(', ')})`,
    { ...error.details, stored: stored.map((s) => s.id) },
  );
}
