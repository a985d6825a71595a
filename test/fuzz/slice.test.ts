import { describe, expect, it } from 'vitest';
import { runTarget } from '../../fuzz/engine.js';
import { TARGETS } from '../../fuzz/targets/index.js';

/** CI's slice of `npm run fuzz`: each target for a couple of seconds with a fresh seed (printed on failure). */
const SLICE_MS = Number(process.env.NEXO_FUZZ_SLICE_MS ?? 2000);

describe('fuzz slice (fuzz/, npm run fuzz for the long run)', () => {
  for (const target of TARGETS) {
    it(`${target.name}: no crash, hang or leak`, { timeout: SLICE_MS + 60_000 }, async () => {
      const report = await runTarget(target, { timeMs: SLICE_MS });
      console.log(
        `fuzz ${target.name}: ${report.runs} inputs in ${Math.round(report.elapsedMs)} ms (seed ${report.seed})`,
      );
      expect(report.failure).toBeUndefined();
      expect(report.runs).toBeGreaterThan(10);
    });
  }
});
