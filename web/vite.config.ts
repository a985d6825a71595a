import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The dashboard: plain TypeScript modules bundled with the nexo client library into dist/web, which every
 * node serves at `/`. Nothing is loaded from the internet. `npm run build` runs this after `tsc`.
 */
export default defineConfig({
  root: here,
  base: '/',
  publicDir: path.join(here, 'public'),
  logLevel: 'warn',
  resolve: {
    // The Node half of file transfers (paths, streams, fs, zlib) has a browser stand-in that says so.
    alias: [
      {
        find: /^\.\/files-transfer\.js$/,
        replacement: path.join(here, '../src/client/api/files-transfer.browser.ts'),
      },
    ],
  },
  build: {
    outDir: path.join(here, '../dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    // The page's Content-Security-Policy allows scripts from the node only: no inline polyfill.
    modulePreload: { polyfill: false },
    sourcemap: false,
    reportCompressedSize: false,
  },
});
