import { Session } from '../contract/session.js';
import { NexoError, toNexoError } from '../errors.js';
import { QUIT_WORDS, replyLine } from '../protocol/text-mode.js';
import type { AmplificationBudget } from '../transport/udp/budget.js';
import { COOKIE_SIZE, type CookieJar } from '../transport/udp/cookie.js';
import type { Datagram } from '../transport/udp/listener.js';
import { Call, type CallSink } from './call-context.js';
import { type ConnectionHost, countError } from './host.js';

/** §13.2.4 The largest reply datagram, even to a verified address (larger: REPLY_TOO_LARGE, use TCP). */
export const TEXT_MAX_REPLY = 8192;
/** §13.2.3 The cookie context of text mode (the secure handshake's is another). */
const COOKIE_CONTEXT = 'text';
const COOKIE_WORD = 'cookie';
const COOKIE_CHARS = Math.ceil((COOKIE_SIZE * 4) / 3); // base64url without padding

const decoder = new TextDecoder('utf-8');
const encoder = new TextEncoder();
/** A call in a datagram has nowhere to stream to. */
const NO_STREAM: CallSink = {
  progress: () => {},
  event: () => false,
  chunk: () => Promise.reject(new NexoError('BAD_REQUEST', 'chunk streams need binary mode over TCP')),
  whenWritable: () => Promise.resolve(),
};

export interface UdpTextHost {
  readonly connection: ConnectionHost;
  readonly cookies: CookieJar;
  readonly budget: AmplificationBudget;
  send(bytes: Uint8Array, port: number, address: string): void;
  nextSessionId(): number;
  draining(): boolean;
}

export interface UdpTextStats {
  commands: number;
  /** Replies withheld because the budget for unverified addresses was spent (§13.2.3). */
  withheld: number;
  verified: number;
}

/**
 * Text mode over UDP (spec §13.2): one datagram is one command line and gets at most one reply datagram. No
 * state is kept between datagrams, so there are no sessions: each command runs in a session of its own that
 * ends with it (calc variables, `auth`, `join` and `watch` need TCP). A reply goes to an address that has
 * not proved it receives datagrams only if the node-wide amplification budget allows it (§13.1.2); a larger
 * one is offered against a cookie (§13.2.3).
 */
export class UdpText {
  readonly stats: UdpTextStats = { commands: 0, withheld: 0, verified: 0 };

  constructor(private readonly host: UdpTextHost) {}

  async handle(datagram: Datagram): Promise<void> {
    const { bytes, address, port } = datagram;
    let text = decoder.decode(bytes);
    // §13.2.1 One trailing LF (or CR LF) is allowed, as `echo … | nc -u` sends.
    if (text.endsWith('\n')) text = text.slice(0, text.endsWith('\r\n') ? -2 : -1);
    let verified = false;
    if (text.slice(0, COOKIE_WORD.length + 1).toLowerCase() === `${COOKIE_WORD} `) {
      const token = text.slice(COOKIE_WORD.length + 1, COOKIE_WORD.length + 1 + COOKIE_CHARS);
      verified = this.host.cookies.check(Buffer.from(token, 'base64url'), address, port, COOKIE_CONTEXT);
      if (verified) this.stats.verified++;
      // An expired or wrong cookie: the command still runs, and its reply is treated as unverified.
      text = text.slice(COOKIE_WORD.length + 1 + COOKIE_CHARS).trimStart();
    }
    if (!verified) this.host.budget.received(bytes.length);
    const lines = await this.#answer(text, bytes.length, address, port);
    if (lines === undefined) return;
    const reply = encoder.encode(`${lines.map(replyLine).join('\n')}\n`);
    if (verified) {
      this.host.send(reply.length <= TEXT_MAX_REPLY ? reply : tooLarge(reply.length), port, address);
      return;
    }
    if (reply.length <= TEXT_MAX_REPLY && this.host.budget.take(reply.length)) {
      this.host.send(reply, port, address);
      return;
    }
    this.#offerCookie(reply.length, address, port);
  }

  /** §13.2.3 The reply does not fit the budget: say how to get it, in as few bytes as the budget allows. */
  #offerCookie(replyBytes: number, address: string, port: number): void {
    this.stats.withheld++;
    const cookie = this.host.cookies.issue(address, port, COOKIE_CONTEXT).toString('base64url');
    const long = encoder.encode(
      `error: a reply of ${replyBytes} bytes needs a verified address; send "cookie ${cookie} <command>" (ADDRESS_UNVERIFIED)\n`,
    );
    const short = encoder.encode(`cookie ${cookie}\n`);
    for (const offer of [long, short]) {
      if (this.host.budget.take(offer.length)) {
        this.host.send(offer, port, address);
        return;
      }
    }
  }

  /** The reply lines, or undefined for no reply (an empty line, a quit word). */
  async #answer(text: string, size: number, address: string, port: number): Promise<string[] | undefined> {
    const connection = this.host.connection;
    try {
      if (size > connection.options.maxLine) {
        throw new NexoError('LINE_TOO_LONG', `datagram of ${size} bytes > ${connection.options.maxLine}`);
      }
      if (text.includes('\n')) throw new NexoError('BAD_REQUEST', 'one command per datagram');
      const line = text.trim();
      if (line === '') return undefined;
      const space = line.search(/\s/);
      const word = (space === -1 ? line : line.slice(0, space)).toLowerCase();
      const rest = space === -1 ? '' : line.slice(space + 1).trim();
      if (QUIT_WORDS.has(word)) return undefined;
      this.stats.commands++;
      connection.stats.requests++;
      if (this.host.draining()) throw new NexoError('SHUTTING_DOWN', 'the node is shutting down');
      if (word === 'ping') return ['pong'];
      if (word === 'help' || word === '?') return this.#help();
      if (word === 'auth') throw new NexoError('BAD_REQUEST', 'auth needs a session: use TCP');
      return await this.#run(word, rest, address, port);
    } catch (err) {
      const error = toNexoError(err);
      countError(connection.stats, error.code);
      if (error.code === 'INTERNAL_ERROR') connection.log.error({ err }, 'UDP text command failed');
      return [`error: ${error.message} (${error.code})`];
    }
  }

  async #run(word: string, rest: string, address: string, port: number): Promise<string[]> {
    const { dispatcher, auth } = this.host.connection;
    const resolved = dispatcher.command(word);
    if (resolved === undefined) {
      throw new NexoError('UNKNOWN_COMMAND', `unknown command '${word.slice(0, 32)}' (type help)`);
    }
    const session = new Session(
      this.host.nextSessionId(),
      { transport: 'udp', address, port, secure: false },
      'text',
    );
    try {
      session.identify(auth.authenticate(undefined));
      const { command } = resolved;
      const { method: name, args } = command.parse(rest);
      const method = dispatcher.resolve(resolved.service, name, session);
      if (method.definition.input === 'chunks' || method.definition.longLived === true) {
        throw new NexoError('BAD_REQUEST', `${command.name} needs a connection: use TCP (nc host 5000)`);
      }
      dispatcher.validate(method, args, session);
      const call = new Call(0, method, session, NO_STREAM, undefined);
      const started = performance.now();
      let result: unknown;
      try {
        result = await method.definition.handler(args as never, call);
      } finally {
        method.latency?.since(started);
      }
      const lines = command.format(result);
      return typeof lines === 'string' ? [lines] : lines;
    } finally {
      session.close();
    }
  }

  #help(): string[] {
    const rows: string[] = [];
    for (const { command } of this.host.connection.dispatcher.commands()) rows.push(`  ${command.usage}`);
    return [
      'nexo text over UDP: one command per datagram, no session (join, watch, vars, auth: use TCP). Commands:',
      ...rows,
      '  ping',
    ];
  }
}

function tooLarge(bytes: number): Uint8Array {
  return encoder.encode(
    `error: the reply (${bytes} bytes) does not fit in a datagram; use TCP (REPLY_TOO_LARGE)\n`,
  );
}
