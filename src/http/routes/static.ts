import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { NexoError } from '../../errors.js';
import { sendError } from '../errors.js';

/**
 * The dashboard's files, built by `npm run build` (Vite) into dist/web. Found from this module's place:
 * src/http/routes and dist/http/routes both sit three levels under the package root.
 */
export const DASHBOARD_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/web');

/** Serves the dashboard at `/`; a file name with a content hash is cached for good, index.html never. */
export async function registerStatic(app: FastifyInstance, root = DASHBOARD_DIR): Promise<void> {
  if (!existsSync(path.join(root, 'index.html'))) {
    app.get('/', (_request, reply) =>
      sendError(
        reply,
        new NexoError(
          'NOT_FOUND',
          'the dashboard is not built on this node; run npm run build, then restart',
        ),
      ),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: '/',
    index: 'index.html',
    // Files only under root, no dotfiles, no directory listings; `..` and encoded variants are refused.
    dotfiles: 'deny',
    list: false,
    wildcard: true,
    cacheControl: false,
    setHeaders: (res, file) => {
      const hashed = /[/\\]assets[/\\][^/\\]+-[A-Za-z0-9_-]{8,}\.\w+$/.test(file);
      res.setHeader('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}
