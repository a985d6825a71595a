import os from 'node:os';
import { createInterface } from 'node:readline';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { ChatMembership } from '../../client/api/chat.js';
import { NexoError } from '../../errors.js';
import { QUIT_WORDS } from '../../protocol/text-mode.js';
import { type ChatEvent, formatChatEvent } from '../../wire/chat.js';
import { addClientOptions, type ClientFlags, connectFromFlags } from '../client-options.js';
import { EXIT } from '../exit-codes.js';
import { printJson, reportError } from '../output.js';

const EXAMPLES = `
Lines you type are said in the room. Commands start with /:
  /who                 who is here
  /msg <nick> <text>   a private message
  /leave, /quit        leave the room (so does end of input, Ctrl-D)
  //text               a message that starts with /

Examples:
  nexo chat lobby --nick ana
  echo "deploy done" | nexo chat ops --nick ci         # say one line and leave
  nexo chat lobby --nick bot --json                    # one JSON event per line, for scripts`;

interface ChatFlags extends ClientFlags {
  nick?: string;
  history?: number;
}

export function registerChat(program: Command): void {
  addClientOptions(
    program
      .command('chat')
      .description('join a chat room: each line you type is said there; the room is printed as it happens')
      .argument('<room>', 'room name (letters, digits, _ . -)')
      .addOption(new Option('-n, --nick <nick>', 'your nickname in the room (default: your user name)'))
      .addOption(
        new Option('--history <n>', 'recent messages to show on joining (default: all kept)').argParser(
          count,
        ),
      )
      .addHelpText('after', EXAMPLES),
  ).action(async (room: string, flags: ChatFlags) => {
    // A chat lasts: no request timeout on the membership itself.
    const client = await connectFromFlags(flags);
    const print = (event: ChatEvent) => {
      if (flags.json) printJson(event);
      else process.stdout.write(`${formatChatEvent(event)}\n`);
    };
    let membership: ChatMembership;
    try {
      membership = await client.chat.join(
        room.replace(/^#/, ''),
        flags.nick ?? defaultNick(),
        print,
        flags.history === undefined ? {} : { history: flags.history },
      );
    } catch (err) {
      process.exitCode = reportError(err, { json: flags.json });
      await client.close();
      return;
    }
    const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
    let over = false;
    // The room may end the membership on its own (too slow, node stopping): stop reading then.
    membership.ended.then(
      () => {
        over = true;
        lines.close();
      },
      (err: unknown) => {
        over = true;
        process.exitCode = reportError(err, { json: flags.json });
        lines.close();
      },
    );
    try {
      for await (const line of lines) {
        if (over) break;
        const done = await handleLine(line.trim(), membership, flags.json === true);
        if (done) break;
      }
    } finally {
      if (!over) await membership.leave().catch(() => {});
      await client.close();
    }
  });
}

/** Runs one typed line; true when the user asked to leave. */
async function handleLine(line: string, membership: ChatMembership, json: boolean): Promise<boolean> {
  if (line === '') return false;
  try {
    if (!line.startsWith('/') || line.startsWith('//')) {
      await membership.say(line.startsWith('//') ? line.slice(1) : line);
      return false;
    }
    const [word = '', ...rest] = line.split(/\s+/);
    const command = word.toLowerCase();
    if (command === '/leave' || command === '/part' || QUIT_WORDS.has(command.slice(1))) return true;
    if (command === '/who' || command === '/names') {
      const { members } = await membership.who();
      if (json) printJson({ type: 'who', room: membership.room, members });
      else process.stdout.write(`* in #${membership.room}: ${members.map((m) => m.nick).join(', ')}\n`);
      return false;
    }
    if (command === '/msg' || command === '/dm') {
      const [to, ...words] = rest;
      if (to === undefined || words.length === 0)
        throw new NexoError('INVALID_ARGS', 'usage: /msg <nick> <text>');
      const sent = await membership.dm(to, words.join(' '));
      if (!json) process.stdout.write(`* to ${sent.to}: ${words.join(' ')}\n`);
      return false;
    }
    throw new NexoError('UNKNOWN_COMMAND', `unknown chat command '${command}'; try /who, /msg, /leave`);
  } catch (err) {
    // One failed line (rate limit, bad nick) does not end the chat.
    const code = reportError(err, { json });
    if (code === EXIT.UNREACHABLE) throw err;
    return false;
  }
}

function defaultNick(): string {
  const name = (process.env.USER ?? os.userInfo().username).replace(/[^\p{L}\p{N}_.-]/gu, '');
  return name === '' ? 'guest' : name.slice(0, 24);
}

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(`expected a whole number, got '${value}'`);
  return n;
}
