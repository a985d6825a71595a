import { Packr, RESET_BUFFER_MODE, REUSE_BUFFER_MODE } from 'msgpackr/pack'; // the pure-JS build: for small frames it beats the native string extractor
import { type ErrorPayload, NexoError, REQUEST_ID } from '../errors.js';
import type { Frame } from './frame.js';
import { NameTable } from './names.js';
import { MISS, readSmall } from './small-values.js';

/**
 * §4.5 Structured payloads are MessagePack. These options keep the encoding to the portable core of the
 * format: no msgpackr records or extensions, maps decode to plain objects, undefined encodes as nil.
 */
export const PACKR_OPTIONS = Object.freeze({
  useRecords: false,
  moreTypes: false,
  mapsAsObjects: true,
  variableMapSize: true,
  encodeUndefinedAsNil: true,
  int64AsType: 'number',
  largeBigIntToString: true,
} as const);
const packr = new Packr({ ...PACKR_OPTIONS });

export function packValue(value: unknown): Uint8Array {
  return packr.pack(widenIntegers(value));
}

const INT64_MIN = -(2 ** 63);
const UINT64_LIMIT = 2 ** 64;

/** An integer that int 8/16/32 and uint 8/16/32 cannot hold and int 64 / uint 64 can (§4.5.5). */
function isWide(n: number): boolean {
  return Number.isInteger(n) && (n > 0xffff_ffff || n < -0x8000_0000) && n >= INT64_MIN && n < UINT64_LIMIT;
}

function hasWide(value: unknown): boolean {
  if (typeof value === 'number') return isWide(value);
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) return value.some(hasWide);
  if (value instanceof Map) {
    for (const v of value.values()) if (hasWide(v)) return true;
    return false;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in value) if (hasWide((value as Record<string, unknown>)[key])) return true;
  return false;
}

function widen(value: unknown): unknown {
  if (typeof value === 'number') return isWide(value) ? BigInt(value) : value;
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return value;
  if (Array.isArray(value)) return value.map(widen);
  if (value instanceof Map) return new Map([...value].map(([k, v]) => [k, widen(v)]));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const key in value) out[key] = widen((value as Record<string, unknown>)[key]);
  return out;
}

/**
 * §4.5.5 Integers beyond 32 bits go out as MessagePack integers, not float64 (msgpackr's choice for any
 * number outside the 32-bit ranges): such numbers become BigInt, which msgpackr writes as int 64 (0xd3),
 * or uint 64 (0xcf) from 2^63. The value is copied only when it holds one; the caller's stays as it was.
 */
export function widenIntegers(value: unknown): unknown {
  return hasWide(value) ? widen(value) : value;
}

/** Bytes of one packed value at `[start, end)` of a buffer that the next pack overwrites. */
export interface ScratchBytes {
  readonly buffer: Uint8Array;
  readonly start: number;
  readonly end: number;
}

const SCRATCH_MODE = REUSE_BUFFER_MODE | RESET_BUFFER_MODE;

/**
 * Packs a value into msgpackr's own buffer and returns where it lies, without allocating a view: the
 * server's replies are copied from there straight into the outgoing batch (a view per reply was ~100 ns of
 * a ~1 µs request). RESET_BUFFER_MODE hands the same region to the next pack, so copy the bytes before
 * packing anything else. Results of `packValue` are never overwritten by it.
 */
export function packScratch(value: unknown): ScratchBytes {
  const target = packr.pack(widenIntegers(value), SCRATCH_MODE) as unknown as Uint8Array & {
    start: number;
    end: number;
  };
  return { buffer: target, start: target.start, end: target.end };
}

/** Decodes one MessagePack value; throws a NexoError with `code` when the bytes are not exactly one value. */
export function unpackValue(
  bytes: Uint8Array,
  code: DecodeErrorCode = 'PROTOCOL_ERROR',
  utf8: Utf8Policy = 'strict',
): unknown {
  return unpackRange(bytes, 0, bytes.length, code, utf8);
}

/** Decodes the payload of a frame where it lies, without making a view of it first. */
export function unpackFrame(
  frame: Frame,
  code: DecodeErrorCode = 'PROTOCOL_ERROR',
  utf8: Utf8Policy = 'strict',
): unknown {
  return unpackRange(frame.source, frame.offset, frame.offset + frame.length, code, utf8);
}

type DecodeErrorCode = 'PROTOCOL_ERROR' | 'BAD_REQUEST';
/**
 * §4.5.6 `strict`: a str that is not valid UTF-8 is refused with the code (the server's rule for what it
 * reads). `replace`: decoded with U+FFFD in its place (the client library, which takes the server's word).
 */
export type Utf8Policy = 'strict' | 'replace';

function unpackRange(
  source: Uint8Array,
  start: number,
  end: number,
  code: DecodeErrorCode,
  utf8: Utf8Policy = 'strict',
): unknown {
  if (end === start) return undefined;
  const small = readSmall(source, start, end);
  if (small !== MISS) return small;
  let value: unknown;
  try {
    // msgpackr keeps a DataView on the source object, so all frames of one received chunk share it.
    value = packr.unpack(source, { start, end });
  } catch (err) {
    throw new NexoError(code, `payload is not valid MessagePack: ${(err as Error).message}`);
  }
  const suspect = suspicious(value);
  // §4.5.2 msgpackr reads extension type 0 (its own encoding of undefined) as undefined, silently: nil is
  // null, so an undefined anywhere in the value came from that extension, which nexo does not use.
  if (suspect === UNDEFINED) {
    throw new NexoError(code, 'payload holds MessagePack extension type 0, which nexo does not use (§4.5.2)');
  }
  // §4.5.2 msgpackr reads the byte 0xc1, which MessagePack never uses, as a marker object, and would even
  // pack it back: such a payload is not MessagePack.
  if (suspect === NEVER_USED) throw new NexoError(code, 'payload is not valid MessagePack: it holds 0xc1');
  // §4.5.6 msgpackr decodes invalid UTF-8 as U+FFFD, silently. A string holding U+FFFD is rare: only then
  // are the payload's str bytes checked, so a valid U+FFFD (ef bf bd) passes and a replaced byte does not.
  if (suspect === REPLACED && utf8 === 'strict') {
    const at = invalidUtf8At(source, start, end);
    if (at !== -1) {
      throw new NexoError(
        code,
        `payload holds a str that is not valid UTF-8 (at byte ${at - start}, §4.5.6)`,
      );
    }
  }
  return value;
}

const UNDEFINED = 1;
const REPLACED = 2;
const NEVER_USED = 3;

/**
 * UNDEFINED if the value holds undefined anywhere, NEVER_USED if it holds an object no MessagePack type
 * gives (0xc1), else REPLACED if a string or key holds U+FFFD, else 0.
 */
function suspicious(value: unknown): number {
  if (value === undefined) return UNDEFINED;
  if (typeof value === 'string') return value.includes('\uFFFD') ? REPLACED : 0;
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value)) return 0;
  let found = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const s = suspicious(value[i]);
      if (s === UNDEFINED || s === NEVER_USED) return s;
      found |= s;
    }
    return found;
  }
  const proto = Object.getPrototypeOf(value);
  // Maps decode as plain objects, timestamps as Date; any other object (msgpackr's marker for 0xc1) is not
  // a MessagePack value.
  if (proto !== Object.prototype && proto !== null) return value instanceof Date ? 0 : NEVER_USED;
  for (const key in value) {
    const s = suspicious((value as Record<string, unknown>)[key]);
    if (s === UNDEFINED || s === NEVER_USED) return s;
    if (key.includes('\uFFFD')) found = REPLACED;
    found |= s;
  }
  return found;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Where the first str of a MessagePack payload at `[start, end)` that is not valid UTF-8 begins (its type
 * byte), or -1. The payload was decoded already, so it is well formed: one linear pass over its items
 * (containers are only their headers here), checking the bytes of each str.
 */
export function invalidUtf8At(source: Uint8Array, start: number, end: number): number {
  const view = new DataView(source.buffer, source.byteOffset, source.byteLength);
  let p = start;
  while (p < end) {
    const b = source[p]!;
    let header = 1; // fixint, fixmap, fixarray, nil, bool: the type byte only
    let length = 0;
    if (b >= 0xa0 && b <= 0xbf) length = b & 0x1f;
    else if (b >= 0xc4 && b <= 0xdf) {
      header = HEADER[b - 0xc4]!;
      const lengthBytes = LENGTH_BYTES[b - 0xc4]!;
      if (lengthBytes === 1) length = source[p + 1]!;
      else if (lengthBytes === 2) length = view.getUint16(p + 1);
      else if (lengthBytes === 4) length = view.getUint32(p + 1);
    }
    const body = p + header;
    if (body + length > end) return -1;
    const text = (b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb);
    if (text && length > 0 && !validUtf8(source.subarray(body, body + length))) return p;
    p = body + length;
  }
  return -1;
}

function validUtf8(bytes: Uint8Array): boolean {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

// Type bytes 0xc4 to 0xdf, in order: bin 8/16/32, ext 8/16/32 (length, then the type byte), float 32/64,
// uint 8-64, int 8-64, fixext 1/2/4/8/16, str 8/16/32, array 16/32, map 16/32 (whose items follow as items).
/** Bytes before the body (type byte, length, ext type, or the whole fixed-size value). */
// biome-ignore format: one table row
const HEADER = Uint8Array.of(2, 3, 5, 3, 4, 6, 5, 9, 2, 3, 5, 9, 2, 3, 5, 9, 3, 4, 6, 10, 18, 2, 3, 5, 3, 5, 3, 5);
/** Bytes of the length field after the type byte (0: no body). */
// biome-ignore format: one table row
const LENGTH_BYTES = Uint8Array.of(1, 2, 4, 1, 2, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 0, 0, 0, 0);

/** §5.1 */
export interface Hello {
  versions: number[];
  client?: string;
  token?: string;
}

/** §5.2 Limits the server announces and enforces. */
export interface Limits {
  /** Largest frame payload the server accepts, in bytes. */
  maxFrame: number;
  /** Requests a client may have open at once; the server stops reading beyond it. */
  maxInFlight: number;
  /** The server sends PING after this long without a frame from the client (0: never). */
  heartbeatMs: number;
  /** The server closes a connection with no open request for this long (0: never). */
  idleTimeoutMs: number;
}

/** §5.2 */
export interface Welcome {
  version: number;
  node: string;
  server: string;
  role: string;
  limits: Limits;
  services: Record<string, string[]>;
}

/** §7.3 */
export interface GoAway {
  code: string;
  message: string;
  /** §7.3.5 Suggested wait before reconnecting (0: at once, to another node). */
  reconnectMs?: number;
  /** §7.3.5 Other live nodes (host:port) to reconnect to. */
  alternates?: string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return (
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array)
  );
}

const SHORT_TEXT = 256;
const TOKEN_TEXT = 4096;

export function parseHello(frame: Frame): Hello {
  const value = unpackFrame(frame);
  if (!isRecord(value)) throw new NexoError('PROTOCOL_ERROR', 'HELLO payload must be a map');
  const { versions, client, token } = value;
  if (!Array.isArray(versions) || versions.length === 0 || versions.length > 32) {
    throw new NexoError('PROTOCOL_ERROR', 'HELLO.versions must be a non-empty array of at most 32 integers');
  }
  if (!versions.every((v) => Number.isInteger(v) && v > 0 && v < 65536)) {
    throw new NexoError('PROTOCOL_ERROR', 'HELLO.versions must hold integers from 1 to 65535');
  }
  if (client !== undefined && client !== null && (typeof client !== 'string' || client.length > SHORT_TEXT)) {
    throw new NexoError(
      'PROTOCOL_ERROR',
      `HELLO.client must be a string of at most ${SHORT_TEXT} characters`,
    );
  }
  if (token !== undefined && token !== null && (typeof token !== 'string' || token.length > TOKEN_TEXT)) {
    throw new NexoError('PROTOCOL_ERROR', `HELLO.token must be a string of at most ${TOKEN_TEXT} characters`);
  }
  const hello: Hello = { versions: versions as number[] };
  if (typeof client === 'string') hello.client = client;
  if (typeof token === 'string') hello.token = token;
  return hello;
}

export function parseWelcome(frame: Frame): Welcome {
  const value = unpackFrame(frame, 'PROTOCOL_ERROR', 'replace');
  if (!isRecord(value) || typeof value.version !== 'number' || typeof value.node !== 'string') {
    throw new NexoError('PROTOCOL_ERROR', 'WELCOME payload is malformed');
  }
  const limits = isRecord(value.limits) ? value.limits : {};
  const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  const services: Record<string, string[]> = {};
  if (isRecord(value.services)) {
    for (const [name, methods] of Object.entries(value.services)) {
      if (Array.isArray(methods)) services[name] = methods.filter((m): m is string => typeof m === 'string');
    }
  }
  return {
    version: value.version,
    node: value.node,
    server: typeof value.server === 'string' ? value.server : '',
    role: typeof value.role === 'string' ? value.role : 'anonymous',
    limits: {
      maxFrame: num(limits.maxFrame, 1 << 20),
      maxInFlight: num(limits.maxInFlight, 256),
      heartbeatMs: num(limits.heartbeatMs, 0),
      idleTimeoutMs: num(limits.idleTimeoutMs, 0),
    },
    services,
  };
}

/** Service and method names seen in requests, kept as strings so a request does not build its own (§6.1). */
const names = new NameTable();

/**
 * §6.1 A REQUEST payload is [service, method, args]. Throws BAD_REQUEST (answered, not fatal).
 *
 * The usual encoding (a fixarray of two short names and the args) is read here byte by byte, and the names
 * come from a table of strings seen before, so only the args are decoded by msgpackr. Anything else (longer
 * names, other array encodings, malformed bytes) takes the general path, which gives the same results and
 * the same errors.
 */
export function parseRequest(
  frame: Frame,
): [service: string, method: string, args: unknown, requestId?: string] {
  const src = frame.source;
  const end = frame.offset + frame.length;
  let p = frame.offset;
  const head = src[p];
  if ((head === 0x92 || head === 0x93) && end - p >= 3) {
    const service = names.read(src, p + 1, end);
    if (service !== undefined) {
      p = names.end;
      const method = names.read(src, p, end);
      if (method !== undefined) {
        p = names.end;
        if (head === 0x92 && p === end) return [service, method, null];
        if (head === 0x93 && p < end)
          return [service, method, unpackRange(src, p, end, 'BAD_REQUEST') ?? null];
      }
    }
  }
  return parseRequestSlow(frame);
}

function parseRequestSlow(
  frame: Frame,
): [service: string, method: string, args: unknown, requestId?: string] {
  const value = unpackFrame(frame, 'BAD_REQUEST');
  if (!Array.isArray(value) || value.length < 2 || value.length > 4) {
    throw new NexoError('BAD_REQUEST', 'REQUEST payload must be an array [service, method, args, meta?]');
  }
  if (typeof value[0] !== 'string' || typeof value[1] !== 'string') {
    throw new NexoError('BAD_REQUEST', 'REQUEST service and method must be strings');
  }
  // The decoded array is ours: normalise it in place instead of building another object per request.
  if (value.length === 2) value.push(null);
  else value[2] ??= null;
  if (value.length === 4) value[3] = requestIdOf(value[3]);
  return value as [string, string, unknown, string?];
}

/** §6.1.4 The fourth element, `{rid}`: the client's request id. Other keys are ignored (later versions). */
function requestIdOf(meta: unknown): string | undefined {
  if (meta === null) return undefined;
  if (typeof meta !== 'object' || Array.isArray(meta)) {
    throw new NexoError(
      'BAD_REQUEST',
      'REQUEST meta (the fourth element) must be a map such as {rid: "..."}',
    );
  }
  const rid = (meta as { rid?: unknown }).rid;
  if (rid === undefined || rid === null) return undefined;
  if (typeof rid !== 'string' || !REQUEST_ID.test(rid)) {
    throw new NexoError(
      'BAD_REQUEST',
      'REQUEST meta rid must be 1 to 64 printable ASCII characters without spaces',
    );
  }
  return rid;
}

export function parseErrorPayload(frame: Frame): NexoError {
  try {
    return NexoError.fromPayload(unpackFrame(frame, 'PROTOCOL_ERROR', 'replace'));
  } catch {
    return new NexoError('PROTOCOL_ERROR', 'malformed ERROR payload');
  }
}

export function parseGoAway(frame: Frame): GoAway {
  let value: unknown;
  try {
    value = unpackFrame(frame, 'PROTOCOL_ERROR', 'replace');
  } catch {
    value = undefined;
  }
  if (!isRecord(value)) return { code: 'SHUTTING_DOWN', message: 'the peer is going away' };
  const goAway: GoAway = {
    code: typeof value.code === 'string' ? value.code : 'SHUTTING_DOWN',
    message: typeof value.message === 'string' ? value.message : 'the peer is going away',
  };
  if (typeof value.reconnectMs === 'number') goAway.reconnectMs = value.reconnectMs;
  if (Array.isArray(value.alternates)) {
    // Bounded and checked: a peer's list is a hint, never trusted blindly.
    goAway.alternates = value.alternates
      .filter((a): a is string => typeof a === 'string' && a.length <= 300)
      .slice(0, 16);
  }
  return goAway;
}

export function packError(error: ErrorPayload): Uint8Array {
  return packValue(error);
}
