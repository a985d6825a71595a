/**
 * The catalog's thread (a one-thread piscina pool): owns the SQLite connection and runs one operation at a
 * time, so the synchronous better-sqlite3 calls (and the fsync of every commit) never run on the node's
 * event loop.
 */
import { type CatalogDb, type CatalogOp, openCatalogDb } from './catalog-sql.js';

export interface CatalogTask {
  readonly file: string;
  readonly op: CatalogOp | 'close';
  readonly args: unknown[];
}

const open = new Map<string, CatalogDb>();

export default function run({ file, op, args }: CatalogTask): unknown {
  let db = open.get(file);
  if (op === 'close') {
    db?.close();
    open.delete(file);
    return undefined;
  }
  if (db === undefined) {
    db = openCatalogDb(file);
    open.set(file, db);
  }
  return (db[op] as (...a: unknown[]) => unknown)(...args);
}
