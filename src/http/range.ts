/**
 * The `Range` header of a download (RFC 9110 §14), for a representation of `size` bytes. One range is
 * served (206); what a server may ignore is ignored, so the client gets the whole file (200) as from a server
 * that knows no ranges: another unit, a header that does not parse, several ranges that do not merge into one
 * (no multipart/byteranges). Ranges that start at or past the end are unsatisfiable (416).
 */
export type RangeRequest =
  /** Serve everything (no header, or one the server ignores). */
  | { readonly kind: 'full' }
  /** Serve bytes [start, end] (inclusive, as Content-Range writes them). */
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  /** 416 with `Content-Range: bytes *\/size`. */
  | { readonly kind: 'unsatisfiable' };

/** Longest header looked at; a longer one is ignored rather than parsed. */
const MAX_HEADER = 1024;
const MAX_RANGES = 16;

export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined) return { kind: 'full' };
  // A longer header is not parsed; an empty file has no range to serve: both get the whole representation.
  if (header.length > MAX_HEADER || size === 0) return { kind: 'full' };
  const match = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (match === null) return { kind: 'full' }; // another unit, or not a range at all
  const specs = match[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (specs.length === 0 || specs.length > MAX_RANGES) return { kind: 'full' };
  const ranges: { start: number; end: number }[] = [];
  for (const spec of specs) {
    const parts = /^(\d{0,16})\s*-\s*(\d{0,16})$/.exec(spec);
    if (parts === null) return { kind: 'full' };
    const [, first = '', last = ''] = parts;
    if (first === '' && last === '') return { kind: 'full' };
    if (first === '') {
      // A suffix: the last N bytes.
      const n = Number(last);
      if (n === 0) continue; // asks for nothing: unsatisfiable unless another range is good
      ranges.push({ start: Math.max(0, size - n), end: size - 1 });
      continue;
    }
    const start = Number(first);
    const end = last === '' ? size - 1 : Number(last);
    if (last !== '' && end < start) return { kind: 'full' }; // invalid: ignored, as the RFC allows
    if (start >= size) continue;
    ranges.push({ start, end: Math.min(end, size - 1) });
  }
  if (ranges.length === 0) return { kind: 'unsatisfiable' };
  // Overlapping or touching ranges merge; what stays several is served whole (200).
  ranges.sort((a, b) => a.start - b.start);
  const merged = [ranges[0]!];
  for (const r of ranges.slice(1)) {
    const last = merged.at(-1)!;
    if (r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  if (merged.length > 1) return { kind: 'full' };
  const { start, end } = merged[0]!;
  return { kind: 'partial', start, end };
}
