import Noise from 'noise-handshake';
import type { SessionKey } from './keys.js';
import { RecordLayer } from './record.js';
import { DatagramType, encodeHello, NOISE_MESSAGE_SIZE } from './wire.js';

/**
 * §13.3.4 Key agreement: Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b (the Noise Protocol Framework, through the
 * `noise-handshake` package), with the sensor's pre-shared key (§13.3.3) and a prologue that binds the
 * protocol and the key id. Message 1 rides in HELLO, message 2 in WELCOME; both sides then hold two keys
 * for the record layer: the sensor's sending key is the node's receiving key and the other way round.
 */
const PATTERN = 'NNpsk0';

function prologue(keyId: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from('nexo udp 1'), keyId]);
}

/** The sensor's half. */
export class ClientHandshake {
  readonly #noise: Noise;
  readonly #message1: Buffer;

  constructor(readonly key: SessionKey) {
    this.#noise = new Noise(PATTERN, true, undefined, { psk: key.psk });
    this.#noise.initialise(prologue(key.keyId));
    this.#message1 = this.#noise.send();
  }

  /** The HELLO to send (again, with the cookie the node sent back, §13.3.2). */
  hello(cookie?: Uint8Array): Uint8Array {
    return encodeHello(this.key.keyId, this.#message1, cookie);
  }

  /** The node's WELCOME: the session's record layer. Throws when it does not verify. */
  welcome(bytes: Uint8Array): RecordLayer {
    if (bytes.length !== 6 + NOISE_MESSAGE_SIZE || bytes[1] !== DatagramType.WELCOME) {
      throw new Error('malformed WELCOME');
    }
    const sessionId = new DataView(bytes.buffer, bytes.byteOffset).getUint32(2);
    this.#noise.recv(bytes.subarray(6));
    if (!this.#noise.complete) throw new Error('handshake incomplete');
    return new RecordLayer(sessionId, this.#noise.tx, this.#noise.rx);
  }
}

/**
 * The node's half: message 1 in, message 2 and the record layer out. Throws when message 1 does not verify
 * under the key (a wrong key, or a forged HELLO).
 */
export function acceptHandshake(
  key: SessionKey,
  message1: Uint8Array,
  sessionId: number,
): { message2: Buffer; record: RecordLayer } {
  const noise = new Noise(PATTERN, false, undefined, { psk: key.psk });
  noise.initialise(prologue(key.keyId));
  noise.recv(message1);
  const message2 = noise.send();
  if (!noise.complete) throw new Error('handshake incomplete');
  return { message2, record: new RecordLayer(sessionId, noise.tx, noise.rx) };
}
