/**
 * The node service's wire contract (docs/protocol.md §9, node): what `node.info`, `node.stats` and `node.watch`
 * answer, and how text mode and `nexo status` print a snapshot. Pure, safe for browsers.
 */

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

/** What `node.info` answers. */
export interface NodeInfo {
  node: string;
  server: string;
  startedAt: number;
  uptimeMs: number;
  http: { port: number } | null;
  services: string[];
}

/** The lines of `status` in text mode and of `nexo status`. */
export function formatStatus(s: NodeSnapshot): string[] {
  const connections = Object.entries(s.connections)
    .filter(([k]) => k !== 'total')
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [
    `node ${s.node}, up ${formatUptime(s.uptimeMs)}${s.draining ? ' (draining)' : ''}`,
    `connections: ${connections}`,
    `requests: ${s.requests.total} total, ${s.requests.perSecond}/s; errors: ${s.errors}`,
    formatStorage(s.storage),
  ];
}

/** `storage: postgres (postgres up, nats DOWN: reconnecting)`; older nodes send no storage. */
function formatStorage(storage: NodeSnapshot['storage'] | undefined): string {
  if (storage === undefined) return 'storage: unknown';
  if (storage.engines.length === 0) return `storage: ${storage.mode}`;
  const engines = storage.engines.map((e) =>
    e.up ? `${e.engine} up` : `${e.engine} DOWN${e.error === undefined ? '' : `: ${e.error}`}`,
  );
  return `storage: ${storage.mode} (${engines.join(', ')})`;
}

export function formatUptime(ms: number): string {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${sec}s`;
  return `${sec}s`;
}
