import cliProgress from 'cli-progress';
import { clip } from '../util/clip.js';
import { formatBytes } from '../util/format-bytes.js';
import { parseDuration } from '../util/units.js';

export interface ProgressView {
  /** The transfer (re)starts at `from` of `size` bytes. */
  start(size: number, from: number): void;
  update(bytes: number): void;
  /** Hides the bar (before printing a message) or ends the plain lines. */
  stop(): void;
}

/**
 * Progress of an upload or download on stderr: a bar with bytes, rate and ETA on a terminal (cli-progress),
 * otherwise one plain line per interval (NEXO_PROGRESS_INTERVAL, default 1s) that a log or a script can
 * read: `upload video.mp4: 412.0 MiB / 2.0 GiB (20.1%) 380.2 MB/s ETA 4s`. Nothing with --json.
 */
export function progressView(
  verb: string,
  label: string,
  options: { json?: boolean },
  clock: TransferClock = new TransferClock(),
): ProgressView {
  if (options.json === true) {
    return { start: (_size, from) => clock.start(from), update: (bytes) => clock.update(bytes), stop() {} };
  }
  const rate = new RateMeter();
  // While bytes move, the rate of the last few seconds; once all have arrived, the whole transfer's
  // average, the same number the summary line prints after it.
  const shownRate = (bytes: number, size: number) =>
    bytes >= size ? clock.measured().bytesPerSecond : rate.perSecond();
  if (process.stderr.isTTY === true && process.env.NO_COLOR === undefined) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${verb} ${clip(label, 40)} |{bar}| {percentage}% {done}/{total_h} {rate} ETA {eta_formatted}`,
        stream: process.stderr,
        hideCursor: true,
        barsize: 24,
        etaBuffer: 40,
        fps: 8,
      },
      cliProgress.Presets.shades_classic,
    );
    let running = false;
    let size = 0;
    const payload = (bytes: number) => ({
      done: formatBytes(bytes),
      total_h: formatBytes(size),
      rate: `${formatRate(shownRate(bytes, size))}`,
    });
    return {
      start(total, from) {
        size = total;
        clock.start(from);
        rate.reset(from);
        if (running) bar.stop();
        bar.start(Math.max(total, 1), total === 0 ? 1 : from, payload(from));
        running = true;
      },
      update(bytes) {
        clock.update(bytes);
        rate.add(bytes);
        if (running) bar.update(bytes, payload(bytes));
      },
      stop() {
        if (running) bar.stop();
        running = false;
      },
    };
  }
  const every = intervalMs();
  let size = 0;
  let last = 0;
  let lastBytes = -1;
  const line = (bytes: number) => {
    lastBytes = bytes;
    const pct = size === 0 ? 100 : (bytes / size) * 100;
    const perSecond = shownRate(bytes, size);
    const eta = perSecond > 0 && bytes < size ? ` ETA ${formatEta((size - bytes) / perSecond)}` : '';
    process.stderr.write(
      `${verb} ${clip(label, 40)}: ${formatBytes(bytes)} / ${formatBytes(size)} (${pct.toFixed(1)}%) ${formatRate(perSecond)}${eta}\n`,
    );
  };
  return {
    start(total, from) {
      size = total;
      clock.start(from);
      rate.reset(from);
      last = Date.now();
      line(from);
    },
    update(bytes) {
      clock.update(bytes);
      rate.add(bytes);
      const now = Date.now();
      if (now - last >= every || (bytes === size && lastBytes !== bytes)) {
        last = now;
        line(bytes);
      }
    },
    stop() {},
  };
}

/**
 * What one command's transfer measured: from the first start (the server's answer, with the offset it
 * resumes from) to the last byte acknowledged or written, on the monotonic clock. Retries within the same
 * command keep the first start, so their pauses count. The summary line and the progress view's final rate
 * both read it, so they print the same rate; the time before the first start (connecting, looking the file
 * up) and after the last byte (the final SHA-256 check, fsync, rename) is the command's, not the transfer's.
 */
export class TransferClock {
  #startedAt: number | undefined;
  #fromBytes = 0;
  #lastAt = 0;
  #lastBytes = 0;

  start(from: number): void {
    const now = performance.now();
    if (this.#startedAt === undefined) {
      this.#startedAt = now;
      this.#fromBytes = from;
    }
    this.#lastAt = now;
    this.#lastBytes = from;
  }

  update(bytes: number): void {
    if (this.#startedAt === undefined) this.start(0);
    this.#lastAt = performance.now();
    this.#lastBytes = bytes;
  }

  /** Bytes moved in this command (after the offset it resumed from), the seconds it took, and their rate. */
  measured(): { bytes: number; seconds: number; bytesPerSecond: number } {
    const bytes = Math.max(0, this.#lastBytes - this.#fromBytes);
    const seconds = this.#startedAt === undefined ? 0 : (this.#lastAt - this.#startedAt) / 1000;
    return { bytes, seconds, bytesPerSecond: seconds > 0 ? bytes / seconds : 0 };
  }
}

/**
 * The summary after a transfer, e.g. `2.9 MiB received in 11.2 ms, 272.7 MB/s (30 ms in all)`: the measured
 * transfer, then the command's whole time when the setup and the final checks added to it noticeably.
 */
export function transferSummary(verbed: string, clock: TransferClock, totalSeconds: number): string {
  const { bytes, seconds, bytesPerSecond } = clock.measured();
  const rate = seconds > 0 ? `, ${formatRate(bytesPerSecond)}` : '';
  const all =
    totalSeconds - seconds > Math.max(0.001, seconds * 0.1) ? ` (${formatSeconds(totalSeconds)} in all)` : '';
  return `${formatBytes(bytes)} ${verbed} in ${formatSeconds(seconds)}${rate}${all}`;
}

/** A duration with three significant digits or more, so a rate computed from it is within 1%: `0.42 ms`, `11.2 ms`, `250 ms`, `3.44 s`, `61.5 s`. */
export function formatSeconds(seconds: number): string {
  const ms = seconds * 1000;
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${ms.toFixed(0)} ms`;
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  return `${seconds.toFixed(1)} s`;
}

/** Bytes per second over the last few seconds, so the rate and ETA follow changes in speed. */
class RateMeter {
  #samples: { at: number; bytes: number }[] = [];
  #latest = { at: 0, bytes: 0 };

  reset(bytes: number): void {
    this.#latest = { at: Date.now(), bytes };
    this.#samples = [this.#latest];
  }

  add(bytes: number): void {
    const now = Date.now();
    this.#latest = { at: now, bytes };
    const previous = this.#samples.at(-1);
    if (previous !== undefined && now - previous.at < 100) return;
    this.#samples.push(this.#latest);
    while (this.#samples.length > 2 && now - this.#samples[0]!.at > 3000) this.#samples.shift();
  }

  perSecond(): number {
    const first = this.#samples[0];
    const last = this.#latest;
    if (first === undefined || last.at <= first.at) return 0;
    return ((last.bytes - first.bytes) * 1000) / (last.at - first.at);
  }
}

function intervalMs(): number {
  const raw = process.env.NEXO_PROGRESS_INTERVAL;
  if (raw === undefined || raw === '') return 1000;
  try {
    return Math.max(10, parseDuration(raw));
  } catch {
    return 1000;
  }
}

export function formatRate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  if (seconds < 3600)
    return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, '0')}s`;
  return `${Math.floor(seconds / 3600)}h${String(Math.floor((seconds % 3600) / 60)).padStart(2, '0')}m`;
}
