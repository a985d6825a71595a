import { type Command, Option } from 'commander';
import {
  OptionsError,
  resolveOptions,
  type ServerOptions,
  type ServerOptionsInput,
} from '../options/options.js';
import { CLUSTER_SETTINGS } from './settings/cluster.js';
import { readConfig } from './settings/config-file.js';
import { HTTP_SETTINGS } from './settings/http.js';
import { NODE_SETTINGS } from './settings/node.js';
import { flatKeys, getPath, setPath } from './settings/paths.js';
import { PROCESS_SETTINGS } from './settings/process.js';
import { AUTH_SETTINGS, TLS_SETTINGS } from './settings/security.js';
import { SERVICE_SETTINGS } from './settings/services.js';
import { convert, type Setting } from './settings/setting.js';
import { UDP_SETTINGS } from './settings/udp.js';

/**
 * `nexo server` settings: each one is a flag, an environment variable and a config-file key (one module per
 * group under settings/). Precedence: flag > environment > config file > default (the defaults live in
 * options/, composed by options/options.ts).
 */
export const SERVER_SETTINGS: readonly Setting[] = [
  ...NODE_SETTINGS,
  ...CLUSTER_SETTINGS,
  ...AUTH_SETTINGS,
  ...UDP_SETTINGS,
  ...TLS_SETTINGS,
  ...HTTP_SETTINGS,
  ...SERVICE_SETTINGS,
  ...PROCESS_SETTINGS,
];

export function addServerOptions(command: Command): Command {
  command.addOption(
    new Option('-c, --config <file>', 'JSON config file (keys as in docs/configuration.md)').env(
      'NEXO_CONFIG',
    ),
  );
  for (const s of SERVER_SETTINGS) command.addOption(new Option(s.flag, s.help));
  command.addOption(
    new Option('--token <token=role...>', 'accept this token and give it a role (repeatable)'),
  );
  command.addOption(
    new Option('--log-format <format>', 'pretty or json (default: pretty on a terminal)').choices([
      'pretty',
      'json',
    ]),
  );
  return command;
}

type Flags = Record<string, unknown>;

/**
 * Builds the node's input from flags, env and the config file, and validates it, naming the source of each
 * bad value.
 */
export function serverOptionsFrom(
  flags: Flags,
  env: NodeJS.ProcessEnv = process.env,
): { input: ServerOptionsInput; options: ServerOptions } {
  const input: Record<string, unknown> = {};
  const sources = new Map<string, string>();
  const configPath = (flags.config as string | undefined) ?? env.NEXO_CONFIG;
  if (configPath !== undefined) {
    const file = readConfig(configPath);
    Object.assign(input, file);
    for (const key of flatKeys(file)) sources.set(key, `config file ${configPath}`);
  }
  for (const s of SERVER_SETTINGS) {
    const value = env[s.env];
    if (value !== undefined && value !== '') {
      setPath(input, s.path, convert(value, s.kind));
      sources.set(s.path, `env ${s.env}`);
    }
  }
  if (env.NEXO_TOKENS !== undefined && env.NEXO_TOKENS !== '') {
    setPath(input, 'auth.tokens', { ...getTokens(input), ...parseTokens(env.NEXO_TOKENS.split(',')) });
    sources.set('auth.tokens', 'env NEXO_TOKENS');
  }
  for (const s of SERVER_SETTINGS) {
    const key = camel(s.flag);
    const value = flags[key];
    if (value === undefined) continue;
    if (s.kind === 'bool' && s.flag.startsWith('--no-')) {
      if (value === false) setPath(input, s.path, false);
      else continue;
    } else setPath(input, s.path, convert(String(value), s.kind));
    sources.set(s.path, `flag ${s.flag.split(' ')[0]}`);
  }
  if (Array.isArray(flags.token)) {
    setPath(input, 'auth.tokens', { ...getTokens(input), ...parseTokens(flags.token as string[]) });
    sources.set('auth.tokens', 'flag --token');
  }
  if (flags.logFormat !== undefined) setPath(input, 'log.pretty', flags.logFormat === 'pretty');
  else if (getPath(input, 'log.pretty') === undefined)
    setPath(input, 'log.pretty', process.stdout.isTTY === true);
  try {
    return { input: input as ServerOptionsInput, options: resolveOptions(input) };
  } catch (err) {
    if (!(err instanceof OptionsError)) throw err;
    throw new OptionsError(
      err.problems.map((p) => {
        const path = p.slice(0, p.indexOf(':'));
        const source = [...sources].find(([k]) => path === k || path.startsWith(`${k}.`))?.[1];
        return source === undefined ? p : `${p} [from ${source}]`;
      }),
    );
  }
}

function parseTokens(pairs: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.lastIndexOf('=');
    if (at <= 0) throw new OptionsError([`auth.tokens: '${pair.slice(0, 20)}...' must be token=role`]);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

function getTokens(input: Record<string, unknown>): Record<string, string> {
  return (getPath(input, 'auth.tokens') as Record<string, string> | undefined) ?? {};
}

function camel(flag: string): string {
  const name = flag.split(' ')[0]!.replace(/^--(no-)?/, '');
  return name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
