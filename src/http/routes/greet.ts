import { NexoError } from '../../errors.js';
import type { RestModule } from '../types.js';
import { sendJson } from './api.js';

/** `GET /api/greet/hello?name=Ana&name=Bob&lang=pt` and `GET /api/greet/languages`. */
export const greetRest: RestModule = {
  service: 'greet',
  register({ app, call }) {
    app.get<{ Querystring: { name?: string | string[]; lang?: string | string[] } }>(
      '/api/greet/hello',
      async (request, reply) => {
        const { name, lang } = request.query;
        const names = name === undefined ? [] : Array.isArray(name) ? name : [name];
        if (names.length === 0) {
          throw new NexoError(
            'INVALID_ARGS',
            'give at least one name: GET /api/greet/hello?name=Ana&name=Bob',
          );
        }
        if (Array.isArray(lang)) throw new NexoError('INVALID_ARGS', 'give lang once, e.g. lang=pt');
        const args = lang === undefined ? { names } : { names, lang };
        return sendJson(reply, await call(request, 'greet', 'hello', args));
      },
    );
    app.get('/api/greet/languages', async (request, reply) =>
      sendJson(reply, await call(request, 'greet', 'languages', null)),
    );
  },
};
