import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/client/index.js';
import type { NexoNode } from '../../src/node/node.js';
import { builtinServices } from '../../src/services/index.js';
import { startNode, textSession } from '../helpers/node.js';
import { slowService } from '../helpers/slow-service.js';

let node: NexoNode & { port: number };
const ADMIN = 'admin-token-0123456789';

beforeAll(async () => {
  node = await startNode(
    { auth: { tokens: { [ADMIN]: 'admin' } } },
    { services: [...builtinServices(), slowService] },
  );
});
afterAll(() => node.close({ timeoutMs: 500 }));

describe('roles (spec §5.1.3, §6.1.3)', () => {
  it('refuses a method to a role it does not list, with FORBIDDEN naming the method and role', async () => {
    const anonymous = await connect({ endpoints: [`127.0.0.1:${node.port}`] });
    await expect(anonymous.request('slow', 'admin', null)).rejects.toMatchObject({
      code: 'FORBIDDEN',
      message: "slow.admin is not allowed for role 'anonymous'",
      details: { required: ['admin'] },
    });
    expect(await anonymous.calc.eval('1+1')).toEqual({ value: '2' }); // calc is for anyone
    await anonymous.close();
  });

  it('gives the role of the token and allows its methods', async () => {
    const admin = await connect({ endpoints: [`127.0.0.1:${node.port}`], token: ADMIN });
    expect(admin.welcome?.role).toBe('admin');
    expect(await admin.request('slow', 'admin', null)).toEqual({ role: 'admin' });
    await admin.close();
  });

  it('works the same in text mode, where `auth <token>` takes a role', async () => {
    const out = await textSession(
      node.port,
      `admin-only\nauth wrong-token-000\nauth ${ADMIN}\nadmin-only\nfim\n`,
    );
    expect(out.split('\n')).toEqual([
      "error: slow.admin is not allowed for role 'anonymous' (FORBIDDEN)",
      'error: unknown token (AUTH_FAILED)',
      'ok: role admin',
      'hello admin',
      '',
    ]);
  });
});
