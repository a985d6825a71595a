import { browserClient, type NexoClient } from '../../src/client/browser.js';

export type ConnectionStatus = 'connecting' | 'open' | 'reconnecting' | 'offline';

export interface Connection {
  readonly client: NexoClient;
  readonly status: ConnectionStatus;
  /** The node we are connected to (from WELCOME), or the last one. */
  readonly node: string | undefined;
  /** Services of the node (WELCOME.services). */
  readonly services: ReadonlySet<string>;
  /** Calls `listener` now and on every change of status. */
  onChange(listener: () => void): () => void;
  /** Calls `listener` on every (re)connection: subscriptions start again there. */
  onConnect(listener: () => void): () => void;
}

/**
 * The dashboard's one connection: the nexo client library over the node's /ws, reconnecting with backoff
 * whenever the node goes away (restart, network), forever. The app shell shows its status.
 */
export function openConnection(): Connection {
  const client = browserClient({
    name: 'nexo-dashboard/0.1.0',
    requestTimeoutMs: 15_000,
    // Quick to come back after a restart, gentle if the node stays away.
    reconnect: { initialDelayMs: 250, maxDelayMs: 3000 },
  });
  const changeListeners = new Set<() => void>();
  const connectListeners = new Set<() => void>();
  let status: ConnectionStatus = 'connecting';
  let node: string | undefined;
  let services = new Set<string>();

  const set = (next: ConnectionStatus) => {
    status = next;
    for (const listener of changeListeners) listener();
  };
  client.on('connect', ({ welcome }) => {
    node = welcome.node;
    services = new Set(Object.keys(welcome.services));
    set('open');
    for (const listener of connectListeners) listener();
  });
  client.on('disconnect', () => set('reconnecting'));
  client.on('reconnecting', () => set('reconnecting'));
  client.on('goaway', () => set('reconnecting'));
  // The client gave up (a refused token): nothing will bring it back without a reload.
  client.on('error', () => set('offline'));

  // The first connection is ours to retry (the client only reconnects a connection it once had).
  let attempt = 0;
  const firstConnect = () => {
    client.connect().then(
      () => {
        attempt = 0;
      },
      () => {
        if (client.state === 'open') return;
        set(attempt === 0 ? 'connecting' : 'reconnecting');
        attempt++;
        setTimeout(firstConnect, Math.min(3000, 250 * 2 ** Math.min(attempt, 4)));
      },
    );
  };
  firstConnect();

  return {
    client,
    get status() {
      return status;
    },
    get node() {
      return node;
    },
    get services() {
      return services;
    },
    onChange(listener) {
      changeListeners.add(listener);
      listener();
      return () => changeListeners.delete(listener);
    },
    onConnect(listener) {
      connectListeners.add(listener);
      if (status === 'open') listener();
      return () => connectListeners.delete(listener);
    },
  };
}
