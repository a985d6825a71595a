import type { Migration } from '../../../storage/postgres/migrations.js';

/**
 * The shared telemetry store's tables (component `telemetry`, applied at start by migrate(), which takes an
 * advisory lock so nodes starting at once apply each version once). Times are bigint milliseconds, values
 * double precision. `readings` is keyed by (sensor, seq): across every node sharing the database, that
 * constraint is what makes a resent reading count once. Readings sent without a seq get a negative number
 * from one sequence, so two nodes numbering at once never collide.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'telemetry tables',
    sql: `
CREATE TABLE telemetry_sensors (
  id         serial  PRIMARY KEY,
  name       text    NOT NULL UNIQUE,
  kind       text,
  location   text,
  first_seen bigint  NOT NULL,
  last_seen  bigint  NOT NULL
);
CREATE TABLE telemetry_series (
  id         serial  PRIMARY KEY,
  sensor     integer NOT NULL REFERENCES telemetry_sensors (id),
  metric     text    NOT NULL,
  unit       text,
  count      bigint  NOT NULL DEFAULT 0,
  first_ts   bigint,
  last_ts    bigint,
  last_value double precision,
  last_recv  bigint,
  UNIQUE (sensor, metric)
);
CREATE TABLE telemetry_readings (
  sensor integer          NOT NULL,
  seq    bigint           NOT NULL,
  series integer          NOT NULL,
  ts     bigint           NOT NULL,
  recv   bigint           NOT NULL,
  value  double precision NOT NULL,
  tags   text,
  PRIMARY KEY (sensor, seq)
);
CREATE INDEX telemetry_readings_by_time ON telemetry_readings (series, ts, seq);
CREATE TABLE telemetry_minutes (
  series integer          NOT NULL,
  minute bigint           NOT NULL,
  min    double precision NOT NULL,
  max    double precision NOT NULL,
  sum    double precision NOT NULL,
  count  bigint           NOT NULL,
  PRIMARY KEY (series, minute)
);
CREATE TABLE telemetry_alert_rules (
  id        serial           PRIMARY KEY,
  name      text             NOT NULL,
  metric    text             NOT NULL,
  op        text             NOT NULL,
  threshold double precision NOT NULL,
  for_ms    bigint           NOT NULL,
  sensors   text             NOT NULL,
  text      text             NOT NULL,
  created   bigint           NOT NULL
);
CREATE TABLE telemetry_alert_events (
  id      bigserial        PRIMARY KEY,
  rule_id integer          NOT NULL,
  rule    text             NOT NULL,
  sensor  text             NOT NULL,
  metric  text             NOT NULL,
  state   text             NOT NULL,
  value   double precision NOT NULL,
  ts      bigint           NOT NULL,
  since   bigint           NOT NULL,
  at      bigint           NOT NULL
);
CREATE INDEX telemetry_alert_events_by_time ON telemetry_alert_events (at);
CREATE SEQUENCE telemetry_auto_seq;
`,
  },
];
