/**
 * A page of the real-engine tier's build that hands the test the kit's own web-llm worker, engine check and
 * results export (built with the same alias as the app), for the checks that need no MMLU text (fallback
 * agreement, determinism, the engine check pointed at a custom model) and for exporting what the app stored.
 */
import { version as appVersion, dependencies } from '../../package.json';
import { exportResultsJson, readStoredRuns } from '../../src/services/export';
import { startWebLLMEngine } from '../../src/engine/remote';
import { runEngineCheck } from '../../src/services/engine-check';
import { openKitDb } from '../../src/storage/db';

/**
 * The results JSON of everything the app stored, made by the functions the app's Export button runs in the
 * analysis worker (readStoredRuns, exportResultsJson) with the options it passes, minus the analysis report.
 */
async function exportStoredResults(): Promise<string> {
  const db = await openKitDb();
  try {
    return exportResultsJson(await readStoredRuns(db), {
      app: { name: 'calibration-collapse-kit', version: appVersion },
      webllmVersion: dependencies['@mlc-ai/web-llm'],
      userAgent: navigator.userAgent,
    });
  } finally {
    db.close();
  }
}

const harness = { startWebLLMEngine, runEngineCheck, exportStoredResults };
export type RealEngineHarness = typeof harness;
(window as unknown as { realEngine: RealEngineHarness }).realEngine = harness;
document.body.dataset.ready = 'true';
