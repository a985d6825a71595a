import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_NAME_BYTES, normalizeName, normalizeType } from '../../src/services/files/names.js';
import { safeLocalName } from '../../src/util/local-names.js';

const invalid = (name: string) =>
  expect(() => normalizeName(name)).toThrowError(expect.objectContaining({ code: 'FILES_NAME_INVALID' }));

describe('file names are metadata, never paths', () => {
  it('keeps path-like and device-like names as plain text', () => {
    for (const name of ['../../etc/passwd', 'con.txt', 'NUL', 'a/b\\c', '.', '..', '~root', '$(rm -rf /)']) {
      expect(normalizeName(name)).toBe(name);
    }
  });

  it('accepts any Unicode text and stores it in NFC', () => {
    expect(normalizeName('vídeo 📹 日本語.mp4')).toBe('vídeo 📹 日本語.mp4');
    expect(normalizeName('cafe\u0301')).toBe('caf\u00e9'); // e + combining accent → é
    expect(normalizeName('👨‍👩‍👧.png')).toBe('👨‍👩‍👧.png'); // zero-width joiners are fine
  });

  it('refuses empty, blank, too long and control-character names with a clear message', () => {
    expect(() => normalizeName('')).toThrowError(/empty/);
    invalid('   ');
    expect(() => normalizeName('x'.repeat(10 * 1024))).toThrowError(/10240 bytes.*limit is 1024/);
    expect(normalizeName('é'.repeat(MAX_NAME_BYTES / 2))).toHaveLength(MAX_NAME_BYTES / 2);
    invalid('é'.repeat(MAX_NAME_BYTES / 2 + 1));
    expect(() => normalizeName('a\nb')).toThrowError(/U\+000A at position 2/);
    for (const bad of ['\u0000', 'a\u001b[2Jb', 'x\u007f', 'x\u0085', 'l\u2028', 'gpj.\u202Eexe', '\ud800x'])
      invalid(bad);
  });

  it('any input either is refused with FILES_NAME_INVALID or yields a printable, bounded name (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 2000 }), (raw) => {
        let name: string;
        try {
          name = normalizeName(raw);
        } catch (err) {
          expect((err as { code: string }).code).toBe('FILES_NAME_INVALID');
          return;
        }
        expect(new TextEncoder().encode(name).length).toBeLessThanOrEqual(MAX_NAME_BYTES);
        expect(name).not.toMatch(/[\p{Cc}\u2028\u2029]/u);
        expect(name.trim()).not.toBe('');
      }),
    );
  });

  it('media types: defaulted, normalized, and refused when not type/subtype', () => {
    expect(normalizeType(undefined)).toBe('application/octet-stream');
    expect(normalizeType(' Video/MP4 ')).toBe('video/mp4');
    expect(normalizeType('text/plain; charset=utf-8')).toBe('text/plain; charset=utf-8');
    for (const bad of ['video', 'a/b/c', 'text/plain\nX-Evil: 1', 'x'.repeat(300)]) {
      expect(() => normalizeType(bad)).toThrowError(expect.objectContaining({ code: 'INVALID_ARGS' }));
    }
  });
});

describe('downloads turn stored names into safe local file names', () => {
  it('keeps only the last segment and never leaves the target directory', () => {
    expect(safeLocalName('../../etc/passwd')).toBe('passwd');
    expect(safeLocalName('..\\..\\boot.ini')).toBe('boot.ini');
    expect(safeLocalName('..')).toBe('download');
    expect(safeLocalName('/')).toBe('download');
    expect(safeLocalName('a\u0000b')).toBe('a_b');
  });

  it('avoids Windows device names and trailing dots there, keeps them elsewhere', () => {
    expect(safeLocalName('con.txt', 'win32')).toBe('_con.txt');
    expect(safeLocalName('report. ', 'win32')).toBe('report');
    expect(safeLocalName('con.txt', 'linux')).toBe('con.txt');
  });

  it('bounds the length to 255 UTF-8 bytes, keeping the extension', () => {
    const long = `${'é'.repeat(300)}.mp4`;
    const safe = safeLocalName(long);
    expect(new TextEncoder().encode(safe).length).toBeLessThanOrEqual(255);
    expect(safe.endsWith('.mp4')).toBe(true);
  });

  it('never yields a separator, a dot-segment or an empty name (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 600 }),
        fc.constantFrom('linux', 'win32'),
        (raw, os) => {
          const safe = safeLocalName(raw, os);
          expect(safe).not.toMatch(/[/\\]/);
          expect(['', '.', '..']).not.toContain(safe);
          expect(new TextEncoder().encode(safe).length).toBeLessThanOrEqual(255);
        },
      ),
    );
  });
});
