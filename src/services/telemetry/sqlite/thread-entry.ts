/**
 * The module a worker thread of this folder starts from. Built code runs the `.js` file. From TypeScript
 * sources (the tests) a worker cannot load a `.ts` file by itself (execArgv `--import tsx` does not reach the
 * entry of a worker thread on Node 20), so it starts from a tiny module that registers tsx and then imports
 * the real entry, re-exporting its default export (piscina calls it).
 */
export function threadEntry(name: string): URL {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new URL(`./${name}.js`, here);
  const target = new URL(`./${name}.ts`, here).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const code = [
    `import { register } from ${JSON.stringify(tsx)};`,
    'register();',
    `const entry = await import(${JSON.stringify(target)});`,
    'export default entry.default;',
  ].join('\n');
  return new URL(`data:text/javascript,${encodeURIComponent(code)}`);
}
