/**
 * A stored file's name is any text (`../../etc/passwd` included); a local file name is not. This turns the
 * former into the latter: the last path segment only, no control or reserved characters, no device names on
 * Windows, at most 255 bytes, so a download can never write outside the directory it was asked to.
 */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])(\..*)?$/i;
const MAX_BYTES = 255;

export function safeLocalName(name: string, platform: string = process.platform): string {
  const segments = name.split(/[/\\]/).filter((s) => s !== '' && s !== '.' && s !== '..');
  let base = segments.at(-1) ?? '';
  base = base.replace(/[\p{Cc}<>:"|?*\u2028\u2029\u202A-\u202E\u2066-\u2069]/gu, '_');
  if (platform === 'win32') {
    base = base.replace(/[. ]+$/, '');
    if (WINDOWS_DEVICE.test(base)) base = `_${base}`;
  }
  if (base.trim() === '' || base === '.' || base === '..') base = 'download';
  return truncateUtf8(base, MAX_BYTES);
}

/** Shortens to `max` UTF-8 bytes, keeping the extension and never splitting a character. */
function truncateUtf8(name: string, max: number): string {
  const encoder = new TextEncoder();
  if (encoder.encode(name).length <= max) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  let stem = name.slice(0, name.length - ext.length);
  const budget = max - encoder.encode(ext).length;
  const chars = [...stem];
  while (chars.length > 0 && encoder.encode(chars.join('')).length > budget) chars.pop();
  stem = chars.join('');
  return stem + ext;
}
