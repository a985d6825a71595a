// Types for the parts of noise-handshake (Holepunch, Apache-2.0) that nexo uses; the package ships none.
declare module 'noise-handshake' {
  interface NoiseOptions {
    /** 32 bytes, for patterns with psk0. */
    psk?: Uint8Array;
  }
  class Noise {
    constructor(pattern: string, initiator: boolean, staticKeypair?: unknown, options?: NoiseOptions);
    initialise(prologue: Uint8Array, remoteStatic?: Uint8Array): void;
    send(payload?: Uint8Array): Buffer;
    recv(message: Uint8Array): Buffer;
    readonly complete: boolean;
    /** Key for what this side sends, once complete. */
    readonly tx: Buffer;
    /** Key for what this side receives, once complete. */
    readonly rx: Buffer;
    readonly hash: Buffer;
  }
  export default Noise;
}
