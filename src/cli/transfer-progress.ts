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
export function progressView(verb: string, label: string, options: { json?: boolean }): ProgressView {
  if (options.json === true) return { start() {}, update() {}, stop() {} };
  const rate = new RateMeter();
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
      rate: `${formatRate(rate.perSecond())}`,
    });
    return {
      start(total, from) {
        size = total;
        rate.reset(from);
        if (running) bar.stop();
        bar.start(Math.max(total, 1), total === 0 ? 1 : from, payload(from));
        running = true;
      },
      update(bytes) {
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
    const perSecond = rate.perSecond();
    const eta = perSecond > 0 && bytes < size ? ` ETA ${formatEta((size - bytes) / perSecond)}` : '';
    process.stderr.write(
      `${verb} ${clip(label, 40)}: ${formatBytes(bytes)} / ${formatBytes(size)} (${pct.toFixed(1)}%) ${formatRate(perSecond)}${eta}\n`,
    );
  };
  return {
    start(total, from) {
      size = total;
      rate.reset(from);
      last = Date.now();
      line(from);
    },
    update(bytes) {
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
