/** The simulated engine in a worker, behind the same comlink protocol as the web-llm worker. */
import { expose } from 'comlink';
import { SimulatedEngine } from '../src/engine/simulated';
import type { SimulatedWorkerApi } from '../src/engine/types';

const engine: SimulatedWorkerApi = new SimulatedEngine({
  // A crash fault surfaces the way a real crash does: an uncaught error, i.e. an `error` event on the Worker.
  onCrash: () =>
    setTimeout(() => {
      throw new Error('Simulated worker crash');
    }),
});
expose(engine);
