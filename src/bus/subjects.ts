import { NexoError } from '../errors.js';

/** Longest subject accepted (NATS itself allows more; nexo's are short). */
export const MAX_SUBJECT = 256;
/** Largest payload a bus message may carry (NATS' default max_payload is 1 MiB). */
export const MAX_PAYLOAD = 1024 * 1024;

const TOKEN = /^[A-Za-z0-9_\-$:=]+$/;

/** Throws unless `subject` is tokens of letters, digits and `_-$:=` joined by dots (wildcards if allowed). */
export function checkSubject(subject: string, wildcards: boolean): void {
  if (subject.length === 0 || subject.length > MAX_SUBJECT) {
    throw new NexoError('INVALID_ARGS', `bus subject must be 1 to ${MAX_SUBJECT} characters`);
  }
  const tokens = subject.split('.');
  tokens.forEach((token, i) => {
    if (wildcards && (token === '*' || (token === '>' && i === tokens.length - 1))) return;
    if (!TOKEN.test(token)) {
      throw new NexoError('INVALID_ARGS', `bus subject ${JSON.stringify(subject.slice(0, 80))} is malformed`);
    }
  });
}

export function checkPayload(data: Uint8Array): void {
  if (data.byteLength > MAX_PAYLOAD) {
    throw new NexoError('INVALID_ARGS', `bus message of ${data.byteLength} bytes exceeds ${MAX_PAYLOAD}`);
  }
}

/** Whether `subject` (no wildcards) matches `pattern` (with `*` and a final `>`), as NATS matches them. */
export function subjectMatches(pattern: string[], subject: string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p === '>') return subject.length > i;
    if (i >= subject.length) return false;
    if (p !== '*' && p !== subject[i]) return false;
  }
  return pattern.length === subject.length;
}

/**
 * A responder's reply on the wire: one status byte (0 ok, 1 error) and the body (an error is JSON
 * `{code, message}`), the same for both buses.
 */
export function encodeReply(ok: boolean, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(body.byteLength + 1);
  out[0] = ok ? 0 : 1;
  out.set(body, 1);
  return out;
}

export function errorReply(err: unknown): Uint8Array {
  const e =
    err instanceof NexoError
      ? { code: err.code, message: err.message }
      : {
          code: 'INTERNAL_ERROR',
          message: `bus responder failed: ${(err as Error)?.message ?? String(err)}`,
        };
  return encodeReply(false, new TextEncoder().encode(JSON.stringify(e)));
}

export function decodeReply(reply: Uint8Array): Uint8Array {
  if (reply.byteLength === 0) throw new NexoError('INTERNAL_ERROR', 'empty bus reply');
  if (reply[0] === 0) return reply.subarray(1);
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder().decode(reply.subarray(1)));
  } catch {
    throw new NexoError('INTERNAL_ERROR', 'malformed bus error reply');
  }
  throw NexoError.fromPayload(payload);
}
