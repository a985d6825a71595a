import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * What systemd would run for one of deploy/systemd's units, read from the unit file and the environment
 * files that install.sh wrote: the command line, its environment, the user and the working directory.
 * Only what nexo's units use is understood (ExecStart, Environment, EnvironmentFile, User, WorkingDirectory,
 * LimitNOFILE, Restart, RestartSec;
 * `%i`; `${VAR}` as one word and `$VAR` split on spaces, as systemd.service(5) says); anything else in
 * `[Service]` is ignored, because it constrains the process (sandboxing, restarts) rather than starts it.
 */
export interface UnitCommand {
  readonly argv: string[];
  readonly env: Record<string, string>;
  readonly user: string | undefined;
  readonly cwd: string | undefined;
  /** LimitNOFILE, or systemd's default hard limit (DefaultLimitNOFILE=1024:524288) as a unit gets it. */
  readonly nofile: number;
  /** Restart= (`no` unless the unit says) and RestartSec= in ms (systemd's default 100 ms). */
  readonly restart: 'no' | 'always' | 'on-failure';
  readonly restartMs: number;
}

/** Maps the paths a unit or config names on a real machine to where they are in a rehearsal. */
export type PathMap = (p: string) => string;

/** Parses an environment file: `KEY=value` lines, `#` comments, optional quotes (systemd.exec(5)). */
export function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`environment file: not KEY=value: ${JSON.stringify(line)}`);
    let value = line.slice(eq + 1);
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    env[line.slice(0, eq).trim()] = value;
  }
  return env;
}

/** `A=1 "B=two words"` as in an `Environment=` line (systemd quotes the whole assignment). */
export function parseAssignments(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of text.matchAll(/"([^"]*)"|(\S+)/g)) {
    const word = m[1] ?? m[2]!;
    const eq = word.indexOf('=');
    if (eq > 0) env[word.slice(0, eq)] = word.slice(eq + 1);
  }
  return env;
}

/** The `[Service]` keys of a unit, in order (a key may repeat). */
function serviceKeys(unit: string): [string, string][] {
  const out: [string, string][] = [];
  let inService = false;
  for (const raw of unit.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) {
      inService = line === '[Service]';
      continue;
    }
    if (!inService || line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq > 0) out.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return out;
}

/** Expands `${VAR}` (one word) and `$VAR` (split on whitespace) in an ExecStart line. */
function expandExec(line: string, env: Record<string, string>): string[] {
  const words: string[] = [];
  for (const word of line.trim().split(/\s+/)) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole) {
      words.push(...(env[whole[1]!] ?? '').split(/\s+/).filter(Boolean));
      continue;
    }
    words.push(word.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, k: string) => env[k] ?? ''));
  }
  return words;
}

/**
 * The command of `unitFile` (instance `instance` for a template unit such as `nexo-sensor@.service`), with
 * every path mapped by `map`: the EnvironmentFile is read from where `map` puts it.
 */
export function unitCommand(unitFile: string, map: PathMap, instance?: string): UnitCommand {
  const unit = readFileSync(unitFile, 'utf8');
  const spec = (s: string) => (instance === undefined ? s : s.replaceAll('%i', instance));
  const env: Record<string, string> = {};
  let exec: string | undefined;
  let user: string | undefined;
  let cwd: string | undefined;
  let nofile = 524_288;
  let restart: UnitCommand['restart'] = 'no';
  let restartMs = 100;
  for (const [key, rawValue] of serviceKeys(unit)) {
    const value = spec(rawValue);
    if (key === 'Environment') Object.assign(env, parseAssignments(value));
    else if (key === 'EnvironmentFile') {
      const optional = value.startsWith('-');
      const file = map(optional ? value.slice(1) : value);
      try {
        Object.assign(env, parseEnvFile(readFileSync(file, 'utf8')));
      } catch (err) {
        if (!optional || (err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    } else if (key === 'ExecStart') exec = value;
    else if (key === 'User') user = value;
    else if (key === 'WorkingDirectory') cwd = map(value);
    else if (key === 'LimitNOFILE') nofile = Number(value.split(':').at(-1));
    else if (key === 'Restart') restart = value === 'always' || value === 'on-failure' ? value : 'no';
    else if (key === 'RestartSec') restartMs = seconds(value) * 1000;
  }
  if (exec === undefined) throw new Error(`${path.basename(unitFile)}: no ExecStart`);
  for (const [k, v] of Object.entries(env)) env[k] = mapPaths(v, map);
  const argv = expandExec(exec, env).map((w) => mapPaths(w, map));
  return { argv, env, user, cwd, nofile, restart, restartMs };
}

/** `5s`, `2`, `500ms` as systemd.time(7) writes a time span (the forms nexo's units use). */
function seconds(span: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|min)?$/.exec(span.trim());
  if (!m) throw new Error(`unit: cannot read the time span ${JSON.stringify(span)}`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n / 1000 : m[2] === 'min' ? n * 60 : n;
}

/** Maps every absolute path that starts a word or follows `=` or a quote (a URL's path follows neither). */
export function mapPaths(text: string, map: PathMap): string {
  return text.replace(/(^|[\s="'])(\/[^\s"',]*)/g, (_, lead: string, p: string) => lead + map(p));
}
