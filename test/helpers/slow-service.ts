import { Type } from '@sinclair/typebox';
import { defineMethod, type ServiceDefinition } from '../../src/contract/service.js';
import { NexoError } from '../../src/errors.js';

/**
 * A service for tests only: a request that takes as long as the test says, so ordering, cancelling and
 * draining can be observed. Never registered by a real node.
 */
export function slowService(): ServiceDefinition {
  return {
    name: 'slow',
    description: 'test-only delays',
    methods: {
      sleep: defineMethod({
        description: 'Resolves with {slept: ms} after ms, or fails with CANCELLED when aborted.',
        args: Type.Object({ ms: Type.Integer({ minimum: 0, maximum: 60_000 }) }),
        access: 'anyone',
        handler: (args, ctx) =>
          new Promise((resolve, reject) => {
            const timer = setTimeout(() => resolve({ slept: args.ms }), args.ms);
            ctx.signal.addEventListener('abort', () => {
              clearTimeout(timer);
              reject(new NexoError('CANCELLED', 'aborted'));
            });
          }),
      }),
      admin: defineMethod({
        description: 'Only the admin role may call it.',
        args: Type.Null(),
        access: ['admin'],
        handler: (_args, ctx) => ({ role: ctx.session.role }),
      }),
      watch: defineMethod({
        description: 'A subscription: emits {n} every `every` ms until cancelled.',
        args: Type.Object({ every: Type.Integer({ minimum: 1 }) }),
        access: 'anyone',
        longLived: true,
        handler: (args, ctx) =>
          new Promise((resolve) => {
            let n = 0;
            ctx.progress({ subscribed: true });
            const timer = setInterval(() => ctx.emit({ n: ++n }), args.every);
            ctx.signal.addEventListener('abort', () => {
              clearInterval(timer);
              resolve({ events: n });
            });
          }),
      }),
    },
    text: [
      {
        name: 'admin-only',
        usage: 'admin-only',
        summary: 'test command that needs the admin role',
        parse: () => ({ method: 'admin', args: null }),
        format: (result) => `hello ${(result as { role: string }).role}`,
      },
    ],
  };
}
