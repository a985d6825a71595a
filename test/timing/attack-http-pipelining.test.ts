import { describe, expect, it } from 'vitest';
import { ATTACK_MS, attackedNode, expectServed, flood, runAttack, TEST_MS } from '../helpers/attack.js';

/**
 * Acceptance (issue #12 part 4): 150 keep-alive HTTP connections that send requests back to back and never
 * read a reply. Each is cut (more requests waiting than one connection may have, docs/http.md "Limits");
 * the node's RSS stays under 400 MB; a well-behaved HTTP client and a protocol client beside them keep a
 * p99 under 50 ms and never time out.
 */

const node = attackedNode();

const REQUESTS = Buffer.from('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(100));

describe('hostile HTTP clients: pipelining without reading (acceptance)', () => {
  it(
    `150 pipeliners for ${ATTACK_MS / 1000} s: cut, RSS < 400 MB, bystanders' p99 < 50 ms`,
    async () => {
      const { httpPort } = node;
      const r = await runAttack(
        node,
        'HTTP pipelining attack',
        [
          { kind: 'http', port: httpPort },
          { kind: 'tcp', port: node.server.port },
        ],
        () => flood({ port: httpPort, count: 150, repeat: REQUESTS }),
      );
      expect(r.limited.http_pipelined ?? 0, r.report).toBeGreaterThanOrEqual(150);
      expect(r.maxRss, r.report).toBeLessThan(400);
      expectServed(r.phases[0]!, r.report);
      expectServed(r.phases[1]!, r.report);
    },
    TEST_MS,
  );
});
