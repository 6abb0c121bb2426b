/** Reads and parses picked MMLU files off the main thread, and stores the merged pool (src/services/mmlu-files.ts). */
import { expose } from 'comlink';
import { ITEMS_PER_CHUNK, parseMmluFiles, storeIntoPool, type ItemsWorkerApi } from '../src/services/mmlu-files';
import { openItemDb } from '../src/storage/db';

const api: ItemsWorkerApi = {
  async parseFiles(files, target, onFileRead, onItems) {
    const items = await parseMmluFiles(files, onFileRead);
    if (target) {
      const store = await openItemDb(target.itemDbName);
      try {
        await storeIntoPool(store, items, target.source);
      } finally {
        store.close();
      }
    }
    for (let i = 0; i < items.length; i += ITEMS_PER_CHUNK) await onItems(items.slice(i, i + ITEMS_PER_CHUNK));
  },
};
expose(api);
