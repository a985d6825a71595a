import { describe, it } from 'vitest';
import type { FuzzTarget } from '../../fuzz/engine.js';
import { payload } from '../../fuzz/targets/payload.js';
import { textSession } from '../../fuzz/targets/text-mode.js';

/**
 * Inputs the fuzzer found a defect with, replayed through the same checks (each one failed before its fix).
 * A new crash goes here with the counterexample `npm run fuzz` printed.
 */
const FIXTURES: { target: FuzzTarget<never>; input: unknown; found: string }[] = [
  {
    target: payload as FuzzTarget<never>,
    input: { bytes: Buffer.from('d40000', 'hex'), before: 0, after: 2 },
    found: 'MessagePack extension type 0 decoded as undefined, so a REQUEST carrying it ran as nil (§4.5.2)',
  },
  {
    target: payload as FuzzTarget<never>,
    input: { bytes: Buffer.from('ca80000000', 'hex'), before: 0, after: 5 },
    found:
      'float 32 −0 packed again as the integer 0: the round trip lost the sign (now §4.5.5: −0 is sent as 0)',
  },
  {
    target: payload as FuzzTarget<never>,
    input: { bytes: Buffer.from('93a46563686fa46563686fc1', 'hex'), before: 5, after: 0 },
    found:
      'the byte 0xc1 (never used by MessagePack) decoded as a marker object and was packed back: echo.echo returned it (§4.5.2)',
  },
  {
    target: textSession as FuzzTarget<never>,
    input: ['\u0000', 'calc '],
    found: "a NUL typed as a command came back raw in UNKNOWN_COMMAND's message (fixed by §8.3: sent as ?)",
  },
  {
    target: textSession as FuzzTarget<never>,
    input: ['\u001b]0;pwned\u0007', 'greet \u001b[2J', 'echo \u009b31m'],
    found: 'escape sequences echoed to the terminal of an nc user (§8.3)',
  },
];

describe('fuzz fixtures', () => {
  for (const { target, input, found } of FIXTURES) {
    it(`${target.name}: ${found}`, async () => {
      await target.setup?.();
      try {
        await target.check(input as never); // throws on the defect
      } finally {
        await target.teardown?.();
      }
    });
  }
});
