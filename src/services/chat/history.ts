import type { ChatMessage } from '../../wire/chat.js';

/**
 * Where chat rooms' messages are kept and numbered. The store, not the room in memory, allocates each
 * message's `seq`, so nodes sharing a store number one room's messages 1, 2, 3, … without gaps or repeats
 * however many of them accept messages at once. Backends: sqlite/ (embedded, one node) and postgres/
 * (shared); test/conformance/chat-history.ts decides whether a backend is correct.
 */
export interface ChatHistory {
  /** Messages kept per room; older ones are deleted (0: none kept, seqs are still allocated). */
  readonly limit: number;
  /**
   * Gives the message the room's next seq and keeps it. Resolves once it is stored (PostgreSQL) or queued
   * for the next batch (SQLite: written within 25 ms, as before this interface); for one room and one
   * caller, resolutions come in seq order.
   */
  append(room: string, entry: ChatEntry): Promise<ChatMessage>;
  /** The room's last seq (0 if none) and its latest messages, oldest first, at most `limit` of them. */
  load(room: string, limit: number): Promise<RoomState>;
  /** Up to `limit` messages of the room with `after < seq < before`, oldest first, the newest ones. */
  range(room: string, options: { after?: number; before?: number; limit: number }): Promise<ChatMessage[]>;
  /** Rooms with messages and their last seq, by name, at most `limit`. */
  rooms(limit: number): Promise<{ room: string; lastSeq: number }[]>;
  /** Writes what is queued and releases the backend (not the node's shared connection). */
  close(): Promise<void>;
}

export interface ChatEntry {
  readonly at: number;
  readonly nick: string;
  readonly text: string;
}

export interface RoomState {
  readonly lastSeq: number;
  readonly messages: ChatMessage[];
}
