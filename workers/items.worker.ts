/** Reads and parses picked MMLU files off the main thread (src/data/mmlu-files.ts). */
import { expose } from 'comlink';
import { parseMmluFiles, type ItemsWorkerApi } from '../src/data/mmlu-files';

const api: ItemsWorkerApi = { parseFiles: (files, onFileRead) => parseMmluFiles(files, onFileRead) };
expose(api);
