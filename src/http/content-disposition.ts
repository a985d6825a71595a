import { safeLocalName } from '../util/local-names.js';

/**
 * `Content-Disposition` for a stored name (any Unicode text, `../../etc/passwd` included). The browser or
 * `curl -OJ` saves under the name's last path segment with no reserved characters (made safe for every
 * platform: Windows is the strictest), given twice (RFC 6266): `filename*` in UTF-8 (RFC 8187/5987) for
 * clients that read it, and an ASCII `filename` for those that do not.
 */
export function contentDisposition(
  name: string,
  disposition: 'attachment' | 'inline' = 'attachment',
): string {
  const safe = safeLocalName(name, 'win32');
  const ascii = safe
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // accents off: "vídeo" → "video"
    .replace(/[^\x20-\x7e]|["\\%;]/gu, '_'); // per character: an emoji is one `_`, not two
  const fallback = ascii.replace(/^[\s.]+$/, '') === '' ? 'download' : ascii;
  const header = `${disposition}; filename="${fallback}"`;
  return fallback === safe ? header : `${header}; filename*=UTF-8''${encodeRfc8187(safe)}`;
}

/** Percent-encodes everything but RFC 8187's attr-char (letters, digits and !#$&+-.^_`|~). */
export function encodeRfc8187(text: string): string {
  let out = '';
  for (const byte of new TextEncoder().encode(text)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9!#$&+\-.^_`|~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
