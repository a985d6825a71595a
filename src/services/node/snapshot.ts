/** Types only: shared by the node service and the client facade (no runtime code, safe for browsers). */

/** What `node.stats` and every `node.watch` event carry (docs/protocol.md §9, node). */
export interface NodeSnapshot {
  node: string;
  at: number;
  startedAt: number;
  uptimeMs: number;
  draining: boolean;
  connections: Record<string, number> & { total: number };
  requests: { total: number; perSecond: number };
  errors: number;
  bytesIn: number;
  bytesOut: number;
  /** Where state lives: `embedded` or `postgres`, and each shared engine's health (none when embedded). */
  storage: {
    mode: 'embedded' | 'postgres';
    engines: { engine: string; url: string; up: boolean; since: number; error?: string }[];
  };
  /** Per service that reports numbers: its counters, their per-second rates, and its gauges. */
  services: Record<
    string,
    { counters: Record<string, number>; rates: Record<string, number>; gauges: Record<string, number> }
  >;
}
