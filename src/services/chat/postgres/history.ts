import { migrate } from '../../../storage/postgres/migrations.js';
import type { Postgres } from '../../../storage/postgres/postgres.js';
import type { ChatMessage } from '../../../wire/chat.js';
import type { ChatEntry, ChatHistory, RoomState } from '../history.js';
import { CHAT_MIGRATIONS } from './migrations.js';

/** A room is trimmed to `limit` messages every this many messages (one DELETE, not one per message). */
const TRIM_EVERY = 64;

// Allocation and insert in one statement, so one transaction: a seq is never allocated without its
// message, and the row lock on chat_rooms orders concurrent senders (a later seq commits after an earlier
// one, so a node that sees seq n on the bus finds every seq below n in the table). bench/chat-cross.ts runs it
// raw as the ceiling of a chat message.
export const APPEND = `
  WITH s AS (
    INSERT INTO chat_rooms AS r (room, last_seq) VALUES ($1, 1)
    ON CONFLICT (room) DO UPDATE SET last_seq = r.last_seq + 1
    RETURNING last_seq
  )
  INSERT INTO chat_messages (room, seq, at, nick, text)
  SELECT $1, last_seq, $2, $3, $4 FROM s
  RETURNING seq`;
const ALLOCATE_ONLY = `
  INSERT INTO chat_rooms AS r (room, last_seq) VALUES ($1, 1)
  ON CONFLICT (room) DO UPDATE SET last_seq = r.last_seq + 1
  RETURNING last_seq AS seq`;

interface Row {
  room: string;
  seq: string;
  at: string;
  nick: string;
  text: string;
}

/**
 * Chat history in PostgreSQL, shared by every node of a cluster: the room's seq is allocated by the
 * database, messages are kept `limit` per room. Appends are not retried on a dropped connection (the
 * message may have been stored, and a retry would store it twice under a new seq); the sender gets the
 * retryable STORAGE_UNAVAILABLE and decides.
 */
export class PostgresChatHistory implements ChatHistory {
  #closed = false;

  private constructor(
    private readonly db: Postgres,
    readonly limit: number,
  ) {}

  static async open(db: Postgres, limit: number): Promise<PostgresChatHistory> {
    await migrate(db, { component: 'chat', migrations: CHAT_MIGRATIONS });
    return new PostgresChatHistory(db, limit);
  }

  async append(room: string, entry: ChatEntry): Promise<ChatMessage> {
    const result =
      this.limit > 0
        ? await this.db.query<{ seq: string }>(APPEND, [room, entry.at, entry.nick, entry.text], {
            retry: false,
          })
        : await this.db.query<{ seq: string }>(ALLOCATE_ONLY, [room], { retry: false });
    const seq = Number(result.rows[0]!.seq);
    if (this.limit > 0 && seq % TRIM_EVERY === 0 && seq > this.limit) {
      // Off the sender's path; idempotent, so the pool may retry it.
      this.db
        .query('DELETE FROM chat_messages WHERE room = $1 AND seq <= $2', [room, seq - this.limit])
        .catch(() => {});
    }
    return { room, seq, at: entry.at, nick: entry.nick, text: entry.text };
  }

  async load(room: string, limit: number): Promise<RoomState> {
    const last = await this.db.query<{ last_seq: string }>(
      'SELECT last_seq FROM chat_rooms WHERE room = $1',
      [room],
    );
    const lastSeq = last.rows.length === 0 ? 0 : Number(last.rows[0]!.last_seq);
    // Read after last_seq: anything newer is delivered over the bus, and duplicates are dropped by seq.
    const messages = lastSeq === 0 ? [] : await this.range(room, { before: lastSeq + 1, limit });
    return { lastSeq, messages };
  }

  async range(room: string, o: { after?: number; before?: number; limit: number }): Promise<ChatMessage[]> {
    const n = Math.min(o.limit, this.limit);
    if (n <= 0) return [];
    const result = await this.db.query<Row>(
      `SELECT room, seq, at, nick, text FROM chat_messages
       WHERE room = $1 AND seq > $2 AND seq < $3 ORDER BY seq DESC LIMIT $4`,
      [room, o.after ?? 0, o.before ?? Number.MAX_SAFE_INTEGER, n],
    );
    return result.rows.reverse().map(toMessage);
  }

  async rooms(limit: number): Promise<{ room: string; lastSeq: number }[]> {
    const result = await this.db.query<{ room: string; last_seq: string }>(
      'SELECT room, last_seq FROM chat_rooms ORDER BY room LIMIT $1',
      [limit],
    );
    return result.rows.map((r) => ({ room: r.room, lastSeq: Number(r.last_seq) }));
  }

  async close(): Promise<void> {
    // The pool is the node's; nothing of ours is queued.
    this.#closed = true;
  }

  get closed(): boolean {
    return this.#closed;
  }
}

function toMessage(r: Row): ChatMessage {
  return { room: r.room, seq: Number(r.seq), at: Number(r.at), nick: r.nick, text: r.text };
}
