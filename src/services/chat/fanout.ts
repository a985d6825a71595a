import { Packr } from 'msgpackr';
import type { ChatMessage, LeaveReason } from '../../wire/chat.js';

/**
 * A room's traffic between nodes (shared mode): every node with the room loaded subscribes to the room's
 * subject and hands what other nodes publish to its local members. Messages carry the seq the store gave
 * them, so a receiving node puts them in order and drops repeats (room.ts); joins and leaves are notices
 * for the members on other nodes.
 */
export type RoomTraffic =
  | { readonly kind: 'message'; readonly origin: string; readonly message: ChatMessage }
  | { readonly kind: 'join'; readonly origin: string; readonly nick: string; readonly at: number }
  | {
      readonly kind: 'leave';
      readonly origin: string;
      readonly nick: string;
      readonly at: number;
      readonly reason: LeaveReason;
    };

const packr = new Packr({ useRecords: false });

/** `chat.room.<base64url of the room key>`: any room name is one safe subject token. */
export function roomSubject(room: string): string {
  return `chat.room.${Buffer.from(room, 'utf8').toString('base64url')}`;
}

export function encodeTraffic(traffic: RoomTraffic): Uint8Array {
  return packr.pack(traffic);
}

const REASONS = new Set(['left', 'disconnected', 'too-slow']);
const str = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max;
const num = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Decodes what another node sent for `room`; undefined for anything malformed or meant for another room
 * (a node of another version, a bug, or a hostile publisher on the cluster's NATS).
 */
export function decodeTraffic(data: Uint8Array, room: string, maxText: number): RoomTraffic | undefined {
  let t: Record<string, unknown>;
  try {
    t = packr.unpack(data) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (t === null || typeof t !== 'object' || !str(t.origin, 64)) return undefined;
  if (t.kind === 'message') {
    const m = t.message as Record<string, unknown> | null;
    if (m === null || typeof m !== 'object') return undefined;
    if (m.room !== room || !num(m.seq) || m.seq === 0 || !num(m.at) || !str(m.nick, 64)) return undefined;
    if (!str(m.text, maxText)) return undefined;
    return {
      kind: 'message',
      origin: t.origin,
      message: { room, seq: m.seq, at: m.at, nick: m.nick, text: m.text },
    };
  }
  if ((t.kind === 'join' || t.kind === 'leave') && str(t.nick, 64) && num(t.at)) {
    if (t.kind === 'join') return { kind: 'join', origin: t.origin, nick: t.nick, at: t.at };
    if (typeof t.reason === 'string' && REASONS.has(t.reason)) {
      return { kind: 'leave', origin: t.origin, nick: t.nick, at: t.at, reason: t.reason as LeaveReason };
    }
  }
  return undefined;
}
