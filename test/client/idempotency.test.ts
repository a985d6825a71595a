import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IDEMPOTENCY, idempotencyOf, mayRepeat } from '../../src/client/idempotency.js';
import { Session } from '../../src/contract/session.js';
import { NexoNode } from '../../src/node/node.js';
import { ROOT, tempDataDir } from '../helpers/node.js';

const doc = readFileSync(path.join(ROOT, 'docs/protocol.md'), 'utf8');
const section = doc.slice(doc.indexOf('### 14.2 '), doc.indexOf('### 14.3 '));

describe('the idempotency table (client/idempotency.ts, spec §14.2)', () => {
  it('has one row per method the node registers, and agrees with each method definition', async () => {
    const node = new NexoNode({ dataDir: tempDataDir(), log: { level: 'silent' } });
    try {
      const catalog = node.dispatcher.catalog();
      const table = IDEMPOTENCY as Record<string, Record<string, string>>;
      expect(Object.keys(table).sort()).toEqual(Object.keys(catalog).sort());
      const session = new Session(
        1,
        { transport: 'tcp', address: '127.0.0.1', port: 1, secure: false },
        'binary',
      );
      session.identify({ role: 'admin' });
      for (const [service, methods] of Object.entries(catalog)) {
        expect(Object.keys(table[service]!).sort(), service).toEqual([...methods].sort());
        for (const method of methods) {
          const { definition } = node.dispatcher.resolve(service, method, session);
          const kind = idempotencyOf(service, method);
          // Subscriptions are exactly the long-lived methods; chunk inputs are streams, never repeated.
          expect(kind === 'subscription', `${service}.${method}`).toBe(definition.longLived === true);
          if (definition.input === 'chunks') expect(kind, `${service}.${method}`).toBe('stream');
        }
      }
    } finally {
      await node.close();
    }
  });

  it('is printed in docs/protocol.md §14.2, row for row', () => {
    const rows = [...section.matchAll(/^ *\| `([a-z]+)` \| (.+) \|$/gm)].map((m) => [
      m[1]!,
      m[2]!.split(', ').map((cell) => cell.replace(/`/g, '')),
    ]);
    const documented: Record<string, Record<string, string>> = {};
    for (const [service, cells] of rows as [string, string[]][]) {
      documented[service] = Object.fromEntries(cells.map((c) => c.split(': ') as [string, string]));
    }
    expect(documented).toEqual(IDEMPOTENCY);
  });

  it('repeats a report only when every reading carries a seq', () => {
    expect(mayRepeat('telemetry', 'report', { sensor: 's', metric: 'm', value: 1, seq: 7 })).toBe(true);
    expect(mayRepeat('telemetry', 'report', { sensor: 's', metric: 'm', value: 1 })).toBe(false);
    const batch = (readings: object[]) => mayRepeat('telemetry', 'reportBatch', { sensor: 's', readings });
    expect(
      batch([
        { metric: 'm', value: 1, seq: 1 },
        { metric: 'm', value: 2, seq: 2 },
      ]),
    ).toBe(true);
    expect(
      batch([
        { metric: 'm', value: 1, seq: 1 },
        { metric: 'm', value: 2 },
      ]),
    ).toBe(false);
    expect(batch([])).toBe(false);
    expect(mayRepeat('calc', 'eval', { expr: '1' })).toBe(true);
    expect(mayRepeat('chat', 'say', { room: 'r', text: 't' })).toBe(false);
    // Unknown services and methods are never repeated; nor are inherited object keys.
    expect(mayRepeat('other', 'thing', null)).toBe(false);
    expect(mayRepeat('calc', 'constructor', null)).toBe(false);
    expect(mayRepeat('calc', 'toString', null)).toBe(false);
  });
});
