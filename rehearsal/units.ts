import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * What systemd would run for one of deploy/systemd's units, read from the unit file and the environment
 * files that install.sh wrote: the command line, its environment, the user and the working directory.
 *
 * The unit file is read as systemd.syntax(7) says: `#`/`;` comments, a trailing backslash continues the line
 * (a comment inside a continuation is dropped), whitespace around `=` is ignored, lines over 1 MiB and bad
 * section headers refuse the file, a line with no `=` or outside a section is skipped with a warning.
 * Of `[Service]` only what starts the process is understood (ExecStart, Environment, EnvironmentFile, User,
 * WorkingDirectory, LimitNOFILE, Restart, RestartSec, Type); the sandboxing and stop keys nexo's units use
 * are ignored, and any other key is ignored with a warning, as systemd does with a key it does not know.
 * Specifiers (`%i %I %n %N %p %P %j %J %%`), quoting and C escapes are those of systemd.unit(5) and
 * systemd.service(5) "Command lines"; `${VAR}` expands to one word, `$VAR` as a word of its own to its value
 * split into words, `$$` is a `$`. EnvironmentFile= settings override Environment= (systemd.exec(5)).
 * Where systemd refuses the unit (or the service fails to start) this throws a UnitError naming file and
 * line; what systemd only logs and skips goes to `warnings`. Input the rehearsal does not model (a second
 * command, `%h`, `LimitNOFILE=infinity`) is refused, not guessed.
 */
export interface UnitCommand {
  readonly argv: string[];
  readonly env: Record<string, string>;
  readonly user: string | undefined;
  readonly cwd: string | undefined;
  /** LimitNOFILE's hard limit, or systemd's default hard limit (DefaultLimitNOFILE=1024:524288). */
  readonly nofile: number;
  /** Restart= (`no` unless the unit says) and RestartSec= in ms (systemd's default 100 ms). */
  readonly restart: 'no' | 'always' | 'on-failure';
  readonly restartMs: number;
  /** What systemd would log and skip (a line with no `=`, an unknown key, a bad assignment). */
  readonly warnings?: readonly string[];
}

/** Maps the paths a unit or config names on a real machine to where they are in a rehearsal. */
export type PathMap = (p: string) => string;

/** A unit or environment file systemd would refuse; the message names the file and line. */
export class UnitError extends Error {
  override name = 'UnitError';
}

/** systemd's LONG_LINE_MAX: a longer line (or continued line) refuses the unit file. */
export const LONG_LINE_MAX = 1024 * 1024;
/** systemd reads at most this much of a file (READ_FULL_BYTES_MAX), and an assignment fits in ARG_MAX. */
const ENV_FILE_MAX = 64 * 1024 * 1024 - 1;
const ARG_MAX = 2 * 1024 * 1024;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** systemd.unit(5): unit names are at most 255 characters of these. */
const UNIT_NAME_CHARS = /^[A-Za-z0-9:_.\\-]+$/;

/** The text of a file or buffer as systemd would read it: UTF-8 with no NUL byte (a leading BOM dropped). */
function decode(data: string | Uint8Array, what: string): string {
  let text: string;
  if (typeof data === 'string') text = data;
  else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    } catch {
      throw new UnitError(`${what}: not valid UTF-8`);
    }
  }
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    const line = text.slice(0, nul).split('\n').length;
    throw new UnitError(
      `${what}:${line}: NUL byte (a unit or environment file must be UTF-8 text without NUL)`,
    );
  }
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

/**
 * Parses an environment file as systemd's parse_env_file does (systemd.exec(5) EnvironmentFile=): `#`/`;`
 * comment lines; `KEY=value` with whitespace around the key and before the value ignored; an unquoted value
 * keeps inner whitespace and quotes, loses trailing whitespace, and `\` escapes the next character (`\` at
 * the end of a line continues it); `'…'` is literal; `"…"` unescapes `\" \\ \` \$` and a backslashed newline,
 * and keeps other backslashes; quoted parts may span lines. A line with no `=`, or a name that is not
 * `[A-Za-z_][A-Za-z0-9_]*`, is skipped (systemd skips it too) and reported in `warnings` when given.
 */
export function parseEnvFile(
  data: string | Uint8Array,
  what = 'environment file',
  warnings?: string[],
): Record<string, string> {
  if (data.length > ENV_FILE_MAX)
    throw new UnitError(`${what}: larger than ${ENV_FILE_MAX} bytes, which systemd does not read`);
  const text = decode(data, what);
  const env: Record<string, string> = {};
  type State =
    | 'preKey'
    | 'key'
    | 'preValue'
    | 'value'
    | 'valueEsc'
    | 'single'
    | 'double'
    | 'doubleEsc'
    | 'comment';
  let state: State = 'preKey';
  let key = '';
  let value = '';
  let trailing = -1; // where trailing whitespace of an unquoted value starts
  let line = 1;
  let keyLine = 1;
  const push = () => {
    const name = key.trim();
    const v = trailing >= 0 ? value.slice(0, trailing) : value;
    if (!NAME.test(name)) warnings?.push(`${what}:${keyLine}: invalid variable name ${clip(name)}, ignoring`);
    else if (name.length + v.length > ARG_MAX - 3)
      warnings?.push(`${what}:${keyLine}: ${name}: assignment longer than ARG_MAX, ignoring`);
    else env[name] = v;
    key = '';
    value = '';
    trailing = -1;
  };
  for (const c of text) {
    const newline = c === '\n' || c === '\r';
    switch (state) {
      case 'preKey':
        if (c === '#' || c === ';') state = 'comment';
        else if (!/\s/.test(c)) {
          state = 'key';
          key = c;
          keyLine = line;
        }
        break;
      case 'key':
        if (newline) {
          warnings?.push(`${what}:${keyLine}: missing '=', ignoring line`);
          state = 'preKey';
          key = '';
        } else if (c === '=') state = 'preValue';
        else key += c;
        break;
      case 'preValue':
        if (newline) {
          push();
          state = 'preKey';
        } else if (c === "'") state = 'single';
        else if (c === '"') state = 'double';
        else if (c === '\\') state = 'valueEsc';
        else if (!/\s/.test(c)) {
          state = 'value';
          value += c;
        }
        break;
      case 'value':
        if (newline) {
          push();
          state = 'preKey';
        } else if (c === '\\') {
          state = 'valueEsc';
          trailing = -1;
        } else {
          if (!/\s/.test(c)) trailing = -1;
          else if (trailing < 0) trailing = value.length;
          value += c;
        }
        break;
      case 'valueEsc':
        state = 'value';
        if (c !== '\n') value += c; // an escaped newline continues the line
        break;
      case 'single':
        if (c === "'") state = 'preValue';
        else value += c;
        break;
      case 'double':
        if (c === '"') state = 'preValue';
        else if (c === '\\') state = 'doubleEsc';
        else value += c;
        break;
      case 'doubleEsc':
        state = 'double';
        if ('"\\`$'.includes(c)) value += c;
        else if (c !== '\n') value += `\\${c}`;
        break;
      case 'comment':
        if (newline) state = 'preKey';
        break;
    }
    if (c === '\n') line++;
  }
  if (state === 'key') warnings?.push(`${what}:${keyLine}: missing '=', ignoring line`);
  else if (state !== 'preKey' && state !== 'comment') push();
  return env;
}

const C_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  s: ' ',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

/**
 * Splits `text` into words as systemd's extract_first_word(EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE) does: words
 * separated by whitespace, `'…'` and `"…"` anywhere in a word, C escapes (`\n \t \\ \" \xNN \NNN \uXXXX`)
 * inside and outside quotes. An unknown escape is kept as written when `relax` (command arguments), else
 * refused. An unterminated quote or a trailing backslash is refused. Without `cEscapes` (a `$VAR` value split
 * at exec time: EXTRACT_UNQUOTE|EXTRACT_RELAX) a backslash only takes the next character literally.
 */
export function splitWords(text: string, relax = true, cEscapes = true): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\') {
      const next = text[i + 1];
      if (next === undefined) throw new UnitError('trailing backslash');
      if (!cEscapes) {
        // without EXTRACT_CUNESCAPE a backslash takes the next character as it is
        word = (word ?? '') + next;
        i++;
        continue;
      }
      let out = C_ESCAPES[next];
      let used = 1;
      const hex = (n: number) => {
        const digits = text.slice(i + 2, i + 2 + n);
        const cp = Number.parseInt(digits, 16);
        return new RegExp(`^[0-9a-fA-F]{${n}}$`).test(digits) && cp <= 0x10ffff
          ? String.fromCodePoint(cp)
          : undefined;
      };
      if (next === 'x') [out, used] = [hex(2), 3];
      else if (next === 'u') [out, used] = [hex(4), 5];
      else if (next === 'U') [out, used] = [hex(8), 9];
      else if (/[0-7]/.test(next)) {
        const digits = text.slice(i + 1, i + 4);
        [out, used] = [
          /^[0-3][0-7]{2}$/.test(digits) ? String.fromCharCode(Number.parseInt(digits, 8)) : undefined,
          3,
        ];
      }
      if (out === '\0') throw new UnitError('an escape that makes a NUL byte');
      if (out === undefined) {
        if (!relax) throw new UnitError(`unknown escape \\${next}`);
        out = `\\${next}`;
        used = 1;
      }
      word = (word ?? '') + out;
      i += used;
    } else if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else word = (word ?? '') + c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else word = (word ?? '') + c;
  }
  if (quote !== undefined) throw new UnitError(`unterminated ${quote} quote`);
  if (word !== undefined) words.push(word);
  return words;
}

/**
 * `A=1 "B=two words"` as in an `Environment=` line (systemd.exec(5): quotes around or inside an assignment,
 * C escapes; no `$` expansion). Words that are not `NAME=value` are skipped (systemd: "Invalid environment
 * assignment, ignoring") and reported in `warnings` when given; an unterminated quote skips the rest of the
 * line, as systemd does.
 */
export function parseAssignments(text: string, warnings?: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  let words: string[];
  try {
    words = splitWords(text, false);
  } catch (err) {
    warnings?.push(`Environment=: invalid syntax (${(err as Error).message}), ignoring: ${clip(text)}`);
    return env;
  }
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq > 0 && NAME.test(word.slice(0, eq))) env[word.slice(0, eq)] = word.slice(eq + 1);
    else warnings?.push(`Environment=: invalid environment assignment, ignoring: ${clip(word)}`);
  }
  return env;
}

function clip(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

interface Assignment {
  readonly key: string;
  readonly value: string;
  readonly line: number;
}

/**
 * The assignments of one section of a unit file, in order (a key may repeat), as systemd's config_parse
 * reads the file. Throws UnitError where systemd refuses the file; skipped lines are added to `warnings`.
 */
export function unitSection(
  data: string | Uint8Array,
  section: string,
  what: string,
  warnings: string[],
): Assignment[] {
  const text = decode(data, what);
  const lines = text.split(/\r\n|\r|\n/);
  const out: Assignment[] = [];
  let current: string | undefined;
  let continued: string | undefined;
  let startLine = 0;
  const parse = (raw: string, line: number) => {
    const l = raw.trim();
    if (l === '' || l.startsWith('#') || l.startsWith(';')) return;
    if (l.startsWith('[')) {
      if (!l.endsWith(']') || l.length < 3)
        throw new UnitError(`${what}:${line}: invalid section header ${clip(l)}`);
      current = l.slice(1, -1);
      return;
    }
    if (current === undefined)
      return void warnings.push(`${what}:${line}: assignment outside of section, ignoring`);
    const eq = l.indexOf('=');
    if (eq < 0) return void warnings.push(`${what}:${line}: missing '=', ignoring line`);
    if (eq === 0) return void warnings.push(`${what}:${line}: missing key name before '=', ignoring line`);
    if (current === section) out.push({ key: l.slice(0, eq).trim(), value: l.slice(eq + 1).trim(), line });
  };
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.length > LONG_LINE_MAX)
      throw new UnitError(`${what}:${i + 1}: line too long (over ${LONG_LINE_MAX} characters)`);
    const trimmed = raw.trimStart();
    // A comment inside a continuation is dropped, the continuation goes on (systemd.syntax(7)).
    if (trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    if (continued === undefined) startLine = i + 1;
    const joined = (continued ?? '') + raw;
    if (joined.length > LONG_LINE_MAX)
      throw new UnitError(
        `${what}:${startLine}: continuation line too long (over ${LONG_LINE_MAX} characters)`,
      );
    let escaped = false;
    for (const c of joined) escaped = !escaped && c === '\\';
    if (escaped) {
      continued = `${joined.slice(0, -1)} `;
      continue;
    }
    continued = undefined;
    parse(joined, startLine);
  }
  if (continued !== undefined) parse(continued, startLine);
  return out;
}

/** The names the specifiers of a unit (a template instantiated with `instance`) resolve to. */
function unitNames(file: string, instance: string | undefined): Record<string, string> {
  const base = path.basename(file);
  const template = /^([^@]+)@\.([a-z]+)$/.exec(base);
  if (template === null && instance !== undefined)
    throw new UnitError(`${base}: not a template, no instance`);
  if (template !== null && instance === undefined)
    throw new UnitError(`${base}: a template needs an instance`);
  if (instance !== undefined && (!UNIT_NAME_CHARS.test(instance) || base.length + instance.length > 255))
    throw new UnitError(`${base}: ${clip(instance)} is not a valid instance name`);
  const full = template === null ? base : `${template[1]}@${instance}.${template[2]}`;
  const prefix = template === null ? base.replace(/\.[a-z]+$/, '') : template[1]!;
  const unescapeName = (s: string) =>
    s.replace(/\\x([0-9a-fA-F]{2})|-/g, (_, hex: string | undefined) =>
      hex === undefined ? '/' : String.fromCharCode(Number.parseInt(hex, 16)),
    );
  const last = prefix.split('-').at(-1)!;
  return {
    n: full,
    N: template === null ? prefix : `${prefix}@${instance}`,
    p: prefix,
    P: unescapeName(prefix),
    j: last,
    J: unescapeName(last),
    i: instance ?? '',
    I: unescapeName(instance ?? ''),
    '%': '%',
  };
}

/** systemd.unit(5) specifiers the rehearsal has no value for (a host's or user's): refused, not guessed. */
const UNMODELED_SPECIFIERS = 'aAbBCdEfgGhHlLmMoqsStTuUvVwWyY';

function specifiers(value: string, names: Record<string, string>): string {
  return value.replace(/%(.?)/gs, (_, c: string) => {
    if (Object.hasOwn(names, c)) return names[c]!;
    if (c === '') throw new UnitError('a lone % at the end (write %% for a percent sign)');
    if (UNMODELED_SPECIFIERS.includes(c))
      throw new UnitError(`specifier %${c} is not modeled by the rehearsal`);
    throw new UnitError(`unknown specifier %${c}`);
  });
}

/**
 * Expands one command-line word at exec time (systemd.service(5) "Command lines"): a word `$NAME` is the
 * value split into words (quotes respected and removed; unset: no word); `${NAME}` anywhere is the exact
 * value (unset: empty); `$$` is `$`.
 */
function expandWord(word: string, env: Record<string, string>, warnings: string[]): string[] {
  if (word.startsWith('$') && word[1] !== '{' && word[1] !== '$' && word.length > 1) {
    const value = env[word.slice(1)];
    if (value === undefined) {
      warnings.push(`ExecStart=: referenced but unset environment variable ${word}`);
      return [];
    }
    try {
      return splitWords(value, true, false);
    } catch (err) {
      warnings.push(`ExecStart=: ${word}: ${(err as Error).message}; its value is one word`);
      return [value];
    }
  }
  return [
    word.replace(/\$\$|\$\{([^}]*)\}/g, (m, name: string | undefined) => {
      if (m === '$$') return '$';
      if (env[name!] === undefined)
        warnings.push(`ExecStart=: referenced but unset environment variable ${m}`);
      return env[name!] ?? '';
    }),
  ];
}

const RESTART = ['no', 'on-success', 'on-failure', 'on-abnormal', 'on-watchdog', 'on-abort', 'always'];
/** [Service] keys nexo's units (and Debian's haproxy.service) use that do not change how the process starts. */
const IGNORED = new Set(
  (
    'Group ExecStartPre ExecStartPost ExecReload ExecStop ExecStopPost KillSignal KillMode TimeoutStartSec ' +
    'TimeoutStopSec TimeoutSec StateDirectory StateDirectoryMode RuntimeDirectory RuntimeDirectoryMode ' +
    'LogsDirectory CacheDirectory ConfigurationDirectory NoNewPrivileges ProtectSystem ProtectHome PrivateTmp ' +
    'PrivateDevices ProtectKernelTunables ProtectKernelModules ProtectControlGroups RestrictSUIDSGID ' +
    'CapabilityBoundingSet AmbientCapabilities ReadWritePaths ReadOnlyPaths SuccessExitStatus ' +
    'RestartPreventExitStatus PIDFile LimitNPROC LimitCORE UMask SyslogIdentifier StandardOutput StandardError ' +
    'OOMScoreAdjust Nice WatchdogSec NotifyAccess RemainAfterExit StartLimitIntervalSec StartLimitBurst'
  ).split(' '),
);

/**
 * The command of `unitFile` (instance `instance` for a template unit such as `nexo-sensor@.service`), with
 * every path mapped by `map`: the EnvironmentFile is read from where `map` puts it.
 */
export function unitCommand(unitFile: string, map: PathMap, instance?: string): UnitCommand {
  return unitCommandFrom(readFileSync(unitFile), unitFile, map, instance);
}

/** unitCommand for a unit's contents (`unitFile` names it: its specifiers and messages). */
export function unitCommandFrom(
  data: string | Uint8Array,
  unitFile: string,
  map: PathMap,
  instance?: string,
): UnitCommand {
  const what = path.basename(unitFile);
  const names = unitNames(unitFile, instance);
  const warnings: string[] = [];
  const assignments: Record<string, string>[] = [];
  const envFiles: string[] = [];
  const execs: { value: string; line: number }[] = [];
  let type = 'simple';
  let user: string | undefined;
  let cwd: string | undefined;
  let nofile = 524_288;
  let restart: UnitCommand['restart'] = 'no';
  let restartMs = 100;
  for (const { key, value: raw, line } of unitSection(data, 'Service', what, warnings)) {
    const at = `${what}:${line}`;
    const spec = () => {
      try {
        return specifiers(raw, names);
      } catch (err) {
        throw new UnitError(`${at}: ${key}=: ${(err as Error).message}`);
      }
    };
    const warn = (why: string) => warnings.push(`${at}: ${key}=: ${why}, ignoring: ${clip(raw)}`);
    if (key === 'Environment') {
      if (raw === '') assignments.length = 0;
      else {
        // specifiers after unquoting, per assignment; one that cannot be resolved is skipped
        const resolved: Record<string, string> = {};
        for (const [k, v] of Object.entries(parseAssignments(raw, warnings))) {
          try {
            resolved[k] = specifiers(v, names);
          } catch (err) {
            warnings.push(`${at}: Environment=: ${(err as Error).message}, ignoring ${k}`);
          }
        }
        assignments.push(resolved);
      }
    } else if (key === 'EnvironmentFile') {
      if (raw === '') envFiles.length = 0;
      else {
        const value = spec();
        if (!value.replace(/^-/, '').startsWith('/'))
          throw new UnitError(`${at}: EnvironmentFile=: not an absolute path: ${clip(value)}`);
        envFiles.push(value);
      }
    } else if (key === 'ExecStart') {
      if (raw === '') execs.length = 0;
      else execs.push({ value: spec(), line });
    } else if (key === 'Type') type = raw;
    else if (key === 'User') user = raw === '' ? undefined : spec();
    else if (key === 'WorkingDirectory') {
      const value = spec().replace(/^-/, '');
      if (value === '') cwd = undefined;
      else if (!value.startsWith('/'))
        throw new UnitError(`${at}: WorkingDirectory=: ${clip(value)} is not modeled (only absolute paths)`);
      else cwd = map(value);
    } else if (key === 'LimitNOFILE') {
      // `N` or `soft:hard`, each a number or `infinity`; systemd ignores what it cannot read
      const m = /^(\d{1,15}|infinity)(?::(\d{1,15}|infinity))?$/.exec(raw);
      const n = (v: string) => (v === 'infinity' ? Number.POSITIVE_INFINITY : Number(v));
      if (m === null) warn('cannot parse the resource value');
      else if (m[2] !== undefined && n(m[1]!) > n(m[2])) warn('soft limit above the hard limit');
      else nofile = n(m[2] ?? m[1]!);
    } else if (key === 'Restart') {
      if (!RESTART.includes(raw)) warn('unknown restart setting');
      else if (raw === 'no' || raw === 'always' || raw === 'on-failure') restart = raw;
      else
        throw new UnitError(`${at}: Restart=${raw} is not modeled by the rehearsal (no, always, on-failure)`);
    } else if (key === 'RestartSec') {
      const ms = timeSpanMs(raw);
      if (ms === undefined) warn('cannot parse the time span');
      else restartMs = ms;
    } else if (!IGNORED.has(key) && !key.startsWith('X-')) warn(`unknown key ${clip(key)} in [Service]`);
  }
  if (execs.length === 0) throw new UnitError(`${what}: service has no ExecStart=, refusing`);
  if (execs.length > 1)
    throw new UnitError(
      type === 'oneshot'
        ? `${what}: more than one ExecStart= is not modeled by the rehearsal`
        : `${what}: service has more than one ExecStart= setting, which is only allowed for Type=oneshot services, refusing`,
    );
  // Environment= first, then each EnvironmentFile= in order: the files override (systemd.exec(5)).
  const env: Record<string, string> = Object.assign({}, ...assignments);
  for (const entry of envFiles) {
    const optional = entry.startsWith('-');
    const file = optional ? entry.slice(1) : entry;
    let data: Buffer;
    try {
      data = readFileSync(map(file));
    } catch (err) {
      if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new UnitError(
        `${what}: EnvironmentFile=${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    Object.assign(env, parseEnvFile(data, file, warnings));
  }
  for (const [k, v] of Object.entries(env)) env[k] = mapPaths(v, map);
  const exec = execs[0]!;
  const argv = commandLine(exec.value, env, `${what}:${exec.line}`, warnings).map((w) => mapPaths(w, map));
  return { argv, env, user, cwd, nofile, restart, restartMs, warnings };
}

/** An ExecStart= value as argv: prefixes, words, the executable's path, then `$` expansion. */
function commandLine(value: string, env: Record<string, string>, at: string, warnings: string[]): string[] {
  const prefix = /^[-@:+!]*/.exec(value)![0];
  let words: string[];
  try {
    words = splitWords(value.slice(prefix.length));
  } catch (err) {
    throw new UnitError(`${at}: ExecStart=: ${(err as Error).message}`);
  }
  if (words.includes(';'))
    throw new UnitError(`${at}: ExecStart=: more than one command is not modeled by the rehearsal`);
  const [file] = words;
  if (file === undefined || file === '') throw new UnitError(`${at}: ExecStart=: empty command`);
  if (!file.startsWith('/') && file.includes('/'))
    throw new UnitError(
      `${at}: ExecStart=: neither a valid executable name nor an absolute path: ${clip(file)}`,
    );
  if (prefix.includes('@')) words.splice(0, 2, file); // `@file argv0 …`: the rehearsal runs file, argv0 is lost
  // `:` turns off environment variable substitution
  return prefix.includes(':') ? words : words.flatMap((w) => expandWord(w, env, warnings));
}

const SPAN_UNITS: Record<string, number> = {
  us: 0.001,
  usec: 0.001,
  ms: 1,
  msec: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

/** A systemd.time(7) span (`5s`, `2`, `500ms`, `1min 30s`) in ms; undefined when systemd could not read it. */
export function timeSpanMs(span: string): number | undefined {
  const s = span.trim();
  if (s === '' || s.length > 256) return undefined;
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  let ms = 0;
  let rest = s;
  while (rest !== '') {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]+)\s*/.exec(rest);
    if (m === null || SPAN_UNITS[m[2]!] === undefined) return undefined;
    ms += Number(m[1]) * SPAN_UNITS[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  return Number.isFinite(ms) ? ms : undefined;
}

/** Maps every absolute path that starts a word or follows `=` or a quote (a URL's path follows neither). */
export function mapPaths(text: string, map: PathMap): string {
  return text.replace(/(^|[\s="'])(\/[^\s"',]*)/g, (_, lead: string, p: string) => lead + map(p));
}
