import type { NexoClient } from '../client/client.js';
import { type ClientFlags, connectFromFlags } from './client-options.js';
import { paint } from './output.js';

/**
 * What `nexo upload` and `nexo download` share: a client that reconnects by itself (a transfer resumes
 * where the connection broke), and Ctrl-C that stops cleanly, leaving what is needed to resume.
 */
export async function connectForTransfer(flags: ClientFlags): Promise<NexoClient> {
  const client = await connectFromFlags(flags, {
    reconnect: { initialDelayMs: 200, maxDelayMs: 3000, maxAttempts: 10 },
  });
  client.on('reconnecting', ({ attempt, delayMs, endpoint }) => {
    if (!flags.json) {
      process.stderr.write(
        paint.dim(`connection lost; reconnecting to ${endpoint} in ${delayMs} ms (attempt ${attempt})\n`),
      );
    }
  });
  return client;
}

/** An AbortSignal fired by the first Ctrl-C (or SIGTERM); a second one exits at once. */
export function interruptSignal(): { signal: AbortSignal; interrupted(): boolean; dispose(): void } {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(130);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    interrupted: () => controller.signal.aborted,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
