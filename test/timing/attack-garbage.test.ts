import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FrameType, PREFACE } from '../../src/protocol/constants.js';
import { encodeFrame } from '../../src/protocol/encoder.js';
import { packValue } from '../../src/protocol/payload.js';
import { ATTACK_MS, attackedNode, expectServed, flood, runAttack, TEST_MS } from '../helpers/attack.js';

/**
 * Acceptance (issue #12 part 4): 6 clients streaming random bytes in text mode, and 6 that say HELLO and
 * then stream random bytes in binary mode, each connecting again as soon as it is cut. A text session gets
 * at most 10 error lines a second and is closed after 100 failed lines in a row (spec §8.7,
 * TOO_MANY_ERRORS); a binary one at its first bad frame (§7.5). The node's RSS stays under 400 MB; a
 * well-behaved protocol client beside them keeps a p99 under 50 ms and never times out.
 */

const node = attackedNode();

/** 64 KiB of random bytes per attacker, starting with a letter so that the node takes it for text mode. */
const garbage = (i: number) => Buffer.concat([Buffer.from('x'), randomBytes(65_535 + (i % 7))]);

const HELLO = Buffer.concat([
  PREFACE,
  encodeFrame(FrameType.HELLO, 0, 0, packValue({ versions: [1], client: 'garbage' })),
]);

describe('hostile clients: random bytes (acceptance)', () => {
  it(
    `6 text and 6 binary garbage streams for ${ATTACK_MS / 1000} s: cut, RSS < 400 MB, bystander's p99 < 50 ms`,
    async () => {
      const port = node.server.port;
      let binary: ReturnType<typeof flood> | undefined;
      const r = await runAttack(node, 'garbage streams', [{ kind: 'tcp', port }], () => {
        const text = flood({ port, count: 6, repeat: garbage, reconnect: true });
        binary = flood({
          port,
          count: 6,
          first: HELLO,
          repeat: (i) => randomBytes(65_536 + i),
          reconnect: true,
        });
        return {
          get cut() {
            return text.cut;
          },
          get opened() {
            return text.opened;
          },
          stalled: (ms) => text.stalled(ms),
          stop() {
            text.stop();
            binary?.stop();
          },
        };
      });
      const report = `${r.report}\n  binary: ${binary!.opened} connections, ${binary!.cut} cut`;
      console.info(report);
      // Every text session was closed for its errors, again and again; the binary ones at once.
      expect(r.limited.text_errors_closed ?? 0, report).toBeGreaterThanOrEqual(6);
      expect(r.cut, report).toBeGreaterThanOrEqual(6);
      expect(binary!.cut, report).toBeGreaterThanOrEqual(6);
      expect(r.maxRss, report).toBeLessThan(400);
      expectServed(r.phases[0]!, report);
    },
    TEST_MS,
  );
});
