import path from 'node:path';
import type { ServiceHost } from '../../contract/service.js';
import type { FileCatalog } from './catalog.js';
import { LocalFileStore } from './local-store.js';
import { PostgresFileCatalog } from './postgres/catalog.js';
import { PostgresFileStore } from './postgres/store.js';
import { SqliteCatalog } from './sqlite-catalog.js';
import type { FileStore } from './store.js';

export interface FileBackends {
  store: FileStore;
  catalog: FileCatalog;
}

/**
 * Which FileStore and FileCatalog the node's settings select (`--storage`): a directory and an SQLite file
 * in `<dataDir>/files` (embedded), or the node's PostgreSQL pool shared with other nodes, for the catalog and
 * the bytes alike (postgres/store.ts; another shared FileStore, such as an S3-compatible one, would be chosen
 * here). Called in the
 * service's start(), once the node has opened its engines. Parts given explicitly win (tests, embedding).
 */
export function fileBackends(host: ServiceHost, parts: Partial<FileBackends> = {}): FileBackends {
  const root = path.join(host.options.dataDir, 'files');
  const shared = host.storage.mode === 'postgres';
  return {
    store:
      parts.store ?? (shared ? new PostgresFileStore(host.storage.postgres()) : new LocalFileStore(root)),
    catalog:
      parts.catalog ??
      (shared
        ? new PostgresFileCatalog(host.storage.postgres())
        : new SqliteCatalog(path.join(root, 'catalog.sqlite'))),
  };
}
