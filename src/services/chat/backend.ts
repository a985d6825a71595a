import type { ServiceHost } from '../../contract/service.js';
import type { ChatHistory } from './history.js';
import { PostgresChatHistory } from './postgres/history.js';
import { SqliteChatHistory } from './sqlite/history.js';

/**
 * The chat history backend for the node's storage mode, on the node's own engines: SQLite in the data
 * directory (embedded), or tables in the node's PostgreSQL (shared; migrated at start-up).
 */
export async function openChatHistory(host: ServiceHost): Promise<ChatHistory> {
  const limit = host.options.chat.history;
  if (host.storage.mode === 'postgres') return PostgresChatHistory.open(host.storage.postgres(), limit);
  return new SqliteChatHistory(host.options.dataDir, limit);
}
