import type { TrackedRun } from '../../core/runs/model';

/** The Run view of the HTTP contract. */
export function toRunView(r: TrackedRun) {
  return {
    runId: r.runId ?? null,
    pipeline: r.target.pipeline,
    factory: r.target.factory,
    resourceGroup: r.target.resourceGroup,
    subscriptionId: r.target.subscriptionId,
    status: r.status,
    ...(r.runStart ? { runStart: r.runStart } : {}),
    ...(r.runEnd ? { runEnd: r.runEnd } : {}),
    ...(r.message ? { message: r.message } : {}),
  };
}
