import type { RestModule } from '../types.js';
import { sendJson } from './api.js';

/**
 * Chat for curl users: read-only views (joining a room needs a live connection: the protocol over /ws).
 *   GET /api/chat/rooms
 *   GET /api/chat/rooms/<room>/messages?limit=50&before=<seq>
 *   GET /api/chat/rooms/<room>/members
 */
export const chatRest: RestModule = {
  service: 'chat',
  register({ app, call }) {
    app.get('/api/chat/rooms', async (request, reply) =>
      sendJson(reply, await call(request, 'chat', 'rooms', null)),
    );
    app.get<{ Params: { room: string }; Querystring: { limit?: string; before?: string } }>(
      '/api/chat/rooms/:room/messages',
      async (request, reply) => {
        const args: Record<string, unknown> = { room: request.params.room };
        if (request.query.limit !== undefined) args.limit = integer(request.query.limit);
        if (request.query.before !== undefined) args.before = integer(request.query.before);
        return sendJson(reply, await call(request, 'chat', 'history', args));
      },
    );
    app.get<{ Params: { room: string } }>('/api/chat/rooms/:room/members', async (request, reply) =>
      sendJson(reply, await call(request, 'chat', 'who', { room: request.params.room })),
    );
  },
};

/** A query value that looks like an integer becomes one; anything else is left for the schema to refuse. */
function integer(value: unknown): unknown {
  return typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value;
}
