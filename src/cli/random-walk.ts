/**
 * Plausible readings for the sensor simulator: a random walk that drifts back toward a typical value, so a
 * temperature wanders around 21 °C in small steps instead of jumping or running away.
 */
interface Profile {
  mean: number;
  /** Typical step per reading. */
  step: number;
  min: number;
  max: number;
  unit: string | undefined;
  decimals: number;
}

const PROFILES: Record<string, Profile> = {
  temperature: { mean: 21, step: 0.08, min: -40, max: 85, unit: '°C', decimals: 2 },
  humidity: { mean: 45, step: 0.3, min: 0, max: 100, unit: '%', decimals: 1 },
  pressure: { mean: 1013, step: 0.15, min: 870, max: 1085, unit: 'hPa', decimals: 1 },
  co2: { mean: 600, step: 4, min: 350, max: 5000, unit: 'ppm', decimals: 0 },
  light: { mean: 300, step: 8, min: 0, max: 100_000, unit: 'lx', decimals: 0 },
  voltage: { mean: 3.7, step: 0.002, min: 3, max: 4.2, unit: 'V', decimals: 3 },
};

const GENERIC: Profile = { mean: 50, step: 0.5, min: 0, max: 100, unit: undefined, decimals: 2 };

export function defaultUnit(metric: string): string | undefined {
  return (PROFILES[metric] ?? GENERIC).unit;
}

export class RandomWalk {
  readonly #profile: Profile;
  #value: number;

  constructor(metric: string, start?: number, random: () => number = Math.random) {
    this.#profile = PROFILES[metric] ?? GENERIC;
    this.#random = random;
    this.#value = start ?? this.#profile.mean + (random() - 0.5) * this.#profile.step * 20;
  }

  readonly #random: () => number;

  next(): number {
    const p = this.#profile;
    // Gaussian step (Box-Muller), plus a pull of 2% of the distance back to the mean.
    const u = Math.max(this.#random(), 1e-12);
    const gauss = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.#random());
    this.#value += gauss * p.step + (p.mean - this.#value) * 0.02;
    this.#value = Math.min(p.max, Math.max(p.min, this.#value));
    const factor = 10 ** p.decimals;
    return Math.round(this.#value * factor) / factor;
  }
}
