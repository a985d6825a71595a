import type Database from 'better-sqlite3';

/**
 * The embedded store's tables. Readings are keyed by (sensor, seq): that key is the idempotency check (a
 * resent reading hits it and is skipped) and, in a WITHOUT ROWID table, also where the row lives, so an
 * insert touches two b-trees (the table and the time index), not three. `minutes` is the per-minute rollup
 * kept in the same transaction as the readings: bucketed queries of a minute or more read it instead of
 * every reading (a day is 1,440 rows whatever the reading rate).
 */
export const SCHEMA_VERSION = 1;

const DDL = `
CREATE TABLE IF NOT EXISTS sensors (
  id         INTEGER PRIMARY KEY,
  name       TEXT    NOT NULL UNIQUE,
  kind       TEXT,
  location   TEXT,
  first_seen INTEGER NOT NULL,
  last_seen  INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS series (
  id         INTEGER PRIMARY KEY,
  sensor     INTEGER NOT NULL,
  metric     TEXT    NOT NULL,
  unit       TEXT,
  count      INTEGER NOT NULL DEFAULT 0,
  first_ts   INTEGER,
  last_ts    INTEGER,
  last_value REAL,
  last_recv  INTEGER,
  UNIQUE (sensor, metric)
);
CREATE TABLE IF NOT EXISTS readings (
  sensor INTEGER NOT NULL,
  seq    INTEGER NOT NULL,
  series INTEGER NOT NULL,
  ts     INTEGER NOT NULL,
  recv   INTEGER NOT NULL,
  value  REAL    NOT NULL,
  tags   TEXT,
  PRIMARY KEY (sensor, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS readings_by_time ON readings (series, ts);
CREATE TABLE IF NOT EXISTS minutes (
  series INTEGER NOT NULL,
  minute INTEGER NOT NULL,
  min    REAL    NOT NULL,
  max    REAL    NOT NULL,
  sum    REAL    NOT NULL,
  count  INTEGER NOT NULL,
  PRIMARY KEY (series, minute)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_rules (
  id        INTEGER PRIMARY KEY,
  name      TEXT    NOT NULL,
  metric    TEXT    NOT NULL,
  op        TEXT    NOT NULL,
  threshold REAL    NOT NULL,
  for_ms    INTEGER NOT NULL,
  sensors   TEXT    NOT NULL,
  text      TEXT    NOT NULL,
  created   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS alert_events (
  id      INTEGER PRIMARY KEY,
  rule_id INTEGER NOT NULL,
  rule    TEXT    NOT NULL,
  sensor  TEXT    NOT NULL,
  metric  TEXT    NOT NULL,
  state   TEXT    NOT NULL,
  value   REAL    NOT NULL,
  ts      INTEGER NOT NULL,
  since   INTEGER NOT NULL,
  at      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_events_by_time ON alert_events (at);
`;

/**
 * Durability: WAL with synchronous=FULL fsyncs the log at every commit, so a commit that returned survives
 * kill -9 and power loss. (NORMAL would survive kill -9 too, since the log write happens before the commit
 * returns, but not a power cut; one fsync per group commit is cheap enough to keep FULL.)
 */
export function configureWriter(db: Database.Database): void {
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('cache_size = -65536'); // 64 MiB: the hot ends of the indexes stay in memory
  db.pragma('wal_autocheckpoint = 4000'); // checkpoint every ~16 MiB of log rather than 4 MiB
  db.pragma('busy_timeout = 5000');
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `the telemetry store was written by a newer nexo (schema ${version}, this one knows ${SCHEMA_VERSION})`,
    );
  }
  db.exec(DDL);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}

export function configureReader(db: Database.Database): void {
  db.pragma('cache_size = -32768');
  db.pragma('busy_timeout = 5000');
}

export { MINUTE } from '../rollup.js';
