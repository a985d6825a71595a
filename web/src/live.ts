import type { Connection } from './connection.js';

/** An open subscription: something to cancel, and its end. */
export interface Subscription {
  cancel(): void;
  readonly result: Promise<unknown>;
}

/**
 * Keeps a subscription (node.watch, chat.join) running across reconnections: it is started on every
 * connection, since a subscription ends with the connection that carried it. Returns the function that
 * stops it for good (when the page is left).
 */
export function keepSubscribed(
  connection: Connection,
  start: () => Promise<Subscription>,
  onError: (error: unknown) => void = () => {},
): () => void {
  let current: Subscription | undefined;
  let stopped = false;
  let generation = 0;
  const run = () => {
    const mine = ++generation;
    current?.cancel();
    current = undefined;
    start().then(
      (subscription) => {
        if (stopped || mine !== generation) {
          subscription.cancel();
          return;
        }
        current = subscription;
        subscription.result.catch((error: unknown) => {
          // Cancelled by us, or the connection went: a new connection restarts it.
          const code = (error as { code?: string }).code;
          if (code !== 'CANCELLED' && code !== 'CONNECTION_LOST' && code !== 'SHUTTING_DOWN') onError(error);
        });
      },
      (error: unknown) => {
        if (!stopped) onError(error);
      },
    );
  };
  const off = connection.onConnect(run);
  return () => {
    stopped = true;
    off();
    current?.cancel();
  };
}
