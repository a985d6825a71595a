import { createCipheriv, createDecipheriv } from 'node:crypto';
import { PREFACE_FIRST_BYTE } from '../../protocol/constants.js';
import { ReplayWindow } from './replay-window.js';
import { DatagramType, MAX_DATAGRAM, RECORD_HEADER, TAG_SIZE } from './wire.js';

const ALGORITHM = 'chacha20-poly1305';

export interface RecordStats {
  /** Records whose tag did not verify: a wrong key, or bytes changed on the way. */
  rejected: number;
  /** Records whose packet number was seen before or is older than the window (§13.3.5). */
  replayed: number;
}

/**
 * §13.3.5 The record layer: each RECORD is sealed with ChaCha20-Poly1305 (node:crypto), the 14-byte header
 * (marker, type, session id, packet number) as associated data, and a nonce of four zero bytes then the
 * packet number. A sender numbers its records 0, 1, 2… and never reuses a number under a key (a
 * retransmitted message goes in a new record). The receiver drops what does not verify and what its replay
 * window has seen.
 */
export class RecordLayer {
  readonly stats: RecordStats = { rejected: 0, replayed: 0 };
  #nextPacket = 0;
  readonly #window = new ReplayWindow();

  constructor(
    readonly sessionId: number,
    private readonly sendKey: Uint8Array,
    private readonly receiveKey: Uint8Array,
  ) {}

  seal(plaintext: Uint8Array): Uint8Array {
    const packet = this.#nextPacket++;
    const out = Buffer.allocUnsafe(RECORD_HEADER + plaintext.length + TAG_SIZE);
    out[0] = PREFACE_FIRST_BYTE;
    out[1] = DatagramType.RECORD;
    out.writeUInt32BE(this.sessionId, 2);
    writePacket(out, 6, packet);
    const cipher = createCipheriv(ALGORITHM, this.sendKey, nonce(packet), { authTagLength: TAG_SIZE });
    cipher.setAAD(out.subarray(0, RECORD_HEADER), { plaintextLength: plaintext.length });
    const body = cipher.update(plaintext);
    cipher.final();
    body.copy(out, RECORD_HEADER);
    cipher.getAuthTag().copy(out, RECORD_HEADER + body.length);
    return out;
  }

  /** The plaintext, or undefined (counted) when the record is forged, damaged or replayed. */
  open(record: Uint8Array): Uint8Array | undefined {
    if (record.length < RECORD_HEADER + TAG_SIZE || record.length > MAX_DATAGRAM) {
      this.stats.rejected++;
      return undefined;
    }
    const bytes = Buffer.from(record.buffer, record.byteOffset, record.byteLength);
    const packet = readPacket(bytes, 6);
    if (packet === undefined || !this.#window.fresh(packet)) {
      this.stats.replayed++;
      return undefined;
    }
    const end = bytes.length - TAG_SIZE;
    try {
      const decipher = createDecipheriv(ALGORITHM, this.receiveKey, nonce(packet), {
        authTagLength: TAG_SIZE,
      });
      decipher.setAAD(bytes.subarray(0, RECORD_HEADER), { plaintextLength: end - RECORD_HEADER });
      decipher.setAuthTag(bytes.subarray(end));
      const plain = decipher.update(bytes.subarray(RECORD_HEADER, end));
      decipher.final(); // throws when the tag does not verify
      this.#window.mark(packet);
      return plain;
    } catch {
      this.stats.rejected++;
      return undefined;
    }
  }
}

function nonce(packet: number): Buffer {
  const out = Buffer.alloc(12);
  writePacket(out, 4, packet);
  return out;
}

function writePacket(out: Buffer, at: number, packet: number): void {
  out.writeUInt32BE(Math.floor(packet / 2 ** 32), at);
  out.writeUInt32BE(packet >>> 0, at + 4);
}

/** Packet numbers above 2^53 cannot be a sender's (it would take centuries): treated as a replay. */
function readPacket(bytes: Buffer, at: number): number | undefined {
  const high = bytes.readUInt32BE(at);
  if (high >= 2 ** 21) return undefined;
  return high * 2 ** 32 + bytes.readUInt32BE(at + 4);
}
