import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineSplitter, type SplitLine } from '../../src/protocol/line-splitter.js';

function split(chunks: (string | Uint8Array)[], max = 100): SplitLine[] {
  const s = new LineSplitter(max);
  const out: SplitLine[] = [];
  for (const c of chunks) {
    s.push(typeof c === 'string' ? Buffer.from(c) : c);
    for (let l = s.next(); l; l = s.next()) out.push(l);
  }
  const last = s.end();
  if (last) out.push(last);
  return out;
}

describe('LineSplitter', () => {
  it('splits on LF, drops CR before it, keeps empty lines', () => {
    expect(split(['calc 1+1\r\ngreet Ana\n\nfim\n'])).toEqual([
      { line: 'calc 1+1' },
      { line: 'greet Ana' },
      { line: '' },
      { line: 'fim' },
    ]);
  });

  it("ends a line at telnet's CR NUL, also when CR and NUL arrive in different chunks; a NUL alone is a byte", () => {
    expect(split(['calc 1+1\r\0greet Ana\r', '\0a\0b\n'])).toEqual([
      { line: 'calc 1+1' },
      { line: 'greet Ana' },
      { line: 'a\0b' },
    ]);
    expect(split(['x\r', '\0', '\r\n'])).toEqual([{ line: 'x' }, { line: '' }]);
  });

  it('ends a too-long line at a CR NUL split across reads (found by npm run fuzz: the line after it was lost)', () => {
    const lines = (chunks: string[], max: number) =>
      split(chunks, max).map((l) => ('line' in l ? l.line : 'TOO LONG'));
    expect(lines(['G\r\0\r\0'], 1)).toEqual(['TOO LONG', '']);
    expect(lines(['G\r', '\0\r\0'], 1)).toEqual(['TOO LONG', '']);
    expect(lines(['Gxyz\r', '\0ok'], 3)).toEqual(['TOO LONG', 'ok']);
  });

  it('joins a line split across chunks, also inside a UTF-8 character', () => {
    const bytes = Buffer.from('greet José\n');
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(split([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual([{ line: 'greet José' }]);
    }
  });

  it('reports an over-long line once, skips to the next LF, and goes on', () => {
    const out = split(['x'.repeat(60), 'y'.repeat(60), 'z'.repeat(500), '\ncalc 2\n'], 100);
    expect(out).toEqual([{ tooLong: 120 }, { line: 'calc 2' }]);
  });

  it('reports a long line that ends in the same chunk', () => {
    expect(split([`${'a'.repeat(150)}\nok\n`], 100)).toEqual([{ tooLong: 150 }, { line: 'ok' }]);
  });

  it('returns a last line without LF at end of input', () => {
    expect(split(['calc 1+1\nfim'])).toEqual([{ line: 'calc 1+1' }, { line: 'fim' }]);
  });

  it('turns invalid UTF-8 into U+FFFD instead of throwing', () => {
    expect(split([Uint8Array.of(0xff, 0xfe, 0x41, 0x0a)])).toEqual([{ line: '\ufffd\ufffdA' }]);
  });

  it('property: any split gives the same lines, and never buffers more than a line plus a chunk', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 30 }), { maxLength: 10 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (lines, cuts) => {
          const text = Buffer.from(
            lines.map((l) => l.replaceAll('\n', ' ').replaceAll('\r', ' ')).join('\n'),
          );
          const points = [...new Set(cuts.map((c) => (text.length ? c % text.length : 0)))].sort(
            (a, b) => a - b,
          );
          const chunks: Uint8Array[] = [];
          let start = 0;
          for (const p of [...points, text.length]) {
            chunks.push(text.subarray(start, p));
            start = p;
          }
          expect(split(chunks, 1000)).toEqual(split([text], 1000));
        },
      ),
    );
  });
});
