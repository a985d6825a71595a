import { Type } from '@sinclair/typebox';
import { defineMethod, type ServiceDefinition } from '../../contract/service.js';

/** `echo`: returns what it is sent. The seeds' first socket exercise, and the protocol's own test bench. */
export function echoService(): ServiceDefinition {
  return {
    name: 'echo',
    description: 'Returns what it is sent: any value, or a stream of bytes chunk by chunk.',
    methods: {
      echo: defineMethod({
        description: 'Returns args unchanged.',
        args: Type.Unknown(),
        handler: (args) => args,
      }),
      stream: defineMethod({
        description: 'Sends every CHUNK it receives straight back; the result counts them.',
        args: Type.Union([Type.Null(), Type.Object({})]),
        input: 'chunks',
        async handler(_args, ctx) {
          let bytes = 0;
          let chunks = 0;
          for await (const chunk of ctx.input!) {
            bytes += chunk.length;
            chunks++;
            await ctx.sendChunk(chunk);
          }
          await ctx.sendChunk(new Uint8Array(0), true);
          return { bytes, chunks };
        },
      }),
    },
    text: [
      {
        name: 'echo',
        usage: 'echo <text>',
        summary: 'say it back',
        parse: (rest) => ({ method: 'echo', args: rest }),
        format: (result) => (typeof result === 'string' ? result : JSON.stringify(result)),
      },
    ],
  };
}
