/**
 * `nexo upload | download | files | rm` as a user runs them: the built CLI against a spawned `nexo server`,
 * interrupted the hard way (kill -9 of the client, Ctrl-C, a cut connection, kill -9 of the server) and run
 * again.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  partialSizes,
  runCli,
  type Spawned,
  sha256,
  sha256File,
  startServerAt,
  waitFor,
  writeRandomFile,
} from '../helpers/files.js';
import { freePort } from '../helpers/node.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const ADMIN = 'admin-token-1234';
let work: string;
let env: NodeJS.ProcessEnv;
let server: Spawned;
let port: number;
let dataDir: string;
const running: Spawned[] = [];

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'nexo-cli-files-'));
  env = { NEXO_CACHE_DIR: path.join(work, 'cache'), NEXO_PROGRESS_INTERVAL: '20ms' };
  port = await freePort();
  dataDir = path.join(work, 'data');
  server = await startServerAt(port, dataDir, ['--token', `${ADMIN}=admin`]);
  running.push(server);
});

afterAll(() => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

/** Runs the CLI to completion. */
async function nexo(
  args: string[],
  at = port,
): Promise<{ code: number | string; out: string; stdout: string }> {
  const run = cli(args, at);
  let stdout = '';
  run.child.stdout!.on('data', (d) => {
    stdout += d;
  });
  const code = await run.exited;
  return { code, out: run.output(), stdout };
}

function cli(args: string[], at = port): Spawned {
  const run = runCli([...args, '--port', String(at)], env);
  running.push(run);
  return run;
}

function resumedAt(output: string): number {
  const match = /resuming .* at byte (\d+) of (\d+)/.exec(output);
  if (match === null) throw new Error(`no resume line in:\n${output}`);
  return Number(match[1]);
}

describe('nexo upload, files, download, rm', () => {
  it('a round trip with human and JSON output; rm needs the admin role', async () => {
    const bytes = Buffer.from('hola, nexo\n'.repeat(1000));
    const source = path.join(work, 'notes.txt');
    writeFileSync(source, bytes);
    const up = await nexo(['upload', source]);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(
      new RegExp(`^uploaded notes.txt \\(10.7 KiB\\) id [a-z2-7]{16} sha256 ${sha256(bytes)}\\n$`),
    );
    const json = await nexo(['upload', source, '--name', 'notes-copy.txt', '--json']);
    const entry = JSON.parse(json.stdout) as { id: string; deduplicated: boolean; type: string };
    expect(entry).toMatchObject({
      name: 'notes-copy.txt',
      deduplicated: true,
      type: 'text/plain',
      resumedFrom: 0,
    });

    const list = await nexo(['files', 'notes']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^ID\s+SIZE\s+TYPE\s+SHA256\s+UPLOADER\s+UPLOADED \(UTC\)\s+NAME\n/);
    expect(list.stdout).toContain(
      `${entry.id}  10.7 KiB  text/plain  ${sha256(bytes).slice(0, 12)}  anonymous@127.0.0.1`,
    );
    expect(list.stdout).toMatch(/notes-copy\.txt\n.*notes\.txt\n2 files; .* stored/);
    const listed = JSON.parse((await nexo(['files', 'notes', '--json'])).stdout) as { total: number };
    expect(listed.total).toBe(2);

    const dir = mkdtempSync(path.join(work, 'dl-'));
    const down = await nexo(['download', 'notes.txt', '-o', dir]);
    expect(down.code).toBe(0);
    expect(down.stdout).toBe(
      `downloaded notes.txt (10.7 KiB) to ${path.join(dir, 'notes.txt')}, sha256 ${sha256(bytes)} verified\n`,
    );
    expect(readFileSync(path.join(dir, 'notes.txt')).equals(bytes)).toBe(true);
    const stdout = await nexo(['download', entry.id, '-o', '-']);
    expect(stdout.stdout).toBe(bytes.toString());
    // Progress goes to stderr, with the file's size even though there is no local file to name.
    expect(stdout.out).toMatch(/download notes-copy\.txt: 10\.7 KiB \/ 10\.7 KiB \(100\.0%\)/);

    const denied = await nexo(['rm', entry.id]);
    expect(denied.code).toBe(4);
    expect(denied.out).toMatch(/files\.delete is not allowed for role 'anonymous' \(FORBIDDEN\)/);
    const removed = await nexo(['rm', entry.id, '--token', ADMIN]);
    expect(removed).toMatchObject({
      code: 0,
      stdout: `deleted notes-copy.txt (10.7 KiB, id ${entry.id}); its content is still used by another file\n`,
    });
  });

  it('names are just names: traversal, device names, Unicode, empty files; bad names are refused clearly', async () => {
    const source = path.join(work, 'payload.bin');
    writeFileSync(source, Buffer.from('not really /etc/passwd'));
    expect((await nexo(['upload', source, '--name', '../../etc/passwd'])).code).toBe(0);
    expect((await nexo(['upload', source, '--name', 'con.txt'])).code).toBe(0);
    expect((await nexo(['upload', source, '--name', 'ação 日本 📹.bin'])).code).toBe(0);
    const dir = mkdtempSync(path.join(work, 'names-'));
    const down = await nexo(['download', '../../etc/passwd', '-o', dir]);
    expect(down.code).toBe(0);
    expect(readFileSync(path.join(dir, 'passwd'), 'utf8')).toBe('not really /etc/passwd');
    expect((await nexo(['download', 'con.txt', '-o', dir])).code).toBe(0);
    expect(existsSync(path.join(dir, 'con.txt'))).toBe(true);
    expect((await nexo(['download', 'ação 日本 📹.bin', '-o', dir])).code).toBe(0);
    expect(existsSync(path.join(dir, 'ação 日本 📹.bin'))).toBe(true);

    const empty = path.join(work, 'empty.dat');
    writeFileSync(empty, '');
    const up = JSON.parse((await nexo(['upload', empty, '--json'])).stdout) as {
      size: number;
      sha256: string;
    };
    expect(up).toMatchObject({ size: 0, sha256: sha256(new Uint8Array(0)) });
    expect((await nexo(['download', 'empty.dat', '-o', path.join(dir, 'empty.out')])).code).toBe(0);
    expect(statSync(path.join(dir, 'empty.out')).size).toBe(0);

    const long = await nexo(['upload', source, '--name', 'x'.repeat(10 * 1024)]);
    expect(long.code).toBe(1);
    expect(long.out).toMatch(
      /the file name is 10240 bytes long in UTF-8; the limit is 1024 \(FILES_NAME_INVALID\)/,
    );
    const blank = await nexo(['upload', source, '--name', '']);
    expect(blank.code).toBe(1);
    expect(blank.out).toMatch(/the file name is empty \(FILES_NAME_INVALID\)/);
  });

  it('explains usage problems and missing things', async () => {
    const missing = await nexo(['upload', path.join(work, 'nope.bin')]);
    expect(missing).toMatchObject({ code: 2 });
    expect(missing.out).toMatch(/cannot upload .*nope\.bin: no such file/);
    expect((await nexo(['upload', work])).out).toMatch(/not a regular file/);
    expect((await nexo(['upload', 'a', 'b', '--name', 'x'])).code).toBe(2);
    const unknown = await nexo(['download', 'no-such-file.bin']);
    expect(unknown.code).toBe(1);
    expect(unknown.out).toMatch(/no file is named 'no-such-file.bin' \(FILES_NOT_FOUND\)/);
    const source = path.join(work, 'exists.bin');
    writeFileSync(source, 'x');
    await nexo(['upload', source]);
    const clash = await nexo(['download', 'exists.bin', '-o', source]);
    expect(clash.code).toBe(1);
    expect(clash.out).toMatch(/already exists; choose another destination or allow overwriting/);
    expect((await nexo(['download', 'exists.bin', '-o', source, '--force'])).code).toBe(0);
    const intoNew = await nexo(['download', 'exists.bin', '-o', `${path.join(work, 'new', 'dir')}/`]);
    expect(intoNew.code).toBe(0);
    expect(readFileSync(path.join(work, 'new', 'dir', 'exists.bin'), 'utf8')).toBe('x');
    const unwritable = await nexo(['download', 'exists.bin', '-o', '/proc/no-such-dir/x']);
    expect(unwritable.code).toBe(1);
    expect(unwritable.out).toMatch(/cannot write \/proc\/no-such-dir\/x: ENOENT/);
    const badChunk = await nexo(['upload', source, '--chunk-size', 'huge']);
    expect(badChunk.code).toBe(2);
    expect(badChunk.out).toMatch(/invalid size "huge"/);
    expect((await nexo(['files', '--limit', '-1'])).code).toBe(2);
    const nobody = await nexo(['files'], await freePort());
    expect(nobody.code).toBe(3);
  });
});

describe('interrupted transfers resume', () => {
  let proxy: TcpProxy & { port: number };
  beforeAll(async () => {
    proxy = await TcpProxy.start(port, { rate: 15e6 });
  });
  afterAll(() => proxy.close());

  it('an upload killed (kill -9) at 40% resumes from the server offset when the command runs again', async () => {
    const size = 16 * 1024 * 1024;
    const source = path.join(work, 'killed-upload.bin');
    const hash = await writeRandomFile(source, size, 'killed-upload');
    const before = proxy.up;
    const first = cli(['upload', source], proxy.port);
    await waitFor(() => proxy.up - before > size * 0.4, 30_000, '40% of the upload');
    first.child.kill('SIGKILL');
    await first.exited;
    const again = await nexo(['upload', source, '--json']);
    expect(again.code, again.out).toBe(0);
    const result = JSON.parse(again.stdout) as { sha256: string; resumedFrom: number };
    expect(result.sha256).toBe(hash);
    const offset = result.resumedFrom;
    expect(offset).toBeGreaterThan(size * 0.25);
    expect(offset).toBeLessThan(size);
  });

  it('Ctrl-C leaves a resumable upload; the same command resumes it', async () => {
    const size = 16 * 1024 * 1024;
    const source = path.join(work, 'ctrl-c.bin');
    const hash = await writeRandomFile(source, size, 'ctrl-c');
    const before = proxy.up;
    const first = cli(['upload', source], proxy.port);
    await waitFor(() => proxy.up - before > size * 0.3, 30_000, '30% of the upload');
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(130);
    expect(first.output()).toMatch(/interrupted: run the same command again to resume ctrl-c\.bin/);
    const again = await nexo(['upload', source]);
    expect(again.code).toBe(0);
    expect(resumedAt(again.out)).toBeGreaterThan(0);
    expect(again.stdout).toContain(`sha256 ${hash}`);
  });

  it('a cut connection resumes by itself, within the same command', async () => {
    const size = 16 * 1024 * 1024;
    const source = path.join(work, 'cut.bin');
    const hash = await writeRandomFile(source, size, 'cut');
    const before = proxy.up;
    const run = cli(['upload', source], proxy.port);
    await waitFor(() => proxy.up - before > size * 0.4, 30_000, '40% of the upload');
    proxy.cutAll();
    expect(await run.exited).toBe(0);
    expect(run.output()).toMatch(/(connection closed|connection failed).*; retrying/);
    expect(resumedAt(run.output())).toBeGreaterThan(size * 0.25);
    expect(run.output()).toContain(`sha256 ${hash}`);
  });

  it('resume state that is damaged or names an upload the server no longer has: the upload starts over', async () => {
    const size = 8 * 1024 * 1024;
    const source = path.join(work, 'stale-state.bin');
    const hash = await writeRandomFile(source, size, 'stale-state');
    const states = path.join(work, 'cache', 'uploads');
    for (const damage of ['{"uploadId": 12', 'unknown-id']) {
      const before = proxy.up;
      const first = cli(['upload', source], proxy.port);
      await waitFor(() => proxy.up - before > size * 0.3, 30_000, '30% of the upload');
      first.child.kill('SIGKILL');
      await first.exited;
      for (const name of readdirSync(states)) {
        const file = path.join(states, name);
        const state = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
        if (state.path !== source) continue;
        writeFileSync(
          file,
          damage === 'unknown-id' ? JSON.stringify({ ...state, uploadId: 'AAAAAAAAAAAAAAAAAAAAAA' }) : damage,
        );
      }
      const again = await nexo(['upload', source]);
      expect(again.code, again.out).toBe(0);
      expect(again.out).not.toMatch(/resuming/);
      expect(again.stdout).toContain(`sha256 ${hash}`);
    }
  });

  it('a download killed (kill -9) at 40% resumes from its partial file when the command runs again', async () => {
    const size = 16 * 1024 * 1024;
    const source = path.join(work, 'killed-download.bin');
    const hash = await writeRandomFile(source, size, 'killed-download');
    expect((await nexo(['upload', source])).code).toBe(0);
    const dir = mkdtempSync(path.join(work, 'killed-dl-'));
    const dest = path.join(dir, 'killed-download.bin');
    const first = cli(['download', 'killed-download.bin', '-o', dir], proxy.port);
    await waitFor(
      () => existsSync(`${dest}.nexo-part`) && statSync(`${dest}.nexo-part`).size > size * 0.4,
      30_000,
      '40% of the download',
    );
    first.child.kill('SIGKILL');
    await first.exited;
    expect(existsSync(dest)).toBe(false);
    const again = await nexo(['download', 'killed-download.bin', '-o', dir]);
    expect(again.code, again.out).toBe(0);
    expect(resumedAt(again.out)).toBeGreaterThan(size * 0.3);
    expect(await sha256File(dest)).toBe(hash);
    expect(existsSync(`${dest}.nexo-part`)).toBe(false);
    expect(existsSync(`${dest}.nexo-part.json`)).toBe(false);
  });

  it('Ctrl-C during a download leaves the partial file; the same command finishes it', async () => {
    const size = 16 * 1024 * 1024;
    const source = path.join(work, 'ctrl-c-download.bin');
    const hash = await writeRandomFile(source, size, 'ctrl-c-download');
    await nexo(['upload', source]);
    const dest = path.join(work, 'ctrl-c-download.out');
    const first = cli(['download', 'ctrl-c-download.bin', '-o', dest], proxy.port);
    await waitFor(
      () => existsSync(`${dest}.nexo-part`) && statSync(`${dest}.nexo-part`).size > size * 0.3,
      30_000,
    );
    first.child.kill('SIGINT');
    expect(await first.exited).toBe(130);
    expect(existsSync(`${dest}.nexo-part`)).toBe(true);
    const again = await nexo(['download', 'ctrl-c-download.bin', '-o', dest]);
    expect(again.code).toBe(0);
    expect(resumedAt(again.out)).toBeGreaterThan(0);
    expect(await sha256File(dest)).toBe(hash);
  });
});

describe('kill -9 of the server during an upload', () => {
  it('after a restart the committed files are intact and listed, and the interrupted upload resumes', async () => {
    const ownPort = await freePort();
    const ownData = path.join(work, 'crash-data');
    mkdirSync(ownData);
    let crashing = await startServerAt(ownPort, ownData);
    running.push(crashing);
    const committed: { name: string; hash: string }[] = [];
    for (const name of ['kept-1.bin', 'kept-2.bin']) {
      const source = path.join(work, name);
      committed.push({ name, hash: await writeRandomFile(source, 3 * 1024 * 1024 + 7, name) });
      expect((await nexo(['upload', source], ownPort)).code).toBe(0);
    }
    const proxy = await TcpProxy.start(ownPort, { rate: 15e6 });
    try {
      const size = 24 * 1024 * 1024;
      const source = path.join(work, 'interrupted.bin');
      const hash = await writeRandomFile(source, size, 'interrupted');
      const upload = cli(['upload', source], proxy.port);
      await waitFor(() => partialSizes(ownData).some((s) => s > size * 0.4), 30_000, '40% on the server');
      crashing.child.kill('SIGKILL');
      await crashing.exited;
      const partial = Math.max(...partialSizes(ownData));
      expect(partial).toBeGreaterThan(size * 0.4);
      crashing = await startServerAt(ownPort, ownData);
      running.push(crashing);
      // The client was retrying meanwhile; it reconnects to the restarted node and resumes.
      expect(await upload.exited, upload.output()).toBe(0);
      expect(resumedAt(upload.output())).toBeGreaterThan(size * 0.3);
      expect(upload.output()).toContain(`sha256 ${hash}`);
      committed.push({ name: 'interrupted.bin', hash });
    } finally {
      await proxy.close();
    }
    const listed = JSON.parse((await nexo(['files', '--json'], ownPort)).stdout) as {
      files: { name: string; sha256: string }[];
    };
    expect(listed.files.map((f) => [f.name, f.sha256]).sort()).toEqual(
      committed.map((c) => [c.name, c.hash]).sort(),
    );
    const dir = mkdtempSync(path.join(work, 'after-crash-'));
    for (const { name, hash } of committed) {
      expect((await nexo(['download', name, '-o', dir], ownPort)).code).toBe(0);
      expect(await sha256File(path.join(dir, name))).toBe(hash);
    }
    expect(partialSizes(ownData)).toEqual([]);
    crashing.child.kill('SIGTERM');
    await crashing.exited;
  });
});
