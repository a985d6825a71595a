import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Session } from '../../src/contract/session.js';
import { NexoNode } from '../../src/node/node.js';
import { ROLE_TABLE, type Rule } from '../../src/security/roles.js';
import { ROOT, tempDataDir } from '../helpers/node.js';

const doc = readFileSync(path.join(ROOT, 'docs/protocol.md'), 'utf8');
const section = doc.slice(doc.indexOf('### 5.4 Roles'), doc.indexOf('## 6 Requests'));

const WORDS: Record<Rule, string> = {
  anyone: 'anyone',
  'not-sensor': 'anyone but sensor',
  'own-sensor': 'anyone; sensor: own sensor',
  'files.readRoles': '`files.readRoles` (default anyone)',
  'files.writeRoles': '`files.writeRoles` (default anyone)',
  'files.deleteRoles': '`files.deleteRoles` (default admin)',
};

describe('docs/protocol.md §5.4 role table', () => {
  const rows = [...section.matchAll(/^\| `([a-z]+\.[a-zA-Z]+)` \| (.+) \|$/gm)].map((m) => [m[1]!, m[2]!]);

  it('is the code table, row for row', () => {
    expect(rows.length).toBeGreaterThan(30);
    expect(Object.fromEntries(rows)).toEqual(
      Object.fromEntries(Object.entries(ROLE_TABLE).map(([method, rule]) => [method, WORDS[rule]])),
    );
  });

  it('has a row for every built-in method, and none for a method that does not exist', () => {
    const node = new NexoNode({ dataDir: tempDataDir(), log: { level: 'silent' } });
    const registered = Object.entries(node.dispatcher.catalog()).flatMap(([s, ms]) =>
      ms.map((m) => `${s}.${m}`),
    );
    expect(registered.sort()).toEqual(Object.keys(ROLE_TABLE).sort());
    return node.close();
  });

  it('is what the dispatcher enforces, for each role', () => {
    const node = new NexoNode({ dataDir: tempDataDir(), log: { level: 'silent' } });
    const peer = { transport: 'tcp' as const, address: '127.0.0.1', port: 1, secure: false };
    for (const role of ['admin', 'user', 'sensor', 'anonymous', 'custom']) {
      const session = new Session(1, peer, 'binary');
      session.identify({ role, principal: 'lab-1' });
      for (const [method, rule] of Object.entries(ROLE_TABLE)) {
        const [service, name] = method.split('.') as [string, string];
        const allowed =
          rule === 'anyone' || rule === 'own-sensor'
            ? true
            : rule === 'not-sensor'
              ? role !== 'sensor'
              : rule === 'files.deleteRoles'
                ? role === 'admin'
                : true;
        const call = () => node.dispatcher.resolve(service, name, session);
        if (allowed) expect(call, `${role} ${method}`).not.toThrow();
        else expect(call, `${role} ${method}`).toThrow(/is not allowed for role/);
        // The per-sensor check runs on the args (tests/security/tokens.test.ts calls these for real).
        if (allowed) expect(call().ownSensor, method).toBe(rule === 'own-sensor');
      }
    }
    return node.close();
  });
});
