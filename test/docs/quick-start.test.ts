/**
 * The README's quick start, run as a new user runs it: `npm start` (a node on the embedded defaults), then
 * every command of the second block, in the order shown, by bash, from a directory inside the checkout
 * (where `npx nexo` finds it), with an empty npm cache (so the first `npx` is a real first). It once
 * failed silently: `curl … readings.csv > s1.csv` wrote a JSON 404 into s1.csv, because no sensor had
 * reported and curl without -f hides HTTP errors.
 *
 * The only edits to the commands are the ports: the node listens on free ports, not 5000 and 8080 (other
 * tests and nodes on this machine may hold those), and the CLI finds it through NEXO_SERVER.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { curlAvailable } from '../helpers/curl.js';
import { freePort, ROOT } from '../helpers/node.js';

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** The commands of each ```sh block in the Quick start section, comments (two spaces, then #) removed. */
function quickStartBlocks(): string[][] {
  const start = readme.indexOf('## Quick start');
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end);
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) =>
    m[1]!
      .split('\n')
      .map((line) => line.replace(/\s{2,}#\s.*$/, '').trim())
      .filter((line) => line !== ''),
  );
}

function available(program: string): boolean {
  const found = ['/usr/bin', '/bin', '/usr/local/bin'].some((dir) => existsSync(path.join(dir, program)));
  if (found) return true;
  const reason = `${program} not found: the README's quick start uses it`;
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must not skip it`);
  console.warn(`skipping the quick-start run: ${reason}`);
  return false;
}

const runnable = curlAvailable() && available('nc') && available('bash');

describe('README quick start', () => {
  it('keeps the two-command rule: one starts a node (after installing), one runs the whole suite', () => {
    const [first] = quickStartBlocks();
    expect(first).toEqual(['npm install && npm start', 'npm test']);
    const scripts = (
      JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      }
    ).scripts;
    expect(scripts.start).toBe('node dist/cli/main.js server');
    expect(scripts.test).toMatch(/^vitest run/);
  });

  it('every curl in it fails loudly on an HTTP error (-f)', () => {
    const curls = quickStartBlocks()[1]!.filter((c) => /^curl\s/.test(c));
    expect(curls.length).toBeGreaterThan(2);
    for (const c of curls) expect(c, c).toMatch(/\s(-[a-zA-Z]*f[a-zA-Z]*|--fail)\s/);
  });
});

describe.runIf(runnable)('README quick start, run in order against npm start', () => {
  let node: ChildProcess;
  let nodeOutput = '';
  let port: number;
  let httpPort: number;
  let work: string;
  let npmCache: string;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'nexo-quick-start-data-'));

  beforeAll(async () => {
    port = await freePort();
    httpPort = await freePort();
    mkdirSync(path.join(ROOT, 'test-results'), { recursive: true });
    work = mkdtempSync(path.join(ROOT, 'test-results', 'quick-start-'));
    npmCache = mkdtempSync(path.join(os.tmpdir(), 'nexo-quick-start-npm-'));
    // `npm start` exactly; the environment (NEXO_* mirrors every flag) moves it off the fixed ports and
    // into a temporary data directory. Its own process group, so the test can stop npm and the node.
    node = spawn('npm', ['start'], {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NEXO_HOST: '127.0.0.1',
        NEXO_PORT: String(port),
        NEXO_HTTP_PORT: String(httpPort),
        NEXO_DATA_DIR: dataDir,
      },
    });
    node.stdout!.on('data', (d) => (nodeOutput += d));
    node.stderr!.on('data', (d) => (nodeOutput += d));
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (node.exitCode !== null) throw new Error(`npm start exited (${node.exitCode}):\n${nodeOutput}`);
      if (Date.now() > deadline) throw new Error(`npm start did not become ready:\n${nodeOutput}`);
      const ready = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    if (node?.pid !== undefined && node.exitCode === null) {
      const exited = new Promise((r) => node.once('exit', r));
      process.kill(-node.pid, 'SIGTERM');
      const timer = setTimeout(() => process.kill(-node.pid!, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    for (const dir of [work, npmCache, dataDir]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function run(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = execFile(
        'bash',
        ['-o', 'pipefail', '-c', command],
        {
          cwd: work,
          timeout: 60_000,
          env: {
            ...process.env,
            NEXO_SERVER: `127.0.0.1:${port}`,
            NO_COLOR: '1',
            npm_config_cache: npmCache,
            npm_config_offline: 'true',
            npm_config_update_notifier: 'false',
          },
        },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
          resolve({ code, stdout, stderr });
        },
      );
      child.stdin?.end();
    });
  }

  const file = (name: string) => readFileSync(path.join(work, name));

  /** What each command must do beyond exiting 0, matched by its start; every check must be used. */
  const checks: [RegExp, (out: { stdout: string; stderr: string }) => void][] = [
    [/^npx nexo calc /, ({ stdout }) => expect(stdout).toBe('14\n')],
    [/^npx nexo greet /, ({ stdout }) => expect(stdout).toBe('¡Hola, Ana!\n¡Hola, Bob!\n')],
    [/^head -c \d+ \/dev\/urandom > video\.mp4$/, () => expect(file('video.mp4').length).toBe(5_000_000)],
    [
      /^npx nexo upload video\.mp4 && npx nexo files$/,
      ({ stdout }) => expect(stdout).toMatch(/^uploaded video\.mp4 \(4\.8 MiB\)[\s\S]*\n1 file;/),
    ],
    [
      /^npx nexo download video\.mp4 -o copies\/$/,
      () => expect(file('copies/video.mp4').equals(file('video.mp4'))).toBe(true),
    ],
    [/^printf 'calc 0\.1\+0\.2\\nfim\\n' \| nc /, ({ stdout }) => expect(stdout).toMatch(/^0\.3$/m)],
    [/^echo 'greet Ana' \| nc -u -w1 /, ({ stdout }) => expect(stdout).toContain('¡Hola, Ana!')],
    [
      /^npx nexo sensor --id s1 /,
      ({ stdout, stderr }) => {
        expect(stdout.match(/^ack s1 /gm)).toHaveLength(5);
        expect(stdout + stderr).toContain('5 readings reported, 5 acknowledged');
      },
    ],
    [/^npx nexo chat lobby /, ({ stdout }) => expect(stdout).toContain('you joined #lobby as ana')],
    [/^curl -sf \S+\/api\/calc\/eval /, ({ stdout }) => expect(stdout).toBe('{"value":"1024"}')],
    [/^curl -f -F file=@video\.mp4 /, ({ stdout }) => expect(stdout).toContain('"name":"video.mp4"')],
    [
      /^curl -f -r 0-1023 -o head\.bin /,
      () => expect(file('head.bin').equals(file('video.mp4').subarray(0, 1024))).toBe(true),
    ],
    [
      /^curl -f '\S+\/api\/telemetry\/sensors\/s1\/readings\.csv\?from=24h' > s1\.csv$/,
      () => {
        const rows = file('s1.csv').toString('utf8').trim().split('\n');
        expect(rows[0]).toMatch(/^time,ts,sensor,metric,value/);
        expect(rows.slice(1)).toHaveLength(5);
        for (const row of rows.slice(1)) expect(row).toMatch(/,s1,temperature,-?\d/);
      },
    ],
  ];

  it('every command works, in the order shown', async () => {
    const commands = quickStartBlocks()[1]!;
    const used = new Set<number>();
    for (const original of commands) {
      // Fixed ports as the README shows them, to this node's free ones.
      const command = original
        .replaceAll('127.0.0.1 5000', `127.0.0.1 ${port}`)
        .replaceAll('localhost:8080', `localhost:${httpPort}`);
      expect(command, 'a port the test cannot move').not.toMatch(/\b(5000|8080)\b(?!\d)/);
      const result = await run(command);
      expect(result.code, `${original}\n${result.stdout}\n${result.stderr}`).toBe(0);
      const index = checks.findIndex(([pattern]) => pattern.test(original));
      expect(index, `no check for: ${original}`).toBeGreaterThanOrEqual(0);
      used.add(index);
      checks[index]![1](result);
    }
    expect([...used].sort((a, b) => a - b)).toEqual(checks.map((_, i) => i));
  }, 120_000);
});
