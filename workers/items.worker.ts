/** Parses picked MMLU files, stores the merged pool and draws the sample off the main thread (src/services/mmlu-files.ts). */
import { expose } from 'comlink';
import { createItemsService } from '../src/services/mmlu-files';
import { openItemDb } from '../src/storage/db';

expose(createItemsService(openItemDb));
