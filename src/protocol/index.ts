/** The nexo wire protocol: constants, a pure incremental decoder and a pure encoder. No I/O here. */
export * from './constants.js';
export { type DecoderOptions, FrameDecoder } from './decoder.js';
export { encodeFrame, encodePreface, FrameBatch, writeHeader } from './encoder.js';
export { type DecodedFrame, type Frame, isOversize, type OversizeFrame } from './frame.js';
export * from './payload.js';
