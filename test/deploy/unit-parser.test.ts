// biome-ignore-all lint/suspicious/noTemplateCurlyInString: systemd's ${VAR} syntax is what these strings test
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  LONG_LINE_MAX,
  parseAssignments,
  parseEnvFile,
  splitWords,
  timeSpanMs,
  UnitError,
  unitCommandFrom,
  unitSection,
} from '../../rehearsal/units.js';

/**
 * The rehearsal's reader of systemd units and environment files (rehearsal/units.ts), fed malformed,
 * oversized and hostile input: it must read what systemd reads (systemd.syntax(7), systemd.exec(5),
 * systemd.service(5)), skip what systemd skips (as a warning) and refuse with a UnitError what systemd
 * refuses, never crash or hang. Fast: no namespace, no process.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'nexo-unit-parser-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const identity = (p: string) => p;
const mapped = (p: string) => (p.startsWith('/etc/') ? path.join(dir, p) : p);

/** A [Service] unit `name` with these lines, as unitCommand reads it. */
function service(lines: string, name = 'x.service', instance?: string) {
  return unitCommandFrom(`[Unit]\nDescription=t\n[Service]\n${lines}\n`, name, mapped, instance);
}
function envFile(name: string, text: string | Buffer): void {
  writeFileSync(path.join(dir, 'etc', name), text);
}
mkdirSync(path.join(dir, 'etc'));

describe('environment files (systemd.exec(5) EnvironmentFile=, parse_env_file)', () => {
  it('reads comments, blank lines, whitespace around the key, empty values and CRLF', () => {
    expect(parseEnvFile('# c\n; c\n\n  A=1\nB = 2\r\nC=\nD=  x y  \n')).toEqual({
      A: '1',
      B: '2',
      C: '',
      D: 'x y',
    });
  });

  it('quotes: single literal, double with the shell escapes, mixed, spanning lines', () => {
    expect(parseEnvFile(`A='a \\n $b'\nB="q \\" \\\\ \\$ \\\` \\n"\nC="x"'y'z\nD='l1\nl2'\n`)).toEqual({
      A: 'a \\n $b',
      B: 'q " \\ $ ` \\n',
      C: 'xyz',
      D: 'l1\nl2',
    });
    // unquoted: quotes after the first character are kept, as systemd.exec(5) says
    expect(parseEnvFile('A=it"s "x"\n')).toEqual({ A: 'it"s "x"' });
  });

  it('a backslash escapes one character and continues a line; a backslash in a comment does not', () => {
    expect(parseEnvFile('A=one \\\n  two\nB=a\\ \\#b\\\\\n')).toEqual({ A: 'one   two', B: 'a #b\\' });
    expect(parseEnvFile('# comment \\\nA=1\n')).toEqual({ A: '1' });
    expect(parseEnvFile('A="x\\\ny"\n')).toEqual({ A: 'xy' });
  });

  it('skips, with a warning, a line with no = and a name systemd refuses; the last duplicate wins', () => {
    const warnings: string[] = [];
    expect(parseEnvFile('nonsense\nA=1\n1X=2\nA B=3\nA=4\n-=5\nlast', 'f.env', warnings)).toEqual({ A: '4' });
    expect(warnings).toEqual([
      "f.env:1: missing '=', ignoring line",
      'f.env:3: invalid variable name "1X", ignoring',
      'f.env:4: invalid variable name "A B", ignoring',
      'f.env:6: invalid variable name "-", ignoring',
      "f.env:7: missing '=', ignoring line",
    ]);
  });

  it('does not expand $VAR or ${VAR} (systemd does not, in an EnvironmentFile)', () => {
    expect(parseEnvFile('A=1\nB=$A ${A}\n')).toEqual({ A: '1', B: '$A ${A}' });
  });

  it('an unterminated quote takes the rest of the file, as systemd does (no crash)', () => {
    expect(parseEnvFile('A="open\nB=2\n')).toEqual({ A: 'open\nB=2\n' });
  });

  it('refuses a NUL byte and invalid UTF-8, naming the line', () => {
    expect(() => parseEnvFile('A=1\nB=x\0y\n', 'f.env')).toThrow(UnitError);
    expect(() => parseEnvFile('A=1\nB=x\0y\n', 'f.env')).toThrow(/f\.env:2: NUL byte/);
    expect(() => parseEnvFile(Buffer.from([0x41, 0x3d, 0xff, 0xfe, 0x0a]), 'f.env')).toThrow(
      /f\.env: not valid UTF-8/,
    );
    expect(parseEnvFile(Buffer.from('\uFEFFA=1\n'))).toEqual({ A: '1' });
  });

  it('reads a huge line without trouble, and skips an assignment longer than ARG_MAX', () => {
    const big = 'v'.repeat(1_000_000);
    expect(parseEnvFile(`A=${big}\nB=2\n`)).toEqual({ A: big, B: '2' });
    const warnings: string[] = [];
    expect(parseEnvFile(`A=${'v'.repeat(3 * 1024 * 1024)}\nB=2\n`, 'f.env', warnings)).toEqual({ B: '2' });
    expect(warnings).toEqual(['f.env:1: A: assignment longer than ARG_MAX, ignoring']);
  });

  it('survives hostile input (fuzzed bytes): a result or a UnitError, nothing else', () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const alphabet = ['=', '"', "'", '\\', '\n', '\r', '#', ';', ' ', 'A', '_', '$', '{', '}', '\0', 'é'];
    for (let i = 0; i < 500; i++) {
      const text = Array.from(
        { length: Math.floor(rnd() * 60) },
        () => alphabet[Math.floor(rnd() * alphabet.length)],
      ).join('');
      try {
        const env = parseEnvFile(text);
        for (const [k, v] of Object.entries(env)) {
          expect(k).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
          expect(typeof v).toBe('string');
        }
      } catch (err) {
        expect(err, JSON.stringify(text)).toBeInstanceOf(UnitError);
      }
    }
  });
});

describe('Environment= lines and words (extract_first_word: quotes, C escapes)', () => {
  it('quotes around or inside an assignment, C escapes, no $ expansion', () => {
    expect(parseAssignments('"CONFIG=/etc/haproxy/haproxy.cfg" "EXTRAOPTS=-S /run/x.sock" N=1')).toEqual({
      CONFIG: '/etc/haproxy/haproxy.cfg',
      EXTRAOPTS: '-S /run/x.sock',
      N: '1',
    });
    expect(parseAssignments(`A="x y" B='p q' C=a\\tb D=$HOME E=\\x41\\101 F=`)).toEqual({
      A: 'x y',
      B: 'p q',
      C: 'a\tb',
      D: '$HOME',
      E: 'AA',
      F: '',
    });
  });

  it('skips invalid assignments with a warning; an unterminated quote or unknown escape skips the line', () => {
    const warnings: string[] = [];
    expect(parseAssignments('A=1 novalue =x 9A=2 B=2', warnings)).toEqual({ A: '1', B: '2' });
    expect(warnings).toHaveLength(3);
    expect(parseAssignments('A=1 "B=open', warnings)).toEqual({});
    expect(parseAssignments('A=\\q', warnings)).toEqual({});
    expect(warnings.at(-2)).toMatch(/unterminated " quote/);
    expect(warnings.at(-1)).toMatch(/unknown escape \\q/);
  });

  it('refuses escapes that make a NUL, and a trailing backslash; code points beyond Unicode are not decoded', () => {
    expect(() => splitWords('a\\x00b')).toThrow(/NUL/);
    expect(() => splitWords('a\\')).toThrow(/trailing backslash/);
    expect(splitWords('\\U0011ffff \\u00e9')).toEqual(['\\U0011ffff', 'é']);
  });
});

describe('unit files (systemd.syntax(7))', () => {
  const section = (text: string, warnings: string[] = []) =>
    unitSection(text, 'Service', 'u.service', warnings).map((a) => [a.key, a.value, a.line]);

  it('continuation lines, comments inside them, whitespace around =, CRLF, a BOM, repeated sections', () => {
    const text =
      '\uFEFF[Service]\r\nExecStart=/bin/a \\\n  # dropped\n  b \\\n; dropped\n  c\n  User =  me  \n[Unit]\nX=1\n[Service]\nUser=you';
    expect(section(text)).toEqual([
      ['ExecStart', '/bin/a    b    c', 2],
      ['User', 'me', 7],
      ['User', 'you', 11],
    ]);
    // an escaped backslash at the end does not continue the line
    expect(section('[Service]\nA=x\\\\\nB=y')).toEqual([
      ['A', 'x\\\\', 2],
      ['B', 'y', 3],
    ]);
  });

  it('skips with a warning a line with no =, with no key, outside a section; refuses a bad section header', () => {
    const warnings: string[] = [];
    expect(section('A=0\n[Service]\njunk\n=v\nB=1', warnings)).toEqual([['B', '1', 5]]);
    expect(warnings).toEqual([
      'u.service:1: assignment outside of section, ignoring',
      "u.service:3: missing '=', ignoring line",
      "u.service:4: missing key name before '=', ignoring line",
    ]);
    expect(() => section('[Service\nA=1')).toThrow(/u\.service:1: invalid section header/);
    expect(() => section('[Service] # c\nA=1')).toThrow(UnitError);
  });

  it('refuses a line over 1 MiB, a continuation that grows past it, a NUL byte (a huge line is fine below)', () => {
    expect(section(`[Service]\nA=${'x'.repeat(LONG_LINE_MAX - 10)}`)[0]![1]).toHaveLength(LONG_LINE_MAX - 10);
    expect(() => section(`[Service]\nA=${'x'.repeat(LONG_LINE_MAX)}`)).toThrow(/u\.service:2: line too long/);
    const half = 'x'.repeat(LONG_LINE_MAX / 2);
    expect(() => section(`[Service]\nA=${half}\\\n${half}\\\n${half}`)).toThrow(
      /u\.service:2: continuation line too long/,
    );
    expect(() => section('[Service]\nA=1\nB=\0')).toThrow(/u\.service:3: NUL byte/);
  });
});

describe('the command a unit runs (systemd.service(5) "Command lines", systemd.exec(5))', () => {
  it('${VAR} is one word (unset: empty), $VAR alone is split into words (unset: none), $$ is $', () => {
    const u = service(
      'Environment="A=two words" B=\'"q r" s\'\nExecStart=/bin/x ${A} $A pre${A}post $B $UNSET ${UNSET} cost$$ $A-b',
    );
    expect(u.argv).toEqual([
      '/bin/x',
      'two words',
      'two',
      'words',
      'pretwo wordspost',
      'q r',
      's',
      '',
      'cost$',
    ]);
    expect(u.warnings).toEqual([
      'ExecStart=: referenced but unset environment variable $UNSET',
      'ExecStart=: referenced but unset environment variable ${UNSET}',
      'ExecStart=: referenced but unset environment variable $A-b',
    ]);
  });

  it('quotes and escapes in ExecStart; the : prefix turns expansion off; @ drops argv[0]', () => {
    expect(service(`Environment=A=1\nExecStart=-/bin/x "a b" 'c d' e\\tf \\q $A`).argv).toEqual([
      '/bin/x',
      'a b',
      'c d',
      'e\tf',
      '\\q',
      '1',
    ]);
    expect(service('Environment=A=1\nExecStart=:/bin/x $A ${A}').argv).toEqual(['/bin/x', '$A', '${A}']);
    expect(service('ExecStart=@/bin/x name arg').argv).toEqual(['/bin/x', 'arg']);
  });

  it('EnvironmentFile= overrides Environment= whatever their order; later files and lines win; empty resets', () => {
    envFile('a.env', 'A=file\nB=file\n');
    envFile('b.env', 'B=second\n');
    const u = service(
      'EnvironmentFile=/etc/a.env\nEnvironment=A=line C=line\nEnvironmentFile=-/etc/missing.env\nEnvironmentFile=/etc/b.env\nExecStart=/bin/x',
    );
    expect(u.env).toEqual({ A: 'file', B: 'second', C: 'line' });
    expect(
      service(
        'Environment=A=1\nEnvironment=\nEnvironment=B=2\nEnvironmentFile=/etc/a.env\nEnvironmentFile=\nExecStart=/bin/x',
      ).env,
    ).toEqual({
      B: '2',
    });
    expect(() => service('EnvironmentFile=/etc/missing.env\nExecStart=/bin/x')).toThrow(
      /EnvironmentFile=\/etc\/missing\.env: ENOENT/,
    );
    expect(() => service('EnvironmentFile=etc/a.env\nExecStart=/bin/x')).toThrow(/not an absolute path/);
    envFile('nul.env', Buffer.from('A=1\0\n'));
    expect(() => service('EnvironmentFile=/etc/nul.env\nExecStart=/bin/x')).toThrow(
      /\/etc\/nul\.env:1: NUL byte/,
    );
  });

  it('refuses no ExecStart, two for Type=simple, a relative path, an unterminated quote; empty ExecStart= resets', () => {
    expect(() => service('User=x')).toThrow(/no ExecStart=, refusing/);
    expect(() => service('ExecStart=/bin/a\nExecStart=/bin/b')).toThrow(/more than one ExecStart= setting/);
    expect(service('ExecStart=/bin/a\nExecStart=\nExecStart=/bin/b').argv).toEqual(['/bin/b']);
    expect(() => service('ExecStart=./x')).toThrow(/neither a valid executable name nor an absolute path/);
    expect(() => service('ExecStart=/bin/x "open')).toThrow(
      /x\.service:\d+: ExecStart=: unterminated " quote/,
    );
    expect(() => service('ExecStart=/bin/x ; /bin/y')).toThrow(/more than one command/);
  });

  it('specifiers: %i %I %n %N %p %j %%; a template needs a valid instance; unknown ones refuse ExecStart', () => {
    const u = service(
      'Environment=W=%i\nExecStart=/bin/x %i %I %n %N %p %j 100%% $W',
      'nexo-sensor@.service',
      'a\\x2db-c',
    );
    expect(u.argv).toEqual([
      '/bin/x',
      'a-b-c', // the \x2d of %i is a C escape to the command line too
      'a-b/c',
      'nexo-sensor@a-b-c.service',
      'nexo-sensor@a-b-c',
      'nexo-sensor',
      'sensor',
      '100%',
      'ax2db-c', // $W split at exec time: a backslash takes the next character, no C escapes
    ]);
    expect(() => service('ExecStart=/bin/x', 'nexo-sensor@.service')).toThrow(/needs an instance/);
    expect(() => service('ExecStart=/bin/x', 'nexo-sensor@.service', 'a b')).toThrow(
      /not a valid instance name/,
    );
    expect(() => service('ExecStart=/bin/x', 'nexo-sensor@.service', `s"; rm -rf /`)).toThrow(
      /not a valid instance/,
    );
    expect(() => service('ExecStart=/bin/x', 'nexo-sensor@.service', 'x'.repeat(300))).toThrow(
      /not a valid instance/,
    );
    expect(() => service('ExecStart=/bin/x', 'x.service', 'i')).toThrow(/not a template/);
    expect(() => service('ExecStart=/bin/x %z')).toThrow(/ExecStart=: unknown specifier %z/);
    expect(() => service('ExecStart=/bin/x %h')).toThrow(/%h is not modeled/);
    expect(() => service('ExecStart=/bin/x 100%')).toThrow(/lone %/);
    const skipped = service('Environment=A=%z B=1\nExecStart=/bin/x');
    expect(skipped.env).toEqual({ B: '1' });
    expect(skipped.warnings![0]).toMatch(/unknown specifier %z, ignoring A/);
  });

  it('LimitNOFILE, Restart, RestartSec: read as systemd does, bad values skipped with a warning', () => {
    expect(service('ExecStart=/bin/x')).toMatchObject({ nofile: 524_288, restart: 'no', restartMs: 100 });
    expect(
      service('ExecStart=/bin/x\nLimitNOFILE=1024:4096\nRestart=always\nRestartSec=1min 30s'),
    ).toMatchObject({
      nofile: 4096,
      restart: 'always',
      restartMs: 90_000,
    });
    expect(service('ExecStart=/bin/x\nLimitNOFILE=infinity').nofile).toBe(Number.POSITIVE_INFINITY);
    const bad = service(
      'ExecStart=/bin/x\nLimitNOFILE=lots\nLimitNOFILE=9:8\nRestart=sometimes\nRestartSec=soon\nRestartSec=5s\nFrobnicate=1\nX-Mine=1',
    );
    expect(bad).toMatchObject({ nofile: 524_288, restart: 'no', restartMs: 5000 });
    expect(bad.warnings).toEqual([
      'x.service:5: LimitNOFILE=: cannot parse the resource value, ignoring: "lots"',
      'x.service:6: LimitNOFILE=: soft limit above the hard limit, ignoring: "9:8"',
      'x.service:7: Restart=: unknown restart setting, ignoring: "sometimes"',
      'x.service:8: RestartSec=: cannot parse the time span, ignoring: "soon"',
      'x.service:10: Frobnicate=: unknown key "Frobnicate" in [Service], ignoring: "1"',
    ]);
    expect(() => service('ExecStart=/bin/x\nRestart=on-abnormal')).toThrow(/not modeled/);
    expect([
      timeSpanMs('2'),
      timeSpanMs('500ms'),
      timeSpanMs('1h2min3s'),
      timeSpanMs('5 parsecs'),
      timeSpanMs(''),
    ]).toEqual([2000, 500, 3_723_000, undefined, undefined]);
  });

  it('survives hostile unit files (fuzzed lines): a command or a UnitError, nothing else', () => {
    let seed = 11;
    const rnd = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * n);
    };
    const keys = [
      'ExecStart',
      'Environment',
      'EnvironmentFile',
      'User',
      'LimitNOFILE',
      'Restart',
      'RestartSec',
      'Type',
      '[Service]',
      '#',
      '',
    ];
    const bits = [
      '=',
      '"',
      "'",
      '\\',
      '\n',
      ' ',
      '$',
      '${A}',
      '$A',
      '%',
      '%i',
      '%%',
      '/bin/x',
      ';',
      '-',
      '@',
      ':',
      'A=1',
      '\\x41',
      '\t',
    ];
    let commands = 0;
    for (let i = 0; i < 400; i++) {
      const lines = Array.from({ length: 1 + rnd(6) }, () => {
        const key = keys[rnd(keys.length)]!;
        return `${key}${Array.from({ length: rnd(8) }, () => bits[rnd(bits.length)]).join('')}`;
      });
      const text = `[Service]\nExecStart=/bin/x\n${lines.join('\n')}`;
      try {
        const u = unitCommandFrom(text, 'f@.service', identity, 'i');
        commands++;
        expect(u.argv.length, text).toBeGreaterThan(0);
        for (const w of u.argv) expect(typeof w).toBe('string');
      } catch (err) {
        expect(err, JSON.stringify(text)).toBeInstanceOf(UnitError);
      }
    }
    expect(commands).toBeGreaterThan(20); // not every input refused
  });

  it('duplicated keys: the last User= and WorkingDirectory= win, empty resets them', () => {
    const u = unitCommandFrom(
      '[Service]\nUser=a\nUser=b\nWorkingDirectory=/x\nWorkingDirectory=-/var/lib/y\nExecStart=/bin/x',
      'x.service',
      identity,
    );
    expect([u.user, u.cwd]).toEqual(['b', '/var/lib/y']);
    const reset = unitCommandFrom(
      '[Service]\nUser=a\nUser=\nWorkingDirectory=/x\nWorkingDirectory=\nExecStart=/bin/x',
      'x.service',
      identity,
    );
    expect([reset.user, reset.cwd]).toEqual([undefined, undefined]);
  });
});
