/**
 * The one registry of nexo error codes. Protocol ERROR frames, text-mode error lines, CLI messages and
 * HTTP error bodies all use these codes, so a code means the same thing wherever a user meets it.
 *
 * Codes are stable: never rename or reuse one. `docs/protocol.md` lists every code; a test fails when
 * the two disagree.
 */

export interface ErrorSpec {
  /** HTTP status used by the HTTP gateway. */
  readonly status: number;
  /** The connection is closed after this error (sent with id 0). */
  readonly fatal?: boolean;
  /** Sending the same request again (possibly to another node) may succeed. */
  readonly retryable?: boolean;
  /** One line for the docs and for `nexo` users. */
  readonly summary: string;
}

export const ERRORS = {
  // Connection and framing (spec §4, §5)
  PROTOCOL_ERROR: {
    status: 400,
    fatal: true,
    summary: 'The peer broke a rule of the protocol (bad frame, wrong state).',
  },
  NOT_NEXO: { status: 502, fatal: true, summary: 'The other side does not speak the nexo protocol.' },
  UNSUPPORTED_VERSION: {
    status: 400,
    fatal: true,
    summary: 'No protocol version in HELLO is spoken by this server.',
  },
  AUTH_FAILED: {
    status: 401,
    fatal: true,
    summary: 'The token in HELLO is unknown, or a token is required.',
  },
  TOKEN_REVOKED: {
    status: 401,
    fatal: true,
    summary: "The session's token was revoked while it was connected (§5.1.5); get a new token.",
  },
  HANDSHAKE_TIMEOUT: {
    status: 408,
    fatal: true,
    summary: 'The client did not complete the handshake in time.',
  },
  IDLE_TIMEOUT: {
    status: 408,
    fatal: true,
    retryable: true,
    summary: 'The connection had no requests for too long.',
  },
  HEARTBEAT_TIMEOUT: {
    status: 408,
    fatal: true,
    retryable: true,
    summary: 'The peer stopped answering PING (the node sends it before closing, §7.2.2).',
  },
  FRAME_TOO_LARGE: {
    status: 413,
    summary:
      'A frame is longer than the limit announced in WELCOME (fatal on id 0 and before WELCOME, §4.4.5).',
  },
  LINE_TOO_LONG: { status: 413, summary: 'A text-mode line is longer than the limit.' },
  SLOW_CONSUMER: {
    status: 503,
    fatal: true,
    retryable: true,
    summary: 'The peer did not read its replies fast enough.',
  },
  SERVER_BUSY: {
    status: 503,
    fatal: true,
    retryable: true,
    summary: 'All client slots are taken and the wait queue is full or timed out.',
  },
  SHUTTING_DOWN: {
    status: 503,
    fatal: true,
    retryable: true,
    summary: 'The node is shutting down; reconnect to another node.',
  },
  GOING_AWAY: {
    status: 503,
    retryable: true,
    summary: 'A request arrived after GOAWAY; send it on a new connection.',
  },

  // Requests (spec §6)
  BAD_REQUEST: {
    status: 400,
    summary: 'A REQUEST payload is not [service, method, args], or holds a str that is not UTF-8 (§4.5.6).',
  },
  UNKNOWN_SERVICE: { status: 404, summary: 'No service with that name runs on this node.' },
  UNKNOWN_METHOD: { status: 404, summary: 'The service has no method with that name.' },
  UNKNOWN_COMMAND: { status: 404, summary: 'A text-mode line starts with a word that is not a command.' },
  INVALID_ARGS: { status: 400, summary: 'The arguments do not match the method schema.' },
  FORBIDDEN: { status: 403, summary: "The session's role may not call this method." },
  CANCELLED: { status: 499, summary: 'The request was cancelled by the client.' },
  TIMEOUT: { status: 504, retryable: true, summary: 'The request did not complete in time.' },
  TOO_MANY_IN_FLIGHT: {
    status: 429,
    retryable: true,
    summary: 'More requests are open on the connection than WELCOME.limits.maxInFlight.',
  },
  RATE_LIMITED: { status: 429, retryable: true, summary: 'Too many requests; slow down.' },
  STORAGE_UNAVAILABLE: {
    status: 503,
    retryable: true,
    summary: 'A shared engine (PostgreSQL, NATS) is unreachable; the node reconnects by itself.',
  },
  NO_RESPONDERS: {
    status: 503,
    retryable: true,
    summary: 'No node of the cluster serves that request right now.',
  },
  INTERNAL_ERROR: { status: 500, summary: 'The server failed unexpectedly; the message says where.' },

  // UDP (spec §13)
  ADDRESS_UNVERIFIED: {
    status: 403,
    retryable: true,
    summary:
      'The reply is larger than the request and the address is not verified yet; send the cookie back.',
  },
  REPLY_TOO_LARGE: {
    status: 413,
    summary: 'The reply does not fit in a datagram; ask over TCP.',
  },

  // HTTP gateway (docs/http.md)
  NOT_FOUND: { status: 404, summary: 'No HTTP route or file at that path.' },
  METHOD_NOT_ALLOWED: {
    status: 405,
    summary:
      'The HTTP verb is wrong for the path, or the method streams and needs the protocol (/ws or TCP).',
  },
  PAYLOAD_TOO_LARGE: { status: 413, summary: 'The HTTP request body is larger than the limit.' },
  HEADERS_TOO_LARGE: { status: 431, summary: 'The HTTP request headers are larger than the limit.' },
  REQUEST_TIMEOUT: {
    status: 408,
    retryable: true,
    summary: 'The HTTP request did not arrive completely in time.',
  },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    summary: 'The HTTP request body is not of a type the route accepts.',
  },
  UPGRADE_REQUIRED: { status: 426, summary: 'The path speaks WebSocket only; send an Upgrade request.' },
  RANGE_NOT_SATISFIABLE: {
    status: 416,
    summary: 'The HTTP Range of a download starts at or past the end of the file.',
  },
  TOO_MANY_CONNECTIONS: {
    status: 429,
    fatal: true,
    retryable: true,
    summary: 'The client address holds too many connections to the node.',
  },
  TOO_MANY_ERRORS: {
    status: 400,
    fatal: true,
    summary: 'A text-mode session sent nothing but lines that failed; the node closed it (§8.7).',
  },

  // Client side (never sent on the wire)
  CONNECTION_REFUSED: {
    status: 503,
    retryable: true,
    summary: 'No nexo server is listening at that address.',
  },
  CONNECTION_LOST: {
    status: 503,
    retryable: true,
    summary: 'The connection closed before the reply arrived.',
  },
  OUTCOME_UNKNOWN: {
    status: 502,
    summary:
      'The connection closed after a request that is not safe to repeat was sent and before its reply (§14.2): it may or may not have been processed, so the client did not send it again.',
  },

  // calc service
  CALC_SYNTAX: { status: 400, summary: 'The expression is not valid; the message names the column.' },
  CALC_DIVISION_BY_ZERO: { status: 400, summary: 'Division or modulo by zero.' },
  CALC_UNKNOWN_FUNCTION: { status: 400, summary: 'The expression calls a function that does not exist.' },
  CALC_UNKNOWN_VARIABLE: { status: 400, summary: 'The expression uses a variable that was never assigned.' },
  CALC_ARITY: { status: 400, summary: 'A function was called with the wrong number of arguments.' },
  CALC_DOMAIN: { status: 400, summary: 'A function argument is outside its domain (sqrt(-1), ln(0)).' },
  CALC_OVERFLOW: { status: 400, summary: 'The result is too large or too small to represent.' },
  CALC_TOO_COMPLEX: {
    status: 400,
    summary: 'The expression is too long, too deep or too costly to evaluate.',
  },
  CALC_TIMEOUT: { status: 400, summary: 'The calculation ran past its time limit and was stopped.' },
  CALC_BAD_ASSIGNMENT: {
    status: 400,
    summary: 'A variable name is invalid, reserved, or the session has too many.',
  },

  // chat service
  CHAT_NICK_TAKEN: {
    status: 409,
    summary: 'Someone in the room already uses that nickname (any letter case).',
  },
  CHAT_ALREADY_JOINED: { status: 409, summary: 'This connection is already in that room.' },
  CHAT_NOT_IN_ROOM: { status: 409, summary: 'Join the room (on this connection) before speaking in it.' },
  CHAT_NO_SUCH_MEMBER: { status: 404, summary: 'Nobody with that nickname is in the room.' },
  CHAT_TOO_SLOW: {
    status: 503,
    retryable: true,
    summary: 'The member read the room too slowly and was removed from it; join again.',
  },
  CHAT_ROOMS_FULL: { status: 503, retryable: true, summary: 'The node holds as many chat rooms as it may.' },
  // telemetry service
  TELEMETRY_INVALID_READING: {
    status: 400,
    summary:
      'A reading is malformed: a non-finite or non-numeric value, an absurd timestamp, a bad name, oversized tags.',
  },
  TELEMETRY_UNKNOWN_SENSOR: {
    status: 404,
    summary: 'No sensor with that id (or no such metric) has reported.',
  },
  TELEMETRY_UNKNOWN_ALERT: { status: 404, summary: 'No alert rule with that id.' },
  TELEMETRY_BAD_RULE: { status: 400, summary: 'An alert rule is not of the form `metric > 30 for 1m`.' },
  TELEMETRY_QUERY_TOO_LARGE: {
    status: 400,
    summary: 'The query would return too many buckets or rows; use larger buckets or a shorter range.',
  },
  TELEMETRY_LIMIT: {
    status: 507,
    summary: 'The node already tracks as many sensor series as it is configured for.',
  },
  TELEMETRY_STORAGE: {
    status: 503,
    retryable: true,
    summary: 'The telemetry store could not write (disk full, I/O error); nothing was acknowledged.',
  },

  // files service
  FILES_NOT_FOUND: { status: 404, summary: 'No stored file has that id, name or hash.' },
  FILES_AMBIGUOUS: {
    status: 409,
    summary: 'Several files have that name; the message lists their ids. Use an id instead.',
  },
  FILES_NAME_INVALID: {
    status: 400,
    summary: 'The file name is empty, blank, too long or contains control characters.',
  },
  FILES_TOO_LARGE: { status: 413, summary: "The declared size exceeds the node's largest file size." },
  FILES_QUOTA_EXCEEDED: {
    status: 507,
    summary: "The file does not fit in the node's quota or on its disk.",
  },
  FILES_TOO_MANY_UPLOADS: {
    status: 429,
    retryable: true,
    summary: 'The node is receiving as many uploads as it allows; try again shortly.',
  },
  FILES_UPLOAD_NOT_FOUND: {
    status: 404,
    summary: 'The upload id is unknown or expired; start the upload again without it.',
  },
  FILES_UPLOAD_MISMATCH: {
    status: 409,
    summary: 'A resumed upload declares a different size, name or hash than when it started.',
  },
  FILES_UPLOAD_BUSY: {
    status: 409,
    retryable: true,
    summary: 'Another node is still writing this upload (it was resumed elsewhere); resume it again.',
  },
  FILES_BAD_CHUNK: {
    status: 400,
    summary: 'A file chunk is malformed or not at the expected offset; details.offset says where to resume.',
  },
  FILES_CHUNK_CORRUPT: {
    status: 400,
    retryable: true,
    summary: 'A file chunk failed its CRC-32 check; resume from details.offset.',
  },
  FILES_SIZE_MISMATCH: {
    status: 400,
    summary: 'The upload sent more bytes than declared, or ended before the declared size.',
  },
  FILES_HASH_MISMATCH: {
    status: 422,
    summary: 'The whole-file SHA-256 differs from the declared one; nothing was stored.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** A code from this registry, or one sent by a newer peer that this build does not know. */
export type AnyErrorCode = ErrorCode | (string & {});

/** The error body carried by ERROR frames, text-mode lines and HTTP error responses. */
export interface ErrorPayload {
  code: AnyErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

export function errorSpec(code: AnyErrorCode): ErrorSpec {
  return isErrorCode(code) ? ERRORS[code] : { status: 500, summary: 'Unknown error code.' };
}

export class NexoError extends Error {
  override readonly name = 'NexoError';
  readonly code: AnyErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: AnyErrorCode,
    message: string,
    details?: Record<string, unknown>,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return errorSpec(this.code).status;
  }

  get retryable(): boolean {
    return errorSpec(this.code).retryable === true;
  }

  get fatal(): boolean {
    return errorSpec(this.code).fatal === true;
  }

  toPayload(): ErrorPayload {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromPayload(payload: unknown): NexoError {
    if (payload !== null && typeof payload === 'object') {
      const p = payload as Record<string, unknown>;
      if (typeof p.code === 'string' && typeof p.message === 'string') {
        const details =
          p.details !== null && typeof p.details === 'object'
            ? (p.details as Record<string, unknown>)
            : undefined;
        return new NexoError(p.code, p.message, details);
      }
    }
    return new NexoError('PROTOCOL_ERROR', 'malformed ERROR payload');
  }
}

/** Wrap anything thrown by a handler into a NexoError without leaking internals to the peer. */
export function toNexoError(err: unknown): NexoError {
  if (err instanceof NexoError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new NexoError('INTERNAL_ERROR', `internal error: ${message}`, undefined, { cause: err });
}

/**
 * §6.1.4 A request id the client chose: 1 to 64 printable ASCII characters without spaces, so it can be
 * logged and searched for as is.
 */
export const REQUEST_ID = /^[\x21-\x7e]{1,64}$/;

/** §6.1.4 The error with the client's request id in its details (`requestId`); the same error without one. */
export function withRequestId(error: NexoError, requestId: string | undefined): NexoError {
  if (requestId === undefined) return error;
  return new NexoError(error.code, error.message, { ...error.details, requestId }, { cause: error.cause });
}
