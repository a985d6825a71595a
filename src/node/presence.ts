import os from 'node:os';
import type { Logger } from 'pino';
import { type AgentCheck, type AgentReply, startAgentCheck } from '../cluster/agent-check.js';
import { type Load, LoadSampler, weightFor } from '../cluster/load.js';
import type { Member, MemberPorts, MemberState } from '../cluster/member.js';
import { Announcer, openMembersBucket, readMembers } from '../cluster/membership.js';
import { NexoError } from '../errors.js';
import type { ServerOptions } from '../options/options.js';
import { SERVER_NAME } from '../services/node/index.js';
import { type ClusterMembers, MEMBER_FORMAT, memberEndpoint } from '../wire/cluster.js';
import type { Engines } from './engines.js';

/** What the presence reads from its node. */
export interface PresenceSource {
  readonly options: ServerOptions;
  readonly log: Logger;
  readonly startedAt: number;
  nodeId(): string;
  draining(): boolean;
  connections(): number;
  requests(): number;
  ports(): Omit<MemberPorts, 'agent'>;
}

/**
 * How a node shows itself to a cluster: its load (sampled), HAProxy's agent-check on `agent.port`, and its
 * entry in the membership (NATS KV, cluster mode only). Started once the node listens; it keeps answering
 * `drain` and announcing `draining` until the node has finished draining, then leaves.
 */
export class Presence {
  readonly #source: PresenceSource;
  readonly #load: LoadSampler;
  #agent: AgentCheck | undefined;
  #announcer: Announcer | undefined;
  #engines: Engines | undefined;
  #readMembers: (() => Promise<Member[]>) | undefined;

  constructor(source: PresenceSource) {
    this.#source = source;
    this.#load = new LoadSampler({ connections: source.connections, requests: source.requests });
  }

  get load(): Load {
    return this.#load.current;
  }

  /** The agent-check's address, when it listens. */
  agentAddress(): { host: string; port: number } | undefined {
    return this.#agent?.address();
  }

  /** What the agent-check answers now. */
  agentReply(): AgentReply {
    if (this.#source.draining()) return { state: 'drain' };
    return { state: 'up', weight: weightFor(this.load, this.#source.options.maxClients) };
  }

  /** `draining` while the node drains, `starting` while a shared engine is unreachable, else `ready`. */
  state(): MemberState {
    if (this.#source.draining()) return 'draining';
    return this.#engines === undefined || this.#engines.ready() ? 'ready' : 'starting';
  }

  async start(engines: Engines): Promise<void> {
    this.#engines = engines;
    const { agent } = this.#source.options;
    if (agent.enabled) this.#agent = await startAgentCheck(agent.host, agent.port, () => this.agentReply());
    if (engines.nats === undefined) return;
    try {
      const { nats } = engines;
      const kv = await openMembersBucket(nats.kv, nats.cluster);
      const jsm = await nats.jsm();
      this.#readMembers = () => readMembers(kv, jsm, nats.cluster);
      this.#announcer = new Announcer(
        kv,
        this.#source.nodeId(),
        (state) => this.#entry(state),
        this.#source.log,
      );
      await this.#announcer.start(this.state());
    } catch (err) {
      await this.#agent?.close();
      this.#agent = undefined;
      throw err;
    }
  }

  /**
   * The live members (`node.members`, the dashboard's Cluster page): the membership as the bucket holds it,
   * or, outside cluster mode, this node alone. A membership that does not answer within `timeoutMs` is
   * STORAGE_UNAVAILABLE (another node may reach NATS: the client may ask it, §14.2.2).
   */
  async members(timeoutMs: number): Promise<ClusterMembers> {
    const self = this.#source.nodeId();
    const read = this.#readMembers;
    if (read === undefined) return { cluster: null, self, members: [this.#entry(this.state())] };
    const cluster = this.#source.options.cluster;
    try {
      return { cluster, self, members: await within(read(), timeoutMs) };
    } catch (err) {
      throw new NexoError(
        'STORAGE_UNAVAILABLE',
        `cannot read the cluster membership: ${(err as Error).message}`,
        { cluster },
      );
    }
  }

  /**
   * Other ready members' protocol addresses (host:port), at most 8, for GOAWAY's reconnect hint (§7.3.5);
   * empty outside cluster mode or when the membership does not answer within `timeoutMs`.
   */
  async alternates(timeoutMs: number): Promise<string[]> {
    const read = this.#readMembers;
    if (read === undefined) return [];
    const self = this.#source.nodeId();
    const members = await within(read(), timeoutMs).catch((): Member[] => []);
    return members
      .filter((m) => m.id !== self && m.state === 'ready')
      .slice(0, 8)
      .map((m) => memberEndpoint(m));
  }

  /** The node began to drain: say so now rather than at the next beat. */
  draining(): void {
    void this.#announcer?.set('draining');
  }

  /** The node has drained: leave the membership and stop answering HAProxy. */
  async close(): Promise<void> {
    await this.#announcer?.leave();
    await this.#agent?.close();
    this.#load.close();
  }

  #entry(state: MemberState): Member {
    const s = this.#source;
    // Every beat re-reads the state: an engine that went down (or came back) shows at the next one.
    const current = state === 'draining' ? state : this.state();
    const agent = this.#agent?.address().port;
    const now = Date.now();
    return {
      format: MEMBER_FORMAT,
      id: s.nodeId(),
      cluster: s.options.cluster,
      version: SERVER_NAME.slice(SERVER_NAME.indexOf('/') + 1),
      host: advertisedHost(s.options),
      ports: { ...s.ports(), ...(agent === undefined ? {} : { agent }) },
      pid: process.pid,
      startedAt: s.startedAt,
      uptimeS: Math.round((now - s.startedAt) / 1000),
      state: current,
      load: this.load,
      updatedAt: now,
    };
  }
}

/** `promise`, or an error when it has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from NATS within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** --advertise, else the listening address unless it is a wildcard, else this machine's first IPv4. */
export function advertisedHost(options: ServerOptions): string {
  if (options.advertise !== undefined) return options.advertise;
  if (options.host !== '0.0.0.0' && options.host !== '::') return options.host;
  for (const addresses of Object.values(os.networkInterfaces())) {
    for (const a of addresses ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
