import type { ClusterMembers } from '../../wire/cluster.js';
import type { NodeInfo, NodeSnapshot } from '../../wire/node.js';
import type { Caller, RequestOptions } from './requester.js';

/** A snapshot of a node's counters (docs/protocol.md §9, node). */
export type NodeStats = NodeSnapshot;

/** Typed calls of the node service: which node, how it is doing. */
export function nodeApi(c: Caller) {
  return {
    info: (options?: RequestOptions) => c.request<NodeInfo>('node', 'info', null, options),
    stats: (options?: RequestOptions) => c.request<NodeStats>('node', 'stats', null, options),
    /** The cluster's live members as this node reads them (this node alone outside cluster mode). */
    members: (options?: RequestOptions) => c.request<ClusterMembers>('node', 'members', null, options),
    /** Calls `onStats` with a snapshot now and every `intervalMs`; cancel the handle to stop. */
    watch: (
      onStats: (stats: NodeStats) => void,
      options: { intervalMs?: number; signal?: AbortSignal } = {},
    ) =>
      c.call<{ events: number }>(
        'node',
        'watch',
        options.intervalMs === undefined ? null : { intervalMs: options.intervalMs },
        { signal: options.signal, onEvent: (value) => onStats(value as NodeStats) },
      ),
  };
}
