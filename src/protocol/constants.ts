/**
 * Wire constants of nexo protocol v1. `docs/protocol.md` is normative; section numbers (§) refer to it.
 */

/** §3.1 Connection preface, sent first by the client and echoed by the server. 0x8E is never the first
 * byte of UTF-8 text, so one byte tells a nexo client from a person typing (§3.2). */
export const PREFACE = Uint8Array.of(0x8e, 0x4e, 0x58, 0x4f); // 0x8E 'N' 'X' 'O'
export const PREFACE_FIRST_BYTE = 0x8e;

/** Protocol versions this build speaks, newest last (§5.1). */
export const PROTOCOL_VERSIONS: readonly number[] = [1];

/** §4.1 Frame header: u32 length | u8 type | u8 flags | u32 id, big-endian. */
export const HEADER_SIZE = 10;

/** §4.2 Frame types. */
export const FrameType = {
  HELLO: 0x01,
  WELCOME: 0x02,
  PING: 0x03,
  PONG: 0x04,
  GOAWAY: 0x05,
  REQUEST: 0x10,
  RESPONSE: 0x11,
  ERROR: 0x12,
  CHUNK: 0x13,
  CANCEL: 0x14,
  EVENT: 0x15,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const TYPE_NAMES = new Map<number, string>(Object.entries(FrameType).map(([name, value]) => [value, name]));

export function isFrameType(value: number): value is FrameType {
  return TYPE_NAMES.has(value);
}

export function frameTypeName(value: number): string {
  return TYPE_NAMES.get(value) ?? `0x${value.toString(16).padStart(2, '0')}`;
}

/**
 * §4.2.2 Frames of the connection itself, never of a request: their id is 0, and a receiver refuses any other
 * with a fatal PROTOCOL_ERROR.
 */
export function mustHaveIdZero(type: number): boolean {
  return type >= FrameType.HELLO && type <= FrameType.GOAWAY;
}

/** §4.2.2 The PROTOCOL_ERROR message for a connection frame that came with request id `id`. */
export function idZeroMessage(type: number, id: number): string {
  return `${frameTypeName(type)} concerns the connection and must have id 0, not ${id} (§4.2.2)`;
}

/** §4.3 Flags. Undefined bits are ignored by receivers and sent as zero. */
export const Flags = {
  /** RESPONSE: more frames follow for this id; this response is not final. */
  MORE: 0x01,
  /** CHUNK: last chunk the sender sends for this id. */
  END: 0x01,
} as const;

/** §4.4 Largest payload any peer must accept before the handshake ends (HELLO, WELCOME, ERROR). */
export const HANDSHAKE_MAX_PAYLOAD = 64 * 1024;
/** §4.4 Largest PING/PONG payload. */
export const MAX_PING_PAYLOAD = 64;
/** §4.4 Ids are u32; 0 is the connection itself. */
export const MAX_ID = 0xffff_ffff;
