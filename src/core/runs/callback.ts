import type { Deps } from '../deps';
import { armCallbacks, type CallbackBody } from '../outbox/outbox';
import { isTerminalRun, type TrackedRun } from './model';
import { RunStore } from './store';

/** What a Webhook activity waiting on a run is told: Succeeded 200, any other end 500 (ErrorCode = the status). */
export function runCallbackBody(r: TrackedRun): CallbackBody | undefined {
  if (!isTerminalRun(r.status)) return undefined;
  const Output = { runId: r.runId ?? null, pipeline: r.target.pipeline, status: r.status, runStart: r.runStart ?? null, runEnd: r.runEnd ?? null };
  if (r.status === 'Succeeded') return { StatusCode: '200', Output };
  return { StatusCode: '500', Output, Error: { ErrorCode: r.notStarted ? 'NotStarted' : r.status, Message: (r.message ?? `Pipeline run ${r.runId ?? r.trackId} ended ${r.status}.`).slice(0, 4000) } };
}

/** Settler for runs nobody owns (fire-and-forget): a Webhook activity waiting on the run hears its end now. */
export async function settleCallbackRun(deps: Deps, run: TrackedRun): Promise<void> {
  const body = runCallbackBody(run);
  if (body) await armCallbacks(deps, { area: 'run', id: run.trackId }, body).catch((e: unknown) => deps.log.warn('run callback not delivered yet', { trackId: run.trackId, error: (e as Error).name }));
}

/** For the sweep: the callback body of a run's end, read from storage. */
export async function runOutcome(deps: Deps, trackId: string): Promise<CallbackBody | undefined> {
  const r = await new RunStore(deps).get(trackId);
  return r && runCallbackBody(r);
}
