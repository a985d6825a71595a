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
