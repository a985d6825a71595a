import type { Migration } from '../../../storage/postgres/migrations.js';

/**
 * The shared content store's tables (component `files_content`, beside the catalog's `files`), kept apart
 * so a deployment whose bytes live elsewhere (an S3-compatible store) never creates them. Layout and the
 * reasons for it: docs/architecture.md, "Shared file contents".
 */
export const CONTENT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'content objects and chunks',
    sql: `
      -- One row per stored byte sequence: an unfinished upload (upload_id set) or committed content (sha256
      -- set). Commit turns one into the other by updating this row only, atomically.
      CREATE TABLE files_objects (
        id        bigserial PRIMARY KEY,
        upload_id text UNIQUE,
        sha256    text UNIQUE,
        size      bigint NOT NULL DEFAULT 0,
        CHECK ((upload_id IS NULL) <> (sha256 IS NULL))
      );
      -- The bytes, in rows of at most 1 MiB at their byte offset; a ranged read finds its first row by the
      -- primary key. Stored uncompressed out of line (EXTERNAL): file contents are mostly compressed already,
      -- and pglz would only spend CPU.
      CREATE TABLE files_chunks (
        object_id bigint  NOT NULL REFERENCES files_objects (id) ON DELETE CASCADE,
        pos       bigint  NOT NULL,
        len       integer NOT NULL,
        data      bytea   NOT NULL,
        PRIMARY KEY (object_id, pos)
      );
      ALTER TABLE files_chunks ALTER COLUMN data SET STORAGE EXTERNAL;`,
  },
];
