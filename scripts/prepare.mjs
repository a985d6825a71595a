// npm runs `prepare` after `npm install` in this checkout (build it: tsc and the dashboard) and also, in
// the background, the first time `npx nexo` runs here: npx installs the checkout into its own cache
// (~/.npm/_npx/<hash>/node_modules/nexo, a link back here), and installing a directory runs its prepare.
// That second build cost the first `npx nexo` 6.6 s (0.6 s later), and Vite emptied dist/web under a
// node already serving the dashboard from it. npx (`npm exec`) is never a reason to build.
import { spawnSync } from 'node:child_process';

if (process.env.npm_command === 'exec') process.exit(0);
const npm = process.env.npm_execpath;
const build = npm
  ? spawnSync(process.execPath, [npm, 'run', 'build'], { stdio: 'inherit' })
  : spawnSync('npm', ['run', 'build'], { stdio: 'inherit', shell: process.platform === 'win32' });
process.exit(build.status ?? 1);
