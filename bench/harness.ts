import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as hdr from 'hdr-histogram-js';
import { initCerts } from '../src/security/certs.js';

const here = path.dirname(fileURLToPath(import.meta.url));

export interface Spawned {
  port: number;
  /** The HTTP gateway's port, for servers that print `port <tcp> http <http>`. */
  httpPort: number | undefined;
  /** The TLS listener's port, for servers that print `... tls <port>`. */
  tlsPort: number | undefined;
  /** The server's process id (for its CPU time: cpuMs). */
  pid: number | undefined;
  stop(): Promise<void>;
}

/** CPU time (user + system) a process has used so far, in ms, from /proc (Linux); undefined elsewhere. */
export function cpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}
/** USER_HZ: 100 on every Linux this runs on. */
const CLOCK_TICKS = 100;

/** Starts `servers.js <kind>` (or another bench script) in a child process and waits for its port. */
export async function spawnBenchServer(script: string, args: string[]): Promise<Spawned> {
  const child: ChildProcess = spawn(process.execPath, [path.join(here, script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const optional = (s: string | undefined) => (s === undefined ? undefined : Number(s));
  const [port, httpPort, tlsPort] = await new Promise<[number, number | undefined, number | undefined]>(
    (resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        const match = /port (\d+)(?: http (\d+))?(?: tls (\d+))?\n/.exec(out);
        if (match) resolve([Number(match[1]), optional(match[2]), optional(match[3])]);
      });
      child.once('exit', (code) => reject(new Error(`${script} ${args.join(' ')} exited with ${code}`)));
    },
  );
  return {
    port,
    httpPort,
    tlsPort,
    pid: child.pid,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

export interface LoadResult {
  /** Completed round trips per second. */
  rate: number;
  /** Latency percentiles, microseconds. */
  p50: number;
  p99: number;
  count: number;
}

export function histogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

export function summarize(h: hdr.Histogram, count: number, seconds: number): LoadResult {
  return { rate: count / seconds, p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), count };
}

export const fmt = {
  rate: (n: number) => (n >= 10_000 ? `${Math.round(n / 1000)}k` : n.toFixed(0)),
  us: (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)}ms` : `${n.toFixed(0)}µs`),
  pct: (n: number) => `${Math.round(n * 100)}%`,
  mbps: (bytesPerSecond: number) => `${(bytesPerSecond / 1e6).toFixed(0)} MB/s`,
  /** A load's rate, p50 and p99: the three columns of each measured case in a latency table. */
  load: (r: { rate: number; p50: number; p99: number }) => [fmt.rate(r.rate), fmt.us(r.p50), fmt.us(r.p99)],
};

/** Prints rows as an aligned plain-text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/**
 * Keeps `inFlight` calls going on each client (each awaits its reply, then starts the next), measures
 * `seconds` after `warmupMs`, then closes the clients. The load of the client-library columns.
 */
export async function clientLoop<C extends { close(): Promise<void> }>(
  clients: C[],
  inFlight: number,
  call: (client: C) => Promise<unknown>,
  timing: { warmupMs: number; seconds: number },
): Promise<LoadResult> {
  const h = histogram();
  let recording = false;
  let stop = false;
  let count = 0;
  const loops = clients.flatMap((client) =>
    Array.from({ length: inFlight }, async () => {
      while (!stop) {
        const started = performance.now();
        await call(client);
        if (recording) {
          h.recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)));
          count++;
        }
      }
    }),
  );
  const elapsed = await measureWindow(timing, (on) => {
    recording = on;
  });
  stop = true;
  await Promise.all(loops);
  await Promise.all(clients.map((c) => c.close()));
  return summarize(h, count, elapsed);
}

/** Waits out the warm-up, turns recording on for `seconds`, then off; returns the measured seconds. */
export async function measureWindow(
  timing: { warmupMs: number; seconds: number },
  record: (on: boolean) => void,
): Promise<number> {
  await new Promise((r) => setTimeout(r, timing.warmupMs));
  record(true);
  const started = performance.now();
  await new Promise((r) => setTimeout(r, timing.seconds * 1000));
  record(false);
  return (performance.now() - started) / 1000;
}

/** A development CA and a server certificate for localhost/127.0.0.1 in `dir/certs` (nexo certs init). */
export async function benchCerts(dir: string): Promise<{ cert: string; key: string; ca: Buffer }> {
  const certs = path.join(dir, 'certs');
  await initCerts({
    dir: certs,
    names: ['localhost'],
    ips: ['127.0.0.1'],
    clients: [],
    days: 1,
    force: true,
  });
  return {
    cert: path.join(certs, 'server.pem'),
    key: path.join(certs, 'server-key.pem'),
    ca: readFileSync(path.join(certs, 'ca.pem')),
  };
}
