import type { KV } from '@nats-io/kv';
import type { Member } from '../cluster/member.js';
import { openMembersBucket, readMembers } from '../cluster/membership.js';
import { OptionsError } from '../options/options.js';
import { openNats } from '../storage/nats/connection.js';
import { paint } from './output.js';

/**
 * Connects to the cluster's NATS, hands `use` a reader of the live members, and closes. An unreachable NATS
 * is printed as one line and gives undefined (the caller exits UNREACHABLE).
 */
export async function withMembers<T>(
  flags: { nats?: string; cluster?: string },
  use: (read: () => Promise<Member[]>, kv: KV) => Promise<T>,
): Promise<T | undefined> {
  const cluster = flags.cluster ?? 'nexo';
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(cluster)) {
    throw new OptionsError([
      `cluster: expected 1 to 32 letters, digits, '-' or '_' (got ${JSON.stringify(cluster)})`,
    ]);
  }
  const servers = (flags.nats ?? 'nats://127.0.0.1:4222')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  let nats: Awaited<ReturnType<typeof openNats>>;
  try {
    nats = await openNats(servers, { cluster, name: 'nexo cluster', connectTimeoutMs: 3000 });
  } catch (err) {
    process.stderr.write(`${paint.red('error:')} ${(err as Error).message}\n`);
    return undefined;
  }
  try {
    const kv = await openMembersBucket(nats.kv, cluster);
    const jsm = await nats.jsm();
    return await use(() => readMembers(kv, jsm, cluster), kv);
  } finally {
    await nats.close();
  }
}
