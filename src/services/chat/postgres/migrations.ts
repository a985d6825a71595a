import type { Migration } from '../../../storage/postgres/migrations.js';

/** The chat tables in PostgreSQL; append-only list (storage/postgres/migrations.ts). */
export const CHAT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'chat rooms and messages',
    sql: `
      -- One row per room: its last allocated seq. Allocation is an upsert on this row, so concurrent
      -- senders on any number of nodes queue on its row lock and get consecutive numbers.
      CREATE TABLE chat_rooms (
        room     text PRIMARY KEY,
        last_seq bigint NOT NULL
      );
      CREATE TABLE chat_messages (
        room text   NOT NULL,
        seq  bigint NOT NULL,
        at   bigint NOT NULL,
        nick text   NOT NULL,
        text text   NOT NULL,
        PRIMARY KEY (room, seq)
      );`,
  },
];
