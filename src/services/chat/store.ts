import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ChatMessage } from './events.js';

/** Messages written per transaction at most; the rest go in the next one. */
const MAX_BATCH = 512;
/** How long a message may wait before it is written (it is already in memory and delivered). */
const FLUSH_DELAY_MS = 25;

/**
 * The last `history` messages of each room, in SQLite in the node's data directory, so they survive a
 * restart. better-sqlite3 is synchronous, so every call here is kept provably small: writes are batched
 * (one transaction per ≤ 512 messages, ≤ 25 ms after they were sent, off the say() path), a read is one
 * indexed query of at most `history` rows, done once per room when it is first used.
 */
export class ChatStore {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #trim: Database.Statement;
  readonly #recent: Database.Statement;
  readonly #pending: ChatMessage[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(
    dataDir: string,
    readonly history: number,
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.#db = new Database(path.join(dataDir, 'chat.sqlite'));
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS chat_messages (
        room TEXT NOT NULL,
        seq  INTEGER NOT NULL,
        at   INTEGER NOT NULL,
        nick TEXT NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (room, seq)
      ) WITHOUT ROWID`);
    this.#insert = this.#db.prepare(
      'INSERT OR REPLACE INTO chat_messages (room, seq, at, nick, text) VALUES (?, ?, ?, ?, ?)',
    );
    this.#trim = this.#db.prepare('DELETE FROM chat_messages WHERE room = ? AND seq <= ?');
    this.#recent = this.#db.prepare(
      'SELECT room, seq, at, nick, text FROM chat_messages WHERE room = ? ORDER BY seq DESC LIMIT ?',
    );
  }

  /** Every room with stored messages and its last seq (read once, at start). */
  rooms(): Map<string, number> {
    const rows = this.#db.prepare('SELECT room, MAX(seq) AS last FROM chat_messages GROUP BY room').all() as {
      room: string;
      last: number;
    }[];
    return new Map(rows.map((r) => [r.room, r.last]));
  }

  /** The room's stored messages, oldest first (at most `history`). */
  recent(room: string): ChatMessage[] {
    if (this.history === 0) return [];
    // Messages of an evicted room may still be queued: write them first so the read sees them.
    while (this.#pending.length > 0 && this.#db.open) this.flush();
    const rows = this.#recent.all(room, this.history) as ChatMessage[];
    return rows.reverse();
  }

  /** Queues a message for writing. */
  append(message: ChatMessage): void {
    if (this.history === 0 || this.#closed) return;
    this.#pending.push(message);
    if (this.#pending.length >= MAX_BATCH) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      setImmediate(() => this.flush());
    } else {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.flush();
      }, FLUSH_DELAY_MS);
    }
  }

  /** Writes up to MAX_BATCH queued messages in one transaction, and trims their rooms to `history`. */
  flush(): void {
    if (this.#pending.length === 0 || !this.#db.open) return;
    const batch = this.#pending.splice(0, MAX_BATCH);
    const last = new Map<string, number>();
    this.#db.transaction(() => {
      for (const m of batch) {
        this.#insert.run(m.room, m.seq, m.at, m.nick, m.text);
        last.set(m.room, m.seq);
      }
      for (const [room, seq] of last) this.#trim.run(room, seq - this.history);
    })();
    if (this.#pending.length > 0) setImmediate(() => this.flush());
  }

  /** Writes everything still queued, then closes the database. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    while (this.#pending.length > 0) this.flush();
    this.#db.close();
  }
}
