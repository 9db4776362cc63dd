import type { Deps } from '../deps';
import { armCallbacks, type CallbackBody } from '../outbox/outbox';
import type { Pause } from './model';
import { alertPause } from './alerts';
import { PauseStore } from './store';

/** What a Webhook activity waiting on a pause is told: approve 200, reject 409, expiry 408; undefined while open. */
export function pauseCallbackBody(p: Pause): CallbackBody | undefined {
  const decided = { pauseId: p.pauseId, decision: p.decision, decidedAt: p.decidedAt };
  if (p.status === 'Approved') return { StatusCode: '200', Output: { ...decided, data: p.data ?? null, ...(p.runId ? { runId: p.runId } : {}) } };
  if (p.status === 'Rejected') return { StatusCode: '409', Output: decided, Error: { ErrorCode: 'Rejected', Message: `Pause ${p.pauseId} was rejected.` } };
  if (p.status === 'Expired') return { StatusCode: '408', Output: { pauseId: p.pauseId }, Error: { ErrorCode: 'Expired', Message: `Pause ${p.pauseId} expired at ${p.expiresAt} without a decision.` } };
  return undefined;
}

/** A pause reached its outcome: a waiting Webhook activity hears it now, and its alert goes (the sweep retries what fails). */
export async function pauseDecided(deps: Deps, p: Pause): Promise<void> {
  const body = pauseCallbackBody(p);
  if (!body) return;
  await armCallbacks(deps, { area: 'pause', id: p.pauseId }, body).catch((e: unknown) => deps.log.warn('pause callback not delivered yet', { pauseId: p.pauseId, error: (e as Error).name }));
  await alertPause(deps, p.pauseId);
}

/** For the sweep: the callback body of a pause's outcome, read from storage. */
export async function pauseOutcome(deps: Deps, pauseId: string): Promise<CallbackBody | undefined> {
  const p = await new PauseStore(deps.tables).get(pauseId);
  return p && pauseCallbackBody(p);
}
