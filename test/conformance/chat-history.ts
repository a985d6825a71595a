import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatHistory } from '../../src/services/chat/history.js';

/**
 * The one definition of a correct chat history backend (src/services/chat/history.ts), run against SQLite
 * and PostgreSQL (chat-history.sqlite.test.ts, chat-history.postgres.test.ts).
 */
export interface ChatHistoryBackend {
  /** Whether two instances may share one store (PostgreSQL: two nodes); SQLite has one writer. */
  readonly shared: boolean;
  /** A fresh, empty store keeping `limit` messages per room. */
  create(limit: number): Promise<StoreHandle>;
}

export interface StoreHandle {
  readonly history: ChatHistory;
  /** Another instance over the same data: reopened after close (SQLite), or a second node (PostgreSQL). */
  another(limit: number): Promise<ChatHistory>;
  destroy(): Promise<void>;
}

const entry = (i: number, nick = 'ana') => ({ at: 1_700_000_000_000 + i, nick, text: `message ${i}` });

export function chatHistoryConformance(name: string, backend: ChatHistoryBackend): void {
  describe(`ChatHistory conformance: ${name}`, () => {
    let handle: StoreHandle;
    let h: ChatHistory;
    const extra: ChatHistory[] = [];
    beforeEach(async () => {
      handle = await backend.create(5);
      h = handle.history;
    });
    afterEach(async () => {
      for (const other of extra.splice(0)) await other.close();
      await h.close();
      await handle.destroy();
    });

    it('numbers each room from 1, rooms independently', async () => {
      const a1 = await h.append('lobby', entry(1));
      const a2 = await h.append('lobby', entry(2));
      const b1 = await h.append('other', entry(3));
      expect([a1.seq, a2.seq, b1.seq]).toEqual([1, 2, 1]);
      expect(a2).toEqual({ room: 'lobby', seq: 2, at: entry(2).at, nick: 'ana', text: 'message 2' });
    });

    it('load gives the last seq and the latest messages, oldest first, at most the limit', async () => {
      expect(await h.load('lobby', 5)).toEqual({ lastSeq: 0, messages: [] });
      for (let i = 1; i <= 8; i++) await h.append('lobby', entry(i));
      const state = await h.load('lobby', 5);
      expect(state.lastSeq).toBe(8);
      expect(state.messages.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
      expect((await h.load('lobby', 2)).messages.map((m) => m.seq)).toEqual([7, 8]);
      // Never more than the store keeps, whatever is asked.
      expect((await h.load('lobby', 1000)).messages).toHaveLength(5);
    });

    it('range pages by seq: after < seq < before, newest `limit` of them', async () => {
      for (let i = 1; i <= 5; i++) await h.append('lobby', entry(i));
      expect((await h.range('lobby', { before: 4, limit: 10 })).map((m) => m.seq)).toEqual([1, 2, 3]);
      expect((await h.range('lobby', { before: 4, limit: 2 })).map((m) => m.seq)).toEqual([2, 3]);
      expect((await h.range('lobby', { after: 2, limit: 10 })).map((m) => m.seq)).toEqual([3, 4, 5]);
      expect((await h.range('lobby', { after: 2, before: 5, limit: 10 })).map((m) => m.seq)).toEqual([3, 4]);
      expect(await h.range('nowhere', { limit: 10 })).toEqual([]);
    });

    it('keeps hostile and unusual text and names exactly', async () => {
      const texts = [
        "'; DROP TABLE chat_messages; --",
        '😀👩‍👩‍👧 ünïcødé ＡＢＣ',
        '\\x00 not a NUL, a backslash',
        'x'.repeat(65_536),
        '$1 $2 %s %n {}',
      ];
      for (const [i, text] of texts.entries())
        await h.append('ruïne.room-1', { at: i, nick: 'Ｎｉｃｋ', text });
      const { messages } = await h.load('ruïne.room-1', 5);
      expect(messages.map((m) => m.text)).toEqual(texts);
      expect(messages.every((m) => m.nick === 'Ｎｉｃｋ' && m.room === 'ruïne.room-1')).toBe(true);
    });

    it('lists rooms with their last seq', async () => {
      await h.append('b', entry(1));
      await h.append('a', entry(2));
      await h.append('b', entry(3));
      const rooms = await h.rooms(100);
      expect(rooms).toEqual([
        { room: 'a', lastSeq: 1 },
        { room: 'b', lastSeq: 2 },
      ]);
      expect(await h.rooms(1)).toHaveLength(1);
    });

    it('many appends at once get consecutive seqs, none repeated, resolved in order', async () => {
      const done: number[] = [];
      const all = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          h.append('busy', entry(i)).then((m) => {
            done.push(m.seq);
            return m.seq;
          }),
        ),
      );
      expect([...all].sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      expect((await h.load('busy', 5)).lastSeq).toBe(60);
    });

    it('survives a reopen: history kept, numbering goes on', async () => {
      for (let i = 1; i <= 3; i++) await h.append('lobby', entry(i));
      const again = await handle.another(5);
      extra.push(again);
      expect((await again.load('lobby', 5)).messages.map((m) => m.text)).toEqual([
        'message 1',
        'message 2',
        'message 3',
      ]);
      if (!backend.shared) {
        // One writer at a time: the first instance is done (closed by `another`).
        expect((await again.append('lobby', entry(4))).seq).toBe(4);
      }
    });

    it('with limit 0 keeps no message but still numbers them', async () => {
      const none = await handle.another(0);
      extra.push(none);
      const first = await none.append('quiet', entry(1));
      const second = await none.append('quiet', entry(2));
      expect([first.seq, second.seq]).toEqual([1, 2]);
      expect((await none.load('quiet', 10)).messages).toEqual([]);
    });

    // Only a backend that several nodes share has this property: a local one does not register it.
    if (backend.shared)
      it('two nodes appending to one room at once never share a seq', async () => {
        const other = await handle.another(5);
        extra.push(other);
        const seqs = await Promise.all(
          Array.from({ length: 80 }, (_, i) =>
            (i % 2 === 0 ? h : other).append('shared', entry(i, `n${i % 2}`)),
          ),
        );
        expect(seqs.map((m) => m.seq).sort((a, b) => a - b)).toEqual(
          Array.from({ length: 80 }, (_, i) => i + 1),
        );
        // Both see the same history.
        expect(await h.load('shared', 5)).toEqual(await other.load('shared', 5));
      });
  });
}
