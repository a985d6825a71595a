import type { Decimal } from 'decimal.js';
import type { CostTable, Meter } from './cost.js';

/**
 * Results of the costly pure functions at one precision. Real traffic (dashboards, benchmarks, batch
 * jobs) repeats sqrt(2) or sin(1) endlessly; a hit costs a lookup instead of a series expansion. Bounded,
 * oldest entry out first.
 */
export class Memo {
  private readonly entries = new Map<string, Decimal>();

  constructor(private readonly capacity: number) {}

  get(key: string): Decimal | undefined {
    return this.entries.get(key);
  }

  set(key: string, value: Decimal): void {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, value);
  }

  /** For warm-up and measurements, which must run the functions rather than look them up. */
  clear(): void {
    this.entries.clear();
  }
}

/**
 * Runs a costly pure function through the context's memo: a hit is charged as one instruction, a miss
 * its full estimate. Only results that passed every check are stored.
 */
export function remembered(
  ctx: { readonly memo: Memo; readonly cost: CostTable },
  meter: Meter,
  key: string,
  cost: number,
  column: number,
  what: string,
  compute: () => Decimal,
): Decimal {
  const hit = ctx.memo.get(key);
  if (hit !== undefined) {
    meter.charge(ctx.cost.node, column, what);
    return hit;
  }
  meter.charge(cost, column, what);
  const r = compute();
  ctx.memo.set(key, r);
  return r;
}
