import { NexoError } from '../../errors.js';
import type { RestModule } from '../types.js';
import { sendJson } from './api.js';

/** `GET /api/calc/eval?expr=2*(3%2B4)`: one expression, for a browser address bar or `curl -G --data-urlencode`. */
export const calcRest: RestModule = {
  service: 'calc',
  register({ app, call }) {
    app.get<{ Querystring: { expr?: string | string[] } }>('/api/calc/eval', async (request, reply) => {
      const expr = request.query.expr;
      if (typeof expr !== 'string') {
        throw new NexoError(
          'INVALID_ARGS',
          "give one expression: GET /api/calc/eval?expr=... (curl -G --data-urlencode 'expr=2*(3+4)')",
        );
      }
      return sendJson(reply, await call(request, 'calc', 'eval', { expr }));
    });
  },
};
