import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CURL = ['/usr/bin/curl', '/bin/curl', '/usr/local/bin/curl'].find((p) => existsSync(p));

/**
 * Whether tests that run the real `curl` binary can run here. Without it they are skipped with the reason
 * printed, except under CI=true, where a missing curl is a failure (.ci/run installs the `curl` package).
 */
export function curlAvailable(): boolean {
  if (CURL !== undefined) return true;
  const reason = 'curl not found: these tests run the real curl binary (Debian package curl)';
  if (process.env.CI === 'true') throw new Error(`${reason}; CI must not skip them`);
  console.warn(`skipping curl tests: ${reason}`);
  return false;
}

export interface CurlResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs curl with `args` (binary stdout), never throwing on curl's own exit status. */
export function curl(args: string[], timeoutMs = 60_000): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    if (CURL === undefined) {
      reject(new Error('curl is not installed'));
      return;
    }
    execFile(
      CURL,
      ['--silent', '--show-error', ...args],
      { encoding: 'buffer', maxBuffer: 256 << 20, timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr: stderr.toString('utf8') });
      },
    );
  });
}

/** `curl -D -` output split into status, headers (lowercase names) and body. */
export function splitHeaders(output: Buffer): {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
} {
  let rest = output;
  // curl prints every response of a request (100 Continue first, say): keep the last.
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end === -1) throw new Error(`no header block in curl output: ${rest.subarray(0, 200).toString()}`);
    const head = rest.subarray(0, end).toString('latin1');
    const body = rest.subarray(end + 4);
    const [statusLine = '', ...lines] = head.split('\r\n');
    const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(statusLine)?.[1] ?? 0);
    if (status === 100) {
      rest = body;
      continue;
    }
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    return { status, headers, body };
  }
}
