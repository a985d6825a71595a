import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { ChatMessage } from '../../../wire/chat.js';
import type { ChatEntry, ChatHistory, RoomState } from '../history.js';

/** Messages written per transaction at most; the rest go in the next one. */
const MAX_BATCH = 512;
/** How long a message may wait before it is written (it is already in memory and delivered). */
const FLUSH_DELAY_MS = 25;

/**
 * The embedded chat history: the last `limit` messages of each room in SQLite in the node's data
 * directory, so they survive a restart. This node is the store's only writer, so it numbers messages from
 * the last seq of each room, kept in memory (loaded once at open), and `append` resolves at once.
 * better-sqlite3 is synchronous, so every call here is kept provably small: writes are batched (one
 * transaction per ≤ 512 messages, ≤ 25 ms after they were sent, off the say() path), a read is one indexed
 * query of at most `limit` rows.
 */
export class SqliteChatHistory implements ChatHistory {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement;
  readonly #trim: Database.Statement;
  readonly #range: Database.Statement;
  readonly #pending: ChatMessage[] = [];
  /** Last seq of every room that has had a message (rooms with stored messages, at open). */
  readonly #last = new Map<string, number>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  constructor(
    dataDir: string,
    readonly limit: number,
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
    this.#range = this.#db.prepare(
      'SELECT room, seq, at, nick, text FROM chat_messages WHERE room = ? AND seq > ? AND seq < ? ORDER BY seq DESC LIMIT ?',
    );
    const rows = this.#db.prepare('SELECT room, MAX(seq) AS last FROM chat_messages GROUP BY room').all() as {
      room: string;
      last: number;
    }[];
    for (const r of rows) this.#last.set(r.room, r.last);
  }

  append(room: string, entry: ChatEntry): Promise<ChatMessage> {
    const seq = (this.#last.get(room) ?? 0) + 1;
    this.#last.set(room, seq);
    const message: ChatMessage = { room, seq, at: entry.at, nick: entry.nick, text: entry.text };
    if (this.limit > 0 && !this.#closed) this.#queue(message);
    return Promise.resolve(message);
  }

  load(room: string, limit: number): Promise<RoomState> {
    return Promise.resolve({
      lastSeq: this.#last.get(room) ?? 0,
      messages: this.#read(room, 0, 2 ** 53, limit),
    });
  }

  range(room: string, o: { after?: number; before?: number; limit: number }): Promise<ChatMessage[]> {
    return Promise.resolve(this.#read(room, o.after ?? 0, o.before ?? 2 ** 53, o.limit));
  }

  rooms(limit: number): Promise<{ room: string; lastSeq: number }[]> {
    const names = [...this.#last.keys()].sort().slice(0, limit);
    return Promise.resolve(names.map((room) => ({ room, lastSeq: this.#last.get(room)! })));
  }

  #read(room: string, after: number, before: number, limit: number): ChatMessage[] {
    const n = Math.min(limit, this.limit);
    if (n <= 0 || !this.#db.open) return [];
    // Messages still queued must be written first so the read sees them.
    while (this.#pending.length > 0) this.#flush();
    return (this.#range.all(room, after, before, n) as ChatMessage[]).reverse();
  }

  #queue(message: ChatMessage): void {
    this.#pending.push(message);
    if (this.#pending.length >= MAX_BATCH) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      setImmediate(() => this.#flush());
    } else {
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#flush();
      }, FLUSH_DELAY_MS);
    }
  }

  /** Writes up to MAX_BATCH queued messages in one transaction, and trims their rooms to `limit`. */
  #flush(): void {
    if (this.#pending.length === 0 || !this.#db.open) return;
    const batch = this.#pending.splice(0, MAX_BATCH);
    const last = new Map<string, number>();
    this.#db.transaction(() => {
      for (const m of batch) {
        this.#insert.run(m.room, m.seq, m.at, m.nick, m.text);
        last.set(m.room, m.seq);
      }
      for (const [room, seq] of last) this.#trim.run(room, seq - this.limit);
    })();
    if (this.#pending.length > 0) setImmediate(() => this.#flush());
  }

  /** Writes everything still queued, then closes the database. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    while (this.#pending.length > 0) this.#flush();
    this.#db.close();
  }
}
