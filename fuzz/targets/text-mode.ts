import net from 'node:net';
import fc from 'fast-check';
import { NexoError } from '../../src/errors.js';
import { LineSplitter, type SplitLine } from '../../src/protocol/line-splitter.js';
import type { Dispatcher } from '../../src/server/dispatcher.js';
import { calculate, DEFAULT_CALC_LIMITS, NeedsWorker } from '../../src/services/calc/engine.js';
import { assert, assertEqual, type FuzzTarget, mutated, splitAt, variants } from '../engine.js';
import { fuzzNode } from '../node.js';

const WORDS = ['calc', 'greet', 'echo', 'help', 'ping', 'auth', 'files', 'chat', 'telemetry', 'node', 'sensor'];
const PIECES = ['1', '2.5', 'e', 'pi', '(', ')', '+', '-', '*', '/', '^', '%', '!', 'sqrt(', 'sin(', ',', 'x', '=', ' ', '1e999', 'ans', '.'];

/** Lines a person might type, and bytes nobody would: commands with random rest, control bytes, invalid UTF-8. */
const line: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.constantFrom(...WORDS), fc.string({ maxLength: 40 })).map(([w, r]) => `${w} ${r}`),
  fc
    .tuple(fc.constantFrom(...WORDS), fc.array(fc.constantFrom(...PIECES), { maxLength: 20 }))
    .map(([w, p]) => `${w} ${p.join('')}`),
  fc.string({ unit: 'binary', maxLength: 60 }),
);

const splitterInput = fc.record({
  bytes: fc.oneof(
    fc.uint8Array({ maxLength: 400 }),
    mutated(fc.array(line, { maxLength: 10 }).map((ls) => Buffer.from(`${ls.join('\n')}\n`))),
    fc.array(fc.constantFrom(0x0a, 0x0d, 0x41, 0xc3, 0xa9, 0xff, 0x00, 0x1b), { maxLength: 200 }).map((a) => Uint8Array.from(a)),
  ),
  cuts: fc.array(fc.nat(), { maxLength: 10 }),
  maxLine: fc.integer({ min: 1, max: 64 }),
});

function splitAll(parts: Uint8Array[], maxLine: number): SplitLine[] {
  const splitter = new LineSplitter(maxLine);
  const out: SplitLine[] = [];
  for (const part of parts) {
    splitter.push(part);
    for (let l = splitter.next(); l !== undefined; l = splitter.next()) out.push(l);
  }
  for (let l = splitter.end(); l !== undefined; l = splitter.end()) out.push(l);
  return out;
}

/** What `tooLong` reports depends on where reads end (it reports what it held); the lines themselves do not. */
const lines = (ls: SplitLine[]) => ls.map((l) => ('line' in l ? l.line : 'TOO LONG'));

let dispatcher: Dispatcher | undefined;
let stop: (() => Promise<void>) | undefined;

/**
 * §8 text mode, in process: the line splitter gives the same lines for any split of the same bytes and
 * never a line over the limit or with a LF in it; every text command's parser and the calc engine answer
 * any line with a value or a NexoError (never INTERNAL_ERROR or another exception).
 */
interface TextInput {
  split: { bytes: Uint8Array; cuts: number[]; maxLine: number };
  lines: string[];
}

export const textMode: FuzzTarget<TextInput> = {
  name: 'text-mode',
  arbitrary: fc.record({ split: splitterInput, lines: fc.array(line, { maxLength: 4 }) }),
  async setup() {
    const started = await fuzzNode();
    dispatcher = started.node.dispatcher;
    stop = started.stop;
  },
  async teardown() {
    await stop?.();
  },
  check(input) {
    const { bytes, cuts, maxLine } = input.split;
    const splitCheck = (b: Uint8Array): void => {
      const whole = splitAll([b], maxLine);
      const split = splitAll(splitAt(b, cuts), maxLine);
      assertEqual(lines(split), lines(whole), 'split lines differ from whole lines');
      for (const l of whole) {
        if (!('line' in l)) continue;
        assert(!l.line.includes('\n'), 'a line holds a LF');
        // Each byte decodes to at most one U+FFFD (3 bytes in UTF-8).
        assert(Buffer.byteLength(l.line) <= maxLine * 3, 'a line is longer than the limit');
      }
    };
    splitCheck(bytes);
    let tried = 1 + variants(bytes, 20, bytes.length * 13 + maxLine, splitCheck);
    for (const text of input.lines) {
      const trimmed = text.trim();
      const space = trimmed.search(/\s/);
      const word = (space === -1 ? trimmed : trimmed.slice(0, space)).toLowerCase();
      const rest = space === -1 ? '' : trimmed.slice(space + 1).trim();
      const resolved = dispatcher!.command(word);
      if (resolved !== undefined) {
        try {
          resolved.command.parse(rest);
        } catch (err) {
          if (!(err instanceof NexoError) || err.code === 'INTERNAL_ERROR') throw err;
        }
      }
      try {
        calculate(rest, new Map([['x', '2']]), DEFAULT_CALC_LIMITS, 'inline');
      } catch (err) {
        const documented = err instanceof NeedsWorker || (err instanceof NexoError && err.code !== 'INTERNAL_ERROR');
        if (!documented) throw err;
      }
      tried++;
    }
    return tried;
  },
};

let socketNode: { port: number; stop(): Promise<void> } | undefined;

/** Reads until the text ends with `marker` or the socket closes; bounded by time. */
function session(port: number, text: Buffer, marker: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let got = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no '${marker}' within ${timeoutMs} ms; got ${JSON.stringify(got.slice(-200))}`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      got += d;
      if (got.endsWith(marker)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(got);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
    socket.write(text);
  });
}

/**
 * §8 text mode over a real socket: any lines (after a first byte that is not the preface) get their
 * replies and the session still answers `ping` after them; no reply carries INTERNAL_ERROR or a control
 * character other than LF.
 */
export const textSession: FuzzTarget<string[]> = {
  name: 'text-session',
  hangMs: 5000,
  arbitrary: fc.array(line.filter((l) => !/^\s*(quit|exit|bye|fim|sair|salir|adios)\b/i.test(l)), { minLength: 1, maxLength: 6 }),
  async setup() {
    socketNode = await fuzzNode({ maxLine: 256 });
  },
  async teardown() {
    await socketNode?.stop();
  },
  async check(input) {
    // The first byte must not be 0x8E (that would be binary mode, §3.2); a chat or watch line would start a
    // live command that the next line ends, which is fine; `ping` comes last to prove the session lives.
    const text = Buffer.from(`help\n${input.map((l) => l.replace(/\n/g, ' ')).join('\n')}\n/leave\nping\n`);
    const reply = await session(socketNode!.port, text, 'pong\n', 4000);
    assert(reply.endsWith('pong\n'), `session did not answer ping: ${JSON.stringify(reply.slice(-200))}`);
    assert(!reply.includes('INTERNAL_ERROR'), `INTERNAL_ERROR in ${JSON.stringify(reply.slice(0, 400))}`);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the check is for control characters
    assert(!/[\x00-\x08\x0b-\x1f\x7f-\x9f]/.test(reply), `control character in ${JSON.stringify(reply.slice(0, 400))}`);
  },
};
