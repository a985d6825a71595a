import { appendFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { NexoClient } from '../client/client.js';
import { QUIT_WORDS } from '../protocol/text-mode.js';
import { paint, reportError } from './output.js';

const HISTORY_FILE = process.env.NEXO_HISTORY ?? path.join(os.homedir(), '.nexo_history');
const HISTORY_SIZE = 1000;

/** The interactive calculator: line editing, persistent history, session variables on the server. */
export async function runRepl(client: NexoClient): Promise<void> {
  const rl = createInterface({
    input: process.stdin,
    output: process.stdout,
    prompt: paint.bold('calc> '),
    history: loadHistory(),
    historySize: HISTORY_SIZE,
    removeHistoryDuplicates: true,
  });
  process.stdout.write(
    paint.dim(
      `connected to ${client.welcome?.node ?? client.endpoint}. Type an expression, :vars, :clear, or quit.\n`,
    ),
  );
  client.on('disconnect', () => process.stdout.write(paint.dim('\n(connection lost; reconnecting...)\n')));
  rl.prompt();
  for await (const raw of rl) {
    const line = raw.trim();
    if (line !== '') saveHistory(line);
    if (QUIT_WORDS.has(line.toLowerCase())) break;
    try {
      if (line === ':vars') {
        const { vars } = await client.calc.vars();
        const entries = Object.entries(vars);
        process.stdout.write(
          entries.length ? `${entries.map(([k, v]) => `${k} = ${v}`).join('\n')}\n` : '(none)\n',
        );
      } else if (line === ':clear') {
        await client.calc.clear();
      } else if (line === ':help' || line === 'help') {
        process.stdout.write(
          'operators + - * / % ^ ( ); functions sqrt abs round floor ceil min max sin cos tan log ln exp;\n',
        );
        process.stdout.write(
          'constants pi e; variables: x = 2, then x*3; ans is the last result; :vars :clear quit\n',
        );
      } else if (line !== '') {
        const result = await client.calc.eval(line);
        process.stdout.write(
          `${result.assigned ? `${result.assigned} = ` : ''}${paint.green(result.value)}\n`,
        );
      }
    } catch (err) {
      reportError(err, { input: line });
    }
    rl.prompt();
  }
  rl.close();
}

function loadHistory(): string[] {
  try {
    return readFileSync(HISTORY_FILE, 'utf8').split('\n').filter(Boolean).slice(-HISTORY_SIZE).reverse();
  } catch {
    return [];
  }
}

function saveHistory(line: string): void {
  try {
    appendFileSync(HISTORY_FILE, `${line.replace(/\n/g, ' ')}\n`, { mode: 0o600 });
  } catch {
    // History is a convenience; a read-only home must not break the calculator.
  }
}
