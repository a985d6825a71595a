import type { RestModule } from '../types.js';
import { sendJson } from './api.js';

/**
 * `GET /api/node`: this node's counters (the dashboard's Node page); `GET /api/node/info`: who it is;
 * `GET /api/cluster/members`: the cluster's live members (`node.members`; this node alone outside cluster mode).
 */
export const nodeRest: RestModule = {
  service: 'node',
  register({ app, call }) {
    app.get('/api/node', async (request, reply) =>
      sendJson(reply, await call(request, 'node', 'stats', null)),
    );
    app.get('/api/node/info', async (request, reply) =>
      sendJson(reply, await call(request, 'node', 'info', null)),
    );
    app.get('/api/cluster/members', async (request, reply) =>
      sendJson(reply, await call(request, 'node', 'members', null)),
    );
  },
};
