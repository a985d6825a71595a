import type { TextCommand } from '../contract/service.js';
import { SharedEvent } from '../contract/shared-event.js';
import { NexoError, toNexoError } from '../errors.js';
import { LineSplitter, type SplitLine } from '../protocol/line-splitter.js';
import { QUIT_WORDS, replyLine } from '../protocol/text-mode.js';
import { certificateIdentity } from '../security/certificate-role.js';
import type { Conduit } from '../transport/types.js';
import { formatDuration } from '../util/units.js';
import { FRAMES_PER_WRITE } from './binary-connection.js';
import { Call, type CallSink } from './call-context.js';
import type { Dispatcher } from './dispatcher.js';
import { type ConnectionHost, countError, countLimit } from './host.js';
import { PeerConnection, Phase } from './peer-connection.js';

/** Lines read ahead of the one being answered; beyond it the socket is paused. */
const MAX_PENDING_LINES = 64;

/** §8.7 Error lines sent per second and in one burst; beyond them errors are withheld. */
const ERROR_LINES_PER_SECOND = 10;
const ERROR_LINES_BURST = 20;
/** §8.7 Lines in a row that failed, with none that succeeded, after which the session is closed. */
const FAILED_LINES_CLOSE = 100;

const encoder = new TextEncoder();

/** The `help` reply, per dispatcher (one per node). */
const HELP = new WeakMap<Dispatcher, { node: string; text: string }>();

/**
 * Text mode (spec §8): one command per line, one or more reply lines, for people using `nc` or `telnet`.
 * Lines run one after another so replies come back in order; the same dispatcher and handlers as binary
 * mode do the work. An error is one line and the session goes on.
 */
export class TextSession extends PeerConnection implements CallSink {
  readonly #splitter: LineSplitter;
  readonly #pending: string[] = [];
  #running = false;
  /** A long-lived call (a subscription) printing events until the next line. */
  #live: Call | undefined;
  /** The command that started #live, and its args (for its event format and its live-line hook). */
  #liveCommand: { command: TextCommand; args: unknown } | undefined;
  #lastLineAt = 0;
  #out: string[] = [];
  #flushScheduled = false;
  #peerEnded = false;
  #lastLineTaken = false;
  /** A whole first line arrived (§8.6: until then the handshake deadline applies). */
  #firstLine = false;
  /** §8.7 Lines in a row that failed; error lines that may still be sent (a token bucket) and withheld ones. */
  #failedInRow = 0;
  #errorTokens = ERROR_LINES_BURST;
  #errorTokensAt = 0;
  #withheld = 0;

  constructor(conduit: Conduit, firstBytes: Uint8Array, host: ConnectionHost, id: number) {
    super(conduit, 'text', host, id);
    // §8 A person has no HELLO: a verified client certificate (§5.1.6) gives the role at once.
    const byCertificate = conduit.peer.certificate && certificateIdentity(conduit.peer.certificate);
    if (byCertificate) this.session.identify(byCertificate);
    this.#splitter = new LineSplitter(host.options.maxLine);
    this.#splitter.push(firstBytes);
    this.stream.on('data', (chunk: Buffer) => {
      this.host.stats.bytesIn += chunk.length;
      if (this.phase >= Phase.Closing) return; // closing: nothing more is read
      this.#splitter.push(chunk);
      if (this.beginTurn(() => this.#readLines())) this.#readLines();
    });
    this.stream.on('end', () => {
      this.#peerEnded = true;
      this.#readLines();
      this.#endIfDone();
    });
  }

  get idle(): boolean {
    return !this.#running && this.#pending.length === 0;
  }

  queued(position: number): void {
    this.#say(
      `nexo: all client slots are busy; you are number ${position} in line. Your input will be answered when a slot frees.`,
    );
  }

  admit(): void {
    if (this.phase !== Phase.Queued) return;
    this.phase = Phase.Open;
    this.#lastLineAt = this.host.now();
    this.deadline = this.#lastLineAt + this.host.options.handshakeTimeoutMs;
    this.log.info(
      { peer: this.session.peer.address, transport: this.session.peer.transport, mode: 'text' },
      'connected',
    );
    this.#readLines();
  }

  refuse(error: NexoError): void {
    this.#sayError(error);
    this.#flush();
    this.endGracefully();
  }

  goAway(error: NexoError): void {
    if (this.phase === Phase.Queued) {
      this.refuse(error);
      return;
    }
    if (this.phase !== Phase.Open) return;
    this.phase = Phase.Draining;
    this.#pending.length = 0;
    this.#stopLive(error);
    this.#say(`nexo: ${error.message}; closing the connection`);
    this.#endIfDone();
  }

  protected tickMode(now: number): void {
    if (this.phase === Phase.Open && !this.#firstLine && now > this.deadline) {
      // §8.6 A partial first line (slowloris) is not held until the idle timeout.
      const ms = this.host.options.handshakeTimeoutMs;
      countLimit(this.host.stats, 'hello_timeout');
      this.#say(`nexo: no complete line within ${ms} ms; closing (HANDSHAKE_TIMEOUT)`);
      this.#flush();
      this.endGracefully();
      return;
    }
    const idle = this.host.options.idleTimeoutMs;
    if (
      this.phase === Phase.Open &&
      idle > 0 &&
      this.idle &&
      this.#live === undefined &&
      now - this.#lastLineAt > idle
    ) {
      this.goAway(new NexoError('IDLE_TIMEOUT', `no input for ${formatDuration(idle)}`));
    }
  }

  protected cleanup(): void {
    this.#live?.abort(new NexoError('CONNECTION_LOST', 'the connection closed'));
    this.#live = undefined;
    this.log.info({ peer: this.session.peer.address, mode: 'text', ms: this.lifetime() }, 'disconnected');
  }

  protected override onWritable(): void {
    this.#readLines();
    void this.#runNext();
  }

  // ---- lines in -----------------------------------------------------------------------------------

  #readLines(): void {
    if (this.phase !== Phase.Open && this.phase !== Phase.Draining) return;
    this.#fill();
    void this.#runNext();
    this.#flush();
  }

  /** Takes lines from the input up to MAX_PENDING_LINES, and reads from the socket only while there is room. */
  #fill(): void {
    while (this.#pending.length < MAX_PENDING_LINES) {
      const next = this.#splitter.next() ?? this.#lastLine();
      if (next === undefined) break;
      this.#firstLine = true;
      if ('tooLong' in next) {
        this.#lineFailed(
          new NexoError(
            'LINE_TOO_LONG',
            `line of ${next.tooLong}+ bytes is longer than ${this.host.options.maxLine}`,
          ),
        );
        if (this.phase >= Phase.Closing) return;
        continue;
      }
      this.#pending.push(next.line);
    }
    if (this.#pending.length >= MAX_PENDING_LINES || this.writeBlocked || this.yielding || this.#peerEnded)
      this.stream.pause();
    else this.stream.resume();
  }

  /** At end of input, a final line without LF still counts (§8.4). */
  #lastLine(): SplitLine | undefined {
    if (!this.#peerEnded || this.#lastLineTaken) return undefined;
    this.#lastLineTaken = true;
    return this.#splitter.end();
  }

  async #runNext(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    let lines = 0;
    try {
      while (this.#pending.length > 0 && this.phase === Phase.Open && !this.writeBlocked && !this.yielding) {
        const line = this.#pending.shift()!;
        this.#lastLineAt = this.host.now();
        await this.#runLine(line);
        // §7.4.1 Replies leave in one write per FRAMES_PER_WRITE lines (a write may block: the loop stops).
        if (++lines % FRAMES_PER_WRITE === 0) this.#flush();
        // §7.4.3 Its turn is over: the other connections run before this one reads on.
        if (this.turnSpent()) this.yieldTurn(() => this.#readLines());
        if (this.phase === Phase.Open || this.phase === Phase.Draining) this.#fill();
      }
    } finally {
      this.#running = false;
    }
    this.#flush();
    this.#endIfDone();
  }

  async #runLine(raw: string): Promise<void> {
    const line = raw.trim();
    if (this.#live !== undefined) {
      // A live command that talks back (chat) decides what the line does; for others any line stops it.
      const live = this.#liveCommand;
      if (live?.command.onLiveLine !== undefined) return this.#runLiveLine(live.command, live.args, line);
      this.#stopLive(new NexoError('CANCELLED', 'stopped'));
    }
    if (line === '') return;
    const space = line.search(/\s/);
    const word = (space === -1 ? line : line.slice(0, space)).toLowerCase();
    const rest = space === -1 ? '' : line.slice(space + 1).trim();
    this.host.stats.requests++;
    try {
      if (QUIT_WORDS.has(word)) {
        // Close without a word: `printf 'calc 1+1\nfim\n' | nc host 5000` prints only the answer.
        this.#pending.length = 0;
        this.phase = Phase.Draining;
        return;
      }
      if (word === 'help' || word === '?') this.#help();
      else if (word === 'ping') this.#say('pong');
      else if (word === 'auth') {
        this.session.identify(this.host.auth.authenticate(rest, this.session.peer));
        this.#say(`ok: role ${this.session.role}`);
      } else await this.#runCommand(word, rest);
      this.#failedInRow = 0;
    } catch (err) {
      this.#commandFailed(err);
    }
  }

  /** A line's command failed: its error line (§8.3), within the limits of §8.7. */
  #commandFailed(err: unknown): void {
    const error = toNexoError(err);
    countError(this.host.stats, error.code);
    if (error.code === 'INTERNAL_ERROR') this.log.error({ err }, 'text command failed');
    this.#lineFailed(error);
  }

  /**
   * §8.7 A line failed: its error line is sent if the session's error rate allows (else counted as withheld),
   * and the session is closed once FAILED_LINES_CLOSE lines in a row failed.
   */
  #lineFailed(error: NexoError): void {
    if (++this.#failedInRow >= FAILED_LINES_CLOSE) {
      countLimit(this.host.stats, 'text_errors_closed');
      this.log.info({ peer: this.session.peer.address }, 'closing a session that sends only errors');
      this.#pending.length = 0;
      this.#stopLive(new NexoError('TOO_MANY_ERRORS', 'too many errors'));
      this.#say(`nexo: ${FAILED_LINES_CLOSE} lines in a row failed; closing (TOO_MANY_ERRORS)`);
      this.#flush();
      this.endGracefully();
      return;
    }
    const now = Date.now();
    this.#errorTokens = Math.min(
      ERROR_LINES_BURST,
      this.#errorTokens + ((now - this.#errorTokensAt) * ERROR_LINES_PER_SECOND) / 1000,
    );
    this.#errorTokensAt = now;
    if (this.#errorTokens < 1) {
      this.#withheld++;
      countLimit(this.host.stats, 'text_errors_withheld');
      return;
    }
    this.#errorTokens--;
    if (this.#withheld > 0) {
      this.#say(
        `nexo: ${this.#withheld} error replies withheld (at most ${ERROR_LINES_PER_SECOND} a second)`,
      );
      this.#withheld = 0;
    }
    this.#sayError(error);
  }

  async #runCommand(word: string, rest: string): Promise<void> {
    const resolved = this.host.dispatcher.command(word);
    if (resolved === undefined) {
      throw new NexoError(
        'UNKNOWN_COMMAND',
        `unknown command '${word.slice(0, 32)}' (type help for the list)`,
      );
    }
    const { command } = resolved;
    const { method: methodName, args } = command.parse(rest);
    const method = this.host.dispatcher.resolve(resolved.service, methodName, this.session);
    if (method.definition.input === 'chunks') {
      throw new NexoError('BAD_REQUEST', `${command.name} needs binary mode (use the nexo client)`);
    }
    this.host.dispatcher.validate(method, args, this.session);
    const call = new Call(0, method, this.session, this, undefined);
    if (call.longLived) {
      this.#live = call;
      this.#liveCommand = { command, args };
      // Runs in the background; events print as they come until the next line stops it.
      Promise.resolve()
        .then(() => method.definition.handler(args as never, call))
        .then(
          (result) => this.#endLive(call, result, undefined),
          (err) => this.#endLive(call, undefined, err),
        );
      return;
    }
    const started = performance.now();
    let result: unknown;
    try {
      result = await method.definition.handler(args as never, call);
    } finally {
      method.latency?.since(started);
    }
    this.#sayLines(command.format(result));
  }

  /** A line typed while a talking live command runs (a chat message, /who...): see TextCommand.onLiveLine. */
  async #runLiveLine(command: TextCommand, liveArgs: unknown, line: string): Promise<void> {
    const live = this.#live!;
    this.host.stats.requests++;
    try {
      const action = command.onLiveLine!(line, liveArgs);
      if ('end' in action) {
        this.#stopLive(new NexoError('CANCELLED', 'stopped'));
        if (action.reply !== undefined) this.#sayLines(action.reply);
        if (action.next !== undefined) await this.#runLine(action.next);
        return;
      }
      if ('reply' in action) {
        this.#sayLines(action.reply);
        return;
      }
      const method = this.host.dispatcher.resolve(live.method.service, action.call.method, this.session);
      if (method.definition.input === 'chunks' || method.definition.longLived === true) {
        throw new NexoError('BAD_REQUEST', `${action.call.method} cannot run inside ${command.name}`);
      }
      this.host.dispatcher.validate(method, action.call.args, this.session);
      const call = new Call(0, method, this.session, this, undefined);
      const started = performance.now();
      let result: unknown;
      try {
        result = await method.definition.handler(action.call.args as never, call);
      } finally {
        method.latency?.since(started);
      }
      this.#sayLines((action.format ?? command.format)(result));
      this.#failedInRow = 0;
    } catch (err) {
      this.#commandFailed(err);
    }
  }

  #endLive(call: Call, result: unknown, err: unknown): void {
    if (this.#live !== call) return;
    const command = this.#liveCommand?.command;
    this.#live = undefined;
    this.#liveCommand = undefined;
    if (err !== undefined) this.#sayError(toNexoError(err));
    else if (result !== undefined && !call.final && command !== undefined)
      this.#sayLines(command.format(result));
    this.#flush();
  }

  #stopLive(reason: NexoError): void {
    const live = this.#live;
    if (live === undefined) return;
    this.#live = undefined;
    this.#liveCommand = undefined;
    live.abort(reason);
  }

  #help(): void {
    // Built once per dispatcher and node name: `help` is the longest reply for the fewest bytes, what a
    // client that never reads would ask for (test/timing/attack-text-nonreaders.test.ts).
    const node = this.host.nodeId();
    let help = HELP.get(this.host.dispatcher);
    if (help === undefined || help.node !== node) {
      const rows: [string, string][] = [];
      for (const { command } of this.host.dispatcher.commands()) rows.push([command.usage, command.summary]);
      rows.push(['ping', 'check the server answers']);
      rows.push(['auth <token>', 'take the role of a token']);
      rows.push(['help', 'this list']);
      rows.push(['quit | exit | fim | salir', 'close the connection']);
      const width = Math.max(...rows.map(([usage]) => usage.length));
      const lines = [
        `nexo ${node} text mode. Commands:`,
        ...rows.map(([u, s]) => `  ${u.padEnd(width)}  ${s}`),
      ];
      help = { node, text: lines.map(replyLine).join('\n') };
      HELP.set(this.host.dispatcher, help);
    }
    this.#sayChecked(help.text);
  }

  // ---- lines out ----------------------------------------------------------------------------------

  progress(): void {
    // Progress of a call has no line of its own in text mode.
  }

  event(_id: number, event: unknown): boolean {
    if (this.#live === undefined || this.phase >= Phase.Closing) return false;
    const value = event instanceof SharedEvent ? event.value : event;
    this.#say(this.#liveCommand?.command.formatEvent?.(value) ?? JSON.stringify(value));
    return !this.writeBlocked;
  }

  chunk(): Promise<void> {
    return Promise.reject(new NexoError('BAD_REQUEST', 'chunk streams need binary mode'));
  }

  #sayError(error: NexoError): void {
    this.#say(`error: ${error.message} (${error.code})`);
  }

  #sayLines(lines: string | string[]): void {
    if (typeof lines === 'string') this.#say(lines);
    else for (const line of lines) this.#say(line);
  }

  #say(line: string): void {
    // §8.3 One reply line per line, and no control characters (a result must not forge lines or drive the
    // terminal of the person reading).
    this.#sayChecked(replyLine(line));
  }

  /** Queues reply text that replyLine() already made safe (lines joined by LF). */
  #sayChecked(text: string): void {
    if (this.phase >= Phase.Closing) return;
    this.#out.push(text);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#out.length === 0) return;
    const text = `${this.#out.join('\n')}\n`;
    this.#out = [];
    this.writeParts([encoder.encode(text)]);
  }

  #endIfDone(): void {
    if (this.phase >= Phase.Closing || this.#running || this.#live !== undefined) return;
    const finished = this.phase === Phase.Draining || (this.#peerEnded && this.#pending.length === 0);
    if (!finished) return;
    this.#flush();
    this.endGracefully();
  }
}
