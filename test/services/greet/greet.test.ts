import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NexoClient } from '../../../src/client/client.js';
import { connect } from '../../../src/client/index.js';
import { parseEndpoint } from '../../../src/client/socket.js';
import type { NexoNode } from '../../../src/node/node.js';
import { startNode } from '../../helpers/node.js';

let node: NexoNode & { port: number };
let client: NexoClient;
beforeAll(async () => {
  node = await startNode({ nodeId: 'greeter' });
  client = await connect({ endpoints: [`127.0.0.1:${node.port}`] });
});
afterAll(async () => {
  await client.close();
  await node.close({ timeoutMs: 500 });
});

describe('greet service', () => {
  it('greets in Spanish by default and in the language asked for, naming the node', async () => {
    expect(await client.greet.hello(['Zoe', 'Ana María'])).toEqual({
      lang: 'es',
      node: 'greeter',
      greetings: ['¡Hola, Zoe!', '¡Hola, Ana María!'],
    });
    expect((await client.greet.hello(['Zoe'], 'de')).greetings).toEqual(['Hallo, Zoe!']);
    // Replacement patterns in a name are just characters (found by the property below).
    expect((await client.greet.hello(['$$', "$&$'$`", '$1'], 'en')).greetings).toEqual([
      'Hello, $$!',
      "Hello, $&$'$`!",
      'Hello, $1!',
    ]);
  });

  it('property: any printable name of 1..100 characters is greeted with the name intact', async () => {
    const printable = fc
      .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
      .filter((s) => s.length <= 100 && !/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(s));
    await fc.assert(
      fc.asyncProperty(fc.array(printable, { minLength: 1, maxLength: 5 }), async (names) => {
        const { greetings } = await client.greet.hello(names, 'en');
        expect(greetings).toEqual(names.map((n) => `Hello, ${n.trim() || n}!`));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses names that could break a line or a terminal, empty names, and too many names', async () => {
    for (const bad of ['a\nb', 'a\rb', '\u0007bell', 'x\u2028y', '\u202eevil', '']) {
      await expect(client.greet.hello([bad]), JSON.stringify(bad)).rejects.toMatchObject({
        code: 'INVALID_ARGS',
      });
    }
    await expect(client.greet.hello(['x'.repeat(101)])).rejects.toMatchObject({ code: 'INVALID_ARGS' });
    await expect(client.greet.hello([])).rejects.toMatchObject({ code: 'INVALID_ARGS' });
    await expect(client.greet.hello(Array(1001).fill('a'))).rejects.toMatchObject({ code: 'INVALID_ARGS' });
    await expect(client.request('greet', 'hello', { names: ['a'], lang: 'xx' })).rejects.toMatchObject({
      code: 'INVALID_ARGS',
    });
  });
});

describe('parseEndpoint', () => {
  it('reads host:port, bracketed and bare IPv6, and refuses nonsense', () => {
    expect(parseEndpoint('example.org:7000')).toEqual({ host: 'example.org', port: 7000 });
    expect(parseEndpoint('tcp://10.0.0.1')).toEqual({ host: '10.0.0.1', port: 5000 });
    expect(parseEndpoint('[::1]:5001')).toEqual({ host: '::1', port: 5001 });
    expect(parseEndpoint('::1')).toEqual({ host: '::1', port: 5000 });
    for (const bad of ['not:a:port', 'host:99999', 'host:0', ':5000', 'host:abc', '']) {
      expect(() => parseEndpoint(bad), bad).toThrow(/invalid endpoint/);
    }
  });
});
