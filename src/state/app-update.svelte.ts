/**
 * The service worker's side of the app: "ready offline" once the app shell and every chunk are precached, and
 * "update available" when a new build has installed and is waiting. The new version only takes over when the
 * user accepts, and never while a run is active (reloading mid-run would drop the model and the scoring in
 * flight; stored items survive, but the user did not ask for it).
 */
import type { RegisterSWOptions } from 'vite-plugin-pwa/types';

/** vite-plugin-pwa's registerSW: registers the worker and returns the function that activates a waiting one. */
export type RegisterServiceWorker = (options: RegisterSWOptions) => (reloadPage?: boolean) => Promise<void>;

export class AppUpdateState {
  /** A new version is installed and waits for the user. */
  updateAvailable = $state(false);
  /** Every file of this version is in the service worker's cache: the app opens without the network. */
  offlineReady = $state(false);
  registrationError = $state<string | undefined>(undefined);
  private activate: ((reloadPage?: boolean) => Promise<void>) | undefined;

  /** `runActive`: whether a run is loading, scoring, paused or recovering. */
  constructor(private readonly runActive: () => boolean) {}

  /** Registers the service worker (in a browser that has them; the dev server has none). */
  start(register: RegisterServiceWorker): void {
    if (typeof navigator === 'undefined' || !('serviceWorker' in navigator)) return;
    this.activate = register({
      immediate: true,
      onNeedRefresh: () => (this.updateAvailable = true),
      onOfflineReady: () => (this.offlineReady = true),
      // apply() reloads on the controller change itself: workbox-window's own reload misses an update found
      // during the very first visit (its 'controlling' event is then not marked as an update).
      onNeedReload: () => {},
      onRegisterError: (e: unknown) =>
        (this.registrationError = `The offline copy could not be set up: ${(e as Error)?.message ?? e}`),
    });
  }

  /** The update may be applied now: one is waiting and no run is active. */
  get canApply(): boolean {
    return this.updateAvailable && !this.runActive();
  }

  /** Activates the waiting version and reloads the page into it; refused while a run is active. */
  async apply(): Promise<boolean> {
    if (!this.canApply || !this.activate) return false;
    const taken = new Promise<void>((resolve) =>
      navigator.serviceWorker.addEventListener('controllerchange', () => resolve(), { once: true }),
    );
    await this.activate(true);
    await taken;
    location.reload();
    return true;
  }
}
