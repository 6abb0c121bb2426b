/**
 * The app's controllers wired together: the results database and the item store, the environment, items,
 * variants and run, and which step of the path is shown. Components read these and call their methods.
 */
import { getContext, setContext } from 'svelte';
import { describeError, type DescribedError } from '../core/errors';
import { openItemDb, openKitDb, requestPersistentStorage, type ItemDb, type KitDb } from '../storage/db';
import { AppUpdateState } from './app-update.svelte';
import { EnvironmentState } from './environment.svelte';
import { ItemsState } from './items.svelte';
import { RunState } from './run.svelte';
import { VariantsState } from './variants.svelte';

export const STEPS = [
  { id: 'environment', label: 'Environment' },
  { id: 'items', label: 'Items' },
  { id: 'variants', label: 'Variants' },
  { id: 'run', label: 'Run' },
  { id: 'results', label: 'Results' },
] as const;
export type StepId = (typeof STEPS)[number]['id'];

function stepFromHash(): StepId {
  const id = typeof location === 'undefined' ? '' : location.hash.replace(/^#/, '');
  return (STEPS.find((s) => s.id === id)?.id ?? 'environment') as StepId;
}

export class AppState {
  step = $state<StepId>(stepFromHash());
  /** The results database (variants, runs, per-item results); undefined until open or when unavailable. */
  db = $state.raw<KitDb | undefined>(undefined);
  itemDb = $state.raw<ItemDb | undefined>(undefined);
  storageError = $state.raw<DescribedError | undefined>(undefined);
  /** True once the stored session (items, manifest, variants, queue) is back. */
  restored = $state(false);

  readonly environment = new EnvironmentState();
  readonly items = new ItemsState(() => this.itemDb);
  readonly variants = new VariantsState(
    () => this.db,
    () => this.itemDb,
  );
  readonly run = new RunState(
    () => this.db,
    this.environment,
    this.items,
    this.variants,
    () => this.itemDb,
  );
  /** The offline copy and "update available" (the service worker); an update waits while a run is active. */
  readonly update = new AppUpdateState(() => this.run.active);

  /** Numbers on screen come from the simulated engine (queued or last run): every screen says so. */
  get simulated(): boolean {
    return this.variants.simulatedInQueue || this.run.simulated;
  }

  go(step: StepId): void {
    this.step = step;
    if (typeof history !== 'undefined') history.replaceState(null, '', `#${step}`);
  }

  async init(): Promise<void> {
    const environment = this.environment.probe();
    try {
      this.db = await openKitDb();
      this.itemDb = await openItemDb();
      // Without persistence the browser may evict results and cached models under storage pressure.
      void requestPersistentStorage()
        .then(() => this.environment.probe())
        .catch(() => {});
      await this.items.restore();
      await this.variants.restore();
      await this.run.restoreSettings();
      await this.run.refresh();
    } catch (e) {
      this.storageError = describeError(e);
    }
    await environment;
    this.restored = true;
  }
}

const KEY = Symbol('calibration-kit-app');

export function provideApp(app: AppState): AppState {
  return setContext(KEY, app);
}

/** The app's controllers, inside any component below App.svelte. */
export function useApp(): AppState {
  const app = getContext<AppState | undefined>(KEY);
  if (!app) throw new Error('useApp() outside App.svelte');
  return app;
}
