/** Parses picked MMLU files, stores the merged pool and draws the sample off the main thread (src/data/mmlu-files.ts). */
import { expose } from 'comlink';
import { createItemsService } from '../src/data/mmlu-files';
import { openItemDb } from '../src/storage/db';

expose(createItemsService(openItemDb));
