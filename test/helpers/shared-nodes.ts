import { afterAll, beforeAll } from 'vitest';
import type { NexoNode, NodeExtras } from '../../src/node/node.js';
import { createSchema, dropNatsCluster, dropSchema, NATS_URL, pgUrlFor, uniqueName } from './engines.js';
import { type ServerProcess, spawnServer, startNode } from './node.js';

/**
 * Real `nexo server` processes on this machine sharing one PostgreSQL schema and one NATS cluster prefix
 * (the machine's engines), so they serve as one cluster; a test may kill any of them (`kill -9`:
 * `node.child.kill('SIGKILL')`). `close` stops the ones still running and drops the schema.
 */
export interface SharedNodes {
  readonly schema: string;
  readonly cluster: string;
  readonly nodes: ServerProcess[];
  /** `127.0.0.1:port` of each node, in order. */
  readonly endpoints: string[];
  /** Starts one more node of the same cluster (on `port` if given, e.g. a killed node's). */
  add(id?: string, port?: number): Promise<ServerProcess>;
  close(): Promise<void>;
}

/** The arguments that make a `nexo server` a node `id` of the cluster `cluster` stored in `schema`. */
export function sharedNodeArgs(schema: string, cluster: string, id: string): string[] {
  return [
    '--node-id',
    id,
    '--storage',
    'postgres',
    '--postgres',
    pgUrlFor(schema),
    '--nats',
    NATS_URL,
    '--cluster',
    cluster,
  ];
}

/**
 * An in-process node `id` of the cluster `cluster` stored in `schema`, with its HTTP gateway and agent-check on
 * ports of their own and no UDP: what HAProxy and the membership tests put behind a balancer.
 */
export function startSharedNode(
  schema: string,
  cluster: string,
  id: string,
  extras: NodeExtras = {},
): ReturnType<typeof startNode> {
  return startNode(
    {
      nodeId: id,
      storage: 'postgres',
      postgres: pgUrlFor(schema),
      nats: NATS_URL,
      cluster,
      http: { port: 0 },
      agent: { port: 0 },
      udp: { enabled: false },
    },
    extras,
  );
}

/** The in-process cluster of one describe block (see inProcessCluster). */
export interface InProcessCluster {
  readonly schema: string;
  readonly cluster: string;
  readonly nodes: (NexoNode & { port: number })[];
  /** Starts node `id` of the cluster (startSharedNode) and keeps it for closing. */
  node(id: string, extras?: NodeExtras): Promise<NexoNode & { port: number }>;
  /** Runs `close` after the block's tests, before the nodes close (an HAProxy, a NATS connection). */
  onClose(close: () => unknown): void;
}

/**
 * A fresh PostgreSQL schema and NATS cluster prefix named `prefix…` for the enclosing describe block: made
 * before its tests; after them every onClose runs (last first), the nodes close, the cluster's NATS streams
 * and buckets and the schema are dropped. Call it inside describe().
 */
export function inProcessCluster(prefix: string): InProcessCluster {
  const schema = uniqueName(prefix);
  const cluster = uniqueName(prefix);
  const nodes: (NexoNode & { port: number })[] = [];
  const closers: (() => unknown)[] = [];
  beforeAll(() => createSchema(schema));
  afterAll(async () => {
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch {
        // one failed cleanup must not keep the others (and the schema) from being dropped
      }
    }
    await Promise.all(nodes.map((n) => n.close({ timeoutMs: 500 })));
    await dropNatsCluster(cluster);
    await dropSchema(schema);
  });
  return {
    schema,
    cluster,
    nodes,
    async node(id, extras) {
      const n = await startSharedNode(schema, cluster, id, extras);
      nodes.push(n);
      return n;
    },
    onClose: (close) => void closers.push(close),
  };
}

/** `extraArgs` gives each node more arguments of its own (an --http-port, say), by node id. */

export async function spawnSharedNodes(
  count: number,
  prefix = 'nxfo',
  extraArgs: (id: string) => string[] | Promise<string[]> = () => [],
): Promise<SharedNodes> {
  const schema = uniqueName(prefix);
  const cluster = uniqueName(prefix);
  await createSchema(schema);
  const nodes: ServerProcess[] = [];
  const endpoints: string[] = [];
  const add = async (id = `node-${nodes.length + 1}`, port?: number) => {
    const node = await spawnServer([
      ...(port === undefined ? [] : ['--port', String(port)]),
      ...sharedNodeArgs(schema, cluster, id),
      ...(await extraArgs(id)),
    ]);
    // spawnServer's own --port comes first; the last one given wins.
    if (port !== undefined) node.port = port;
    nodes.push(node);
    endpoints.push(`127.0.0.1:${node.port}`);
    return node;
  };
  try {
    // One first (it runs the migrations), then the others at once.
    await add();
    await Promise.all(Array.from({ length: count - 1 }, (_, i) => add(`node-${i + 2}`)));
  } catch (err) {
    await Promise.all(nodes.map(kill));
    await dropSchema(schema);
    throw err;
  }
  return {
    schema,
    cluster,
    nodes,
    endpoints,
    add,
    async close() {
      // SIGKILL also ends a node a test stopped with SIGSTOP.
      await Promise.all(nodes.map(kill));
      await dropSchema(schema);
    },
  };
}

/** SIGKILL, unless it has exited already (a process killed by a signal has no exit code, only its signal). */
async function kill(node: ServerProcess): Promise<void> {
  const { child } = node;
  if (child.exitCode !== null || child.signalCode !== null) return;
  await node.stop('SIGKILL');
}
