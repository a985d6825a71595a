import { rmSync } from 'node:fs';
import { SqliteChatHistory } from '../../src/services/chat/sqlite/history.js';
import { tempDataDir } from '../helpers/node.js';
import { chatHistoryConformance } from './chat-history.js';

chatHistoryConformance('SQLite', {
  shared: false,
  async create(limit) {
    const dir = tempDataDir();
    let current = new SqliteChatHistory(dir, limit);
    return {
      history: current,
      async another(l) {
        // One writer: the one open now closes first, as a restarted node would.
        await current.close();
        current = new SqliteChatHistory(dir, l);
        return current;
      },
      async destroy() {
        await current.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
