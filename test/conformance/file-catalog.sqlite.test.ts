import { rmSync } from 'node:fs';
import path from 'node:path';
import { SqliteCatalog } from '../../src/services/files/sqlite-catalog.js';
import { tempDataDir } from '../helpers/node.js';
import { fileCatalogConformance } from './file-catalog.js';

fileCatalogConformance('SQLite', {
  shared: false,
  async create() {
    const dir = tempDataDir();
    const file = path.join(dir, 'catalog.sqlite');
    let current = new SqliteCatalog(file);
    return {
      catalog: current,
      async another() {
        // One node owns the file: the open one closes first, as a restarted node would.
        await current.close();
        current = new SqliteCatalog(file);
        return current;
      },
      async destroy() {
        await current.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
