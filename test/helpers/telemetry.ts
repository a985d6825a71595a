import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import type { NexoClient } from '../../src/client/client.js';
import { connect } from '../../src/client/index.js';
import { NexoError } from '../../src/errors.js';
import { freePort } from './node.js';

/** The error a promise rejected with (fails the test if it resolved). */
export async function failure(promise: Promise<unknown>): Promise<NexoError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof NexoError) return err;
    throw err;
  }
  throw new Error('expected the request to fail');
}

export async function client(port: number): Promise<NexoClient> {
  return connect({ endpoints: [`127.0.0.1:${port}`] });
}

/** Polls `check` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** True when something accepts TCP connections at host:port within a second. */
export function reachable(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export const MOSQUITTO_PUB = ['/usr/bin/mosquitto_pub', '/usr/local/bin/mosquitto_pub'].find((p) =>
  existsSync(p),
);
const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) =>
  existsSync(p),
);

export interface Broker {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * An MQTT broker for tests: the Mosquitto already running on 127.0.0.1:1883 when there is one, else a
 * Mosquitto started on a free port (Debian package `mosquitto`). Undefined when neither exists.
 */
export async function mqttBroker(): Promise<Broker | undefined> {
  if (await reachable(1883)) return { url: 'mqtt://127.0.0.1:1883', port: 1883, stop: async () => {} };
  if (MOSQUITTO === undefined) return undefined;
  const port = await freePort();
  const child: ChildProcess = spawn(MOSQUITTO, ['-p', String(port)], { stdio: 'ignore' });
  const deadline = Date.now() + 5000;
  while (!(await reachable(port))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** A topic prefix no other test run uses, so runs on the shared broker never see each other's messages. */
export function uniquePrefix(): string {
  return `nexo-test-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
