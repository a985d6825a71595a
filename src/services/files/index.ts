import { Type } from '@sinclair/typebox';
import {
  type CallContext,
  defineMethod,
  type ServiceDefinition,
  type ServiceHost,
} from '../../contract/service.js';
import { NexoError } from '../../errors.js';
import { clip } from '../../util/clip.js';
import { formatBytes } from '../../util/format-bytes.js';
import type { FileEntry, FileRef, UploadCommitted } from '../../wire/files.js';
import { fileBackends } from './backends.js';
import type { FileCatalog } from './catalog.js';
import { sendFile } from './downloads.js';
import { DownloadArgs, ListArgs, newTransferStats, RefArgs, StatusArgs, UploadArgs } from './model.js';
import { normalizeName } from './names.js';
import type { BlobReader, FileStore } from './store.js';
import { type StreamUpload, Uploads } from './uploads.js';

export interface FilesServiceParts {
  store?: FileStore;
  catalog?: FileCatalog;
}

/**
 * `files`: upload and download of any size over chunk streams, verified end to end (CRC-32 per chunk,
 * SHA-256 per file), resumable, content stored once per hash. Protocol: docs/protocol.md §9 (files).
 * Storage: a FileStore for bytes and a FileCatalog for metadata, chosen by the node's storage mode when the
 * service starts (backends.ts).
 */
export function filesService(host: ServiceHost, parts: FilesServiceParts = {}): ServiceDefinition {
  const o = host.options.files;
  const log = host.log.child({ service: 'files' });
  const stats = newTransferStats();
  // Set in start(): the node opens its engines first.
  let store!: FileStore;
  let catalog!: FileCatalog;
  let uploads: Uploads | undefined;
  const receiving = () => uploads?.receiving ?? 0;
  const started = (): Uploads => {
    if (uploads === undefined) throw new NexoError('SHUTTING_DOWN', 'the files service is not running');
    return uploads;
  };
  let sweeper: NodeJS.Timeout | undefined;
  let housekeeping: Promise<void> = Promise.resolve();

  const housekeep = async () => {
    try {
      await started().expire();
    } catch (err) {
      log.warn({ err }, 'files: expiring unfinished uploads failed');
    }
  };

  /** After a crash: partials nobody will resume, and content whose commit never reached the catalog. */
  const recover = async () => {
    const partials = await started().removeOrphanPartials();
    let blobs = 0;
    for await (const sha256 of store.blobHashes()) {
      await catalog.exclusive(sha256, async () => {
        if ((await catalog.refs(sha256)) === 0) {
          await store.deleteBlob(sha256);
          blobs++;
        }
      });
    }
    if (partials + blobs > 0) log.info({ partials, blobs }, 'files: removed leftovers of interrupted work');
  };

  async function resolve(ref: FileRef, forDelete = false): Promise<FileEntry> {
    const given = [ref.id, ref.name, ref.sha256].filter((v) => v !== undefined).length;
    if (given !== 1)
      throw new NexoError('INVALID_ARGS', 'name the file by exactly one of id, name or sha256');
    if (ref.id !== undefined) {
      const entry = await catalog.byId(ref.id);
      if (entry === undefined)
        throw new NexoError('FILES_NOT_FOUND', `no file has id ${ref.id}`, { id: ref.id });
      return entry;
    }
    if (ref.sha256 !== undefined) {
      const sha256 = ref.sha256.toLowerCase();
      const entry = await catalog.bySha256(sha256);
      if (entry === undefined)
        throw new NexoError('FILES_NOT_FOUND', `no file has SHA-256 ${sha256}`, { sha256 });
      return entry;
    }
    const name = normalizeName(ref.name!);
    const { entries, count } = await catalog.byName(name, 20);
    if (count === 0) throw new NexoError('FILES_NOT_FOUND', `no file is named '${clip(name, 60)}'`, { name });
    if (forDelete && count > 1) {
      throw new NexoError(
        'FILES_AMBIGUOUS',
        `${count} files are named '${clip(name, 60)}'; delete one by id: ${entries.map((e) => e.id).join(', ')}${count > entries.length ? ', ...' : ''}`,
        { ids: entries.map((e) => e.id), count },
      );
    }
    return entries[0]!;
  }

  const definition: ServiceDefinition = {
    name: 'files',
    description: 'Stores files of any size: resumable, verified uploads and downloads, content kept once.',
    methods: {
      upload: defineMethod({
        description:
          'Receives a file as CHUNK frames after a progress reply {uploadId, offset}; answers the stored entry.',
        args: UploadArgs,
        input: 'chunks',
        handler: (args, ctx) => started().receive(args, ctx),
      }),
      download: defineMethod({
        description: 'Sends a file from an offset as CHUNK frames after a progress reply with its metadata.',
        args: DownloadArgs,
        async handler(args, ctx) {
          const entry = await resolve({ id: args.id, name: args.name, sha256: args.sha256 });
          return sendFile(store, entry, args.offset ?? 0, host.options.maxFrame, ctx, stats);
        },
      }),
      info: defineMethod({
        description: 'Metadata of one file, by id, name (the newest with it) or content hash.',
        args: RefArgs,
        handler: (args) => resolve(args),
      }),
      list: defineMethod({
        description: 'Stored files, newest first.',
        args: ListArgs,
        async handler(args) {
          const limit = args?.limit ?? 100;
          const offset = args?.offset ?? 0;
          const { files, total } = await catalog.list({ limit, offset, prefix: args?.prefix });
          return { files, total, offset, limit };
        },
      }),
      status: defineMethod({
        description: 'How far an unfinished upload got (the offset to resume from).',
        args: StatusArgs,
        handler: (args) => started().status(args.uploadId),
      }),
      usage: defineMethod({
        description: 'Space used, reserved and allowed on this node.',
        args: Type.Union([Type.Null(), Type.Object({}, { additionalProperties: false })]),
        async handler() {
          const usage = await catalog.usage();
          return {
            ...usage,
            quota: o.quota,
            maxFileSize: o.maxFileSize,
            freeBytes: (await store.freeBytes()) ?? null,
            uploadsReceiving: receiving(),
            maxUploads: o.maxUploads,
          };
        },
      }),
      delete: defineMethod({
        description: 'Deletes one file entry; its content goes when no other entry shares it.',
        args: RefArgs,
        async handler(args) {
          if (args.sha256 !== undefined) {
            throw new NexoError(
              'INVALID_ARGS',
              'delete a file by id or name (several entries may share a hash)',
            );
          }
          const target = await resolve(args, true);
          return catalog.exclusive(target.sha256, async () => {
            const removed = await catalog.remove(target.id);
            if (removed === undefined) {
              throw new NexoError('FILES_NOT_FOUND', `no file has id ${target.id}`, { id: target.id });
            }
            if (removed.refsLeft === 0) await store.deleteBlob(target.sha256);
            return { deleted: removed.entry, contentRemoved: removed.refsLeft === 0 };
          });
        },
      }),
    },
    text: [
      {
        name: 'files',
        usage: 'files [name prefix]',
        summary: 'list stored files, newest first (upload and download with the nexo CLI)',
        parse: (rest) => ({ method: 'list', args: rest.trim() === '' ? null : { prefix: rest.trim() } }),
        format: (result) => {
          const { files, total } = result as { files: FileEntry[]; total: number };
          if (files.length === 0) return 'no files';
          const lines = files.map((f) => `${f.id}  ${formatBytes(f.size).padStart(9)}  ${f.name}`);
          if (total > files.length) lines.push(`(${files.length} of ${total} shown)`);
          return lines;
        },
      },
    ],
    async start() {
      ({ store, catalog } = fileBackends(host, parts));
      await store.init();
      await catalog.open();
      uploads = new Uploads(store, catalog, o, host.options.maxFrame, log, stats);
      housekeeping = recover().catch((err: unknown) => log.warn({ err }, 'files: recovery sweep failed'));
      const every = Math.max(1000, Math.min(o.partialExpiryMs / 4, 60_000));
      sweeper = setInterval(() => {
        housekeeping = housekeeping.then(housekeep);
      }, every);
      sweeper.unref();
    },
    async stop() {
      clearInterval(sweeper);
      await housekeeping;
      await catalog.close();
    },
    stats: () => ({
      counters: { ...stats },
      gauges: { uploading: receiving() },
    }),
  };
  LOCAL_APIS.set(definition, {
    receiveStream: (request, source, ctx) => started().receiveStream(request, source, ctx),
    async openContent(entry) {
      const reader = await store.openBlob(entry.sha256);
      if (reader === undefined) {
        throw new NexoError(
          'FILES_NOT_FOUND',
          `the content of '${clip(entry.name, 60)}' is missing from the store`,
          {
            id: entry.id,
          },
        );
      }
      stats.downloads++;
      return {
        size: reader.size,
        async read(target, targetOffset, length, position) {
          const n = await reader.read(target, targetOffset, length, position);
          stats.sentBytes += n;
          return n;
        },
        close: () => reader.close(),
      };
    },
  });
  return definition;
}

/**
 * What the node's own front ends (the HTTP gateway) may do with the files service beyond its methods: feed it
 * a byte stream and read stored content by range. Not reachable over the protocol; callers run these under
 * the access rules of the matching method (RestContext.run / files.info).
 */
export interface FilesLocalApi {
  /** `files.upload` for a byte stream of unknown length (an HTTP multipart upload); see Uploads.receiveStream. */
  receiveStream(
    request: StreamUpload,
    source: AsyncIterable<Uint8Array>,
    ctx: CallContext,
  ): Promise<UploadCommitted>;
  /** The stored content of `entry` for positional reads (HTTP downloads, Range); the caller closes it. */
  openContent(entry: FileEntry): Promise<BlobReader>;
}

const LOCAL_APIS = new WeakMap<ServiceDefinition, FilesLocalApi>();

/** The local API of a files service definition (undefined for any other service). */
export function filesLocalApi(service: ServiceDefinition | undefined): FilesLocalApi | undefined {
  return service === undefined ? undefined : LOCAL_APIS.get(service);
}
