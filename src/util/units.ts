/** Human-friendly durations and sizes for flags, env and config files: `30s`, `5m`, `1.5h`, `64KiB`, `1MB`. */

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

const PATTERN = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/;

/** Milliseconds from a number (already ms) or a string such as `250ms`, `10s`, `5m`, `30d`. */
export function parseDuration(value: number | string): number {
  if (typeof value === 'number') {
    if (Number.isFinite(value) && value >= 0) return value;
  } else {
    const match = PATTERN.exec(value);
    if (match) {
      const unit = match[2] === '' ? 'ms' : match[2]!.toLowerCase();
      const factor = DURATION_UNITS[unit];
      if (factor !== undefined) return Math.round(Number(match[1]) * factor);
    }
  }
  throw new RangeError(
    `invalid duration ${JSON.stringify(value)}: use a number of milliseconds or a number with ms, s, m, h, d or w (e.g. 30s)`,
  );
}

/** Bytes from a number or a string such as `512`, `64KiB`, `1MB`, `2g`. */
export function parseSize(value: number | string): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
  } else {
    const match = PATTERN.exec(value);
    if (match) {
      const unit = match[2] === '' ? 'b' : match[2]!.toLowerCase();
      const factor = SIZE_UNITS[unit];
      if (factor !== undefined) return Math.floor(Number(match[1]) * factor);
    }
  }
  throw new RangeError(
    `invalid size ${JSON.stringify(value)}: use a number of bytes or a number with KiB, MiB, GiB, KB, MB or GB (e.g. 1MiB)`,
  );
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${+(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${+(ms / 60_000).toFixed(1)} min`;
  return `${+(ms / 3_600_000).toFixed(1)} h`;
}
