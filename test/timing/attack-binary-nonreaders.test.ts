import { describe, expect, it } from 'vitest';
import { FrameType, PREFACE } from '../../src/protocol/constants.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { packValue } from '../../src/protocol/payload.js';
import { ATTACK_MS, attackedNode, expectServed, flood, runAttack, SOAK, TEST_MS } from '../helpers/attack.js';

/**
 * Acceptance (issue #12 part 4): 50 binary-mode clients that say HELLO, then pipeline echo requests (each
 * reply as big as its request) as fast as the node takes them and never read. The node answers them in
 * turns (spec §7.4.3), stops reading each once its replies pile up and cuts it after the slow-peer timeout
 * (§7.4.2, 15 s: only a soak run lasts that long); the node's RSS stays under 400 MB; a well-behaved protocol
 * client beside them keeps a p99 under 50 ms and never times out.
 */

const node = attackedNode();

const HELLO = Buffer.concat([
  PREFACE,
  encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1], client: 'non-reader' })),
]);
/** 64 echo requests of 1 KiB each, built once (ids repeat: each has its reply before its id comes back). */
const REQUESTS = Buffer.concat(
  Array.from({ length: 64 }, (_, i) =>
    encodeFrame(FrameType.REQUEST, 0, i + 1, packValue(['echo', 'echo', 'x'.repeat(1024)])),
  ),
);

describe('hostile binary-mode clients: requests without reading (acceptance)', () => {
  it(
    `50 non-readers for ${ATTACK_MS / 1000} s: throttled or cut, RSS < 400 MB, bystander's p99 < 50 ms`,
    async () => {
      const port = node.server.port;
      const r = await runAttack(node, 'binary-mode non-readers', [{ kind: 'tcp', port }], () =>
        flood({ port, count: 50, first: HELLO, repeat: REQUESTS }),
      );
      expect(r.cut + r.stalled, r.report).toBe(50);
      if (SOAK) expect(r.limited.slow_consumer ?? 0, r.report).toBeGreaterThanOrEqual(50);
      expect(r.maxRss, r.report).toBeLessThan(400);
      expectServed(r.phases[0]!, r.report);
    },
    TEST_MS,
  );
});
