import { PREFACE_FIRST_BYTE } from '../../protocol/constants.js';
import { COOKIE_SIZE } from './cookie.js';

/**
 * Byte layouts of secure datagrams (spec §13.3). Every one starts with 0x8E (§13.1.1) and a type byte;
 * integers are big-endian (§1.1). Pure: bytes in, values out.
 */
export const DatagramType = {
  HELLO: 0x01,
  COOKIE: 0x02,
  WELCOME: 0x03,
  RECORD: 0x04,
  RESET: 0x05,
  REFUSED: 0x06,
} as const;

export const UDP_VERSION = 1;
/** §13.3.2 A HELLO is padded to at least this many bytes: it proves the path carries datagrams that big. */
export const HELLO_MIN_SIZE = 1200;
/** §13.3.5 No secure datagram is longer than this (below the IPv6 minimum MTU of 1280 with headers). */
export const MAX_DATAGRAM = 1200;
export const KEY_ID_SIZE = 8;
/** §13.3.4 Noise NNpsk0 message 1 (e, then an empty payload's tag) and message 2 (e, tag). */
export const NOISE_MESSAGE_SIZE = 48;
/** §13.3.5 RECORD header: marker, type, session id u32, packet number u64. */
export const RECORD_HEADER = 14;
export const TAG_SIZE = 16;
/** §13.3.6 Plaintext header of a record: ack u32, sack u32, flags u8, message number u32. */
export const PLAIN_HEADER = 13;
/** Bytes of stream a record carries at most. */
export const MAX_MESSAGE = MAX_DATAGRAM - RECORD_HEADER - TAG_SIZE - PLAIN_HEADER;

export interface Hello {
  version: number;
  cookie: Uint8Array | undefined;
  keyId: Uint8Array;
  noise: Uint8Array;
}

/** A HELLO, or undefined when the bytes are not one (wrong size, version, lengths). */
export function parseHello(bytes: Uint8Array): Hello | undefined {
  if (bytes.length < HELLO_MIN_SIZE || bytes.length > MAX_DATAGRAM) return undefined;
  if (bytes[0] !== PREFACE_FIRST_BYTE || bytes[1] !== DatagramType.HELLO) return undefined;
  const version = bytes[2]!;
  const cookieLength = bytes[3]!;
  if (cookieLength !== 0 && cookieLength !== COOKIE_SIZE) return undefined;
  let at = 4;
  const cookie = cookieLength === 0 ? undefined : bytes.subarray(at, at + cookieLength);
  at += cookieLength;
  const keyId = bytes.subarray(at, at + KEY_ID_SIZE);
  at += KEY_ID_SIZE;
  const noise = bytes.subarray(at, at + NOISE_MESSAGE_SIZE);
  return { version, cookie, keyId, noise };
}

export function encodeHello(keyId: Uint8Array, noise: Uint8Array, cookie?: Uint8Array): Uint8Array {
  const out = new Uint8Array(HELLO_MIN_SIZE); // zero padding to the minimum size
  out[0] = PREFACE_FIRST_BYTE;
  out[1] = DatagramType.HELLO;
  out[2] = UDP_VERSION;
  out[3] = cookie?.length ?? 0;
  let at = 4;
  if (cookie !== undefined) {
    out.set(cookie, at);
    at += cookie.length;
  }
  out.set(keyId, at);
  out.set(noise, at + KEY_ID_SIZE);
  return out;
}

export function encodeCookie(cookie: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + cookie.length);
  out[0] = PREFACE_FIRST_BYTE;
  out[1] = DatagramType.COOKIE;
  out.set(cookie, 2);
  return out;
}

export function encodeWelcome(sessionId: number, noise: Uint8Array): Uint8Array {
  const out = new Uint8Array(6 + noise.length);
  out[0] = PREFACE_FIRST_BYTE;
  out[1] = DatagramType.WELCOME;
  new DataView(out.buffer).setUint32(2, sessionId);
  out.set(noise, 6);
  return out;
}

/** RESET and REFUSED name a session id (0 in REFUSED) and, for REFUSED, an error code in ASCII. */
export function encodeReset(sessionId: number): Uint8Array {
  const out = new Uint8Array(6);
  out[0] = PREFACE_FIRST_BYTE;
  out[1] = DatagramType.RESET;
  new DataView(out.buffer).setUint32(2, sessionId);
  return out;
}

export function encodeRefused(code: string): Uint8Array {
  const ascii = new TextEncoder().encode(code.slice(0, 64));
  const out = new Uint8Array(2 + ascii.length);
  out[0] = PREFACE_FIRST_BYTE;
  out[1] = DatagramType.REFUSED;
  out.set(ascii, 2);
  return out;
}

export function sessionIdOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(2);
}
