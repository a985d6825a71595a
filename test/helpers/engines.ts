import { randomBytes } from 'node:crypto';
import net from 'node:net';
import pg from 'pg';

/**
 * The shared engines tests use: PostgreSQL (db `test`, trust) and NATS with JetStream on loopback, as on
 * every machine and in CI. Each test makes its own schema / cluster prefix and drops it after.
 */
export const PG_URL = process.env.NEXO_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test';
export const NATS_URL = process.env.NEXO_TEST_NATS ?? 'nats://127.0.0.1:4222';

/** A name no other test run uses: `<prefix>_<12 hex>` (valid as a schema, NATS token and bucket name). */
export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Why engine tests cannot run here, or undefined when they can. Under CI=true an absent engine is a failure,
 * not a skip.
 */
export async function enginesMissing(): Promise<string | undefined> {
  const missing: string[] = [];
  if (!(await reachable(PG_URL))) missing.push(`PostgreSQL at ${PG_URL}`);
  if (!(await reachable(NATS_URL))) missing.push(`NATS at ${NATS_URL}`);
  if (missing.length === 0) return undefined;
  const why = `${missing.join(' and ')} not reachable`;
  if (process.env.CI === 'true') throw new Error(`${why} (required under CI)`);
  console.warn(`skipping engine tests: ${why}`);
  return why;
}

/** Drops a schema a test created (and everything in it). */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}

/** `PG_URL` with every connection in `schema` (libpq `options`), as a node's --postgres would name it. */
export function pgUrlFor(schema: string, base = PG_URL): string {
  const url = new URL(base);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

/** Creates a schema for a test; drop it with `dropSchema`. */
export async function createSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  } finally {
    await client.end();
  }
}

/** Deletes every JetStream stream of a test's cluster prefix (its buckets are streams `KV_<cluster>_…`). */
export async function dropNatsCluster(cluster: string, url = NATS_URL): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: url, timeout: 3000 });
  try {
    const jsm = await jetstreamManager(nc);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) {
      if (
        name.startsWith(`${cluster}_`) ||
        name.startsWith(`KV_${cluster}_`) ||
        name.startsWith(`OBJ_${cluster}_`)
      ) {
        names.push(name);
      }
    }
    for (const name of names) await jsm.streams.delete(name).catch(() => {});
  } finally {
    await nc.close();
  }
}
