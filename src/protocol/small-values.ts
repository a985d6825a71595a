/**
 * §4.5 The few MessagePack shapes that most requests and replies carry, read and written inline: nil,
 * booleans, integers (up to 2^53), ASCII strings of up to 255 bytes, and maps (string keys) and arrays
 * of up to 15 entries of those, nested at most MAX_DEPTH deep. For values this small, msgpackr's per-call
 * setup costs more than the encoding itself (about half of the server's time per echo request, measured
 * with bench/server-path.ts).
 *
 * Anything else — floats, integers beyond 2^53, bin, extensions, non-ASCII text, bigger containers — is a MISS
 * and goes to msgpackr, so this module never has to agree with it on a hard case. On the shapes it does
 * take it writes exactly msgpackr's bytes and reads exactly msgpackr's values; test/protocol/small-values
 * checks both against msgpackr on random input.
 */
import { NameTable } from './names.js';

/** Returned when a value or a byte range is not one of the small shapes. */
export const MISS: unique symbol = Symbol('not a small value');

const MAX_DEPTH = 3;
const MAX_ENTRIES = 15;
const MAX_STRING = 255;

// ---- writing --------------------------------------------------------------------------------------

/**
 * Writes `value` at `at`, not past `limit`. Returns the position after it, or -1 when the value is not
 * small or does not fit (then nothing it wrote matters: the caller writes the value another way).
 */
export function writeSmall(value: unknown, target: Uint8Array, at: number, limit: number): number {
  return write(value, target, at, limit, 0);
}

/**
 * §6.1.1 A REQUEST payload, `[service, method, args ?? null]`, or with the caller's request id
 * `[service, method, args ?? null, {rid}]` (§6.1.4), written as msgpackr writes that array, with no array
 * made for it: the client's request path. Returns as writeSmall does (-1: write it with msgpackr).
 */
export function writeRequest(
  service: string,
  method: string,
  args: unknown,
  requestId: string | undefined,
  t: Uint8Array,
  p: number,
  limit: number,
): number {
  if (p >= limit) return -1;
  t[p] = requestId === undefined ? 0x93 : 0x94;
  let q = write(service, t, p + 1, limit, 1);
  if (q < 0) return -1;
  q = write(method, t, q, limit, 1);
  if (q < 0) return -1;
  q = write(args ?? null, t, q, limit, 1);
  if (q < 0 || requestId === undefined) return q;
  if (q >= limit || typeof requestId !== 'string') return -1;
  t[q] = 0x81;
  q = writeString('rid', t, q + 1, limit);
  return q < 0 ? -1 : writeString(requestId, t, q, limit);
}

function write(value: unknown, t: Uint8Array, p: number, limit: number, depth: number): number {
  if (p >= limit) return -1;
  switch (typeof value) {
    case 'string':
      return writeString(value, t, p, limit);
    case 'number':
      return writeNumber(value, t, p, limit);
    case 'boolean':
      t[p] = value ? 0xc3 : 0xc2;
      return p + 1;
    case 'undefined':
      t[p] = 0xc0; // encodeUndefinedAsNil, as payload.ts configures msgpackr
      return p + 1;
    case 'object': {
      if (value === null) {
        t[p] = 0xc0;
        return p + 1;
      }
      if (depth >= MAX_DEPTH) return -1;
      if (Array.isArray(value)) return writeArray(value, t, p, limit, depth);
      if (Object.getPrototypeOf(value) === Object.prototype) {
        return writeMap(value as Record<string, unknown>, t, p, limit, depth);
      }
      return -1;
    }
    default:
      return -1;
  }
}

function writeString(s: string, t: Uint8Array, p: number, limit: number): number {
  const length = s.length;
  if (length > MAX_STRING) return -1;
  const header = length < 0x20 ? 1 : 2;
  if (p + header + length > limit) return -1;
  let q = p + header;
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) return -1;
    t[q++] = c;
  }
  if (header === 1) t[p] = 0xa0 | length;
  else {
    t[p] = 0xd9;
    t[p + 1] = length;
  }
  return q;
}

/**
 * msgpackr's integer forms (pack.js, useRecords: false); -0 is written as 0, as msgpackr does. Safe integers
 * beyond 32 bits are int 64 (0xd3), as payload.ts has msgpackr write them (§4.5.5).
 */
function writeNumber(n: number, t: Uint8Array, p: number, limit: number): number {
  if (p + 5 > limit) return -1;
  if (n >>> 0 === n) {
    if (n < 0x80) {
      t[p] = n;
      return p + 1;
    }
    if (n < 0x100) {
      t[p] = 0xcc;
      t[p + 1] = n;
      return p + 2;
    }
    if (n < 0x10000) {
      t[p] = 0xcd;
      t[p + 1] = n >>> 8;
      t[p + 2] = n;
      return p + 3;
    }
    t[p] = 0xce;
    writeU32(t, p + 1, n);
    return p + 5;
  }
  if (n >> 0 === n) {
    if (n >= -0x20) {
      t[p] = 0x100 + n;
      return p + 1;
    }
    if (n >= -0x80) {
      t[p] = 0xd0;
      t[p + 1] = n + 0x100;
      return p + 2;
    }
    if (n >= -0x8000) {
      t[p] = 0xd1;
      t[p + 1] = n >> 8;
      t[p + 2] = n;
      return p + 3;
    }
    t[p] = 0xd2;
    writeU32(t, p + 1, n >>> 0);
    return p + 5;
  }
  if (Number.isSafeInteger(n)) {
    if (p + 9 > limit) return -1;
    const high = Math.floor(n / 2 ** 32);
    t[p] = 0xd3;
    writeU32(t, p + 1, high >>> 0);
    writeU32(t, p + 5, n - high * 2 ** 32);
    return p + 9;
  }
  return -1; // floats, NaN, integers beyond 2^53: msgpackr
}

function writeU32(t: Uint8Array, p: number, n: number): void {
  t[p] = n >>> 24;
  t[p + 1] = n >>> 16;
  t[p + 2] = n >>> 8;
  t[p + 3] = n;
}

function writeArray(a: unknown[], t: Uint8Array, p: number, limit: number, depth: number): number {
  if (a.length > MAX_ENTRIES) return -1;
  t[p] = 0x90 | a.length;
  let q = p + 1;
  for (let i = 0; i < a.length; i++) {
    q = write(a[i], t, q, limit, depth + 1);
    if (q < 0) return -1;
  }
  return q;
}

function writeMap(
  o: Record<string, unknown>,
  t: Uint8Array,
  p: number,
  limit: number,
  depth: number,
): number {
  const keys = Object.keys(o);
  if (keys.length > MAX_ENTRIES) return -1;
  t[p] = 0x80 | keys.length;
  let q = p + 1;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    q = writeString(key, t, q, limit);
    if (q < 0) return -1;
    q = write(o[key], t, q, limit, depth + 1);
    if (q < 0) return -1;
  }
  return q;
}

// ---- reading --------------------------------------------------------------------------------------

type Latin1Slice = (this: Uint8Array, start: number, end: number) => string;
/** Node's Buffer makes a one-byte string from ASCII bytes in C++, ~3x faster than msgpackr's JS loop. */
const latin1Slice = (globalThis as { Buffer?: { prototype: { latin1Slice?: Latin1Slice } } }).Buffer
  ?.prototype.latin1Slice;
const BufferClass = (globalThis as { Buffer?: abstract new (...args: never[]) => Uint8Array }).Buffer;

/** Map keys repeat from request to request: one string per key, as msgpackr's own key cache does. */
const keys = new NameTable();

/**
 * Reads one small value that spans exactly `[start, end)`. Returns MISS for anything else (another shape,
 * bytes left over, a truncated value); the caller then decodes with msgpackr, which also reports errors.
 */
export function readSmall(src: Uint8Array, start: number, end: number): unknown {
  // One reader for every call (nothing it runs calls back into here): no object per value read.
  const reader = READER;
  reader.src = src;
  reader.end = end;
  const value = reader.read(start, 0);
  const whole = reader.pos === end;
  reader.src = NOTHING; // do not keep the caller's buffer alive
  return value === MISS || !whole ? MISS : value;
}

const NOTHING = new Uint8Array(0);

class Reader {
  pos = 0;
  src: Uint8Array = NOTHING;
  end = 0;

  read(p: number, depth: number): unknown {
    const src = this.src;
    if (p >= this.end) return MISS;
    const b = src[p]!;
    if (b < 0x80) {
      this.pos = p + 1;
      return b;
    }
    if (b >= 0xe0) {
      this.pos = p + 1;
      return b - 0x100;
    }
    if (b >= 0xa0 && b <= 0xbf) return this.string(p + 1, b & 0x1f);
    if (b <= 0x8f) return depth >= MAX_DEPTH ? MISS : this.map(p + 1, b & 0x0f, depth);
    if (b <= 0x9f) return depth >= MAX_DEPTH ? MISS : this.array(p + 1, b & 0x0f, depth);
    switch (b) {
      case 0xc0:
        this.pos = p + 1;
        return null;
      case 0xc2:
        this.pos = p + 1;
        return false;
      case 0xc3:
        this.pos = p + 1;
        return true;
      case 0xd9:
        return p + 1 < this.end ? this.string(p + 2, src[p + 1]!) : MISS;
      default:
        // uint 8/16/32/64 are 0xcc-0xcf, int 8/16/32/64 are 0xd0-0xd3.
        if (b >= 0xcc && b <= 0xce) return this.integer(p, 1 << (b - 0xcc), false);
        if (b >= 0xd0 && b <= 0xd2) return this.integer(p, 1 << (b - 0xd0), true);
        if (b === 0xcf || b === 0xd3) return this.integer64(p, b === 0xd3);
        return MISS;
    }
  }

  string(p: number, length: number): unknown {
    const stop = p + length;
    if (stop > this.end || latin1Slice === undefined || !(this.src instanceof BufferClass!)) return MISS;
    const src = this.src;
    for (let i = p; i < stop; i++) if (src[i]! >= 0x80) return MISS;
    this.pos = stop;
    return latin1Slice.call(src, p, stop);
  }

  /** uint or int of `size` bytes after the type byte at `p`, big-endian. */
  integer(p: number, size: number, signed: boolean): unknown {
    if (p + 1 + size > this.end) return MISS;
    const s = this.src;
    let n = 0;
    for (let i = 1; i <= size; i++) n = n * 256 + s[p + i]!;
    this.pos = p + 1 + size;
    const half = 2 ** (8 * size - 1);
    return signed && n >= half ? n - 2 * half : n;
  }

  /** As msgpackr reads them with int64AsType 'number': high * 2^32 + low, one rounding beyond 2^53. */
  integer64(p: number, signed: boolean): unknown {
    if (p + 9 > this.end) return MISS;
    const s = this.src;
    let high = ((s[p + 1]! << 24) | (s[p + 2]! << 16) | (s[p + 3]! << 8) | s[p + 4]!) >>> 0;
    if (signed && high >= 0x8000_0000) high -= 2 ** 32;
    const low = ((s[p + 5]! << 24) | (s[p + 6]! << 16) | (s[p + 7]! << 8) | s[p + 8]!) >>> 0;
    this.pos = p + 9;
    return high * 2 ** 32 + low;
  }

  array(p: number, count: number, depth: number): unknown {
    const out: unknown[] = [];
    for (let i = 0; i < count; i++) {
      const v = this.read(p, depth + 1);
      if (v === MISS) return MISS;
      out.push(v);
      p = this.pos;
    }
    this.pos = p;
    return out;
  }

  map(p: number, count: number, depth: number): unknown {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < count; i++) {
      const key = keys.read(this.src, p, this.end);
      // msgpackr renames __proto__ so a payload cannot set a prototype; leave that rule to it.
      if (key === undefined || key === '__proto__') return MISS;
      const v = this.read(keys.end, depth + 1);
      if (v === MISS) return MISS;
      out[key] = v;
      p = this.pos;
    }
    this.pos = p;
    return out;
  }
}

const READER = new Reader();
