import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * Tokens created with `nexo token create`, kept as SHA-256 digests only (spec §5.1.4). A secret is 32 random
 * bytes, so a fast hash is enough: slow password hashes exist for guessable secrets, and these are not.
 * The interface is what a shared store (cluster mode) implements too.
 */
export interface TokenRecord {
  readonly name: string;
  readonly role: string;
  /** `sha256:` + base64url digest of the secret. */
  readonly hash: string;
  readonly created: string;
}

export interface TokenStore {
  list(): Promise<TokenRecord[]>;
  /** Adds a token and returns its secret, which is never stored. Throws when `name` exists. */
  create(name: string, role: string): Promise<{ record: TokenRecord; secret: string }>;
  /** Removes a token; false when there was none by that name. */
  revoke(name: string): Promise<boolean>;
}

export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const ROLE_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
/** More tokens than any node needs; keeps a hostile or broken file from costing unbounded memory. */
export const MAX_TOKENS = 10_000;
const MAX_FILE_BYTES = 4 * 1024 * 1024;

export function tokenDigest(secret: string): string {
  return `sha256:${createHash('sha256').update(secret).digest('base64url')}`;
}

export function newSecret(): string {
  return `nexo_${randomBytes(32).toString('base64url')}`;
}

export class TokenFileError extends Error {
  override readonly name = 'TokenFileError';
}

/** Parses and checks a tokens file's text; throws TokenFileError naming the problem. */
export function parseTokenFile(text: string, file: string): TokenRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TokenFileError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const tokens = (value as { tokens?: unknown } | null)?.tokens;
  if (value === null || typeof value !== 'object' || (value as { version?: unknown }).version !== 1) {
    throw new TokenFileError(`${file}: expected {"version": 1, "tokens": [...]}`);
  }
  if (!Array.isArray(tokens)) throw new TokenFileError(`${file}: "tokens" must be an array`);
  if (tokens.length > MAX_TOKENS) throw new TokenFileError(`${file}: more than ${MAX_TOKENS} tokens`);
  const names = new Set<string>();
  return tokens.map((t: unknown, i) => {
    const r = t as Partial<TokenRecord> | null;
    if (
      r === null ||
      typeof r !== 'object' ||
      typeof r.name !== 'string' ||
      !TOKEN_NAME.test(r.name) ||
      typeof r.role !== 'string' ||
      !ROLE_NAME.test(r.role) ||
      typeof r.hash !== 'string' ||
      !/^sha256:[A-Za-z0-9_-]{43}$/.test(r.hash)
    ) {
      throw new TokenFileError(`${file}: tokens[${i}] must be {name, role, hash: "sha256:…", created}`);
    }
    if (names.has(r.name)) throw new TokenFileError(`${file}: token name '${r.name}' appears twice`);
    names.add(r.name);
    return { name: r.name, role: r.role, hash: r.hash, created: String(r.created ?? '') };
  });
}

/**
 * DATA_DIR/tokens.json. Writers (the CLI) take a lock file, write a temporary file, fsync and rename, so a
 * node watching the file never reads half of one and two `nexo token` commands never lose each other's work.
 */
export class FileTokenStore implements TokenStore {
  readonly file: string;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'tokens.json');
  }

  /** The file's tokens; none when it does not exist. */
  readSync(): TokenRecord[] {
    let text: string;
    try {
      const stat = fs.statSync(this.file);
      if (stat.size > MAX_FILE_BYTES) throw new TokenFileError(`${this.file}: larger than 4 MiB`);
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return parseTokenFile(text, this.file);
  }

  async list(): Promise<TokenRecord[]> {
    return this.readSync();
  }

  async create(name: string, role: string): Promise<{ record: TokenRecord; secret: string }> {
    if (!TOKEN_NAME.test(name)) {
      throw new TokenFileError(
        `token name '${name.slice(0, 70)}': use 1-64 letters, digits, '.', '_' or '-'`,
      );
    }
    if (!ROLE_NAME.test(role)) {
      throw new TokenFileError(
        `role '${role.slice(0, 40)}': use a lowercase word such as admin, user, sensor`,
      );
    }
    const secret = newSecret();
    const record: TokenRecord = { name, role, hash: tokenDigest(secret), created: new Date().toISOString() };
    await this.#update((tokens) => {
      if (tokens.some((t) => t.name === name)) {
        throw new TokenFileError(`a token named '${name}' exists; revoke it first or choose another name`);
      }
      if (tokens.length >= MAX_TOKENS) throw new TokenFileError(`${this.file}: already ${MAX_TOKENS} tokens`);
      return [...tokens, record];
    });
    return { record, secret };
  }

  async revoke(name: string): Promise<boolean> {
    let found = false;
    await this.#update((tokens) => {
      found = tokens.some((t) => t.name === name);
      return tokens.filter((t) => t.name !== name);
    });
    return found;
  }

  async #update(change: (tokens: TokenRecord[]) => TokenRecord[]): Promise<void> {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const release = await lock(`${this.file}.lock`);
    try {
      const next = change(this.readSync());
      const tmp = `${this.file}.${process.pid}.tmp`;
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        fs.writeSync(fd, `${JSON.stringify({ version: 1, tokens: next }, null, 2)}\n`);
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.file);
    } finally {
      release();
    }
  }
}

/** An exclusive lock file; one left by a process that died is taken over after 10 s. */
async function lock(file: string): Promise<() => void> {
  const started = Date.now();
  for (;;) {
    try {
      const fd = fs.openSync(file, 'wx', 0o600);
      fs.closeSync(fd);
      return () => fs.rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (fs.statSync(file, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 10_000) fs.rmSync(file, { force: true });
      else if (Date.now() - started > 15_000) throw new TokenFileError(`${file}: locked by another process`);
      else await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
