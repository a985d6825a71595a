import { rmSync } from 'node:fs';
import { LocalFileStore } from '../../src/services/files/local-store.js';
import { tempDataDir } from '../helpers/node.js';
import { fileStoreConformance } from './file-store.js';

fileStoreConformance('local directory', {
  shared: false,
  async create() {
    const dir = tempDataDir();
    return {
      store: new LocalFileStore(dir),
      async another() {
        const store = new LocalFileStore(dir);
        await store.init();
        return store;
      },
      async destroy() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});
