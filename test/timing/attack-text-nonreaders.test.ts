import { describe, expect, it } from 'vitest';
import { ATTACK_MS, attackedNode, expectServed, flood, runAttack, SOAK, TEST_MS } from '../helpers/attack.js';

/**
 * Acceptance (issue #12 part 4): 50 text-mode clients that send commands with long replies (`help`) as
 * fast as the node takes them and never read. The node answers them in turns (spec §7.4.3), stops reading
 * each once its replies pile up and cuts it after the slow-peer timeout (§7.4.2, 15 s: only a soak run lasts
 * that long); the node's RSS stays under 400 MB; a well-behaved protocol client beside them keeps a p99
 * under 50 ms and never times out.
 */

const node = attackedNode();

describe('hostile text-mode clients: requests without reading (acceptance)', () => {
  it(
    `50 non-readers for ${ATTACK_MS / 1000} s: throttled or cut, RSS < 400 MB, bystander's p99 < 50 ms`,
    async () => {
      const port = node.server.port;
      const r = await runAttack(node, 'text-mode non-readers', [{ kind: 'tcp', port }], () =>
        flood({ port, count: 50, repeat: Buffer.from('help\n'.repeat(2000)) }),
      );
      expect(r.cut + r.stalled, r.report).toBe(50);
      if (SOAK) expect(r.limited.slow_consumer ?? 0, r.report).toBeGreaterThanOrEqual(50);
      expect(r.maxRss, r.report).toBeLessThan(400);
      expectServed(r.phases[0]!, r.report);
    },
    TEST_MS,
  );
});
