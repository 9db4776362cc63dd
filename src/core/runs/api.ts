/**
 * What other areas may ask of tracked runs. The run tables stay behind RunStore, and runs are observed
 * in one place (runs/observe.ts): no other area reads Data Factory's run status itself.
 */
import type { Deps } from '../deps';
import type { TrackedRun } from './model';
import { RunStore } from './store';

export { refreshRun } from './observe';

/** The claim (and, once recorded, the run) behind a deterministic trackId. */
export function claimOf(deps: Deps, trackId: string): Promise<TrackedRun | undefined> {
  return new RunStore(deps).get(trackId);
}

/** A tracked run by its ADF runId, or by trackId while it is still Starting. */
export function findRun(deps: Deps, id: string): Promise<TrackedRun | undefined> {
  return new RunStore(deps).find(id);
}
