import type { Migration } from '../../../storage/postgres/migrations.js';

/**
 * The files service's tables in PostgreSQL (component `files`); append-only list
 * (storage/postgres/migrations.ts). Catalog tables first; the shared content store's tables, when it is the
 * PostgreSQL one, come from its own component (`files_content`, content-migrations.ts).
 */
export const FILES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'file entries, content references, uploads',
    sql: `
      CREATE TABLE files_entries (
        seq         bigserial NOT NULL,
        id          text PRIMARY KEY,
        name        text NOT NULL,
        size        bigint NOT NULL,
        sha256      text NOT NULL,
        type        text NOT NULL,
        uploader    text NOT NULL,
        uploaded_at text NOT NULL,
        upload_id   text
      );
      CREATE INDEX files_entries_name ON files_entries (name, uploaded_at DESC, seq DESC);
      CREATE INDEX files_entries_sha256 ON files_entries (sha256);
      CREATE INDEX files_entries_newest ON files_entries (uploaded_at DESC, seq DESC);
      CREATE INDEX files_entries_upload ON files_entries (upload_id) WHERE upload_id IS NOT NULL;
      -- One row per distinct content: the entries referencing it. A row with refs 0 never stays.
      CREATE TABLE files_blobs (
        sha256 text PRIMARY KEY,
        size   bigint NOT NULL,
        refs   integer NOT NULL
      );
      CREATE TABLE files_uploads (
        upload_id  text PRIMARY KEY,
        name       text NOT NULL,
        size       bigint NOT NULL,
        type       text NOT NULL,
        sha256     text,
        uploader   text NOT NULL,
        started_at bigint NOT NULL,
        touched_at bigint NOT NULL
      );
      CREATE INDEX files_uploads_touched ON files_uploads (touched_at);`,
  },
];
