/**
 * SHA-256 (FIPS 180-4) in plain TypeScript, incremental: a browser hashes a file of any size while it uploads
 * it, a slice at a time (WebCrypto only hashes a whole buffer at once, which would mean holding the whole
 * file in memory). No platform API; the same interface as Node's `Hash` (`update`, `copy`, `digest`).
 * Int32 arithmetic throughout (V8 keeps it in registers): 100-170 MB/s. WebCrypto cannot hash a stream;
 * Node uses its native hash instead.
 */

const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

const INITIAL = [
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/** Shared scratch for the message schedule (hashing is synchronous: one block at a time anywhere). */
const W = new Int32Array(64);

export class Sha256 {
  readonly #state = new Int32Array(INITIAL);
  /** A partial block waiting for more bytes. */
  readonly #block = new Uint8Array(64);
  #blockLength = 0;
  /** Bytes hashed so far (exact up to 2^53). */
  #length = 0;
  #finished = false;

  update(data: Uint8Array): this {
    if (this.#finished) throw new Error('sha256: update after digest');
    let offset = 0;
    this.#length += data.length;
    if (this.#blockLength > 0) {
      const take = Math.min(64 - this.#blockLength, data.length);
      this.#block.set(data.subarray(0, take), this.#blockLength);
      this.#blockLength += take;
      offset = take;
      if (this.#blockLength < 64) return this;
      compress(this.#state, this.#block, 0);
      this.#blockLength = 0;
    }
    const whole = offset + Math.floor((data.length - offset) / 64) * 64;
    for (; offset < whole; offset += 64) compress(this.#state, data, offset);
    if (offset < data.length) {
      this.#block.set(data.subarray(offset));
      this.#blockLength = data.length - offset;
    }
    return this;
  }

  /** A hash in the same state, to go on independently (digest the copy, keep updating this one). */
  copy(): Sha256 {
    const other = new Sha256();
    other.#state.set(this.#state);
    other.#block.set(this.#block);
    other.#blockLength = this.#blockLength;
    other.#length = this.#length;
    other.#finished = this.#finished;
    return other;
  }

  /** The 32-byte digest; the hash cannot be updated afterwards. */
  digest(): Uint8Array {
    if (this.#finished) throw new Error('sha256: digest called twice');
    const bits = this.#length * 8;
    const tail = new Uint8Array(this.#blockLength < 56 ? 64 : 128);
    tail.set(this.#block.subarray(0, this.#blockLength));
    tail[this.#blockLength] = 0x80;
    const view = new DataView(tail.buffer);
    view.setUint32(tail.length - 8, Math.floor(bits / 2 ** 32));
    view.setUint32(tail.length - 4, bits >>> 0);
    for (let i = 0; i < tail.length; i += 64) compress(this.#state, tail, i);
    this.#finished = true;
    const out = new Uint8Array(32);
    const outView = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) outView.setInt32(i * 4, this.#state[i]!);
    return out;
  }
}

function compress(state: Int32Array, data: Uint8Array, at: number): void {
  for (let i = 0; i < 16; i++) {
    const j = at + i * 4;
    W[i] = (data[j]! << 24) | (data[j + 1]! << 16) | (data[j + 2]! << 8) | data[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[i]! + W[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}
