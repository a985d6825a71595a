import type { JetStreamManager } from '@nats-io/jetstream';
import type { KV, Kvm } from '@nats-io/kv';
import {
  MEMBERSHIP,
  type Member,
  type MemberState,
  memberKey,
  membersBucket,
  parseMember,
} from './member.js';

/** Opens (or creates) a cluster's membership bucket: one entry per node, kept `MEMBERSHIP.ttlMs`. */
export function openMembersBucket(kvm: Kvm, cluster: string): Promise<KV> {
  return kvm.create(membersBucket(cluster), {
    history: 1,
    ttl: MEMBERSHIP.ttlMs,
    maxValueSize: 4096,
    // Bounded: 4 KiB entries of a few hundred nodes, each kept a few seconds.
    max_bytes: 8 * 1024 * 1024,
  });
}

/**
 * The live members of a cluster, sorted by id: entries the bucket still holds and written within the TTL
 * (the stream expires old entries on its own schedule; a reader does not wait for it). Anything in the
 * bucket that is not a member entry is skipped.
 *
 * The keys come from the stream's own subject counts (one request), not from `kv.keys()`: that one opens a
 * consumer and waits for the messages it was told are pending, and when the TTL expires them in between
 * (a node just killed) it waits for a heartbeat that never comes: nats-server#3481, seen here as a
 * 120 s hang in CI.
 */
export async function readMembers(
  kv: KV,
  jsm: JetStreamManager,
  cluster: string,
  now = Date.now(),
): Promise<Member[]> {
  const bucket = membersBucket(cluster);
  const prefix = `$KV.${bucket}.`;
  const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` });
  const keys = Object.keys(info.state.subjects ?? {})
    .filter((s) => s.startsWith(prefix))
    .slice(0, 10_000)
    .map((s) => s.slice(prefix.length));
  const entries = await Promise.all(keys.map((k) => kv.get(k)));
  const members: Member[] = [];
  for (const entry of entries) {
    if (entry === null || entry.operation !== 'PUT') continue;
    if (now - entry.created.getTime() > MEMBERSHIP.ttlMs) continue;
    const member = parseMember(entry.value, cluster); // §9.N.3
    if (member !== undefined) members.push(member);
  }
  return members.sort((a, b) => a.id.localeCompare(b.id));
}

export interface AnnouncerLog {
  warn(obj: object, msg: string): void;
}

/**
 * A node's own entry in the membership: written at start, every `MEMBERSHIP.intervalMs` and at each change
 * of state, deleted when the node leaves. A failed write is logged once per outage and retried at the
 * next beat (NATS may be reconnecting); the entry simply expires if the node stops beating.
 */
export class Announcer {
  readonly #kv: KV;
  readonly #key: string;
  readonly #entry: (state: MemberState) => Member;
  readonly #log: AnnouncerLog;
  #state: MemberState = 'starting';
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #failing = false;
  #left = false;

  constructor(kv: KV, id: string, entry: (state: MemberState) => Member, log: AnnouncerLog) {
    this.#kv = kv;
    this.#key = memberKey(id);
    this.#entry = entry;
    this.#log = log;
  }

  get state(): MemberState {
    return this.#state;
  }

  /** Writes the first entry and starts beating. */
  async start(state: MemberState): Promise<void> {
    this.#state = state;
    await this.#write();
    this.#timer = setInterval(() => void this.#write(), MEMBERSHIP.intervalMs);
    this.#timer.unref();
  }

  /** Changes the announced state now (not at the next beat). */
  set(state: MemberState): Promise<void> {
    if (this.#left || state === this.#state) return this.#writing;
    this.#state = state;
    return this.#write();
  }

  #write(): Promise<void> {
    if (this.#left) return this.#writing;
    // One write at a time, in order: a slow NATS must not reorder states.
    this.#writing = this.#writing.then(async () => {
      if (this.#left) return;
      try {
        await this.#kv.put(this.#key, JSON.stringify(this.#entry(this.#state)));
        this.#failing = false;
      } catch (err) {
        if (!this.#failing) this.#log.warn({ err }, 'cannot write this node into the cluster membership');
        this.#failing = true;
      }
    });
    return this.#writing;
  }

  /** Stops beating and removes the entry, so the node leaves the membership at once. */
  async leave(): Promise<void> {
    clearInterval(this.#timer);
    await this.#writing;
    this.#left = true;
    await this.#kv.delete(this.#key).catch(() => {});
  }
}
